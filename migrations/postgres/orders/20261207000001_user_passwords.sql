-- l2c-orders: a user may sign in to the web desk with a password; only its argon2id hash
-- (PHC string) is kept. NULL: the user has no password and signs in with a token only.
ALTER TABLE users ADD COLUMN password_hash TEXT;

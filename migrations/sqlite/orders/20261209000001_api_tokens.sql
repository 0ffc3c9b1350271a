-- l2c-orders: a user holds any number of named API tokens, each with an optional expiry,
-- revocable on its own; only the SHA-256 of the secret is kept. Every user's existing token
-- (users.token_hash, which stays only for its UNIQUE constraint and is no longer read) becomes
-- their token named "initial". A user can be deactivated: their tokens are revoked, their web
-- sessions end and nothing of theirs authenticates until an admin reactivates them.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);

-- One live token of a name per user; a revoked token's name may be used again.
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (user_id, name) WHERE revoked_at IS NULL;

INSERT INTO api_tokens (id, user_id, name, token_hash, created_at)
SELECT id, id, 'initial', token_hash, created_at FROM users;

ALTER TABLE users ADD COLUMN deactivated_at BIGINT;

-- Bumped in the transaction of every change that takes access away (a revoked token, a
-- deactivated user), so every node drops what it has cached within its next poll.
CREATE TABLE access_epoch (
    id BIGINT PRIMARY KEY,
    epoch BIGINT NOT NULL
);

INSERT INTO access_epoch (id, epoch) VALUES (1, 0);

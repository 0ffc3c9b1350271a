-- l2c-orders: web desk sessions. The cookie holds a random 256-bit id; only its SHA-256 is
-- kept here. A session ends 8 hours after it was last seen or 7 days after it was opened,
-- whichever comes first, or when its user signs out.
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

CREATE INDEX web_sessions_user ON web_sessions (user_id);

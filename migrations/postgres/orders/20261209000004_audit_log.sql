-- l2c-orders: the audit log (l2c_orders::audit): who changed users, tokens, accounts,
-- billing schedules and incident decisions, when, and what they were before and after, as
-- one hash chain (l2c_engine::chain) whose head and length audit_head keeps.
CREATE TABLE audit_log (
    position BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before TEXT,
    after TEXT,
    hash TEXT NOT NULL
);

CREATE INDEX audit_log_subject ON audit_log (subject, position);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    position BIGINT NOT NULL,
    head TEXT
);

INSERT INTO audit_head (id, position, head) VALUES (1, 0, NULL);

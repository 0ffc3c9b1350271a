-- l2c: what the Monthly Operating Report needs and nothing else records (docs/report.md).
-- Written by each node's recorder in batches, a few times a minute, never by a request itself.
-- Keep this file and its twin in the other backend's folder the same.

-- One row per node and minute it was up: availability is minutes with a row / minutes.
CREATE TABLE node_heartbeats (
    node TEXT NOT NULL,
    minute BIGINT NOT NULL,
    PRIMARY KEY (node, minute)
);

-- Requests per node and minute (the sandbox clock's minute when it runs): counts by class
-- and a latency histogram (counts per bucket, bounds in docs/report.md, JSON array).
CREATE TABLE request_minutes (
    node TEXT NOT NULL,
    minute BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    unauthorized BIGINT NOT NULL,
    forbidden BIGINT NOT NULL,
    server_errors BIGINT NOT NULL,
    latency TEXT NOT NULL,
    PRIMARY KEY (node, minute)
);

-- Failed sign-ins (web desk), by name tried; the address is kept for the admins' eyes only.
CREATE TABLE sign_in_failures (
    at BIGINT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);
CREATE INDEX request_minutes_minute ON request_minutes (minute);

-- A closed month's report, frozen once computed so late data does not rewrite the past
-- (`l2c report monthly --recompute` replaces it): its KPI values, and the whole report.
CREATE TABLE report_snapshots (
    month TEXT PRIMARY KEY,
    kpi_values TEXT NOT NULL,
    report TEXT,
    computed_at BIGINT NOT NULL
);

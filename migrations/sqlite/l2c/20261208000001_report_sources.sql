-- l2c: what the Monthly Operating Report's flexibility and effort KPIs need (docs/report.md).
-- Keep this file and its twin in the other backend's folder the same.

-- Order requests refused for field problems, per node and minute (customer effort).
ALTER TABLE request_minutes ADD COLUMN order_refusals BIGINT NOT NULL DEFAULT 0;

-- When each catalog offering version was first loaded by a node of this database.
CREATE TABLE catalog_seen (
    offering TEXT NOT NULL,
    version BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (offering, version)
);

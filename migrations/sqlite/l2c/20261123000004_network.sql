-- l2c: the simulated network's ports and on-site work. Carved out of
-- 20261123000002_orders.sql when the crates split (see ../invoicing/20261123000003).
-- Keep this file and ../../postgres/l2c/20261123000004_network.sql the same schema.

CREATE TABLE net_ports (
    id TEXT PRIMARY KEY,
    router TEXT NOT NULL,
    state TEXT NOT NULL,
    holder TEXT,
    bandwidth_mbps BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX net_ports_state ON net_ports (state, id);
CREATE INDEX net_ports_holder ON net_ports (holder);

CREATE TABLE net_work (
    holder TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (holder, kind)
);

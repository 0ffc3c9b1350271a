-- TMF622 event notifications (l2c_orders::hub, docs/api.md "Event notifications").
-- Keep this file and its twin in the other backend's folder the same (but for seq's type).

-- Registered listeners. The secret signs deliveries, so it is kept (not hashed); account_id
-- limits a requester's listener to its account's orders (NULL: every order, admins).
CREATE TABLE hub_listeners (
    id TEXT PRIMARY KEY,
    callback TEXT NOT NULL,
    query TEXT,
    secret TEXT NOT NULL,
    owner TEXT NOT NULL,
    account_id TEXT,
    created_at BIGINT NOT NULL
);

-- The outbox: one row per event, written in the transaction of the change it announces.
-- seq orders an order's events (its changes are serialized by the order's row); fanned is 1
-- once deliveries were made for every listener; a row goes when its last delivery succeeds.
CREATE TABLE hub_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL,
    fanned BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX hub_events_unfanned ON hub_events (fanned, seq);

-- One event for one listener: pending (due at next_at, leased until lease_until by the node
-- sending it) or dead (its last attempt failed). A delivered row is deleted.
CREATE TABLE hub_deliveries (
    id TEXT NOT NULL UNIQUE,
    listener_id TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    order_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (listener_id, event_seq)
);
CREATE INDEX hub_deliveries_order ON hub_deliveries (listener_id, order_id, event_seq);
-- Claims walk pending deliveries in event order and stop at a batch.
CREATE INDEX hub_deliveries_due ON hub_deliveries (status, event_seq);
CREATE INDEX hub_deliveries_event ON hub_deliveries (event_seq);

-- One row whose lock serializes fan-out across nodes, so an order's deliveries are always
-- made in its events' order.
CREATE TABLE hub_fanout (
    id INTEGER PRIMARY KEY
);
INSERT INTO hub_fanout (id) VALUES (1);

-- l2c-orders: every order event carries its place in the order's chain and the hash that
-- chains it to the event before (l2c_engine::chain); the order keeps the count and the last
-- hash, so a truncated chain shows. Events written before this migration keep neither: an
-- order's chain starts after them.
ALTER TABLE order_events ADD COLUMN position BIGINT;
ALTER TABLE order_events ADD COLUMN hash TEXT;
ALTER TABLE orders ADD COLUMN events_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN events_head TEXT;

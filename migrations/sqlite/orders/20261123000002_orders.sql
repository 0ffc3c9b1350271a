-- l2c-orders: customer and billing accounts, users, orders with their items and state
-- history, idempotency keys and the product inventory.
-- Times are UTC milliseconds since the epoch; dates are ISO 8601 text; money is decimal text;
-- JSON is text. Keep this file and ../../postgres/orders/20261123000002_orders.sql the same schema.

CREATE TABLE customer_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    segment TEXT NOT NULL,
    country TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE billing_accounts (
    id TEXT PRIMARY KEY,
    customer_account_id TEXT NOT NULL REFERENCES customer_accounts (id),
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    cycle_day BIGINT NOT NULL,
    time_zone TEXT NOT NULL,
    payment_terms_days BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX billing_accounts_customer ON billing_accounts (customer_account_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    account_id TEXT REFERENCES customer_accounts (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_groups (
    user_id TEXT NOT NULL REFERENCES users (id),
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    customer_account_id TEXT NOT NULL REFERENCES customer_accounts (id),
    billing_account_id TEXT NOT NULL REFERENCES billing_accounts (id),
    external_id TEXT,
    requested_completion_date TEXT,
    notes TEXT,
    state TEXT NOT NULL,
    currency TEXT NOT NULL,
    one_time_total TEXT NOT NULL,
    monthly_total TEXT NOT NULL,
    instance_id TEXT,
    reason TEXT,
    decided_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX orders_account ON orders (customer_account_id, created_at);
CREATE INDEX orders_state ON orders (state);

CREATE TABLE order_items (
    order_id TEXT NOT NULL REFERENCES orders (id),
    item_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    action TEXT NOT NULL,
    offering TEXT NOT NULL,
    version BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    characteristics TEXT NOT NULL,
    quote TEXT NOT NULL,
    workflow TEXT NOT NULL,
    product_id TEXT NOT NULL,
    state TEXT NOT NULL,
    instance_id TEXT,
    error TEXT,
    PRIMARY KEY (order_id, item_id)
);
CREATE INDEX order_items_product ON order_items (product_id);

CREATE TABLE order_events (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders (id),
    at BIGINT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    actor TEXT,
    reason TEXT
);
CREATE INDEX order_events_order ON order_events (order_id, at);

CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    customer_account_id TEXT NOT NULL REFERENCES customer_accounts (id),
    billing_account_id TEXT NOT NULL REFERENCES billing_accounts (id),
    offering TEXT NOT NULL,
    version BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    characteristics TEXT NOT NULL,
    status TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    activated_at BIGINT,
    terminated_at BIGINT
);
CREATE INDEX products_account ON products (customer_account_id);

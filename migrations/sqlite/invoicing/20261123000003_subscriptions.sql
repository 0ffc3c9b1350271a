-- l2c-invoicing: subscriptions and their charges (what billing activation makes of a
-- delivered item). Carved out of 20261123000002_orders.sql when the crates split; a database
-- migrated before the split has it applied already (l2c's migrate records that).
-- Keep this file and ../../postgres/invoicing/20261123000003_subscriptions.sql the same schema.

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    billing_account_id TEXT NOT NULL REFERENCES billing_accounts (id),
    product_id TEXT NOT NULL UNIQUE,
    offering TEXT NOT NULL,
    version BIGINT NOT NULL,
    currency TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX subscriptions_account ON subscriptions (billing_account_id);

CREATE TABLE subscription_charges (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    order_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    price_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    period TEXT,
    unit_amount TEXT NOT NULL,
    units BIGINT NOT NULL,
    amount TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to TEXT,
    ended_by TEXT,
    PRIMARY KEY (subscription_id, order_id, item_id, price_id)
);

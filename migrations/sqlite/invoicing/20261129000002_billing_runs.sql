-- Billing runs, invoices and their lines, gapless invoice numbers and cron schedules.
-- Keep this file and ../../postgres/invoicing/20261129000002_billing_runs.sql the same schema.
-- Dates are ISO 8601 text (the account's local dates); money is decimal text.

CREATE TABLE billing_runs (
    id TEXT PRIMARY KEY,
    as_of TEXT NOT NULL,
    trigger_name TEXT NOT NULL,
    issue BIGINT NOT NULL,
    status TEXT NOT NULL,
    accounts BIGINT NOT NULL DEFAULT 0,
    invoices BIGINT NOT NULL DEFAULT 0,
    lines BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    cursor TEXT,
    error TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX billing_runs_as_of ON billing_runs (as_of, status);

-- One document per (account, period, origin): origin is 'run' for what a billing run
-- produces and 'credit:<invoice id>' for a credit note correcting an invoice, so a run
-- repeated, resumed or racing another node cannot bill a period twice. The rounding rule,
-- the seller and buyer parties (JSON) and the payment terms are kept as they were when the
-- document was made, so later changes to settings or accounts never alter it.
CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    run_id TEXT,
    billing_account_id TEXT NOT NULL REFERENCES billing_accounts (id),
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    series TEXT,
    number TEXT UNIQUE,
    issue_date TEXT,
    due_date TEXT,
    currency TEXT NOT NULL,
    line_net_total TEXT NOT NULL,
    tax_total TEXT NOT NULL,
    payable TEXT NOT NULL,
    preceding_id TEXT,
    rounding TEXT NOT NULL,
    seller TEXT NOT NULL,
    buyer TEXT,
    payment_terms TEXT,
    created_at BIGINT NOT NULL,
    issued_at BIGINT,
    UNIQUE (billing_account_id, period_start, origin)
);
CREATE INDEX invoices_run ON invoices (run_id, number);

-- charge_kind is one_time, monthly, quarterly or yearly; charge_start/charge_end is the
-- charge's own period; service_from/service_to the days of it
-- the line bills (a credit line gives them back); list_price is the charge's full price for
-- that period, so a later run can re-rate the period even after the charge was removed.
CREATE TABLE invoice_lines (
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    position BIGINT NOT NULL,
    charge_key TEXT NOT NULL,
    charge_kind TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    description TEXT NOT NULL,
    charge_start TEXT NOT NULL,
    charge_end TEXT NOT NULL,
    service_from TEXT NOT NULL,
    service_to TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit_price TEXT NOT NULL,
    net TEXT NOT NULL,
    list_price TEXT NOT NULL,
    tax_category TEXT NOT NULL,
    tax_percent TEXT NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

-- The next number of each series (e.g. INV-2026): taken in the issuing transaction.
CREATE TABLE invoice_sequences (
    series TEXT PRIMARY KEY,
    next_number BIGINT NOT NULL
);

-- A cron schedule of billing runs; next_due is the occurrence its engine timer waits for;
-- zone_marks (JSON: zone -> ms) is, per account zone, the last occurrence billed there.
CREATE TABLE billing_schedules (
    name TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    next_due BIGINT NOT NULL,
    zone_marks TEXT NOT NULL DEFAULT '{}',
    instance_id TEXT,
    updated_at BIGINT NOT NULL
);

-- l2c-orders: what a billing account's invoices need beside the amounts. Carved out of
-- ../invoicing/20261129000002_billing_runs.sql when the crates split (billing accounts are
-- l2c-orders' table); a database migrated before the split has it applied already.
-- Keep this file and ../../sqlite/orders/20261129000004_billing_account_invoicing.sql the same schema.

-- What an invoice needs beside the amounts: the account's VAT (JSON TaxRate; NULL means the
-- settings' default), per-offering overrides (JSON object), the buyer party (JSON Party) and
-- the number series of its invoices and credit notes.
ALTER TABLE billing_accounts ADD COLUMN tax TEXT;
ALTER TABLE billing_accounts ADD COLUMN tax_by_offering TEXT NOT NULL DEFAULT '{}';
ALTER TABLE billing_accounts ADD COLUMN buyer TEXT;
ALTER TABLE billing_accounts ADD COLUMN invoice_series TEXT NOT NULL DEFAULT 'INV';
ALTER TABLE billing_accounts ADD COLUMN credit_series TEXT NOT NULL DEFAULT 'CN';

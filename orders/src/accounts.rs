//! Customer accounts (who orders) and billing accounts (where the charges go).

use crate::audit;
use crate::error::{problem, DeskError, DeskResult, FieldProblem};
use crate::shapes;
use l2c_billing::{Currency, Party, TaxRate};
use l2c_engine::db::Db;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

/// A customer: the segment and country that catalog eligibility is checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerAccount {
    /// Its id, e.g. `ACME`.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::id_schema))]
    pub id: String,
    /// The customer's name.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::text_schema))]
    pub name: String,
    /// The segment, e.g. `enterprise`.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::text_schema))]
    pub segment: String,
    /// ISO 3166-1 alpha-2 country.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::country_schema))]
    pub country: String,
}

/// A billing account of a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BillingAccount {
    /// Its id, e.g. `ACME-EUR`.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::id_schema))]
    pub id: String,
    /// The customer account it belongs to.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::id_schema))]
    pub customer_account: String,
    /// A name for people.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::text_schema))]
    pub name: String,
    /// The ISO 4217 currency everything on it is billed in.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::currency_schema))]
    pub currency: String,
    /// The day of the month its periods start (1-31; short months clamp).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 31))]
    pub cycle_day: u32,
    /// The IANA time zone its billing dates are local to.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::time_zone_schema))]
    pub time_zone: String,
    /// Days from invoice to due date (0-365).
    #[cfg_attr(feature = "openapi", schema(maximum = 365))]
    pub payment_terms_days: u32,
    /// VAT on its charges; absent: the settings' `billing.default_tax`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>, example = json!({"category": "S", "percent": "19"})))]
    pub tax: Option<TaxRate>,
    /// VAT for particular offerings, overriding `tax` (e.g. a reduced rate).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub tax_by_offering: BTreeMap<String, TaxRate>,
    /// The buyer on its invoices (EN 16931 BG-7: name, address, VAT id, electronic address);
    /// needed for UBL e-invoices.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub buyer: Option<Party>,
    /// The series its invoice numbers are taken from, e.g. `INV` gives `INV-2026-000001`.
    #[serde(default = "default_invoice_series")]
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::series_schema))]
    pub invoice_series: String,
    /// The series of its credit notes.
    #[serde(default = "default_credit_series")]
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::series_schema))]
    pub credit_series: String,
}

fn default_invoice_series() -> String {
    "INV".into()
}

fn default_credit_series() -> String {
    "CN".into()
}

impl Default for BillingAccount {
    /// Monthly on the 1st in UTC, net 30, the default VAT, series INV and CN; the ids, name
    /// and currency are left empty for the caller to fill.
    fn default() -> Self {
        BillingAccount {
            id: String::new(),
            customer_account: String::new(),
            name: String::new(),
            currency: String::new(),
            cycle_day: 1,
            time_zone: "UTC".into(),
            payment_terms_days: 30,
            tax: None,
            tax_by_offering: BTreeMap::new(),
            buyer: None,
            invoice_series: default_invoice_series(),
            credit_series: default_credit_series(),
        }
    }
}

fn check_named(path: &str, text: &str, problems: &mut Vec<FieldProblem>) {
    if !shapes::TEXT.fits(text) {
        problems.push(problem(
            path,
            "required",
            format!("must be {}", shapes::TEXT.says),
        ));
    }
}

impl CustomerAccount {
    /// Checks every field (all problems at once).
    pub fn validate(&self) -> DeskResult<()> {
        let mut problems = Vec::new();
        problems.extend(shapes::ID.check("id", "id", &self.id));
        check_named("name", &self.name, &mut problems);
        check_named("segment", &self.segment, &mut problems);
        if !shapes::is_country(&self.country) {
            problems.push(problem(
                "country",
                "country",
                format!(
                    "{:?} is not an ISO 3166-1 alpha-2 code such as DE",
                    self.country
                ),
            ));
        }
        DeskError::check(problems)
    }
}

impl BillingAccount {
    /// Checks every field (all problems at once).
    pub fn validate(&self) -> DeskResult<()> {
        let mut problems = Vec::new();
        problems.extend(shapes::ID.check("id", "id", &self.id));
        check_named("name", &self.name, &mut problems);
        if Currency::from_code(&self.currency).is_err() {
            problems.push(problem(
                "currency",
                "currency",
                format!("{:?} is not an ISO 4217 currency code", self.currency),
            ));
        }
        if !(1..=31).contains(&self.cycle_day) {
            problems.push(problem("cycle_day", "range", "must be 1 to 31"));
        }
        if !shapes::is_time_zone(&self.time_zone) {
            problems.push(problem(
                "time_zone",
                "time_zone",
                format!(
                    "{:?} is not an IANA zone such as Europe/Berlin",
                    self.time_zone
                ),
            ));
        }
        if self.payment_terms_days > 365 {
            problems.push(problem("payment_terms_days", "range", "must be 0 to 365"));
        }
        for (field, series) in [
            ("invoice_series", &self.invoice_series),
            ("credit_series", &self.credit_series),
        ] {
            problems.extend(shapes::SERIES.check(field, "series", series));
        }
        if let Some(buyer) = &self.buyer {
            if buyer.payment.is_some() {
                problems.push(problem(
                    "buyer.payment",
                    "party",
                    "must not be set: payment means are the seller's (settings billing.seller.payment)",
                ));
            }
            for (field, rule) in buyer.problems() {
                problems.push(problem(format!("buyer.{field}"), "party", rule));
            }
        }
        DeskError::check(problems)
    }
}

impl BillingAccount {
    /// The account's local date at `at`: billing dates are the account's local dates.
    pub fn local_date(&self, at: chrono::DateTime<chrono::Utc>) -> DeskResult<chrono::NaiveDate> {
        local_date(&self.time_zone, at)
            .map_err(|e| crate::error::internal(format!("billing account {}: {e}", self.id)))
    }
}

/// The date at `at` in the IANA zone `time_zone`.
pub fn local_date(
    time_zone: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::NaiveDate, String> {
    let zone: chrono_tz::Tz = time_zone
        .parse()
        .map_err(|e| format!("time zone {time_zone:?}: {e}"))?;
    Ok(at.with_timezone(&zone).date_naive())
}

/// Stores a new customer account; an existing id is a conflict.
pub async fn add_customer(
    db: &Db,
    actor: &str,
    account: &CustomerAccount,
    now: i64,
) -> DeskResult<()> {
    account.validate()?;
    let mut tx = db.begin_write().await?;
    let result = sqlx::query(
        "INSERT INTO customer_accounts (id, name, segment, country, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(account.id.clone())
    .bind(account.name.clone())
    .bind(account.segment.clone())
    .bind(account.country.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == 0 {
        return Err(DeskError::Conflict(format!(
            "customer account {} already exists",
            account.id
        )));
    }
    let entry = audit::Entry {
        actor,
        action: "customer_account.add",
        subject: format!("customer_account:{}", account.id),
        before: None,
        after: Some(serde_json::to_value(account)?),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores a new billing account of an existing customer account.
pub async fn add_billing(
    db: &Db,
    actor: &str,
    account: &BillingAccount,
    now: i64,
) -> DeskResult<()> {
    account.validate()?;
    let mut conn = db.begin_write().await?;
    if customer(&mut conn, &account.customer_account)
        .await?
        .is_none()
    {
        return Err(DeskError::field(
            "customer_account",
            "unknown_account",
            format!("no customer account {}", account.customer_account),
        ));
    }
    let result = sqlx::query(
        "INSERT INTO billing_accounts (id, customer_account_id, name, currency, cycle_day, \
         time_zone, payment_terms_days, created_at, tax, tax_by_offering, buyer, invoice_series, \
         credit_series) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT DO NOTHING",
    )
    .bind(account.id.clone())
    .bind(account.customer_account.clone())
    .bind(account.name.clone())
    .bind(account.currency.clone())
    .bind(i64::from(account.cycle_day))
    .bind(account.time_zone.clone())
    .bind(i64::from(account.payment_terms_days))
    .bind(now)
    .bind(
        account
            .tax
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    )
    .bind(serde_json::to_string(&account.tax_by_offering)?)
    .bind(
        account
            .buyer
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    )
    .bind(account.invoice_series.clone())
    .bind(account.credit_series.clone())
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 0 {
        return Err(DeskError::Conflict(format!(
            "billing account {} already exists",
            account.id
        )));
    }
    let entry = audit::Entry {
        actor,
        action: "billing_account.add",
        subject: format!("billing_account:{}", account.id),
        before: None,
        after: Some(serde_json::to_value(account)?),
    };
    audit::record(&mut conn, db.backend, &entry, now).await?;
    conn.commit().await?;
    Ok(())
}

/// A customer account by id.
pub async fn customer(conn: &mut AnyConnection, id: &str) -> DeskResult<Option<CustomerAccount>> {
    let row = sqlx::query("SELECT id, name, segment, country FROM customer_accounts WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(customer_from_row).transpose()
}

fn customer_from_row(r: &AnyRow) -> DeskResult<CustomerAccount> {
    Ok(CustomerAccount {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        segment: r.try_get("segment")?,
        country: r.try_get("country")?,
    })
}

/// Every customer account, by id.
pub async fn customers(db: &Db) -> DeskResult<Vec<CustomerAccount>> {
    let rows = sqlx::query("SELECT id, name, segment, country FROM customer_accounts ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(customer_from_row).collect()
}

/// A present JSON field as `Some`, even when it is `null`: with `#[serde(default)]`, an
/// absent field stays `None`, so a change can say "remove" (`null`) apart from "keep".
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// What may change on an existing billing account; an absent field keeps its value, and
/// `null` removes an optional one. The id, customer, currency, cycle day, time zone and
/// series stay fixed: issued documents, subscriptions and billing periods depend on them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BillingChanges {
    /// The buyer on its invoices; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub buyer: Option<Option<Party>>,
    /// VAT on its charges; `null`: the settings' `billing.default_tax`.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>, example = json!({"category": "S", "percent": "19"})))]
    pub tax: Option<Option<TaxRate>>,
    /// VAT for particular offerings (replaces the whole map).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub tax_by_offering: Option<BTreeMap<String, TaxRate>>,
    /// Days from invoice to due date (0-365).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 365))]
    pub payment_terms_days: Option<u32>,
}

impl BillingChanges {
    /// `account` with these changes made (nothing checked yet).
    pub fn apply(self, mut account: BillingAccount) -> BillingAccount {
        if let Some(buyer) = self.buyer {
            account.buyer = buyer;
        }
        if let Some(tax) = self.tax {
            account.tax = tax;
        }
        if let Some(by_offering) = self.tax_by_offering {
            account.tax_by_offering = by_offering;
        }
        if let Some(days) = self.payment_terms_days {
            account.payment_terms_days = days;
        }
        account
    }
}

/// Changes billing account `id`, checked with the same rules as a new one
/// ([`BillingAccount::validate`]), and returns it as stored. Documents already issued keep
/// the buyer and terms they were issued with.
pub async fn update_billing(
    db: &Db,
    actor: &str,
    id: &str,
    changes: BillingChanges,
    now: i64,
) -> DeskResult<BillingAccount> {
    let mut tx = db.begin_write().await?;
    let current = billing_locked(&mut tx, id, db.backend.lock_rows())
        .await?
        .ok_or_else(|| DeskError::not_found("billing account", id))?;
    let before = serde_json::to_value(&current)?;
    let account = changes.apply(current);
    account.validate()?;
    sqlx::query(
        "UPDATE billing_accounts SET buyer = $1, tax = $2, tax_by_offering = $3, \
         payment_terms_days = $4 WHERE id = $5",
    )
    .bind(
        account
            .buyer
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    )
    .bind(
        account
            .tax
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    )
    .bind(serde_json::to_string(&account.tax_by_offering)?)
    .bind(i64::from(account.payment_terms_days))
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    let entry = audit::Entry {
        actor,
        action: "billing_account.update",
        subject: format!("billing_account:{id}"),
        before: Some(before),
        after: Some(serde_json::to_value(&account)?),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(account)
}

/// The columns [`billing_from_row`] reads.
pub const BILLING_COLUMNS: &str = "id, customer_account_id, name, currency, cycle_day, \
    time_zone, payment_terms_days, tax, tax_by_offering, buyer, invoice_series, credit_series";

fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> DeskResult<T> {
    serde_json::from_str(text)
        .map_err(|e| DeskError::Internal(format!("billing_accounts.{column}: {e}")))
}

/// A billing account from a row with [`BILLING_COLUMNS`].
pub fn billing_from_row(r: &AnyRow) -> DeskResult<BillingAccount> {
    let day: i64 = r.try_get("cycle_day")?;
    let terms: i64 = r.try_get("payment_terms_days")?;
    let tax: Option<String> = r.try_get("tax")?;
    let by_offering: String = r.try_get("tax_by_offering")?;
    let buyer: Option<String> = r.try_get("buyer")?;
    Ok(BillingAccount {
        id: r.try_get("id")?,
        customer_account: r.try_get("customer_account_id")?,
        name: r.try_get("name")?,
        currency: r.try_get("currency")?,
        cycle_day: u32::try_from(day).map_err(|e| DeskError::Internal(e.to_string()))?,
        time_zone: r.try_get("time_zone")?,
        payment_terms_days: u32::try_from(terms).map_err(|e| DeskError::Internal(e.to_string()))?,
        tax: tax.map(|t| from_json("tax", &t)).transpose()?,
        tax_by_offering: from_json("tax_by_offering", &by_offering)?,
        buyer: buyer.map(|b| from_json("buyer", &b)).transpose()?,
        invoice_series: r.try_get("invoice_series")?,
        credit_series: r.try_get("credit_series")?,
    })
}

/// A billing account by id.
pub async fn billing(conn: &mut AnyConnection, id: &str) -> DeskResult<Option<BillingAccount>> {
    billing_locked(conn, id, "").await
}

/// A billing account by id, its row locked for the transaction by `lock` (the backend's
/// [`Backend::lock_rows`](l2c_engine::db::Backend::lock_rows), or nothing).
pub async fn billing_locked(
    conn: &mut AnyConnection,
    id: &str,
    lock: &str,
) -> DeskResult<Option<BillingAccount>> {
    let sql = format!("SELECT {BILLING_COLUMNS} FROM billing_accounts WHERE id = $1{lock}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(billing_from_row).transpose()
}

/// The billing accounts with these ids, by id (one statement per chunk of ids).
pub async fn billing_by_ids(
    conn: &mut AnyConnection,
    backend: l2c_engine::db::Backend,
    ids: &[String],
) -> DeskResult<HashMap<String, BillingAccount>> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(backend.chunk_rows(l2c_engine::db::CHUNK, 1)) {
        let sql = format!(
            "SELECT {BILLING_COLUMNS} FROM billing_accounts WHERE id IN ({})",
            backend.in_list(chunk.len(), 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.clone());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let account = billing_from_row(&row)?;
            found.insert(account.id.clone(), account);
        }
    }
    Ok(found)
}

/// The ids of a customer account's billing accounts.
pub async fn billing_account_ids(db: &Db, customer: &str) -> DeskResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM billing_accounts WHERE customer_account_id = $1 ORDER BY id",
    )
    .bind(customer.to_string())
    .fetch_all(&db.pool)
    .await?)
}

/// Billing accounts, of one customer account or (for `None`) all.
pub async fn billing_accounts(db: &Db, customer: Option<&str>) -> DeskResult<Vec<BillingAccount>> {
    let rows = match customer {
        Some(c) => {
            let sql = format!(
                "SELECT {BILLING_COLUMNS} FROM billing_accounts WHERE customer_account_id = $1 \
                 ORDER BY id"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(c.to_string())
                .fetch_all(&db.pool)
                .await?
        }
        None => {
            let sql = format!("SELECT {BILLING_COLUMNS} FROM billing_accounts ORDER BY id");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&db.pool)
                .await?
        }
    };
    rows.iter().map(billing_from_row).collect()
}

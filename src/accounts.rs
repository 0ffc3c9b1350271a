//! Customer accounts (who orders) and billing accounts (where the charges go).

use crate::error::{problem, AppError, AppResult, FieldProblem};
use l2c_billing::Currency;
use l2c_engine::db::Db;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

/// A customer: the segment and country that catalog eligibility is checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerAccount {
    /// Its id, e.g. `ACME`.
    pub id: String,
    /// The customer's name.
    pub name: String,
    /// The segment, e.g. `enterprise`.
    pub segment: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
}

/// A billing account of a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingAccount {
    /// Its id, e.g. `ACME-EUR`.
    pub id: String,
    /// The customer account it belongs to.
    pub customer_account: String,
    /// A name for people.
    pub name: String,
    /// The ISO 4217 currency everything on it is billed in.
    pub currency: String,
    /// The day of the month its periods start (1-31; short months clamp).
    pub cycle_day: u32,
    /// The IANA time zone its billing dates are local to.
    pub time_zone: String,
    /// Days from invoice to due date.
    pub payment_terms_days: u32,
}

fn check_id(path: &str, id: &str, problems: &mut Vec<FieldProblem>) {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        problems.push(problem(
            path,
            "id",
            format!("{id:?} must be 1-64 letters, digits, '-' or '_'"),
        ));
    }
}

impl CustomerAccount {
    /// Checks every field (all problems at once).
    pub fn validate(&self) -> AppResult<()> {
        let mut problems = Vec::new();
        check_id("id", &self.id, &mut problems);
        if self.name.trim().is_empty() {
            problems.push(problem("name", "required", "must not be empty"));
        }
        if self.segment.trim().is_empty() {
            problems.push(problem("segment", "required", "must not be empty"));
        }
        if !is_iso_country(&self.country) {
            problems.push(problem(
                "country",
                "country",
                format!(
                    "{:?} is not an ISO 3166-1 alpha-2 code such as DE",
                    self.country
                ),
            ));
        }
        AppError::check(problems)
    }
}

impl BillingAccount {
    /// Checks every field (all problems at once).
    pub fn validate(&self) -> AppResult<()> {
        let mut problems = Vec::new();
        check_id("id", &self.id, &mut problems);
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
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
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
        AppError::check(problems)
    }
}

fn is_iso_country(code: &str) -> bool {
    use std::str::FromStr;
    code.len() == 2 && iso_country::Country::from_str(code).is_ok()
}

/// Stores a new customer account; an existing id is a conflict.
pub async fn add_customer(db: &Db, account: &CustomerAccount, now: i64) -> AppResult<()> {
    account.validate()?;
    let result = sqlx::query(
        "INSERT INTO customer_accounts (id, name, segment, country, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(account.id.clone())
    .bind(account.name.clone())
    .bind(account.segment.clone())
    .bind(account.country.clone())
    .bind(now)
    .execute(&db.pool)
    .await?;
    if result.rows_affected() == 0 {
        return Err(AppError::Conflict(format!(
            "customer account {} already exists",
            account.id
        )));
    }
    Ok(())
}

/// Stores a new billing account of an existing customer account.
pub async fn add_billing(db: &Db, account: &BillingAccount, now: i64) -> AppResult<()> {
    account.validate()?;
    let mut conn = db.pool.acquire().await?;
    if customer(&mut conn, &account.customer_account)
        .await?
        .is_none()
    {
        return Err(AppError::field(
            "customer_account",
            "unknown_account",
            format!("no customer account {}", account.customer_account),
        ));
    }
    let result = sqlx::query(
        "INSERT INTO billing_accounts (id, customer_account_id, name, currency, cycle_day, \
         time_zone, payment_terms_days, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
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
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 0 {
        return Err(AppError::Conflict(format!(
            "billing account {} already exists",
            account.id
        )));
    }
    Ok(())
}

/// A customer account by id.
pub async fn customer(conn: &mut AnyConnection, id: &str) -> AppResult<Option<CustomerAccount>> {
    let row = sqlx::query("SELECT id, name, segment, country FROM customer_accounts WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(CustomerAccount {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            segment: r.try_get("segment")?,
            country: r.try_get("country")?,
        })
    })
    .transpose()
}

const BILLING_COLUMNS: &str =
    "id, customer_account_id, name, currency, cycle_day, time_zone, payment_terms_days";

fn billing_from_row(r: &AnyRow) -> AppResult<BillingAccount> {
    let day: i64 = r.try_get("cycle_day")?;
    let terms: i64 = r.try_get("payment_terms_days")?;
    Ok(BillingAccount {
        id: r.try_get("id")?,
        customer_account: r.try_get("customer_account_id")?,
        name: r.try_get("name")?,
        currency: r.try_get("currency")?,
        cycle_day: u32::try_from(day).map_err(|e| AppError::Internal(e.to_string()))?,
        time_zone: r.try_get("time_zone")?,
        payment_terms_days: u32::try_from(terms).map_err(|e| AppError::Internal(e.to_string()))?,
    })
}

/// A billing account by id.
pub async fn billing(conn: &mut AnyConnection, id: &str) -> AppResult<Option<BillingAccount>> {
    let sql = format!("SELECT {BILLING_COLUMNS} FROM billing_accounts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(billing_from_row).transpose()
}

/// Billing accounts, of one customer account or (for `None`) all.
pub async fn billing_accounts(db: &Db, customer: Option<&str>) -> AppResult<Vec<BillingAccount>> {
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

//! The history's people: three more customers, each with its EUR billing account and its
//! requester, and the leads SLA escalations reassign to; how they are set up and introduced,
//! and the slips they make now and then (for the report's security KPIs).

use super::parts::{
    add_months, month_name, Customer, CUSTOMERS, LEADS, NORMAL_FAILURE_RATE, OUTAGE_FAILURE_RATE,
};
use super::sim::Sim;
use crate::demo_desk::{self, As, Desk};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use rand::RngExt;
use serde_json::json;

/// Creates the customers with their requesters, then the leads, over the API as the admin.
/// The requesters come in the order of [`CUSTOMERS`] and the leads in that of [`LEADS`]:
/// the history finds them by those positions.
pub(super) async fn set_up(desk: &Desk) -> Result<(Vec<As>, Vec<As>)> {
    let mut requesters = Vec::new();
    for c in &CUSTOMERS {
        requesters.push(add_customer(desk, c).await?);
    }
    let mut leads = Vec::new();
    for (name, role, group) in LEADS {
        leads.push(add_user(desk, name, role, None, Some(group)).await?);
    }
    Ok((requesters, leads))
}

/// Creates `c` with its EUR billing account and its requester, over the API as the admin.
async fn add_customer(desk: &Desk, c: &Customer) -> Result<As> {
    let customer = json!({"id": c.id, "name": c.name, "segment": c.segment, "country": "DE"});
    desk.admin
        .post("/api/v1/customer-accounts", customer)
        .await?;
    let billing = json!({"id": format!("{}-EUR", c.id), "customer_account": c.id,
        "name": format!("{} (EUR)", c.name), "currency": "EUR", "cycle_day": c.cycle_day,
        "time_zone": "Europe/Berlin", "payment_terms_days": 30,
        "buyer": {"name": c.name, "street": c.street, "city": c.city, "postcode": c.postcode,
            "country": "DE", "vat_id": c.vat_id, "endpoint_scheme": "9930",
            "endpoint_id": c.vat_id}});
    desk.admin.post("/api/v1/billing-accounts", billing).await?;
    add_user(desk, c.requester, "requester", Some(c.id), None).await
}

/// Creates a user (with the demo's password), and a client acting as them.
async fn add_user(
    desk: &Desk,
    name: &str,
    role: &str,
    account: Option<&str>,
    group: Option<&str>,
) -> Result<As> {
    let body = json!({"name": name, "role": role, "account": account,
        "groups": group.into_iter().collect::<Vec<_>>(), "password": demo_desk::demo_password(name)});
    let created = desk.admin.post("/api/v1/users", body).await?;
    let token = created["token"]
        .as_str()
        .with_context(|| format!("the token of {name}"))?;
    Ok(As {
        token: token.to_string(),
        ..desk.admin.clone()
    })
}

impl Sim<'_> {
    /// Prints the span of the history and who its people are, before its first month.
    pub(super) fn introduce(&self, first: NaiveDate, months: u32) -> Result<()> {
        let (first, last) = (
            month_name(first),
            month_name(add_months(first, months - 1)?),
        );
        let span = match first == last {
            true => first,
            false => format!("{first} to {last}"),
        };
        println!("\nHistory: {span} on the sandbox clock, as these people too (password: name-demo-desk):");
        for c in &CUSTOMERS {
            println!(
                "   user {:5} requester of {} ({}, bills on day {})",
                c.requester, c.id, c.segment, c.cycle_day
            );
        }
        for (name, role, group) in LEADS {
            println!("   user {name:5} {role:9} {group}");
        }
        println!(
            "   The simulated network fails {:.0}% of calls, and {:.0}% on two or three bad mornings a month.",
            NORMAL_FAILURE_RATE * 100.0,
            OUTAGE_FAILURE_RATE * 100.0
        );
        Ok(())
    }

    /// Someone slips, for the report's security KPIs: a requester mistypes their web
    /// password, an old script calls with a token nobody has any more, or a requester opens
    /// the incidents (admins only). Whatever the answer, the history goes on.
    pub(super) async fn slip(&mut self) -> Result<()> {
        let i = self.people.random_range(0..CUSTOMERS.len());
        let (Some(customer), Some(who)) = (CUSTOMERS.get(i), self.requesters.get(i)) else {
            return Ok(());
        };
        let request = match self.people.random_range(0..3) {
            // The sign-in throttle counts in real time (5 a minute from one address), and
            // the whole history takes seconds: more failures would only be refused.
            0 if self.sign_in_slips < 4 => {
                self.sign_in_slips += 1;
                let form = [
                    ("name", customer.requester),
                    ("password", "not-my-password"),
                ];
                who.http.post(format!("{}/sign-in", who.base)).form(&form)
            }
            0 | 1 => who
                .http
                .get(format!("{}/api/v1/orders", who.base))
                .bearer_auth("a-token-revoked-long-ago"),
            _ => who
                .http
                .get(format!("{}/api/v1/incidents", who.base))
                .bearer_auth(&who.token),
        };
        request.send().await.context("a slip")?;
        Ok(())
    }
}

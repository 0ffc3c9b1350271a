//! The demo's people as API clients: [`As`] (one user's bearer token on the server), the
//! [`Desk`] of them, how they are set up, and the demo app's options. Both the walk through
//! the desk (`crate::demo`) and its months of history (`crate::demo_history`) use them; this
//! module uses neither.

use anyhow::{bail, Context, Result};
use l2c::app::{App, AppOptions};
use l2c_orders::users::{NewUser, Role};
use serde_json::{json, Value};
use std::time::Duration;

/// An HTTP client acting as one user.
#[derive(Clone)]
pub(crate) struct As {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

impl As {
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let resp = req.bearer_auth(&self.token).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{status}: {}",
                body["detail"].as_str().unwrap_or("no detail")
            );
        }
        Ok(body)
    }
    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }
    pub(crate) async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let req = self.http.post(format!("{}{path}", self.base)).json(&body);
        self.send(req).await.with_context(|| format!("POST {path}"))
    }
}

/// The demo's people, each with their own token.
pub(crate) struct Desk {
    pub(crate) admin: As,
    pub(crate) fay: As,
    pub(crate) rita: As,
    pub(crate) sam: As,
    pub(crate) nina: As,
    pub(crate) fred: As,
}

impl Desk {
    /// The same people on another server of the same database.
    pub(crate) fn at(&self, base: &str) -> Desk {
        let at = |who: &As| As {
            base: base.to_string(),
            ..who.clone()
        };
        Desk {
            admin: at(&self.admin),
            fay: at(&self.fay),
            rita: at(&self.rita),
            sam: at(&self.sam),
            nina: at(&self.nina),
            fred: at(&self.fred),
        }
    }
}

/// The demo users' password: their name and this (the web desk wants at least 10 characters).
const PASSWORD_SUFFIX: &str = "-demo-desk";

pub(crate) fn demo_password(name: &str) -> String {
    format!("{name}{PASSWORD_SUFFIX}")
}

/// The demo's app options on `url`: the sandbox clock, quick polling, and the simulated
/// network failing `failure_rate` of its calls.
pub(crate) fn options(url: &str, failure_rate: f64) -> AppOptions {
    let mut options = AppOptions::new(url.to_string());
    options.sandbox = true;
    options.engine.poll_interval = Duration::from_millis(10);
    options.settings.network.failure_rate = failure_rate;
    options
}

/// Creates the demo's admin ada, customer ACME with its billing account, and its users;
/// returns them as API clients.
pub(crate) async fn set_up(app: &App, base: &str) -> Result<Desk> {
    let (_, token) = app
        .add_user(
            l2c::access::CLI_ACTOR,
            &NewUser {
                name: "ada".into(),
                role: Role::Admin,
                account: None,
                groups: vec![],
                password: Some(demo_password("ada")),
            },
        )
        .await?;
    let http = reqwest::Client::new();
    let user = |token: String| As {
        http: http.clone(),
        base: base.to_string(),
        token,
    };
    let admin = user(token);
    admin
        .post(
            "/api/v1/customer-accounts",
            json!({"id": "ACME", "name": "ACME GmbH", "segment": "enterprise", "country": "DE"}),
        )
        .await?;
    admin
        .post(
            "/api/v1/billing-accounts",
            json!({"id": "ACME-EUR", "customer_account": "ACME", "name": "ACME GmbH (EUR)",
        "currency": "EUR", "cycle_day": 1, "time_zone": "Europe/Berlin", "payment_terms_days": 30,
        "buyer": {"name": "ACME GmbH", "street": "Hauptstrasse 5", "city": "Frankfurt am Main",
            "postcode": "60311", "country": "DE", "vat_id": "DE123456789",
            "endpoint_scheme": "9930", "endpoint_id": "DE123456789"}}),
        )
        .await?;
    println!(
        "Admin ada sets up customer ACME (enterprise, DE) with billing account ACME-EUR, and users:"
    );
    let mut tokens = Vec::new();
    for (name, role, account, group) in [
        ("rita", "requester", Some("ACME"), None),
        ("sam", "approver", None, Some("sales-managers")),
        ("nina", "approver", None, Some("network-engineering")),
        ("fred", "engineer", None, Some("field-engineers")),
        ("fay", "finance", None, None),
    ] {
        let body = json!({"name": name, "role": role, "account": account,
            "groups": group.into_iter().collect::<Vec<_>>(), "password": demo_password(name)});
        let created = admin.post("/api/v1/users", body).await?;
        tokens.push(created["token"].as_str().unwrap_or_default().to_string());
        println!(
            "   user {name:5} {role:9} {}",
            group.or(account).unwrap_or("")
        );
    }
    let mut t = tokens.into_iter();
    let mut next = || user(t.next().unwrap_or_default());
    Ok(Desk {
        rita: next(),
        sam: next(),
        nina: next(),
        fred: next(),
        fay: next(),
        admin,
    })
}

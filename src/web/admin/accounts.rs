//! Customer and billing accounts: the lists, creating either (`accounts::add_customer`,
//! `accounts::add_billing`, as the API's `POST`s do), and editing what may change on a
//! billing account (buyer, tax, tax by offering, payment terms) through
//! `accounts::update_billing`, which `PATCH /api/v1/billing-accounts/{id}` calls too. The
//! domain's problems (`buyer.country`, `payment_terms_days`) land at the inputs of the same
//! name; the page reads only what a form cannot say otherwise (a number, the tax's two
//! inputs, the JSON of the rates by offering).

use super::super::error::urlencode;
use super::super::form::{field, Fields, Input, Kind};
use super::super::page::{render, Chrome, Page};
use super::super::session::{Posted, Viewer};
use super::super::WebState;
use super::{admin_only, input, json_problem, place, problems_of, select, tabs, Tab};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use l2c_billing::{Party, TaxRate};
use l2c_orders::accounts::{self, BillingAccount, BillingChanges, CustomerAccount};
use l2c_orders::error::{problem, DeskError, FieldProblem};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin/accounts", get(list))
        .route("/admin/accounts/customers", post(create_customer))
        .route("/admin/accounts/billing", post(create_billing))
        .route("/admin/accounts/billing/{id}", get(edit_form).post(edit))
}

/// The buyer's inputs, named as the domain's problem paths (`buyer.country`).
const BUYER: [(&str, &str, &str); 8] = [
    ("name", "Buyer name", "The legal name on invoices."),
    ("street", "Street and number", ""),
    ("city", "City", ""),
    ("postcode", "Post code", ""),
    ("country", "Country", "ISO 3166-1 alpha-2, e.g. DE."),
    (
        "vat_id",
        "VAT id",
        "Optional, with its country prefix, e.g. DE123456789.",
    ),
    (
        "endpoint_scheme",
        "Electronic address scheme",
        "Peppol EAS code, e.g. 9930 (German VAT id) or 0088 (GLN).",
    ),
    (
        "endpoint_id",
        "Electronic address",
        "The address in that scheme.",
    ),
];

/// VAT categories a select offers (UNCL5305); its "(none)" is the settings' default.
const TAX_CATEGORIES: [(&str, &str); 7] = [
    ("S", "S: standard rate"),
    ("Z", "Z: zero rated"),
    ("E", "E: exempt"),
    ("AE", "AE: reverse charge"),
    ("K", "K: intra-community supply"),
    ("G", "G: export outside the EU"),
    ("O", "O: outside the scope of VAT"),
];

/// A billing account as the list shows it.
struct BillingRow {
    account: BillingAccount,
    tax: String,
    buyer: String,
}

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    customers: Vec<CustomerAccount>,
    billing: Vec<BillingRow>,
    customer_inputs: Vec<Input>,
    customer_general: Vec<String>,
    billing_inputs: Vec<Input>,
    changeable_inputs: Vec<Input>,
    billing_general: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_billing_edit.html")]
struct EditPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    account: BillingAccount,
    inputs: Vec<Input>,
    general: Vec<String>,
}

fn value(fields: &Fields, name: &str, default: &str) -> String {
    field(fields, name).unwrap_or(default).to_string()
}

fn customer_inputs(fields: &Fields) -> Vec<Input> {
    let text = |name: &str, label: &str, help: &str| {
        input(
            &format!("customer.{name}"),
            label,
            Kind::Text,
            value(fields, &format!("customer.{name}"), ""),
            help,
        )
    };
    vec![
        text("id", "Id", "1-64 letters, digits, - or _, e.g. ACME."),
        text("name", "Name", "The customer's name."),
        text(
            "segment",
            "Segment",
            "e.g. enterprise; the catalog's eligibility rules read it.",
        ),
        text("country", "Country", "ISO 3166-1 alpha-2, e.g. DE."),
    ]
}

/// The inputs fixed once a billing account exists.
fn billing_inputs(fields: &Fields, customers: &[CustomerAccount]) -> Vec<Input> {
    let text = |name: &str, label: &str, default: &str, help: &str| {
        input(name, label, Kind::Text, value(fields, name, default), help)
    };
    let choices: Vec<(String, String)> = customers
        .iter()
        .map(|c| (c.id.clone(), format!("{} ({})", c.name, c.id)))
        .collect();
    let first = customers.first().map_or("", |c| c.id.as_str());
    let mut cycle = text(
        "cycle_day",
        "Cycle day",
        "1",
        "The day of the month periods start, 1-31.",
    );
    cycle.kind = Kind::Number;
    vec![
        text(
            "id",
            "Id",
            "",
            "1-64 letters, digits, - or _, e.g. ACME-EUR.",
        ),
        select(
            "customer_account",
            "Customer account",
            &value(fields, "customer_account", first),
            &choices,
            "Who it bills.",
        ),
        text("name", "Name", "", "A name for people."),
        text(
            "currency",
            "Currency",
            "EUR",
            "ISO 4217, e.g. EUR. It never changes.",
        ),
        cycle,
        text(
            "time_zone",
            "Time zone",
            "UTC",
            "IANA, e.g. Europe/Berlin: billing dates are local to it.",
        ),
    ]
}

/// The inputs of what may change: payment terms, tax, tax by offering, the buyer.
fn changeable_inputs(fields: &Fields) -> Vec<Input> {
    let mut terms = input(
        "payment_terms_days",
        "Payment terms (days)",
        Kind::Number,
        value(fields, "payment_terms_days", "30"),
        "Days from invoice to due date, 0-365.",
    );
    terms.min = "0".into();
    terms.max = "365".into();
    let categories: Vec<(String, String)> = TAX_CATEGORIES
        .iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect();
    let tax = select(
        "tax.category",
        "VAT category",
        &value(fields, "tax.category", ""),
        &categories,
        "(none): the settings' default VAT.",
    );
    let mut inputs = vec![
        terms,
        tax,
        input(
            "tax.percent",
            "VAT percent",
            Kind::Text,
            value(fields, "tax.percent", ""),
            "e.g. 19; 0 for every category but S.",
        ),
        input(
            "tax_by_offering",
            "VAT by offering (JSON)",
            Kind::Area,
            value(fields, "tax_by_offering", ""),
            "Optional, e.g. {\"wan-link\": {\"category\": \"S\", \"percent\": \"7\"}}.",
        ),
    ];
    for (name, label, help) in BUYER {
        let name = format!("buyer.{name}");
        let v = value(fields, &name, "");
        inputs.push(input(&name, label, Kind::Text, v, help));
    }
    inputs
}

/// The form's fields for `account` as stored, to fill the edit form.
fn account_fields(account: &BillingAccount) -> Fields {
    let mut f: Fields = vec![(
        "payment_terms_days".into(),
        account.payment_terms_days.to_string(),
    )];
    if let Some(t) = &account.tax {
        f.push(("tax.category".into(), t.category().code().into()));
        f.push(("tax.percent".into(), t.percent().to_string()));
    }
    if !account.tax_by_offering.is_empty() {
        let json = serde_json::to_string_pretty(&account.tax_by_offering).unwrap_or_default();
        f.push(("tax_by_offering".into(), json));
    }
    if let Some(b) = &account.buyer {
        let vat = b.vat_id.clone().unwrap_or_default();
        for (name, v) in [
            ("name", &b.name),
            ("street", &b.street),
            ("city", &b.city),
            ("postcode", &b.postcode),
            ("country", &b.country),
            ("vat_id", &vat),
            ("endpoint_scheme", &b.endpoint_scheme),
            ("endpoint_id", &b.endpoint_id),
        ] {
            f.push((format!("buyer.{name}"), v.clone()));
        }
    }
    f
}

/// A field's trimmed text, `None` when empty.
fn filled<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    field(fields, name).map(str::trim).filter(|v| !v.is_empty())
}

/// A whole number the form holds, or the page's problem at its input.
fn number(fields: &Fields, name: &str, default: u32, problems: &mut Vec<FieldProblem>) -> u32 {
    match filled(fields, name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            problems.push(problem(
                name,
                "integer",
                format!("{v:?} is not a whole number"),
            ));
            default
        }),
    }
}

/// The tax from its two inputs, read as the API reads `{"category", "percent"}` (the
/// rate's own rule, `TaxRate::new`, judges the pair).
fn read_tax(fields: &Fields, problems: &mut Vec<FieldProblem>) -> Option<TaxRate> {
    let category = filled(fields, "tax.category")?;
    let percent = filled(fields, "tax.percent").unwrap_or("0");
    let raw = serde_json::json!({"category": category, "percent": percent});
    serde_json::from_value(raw)
        .map_err(|e| problems.push(problem("tax.percent", "tax", e.to_string())))
        .ok()
}

fn read_by_offering(
    fields: &Fields,
    problems: &mut Vec<FieldProblem>,
) -> BTreeMap<String, TaxRate> {
    let Some(text) = filled(fields, "tax_by_offering") else {
        return BTreeMap::new();
    };
    serde_json::from_str(text).unwrap_or_else(|e| {
        problems.push(problem("tax_by_offering", "json", json_problem(&e)));
        BTreeMap::new()
    })
}

/// The buyer from its inputs: none when all are empty. The contact, which the form does not
/// show, is kept from `kept`.
fn read_buyer(fields: &Fields, kept: Option<&Party>) -> Option<Party> {
    let text = |name: &str| filled(fields, &format!("buyer.{name}")).unwrap_or_default();
    if BUYER.iter().all(|(name, _, _)| text(name).is_empty()) {
        return None;
    }
    Some(Party {
        name: text("name").into(),
        street: text("street").into(),
        city: text("city").into(),
        postcode: text("postcode").into(),
        country: text("country").into(),
        vat_id: Some(text("vat_id").to_string()).filter(|v| !v.is_empty()),
        endpoint_scheme: text("endpoint_scheme").into(),
        endpoint_id: text("endpoint_id").into(),
        contact: kept.and_then(|b| b.contact.clone()),
        payment: None,
    })
}

/// The changes the form asks for (every changeable field, as the form shows them all), and
/// the problems of reading it.
fn read_changes(fields: &Fields, kept: Option<&Party>) -> (BillingChanges, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let changes = BillingChanges {
        payment_terms_days: Some(number(fields, "payment_terms_days", 30, &mut problems)),
        tax: Some(read_tax(fields, &mut problems)),
        tax_by_offering: Some(read_by_offering(fields, &mut problems)),
        buyer: Some(read_buyer(fields, kept)),
    };
    (changes, problems)
}

/// What a form that came back holds: which form, its fields and its problems.
enum Again<'a> {
    Nothing,
    Customer(&'a Fields, &'a [FieldProblem]),
    Billing(&'a Fields, &'a [FieldProblem]),
}

async fn page(
    state: &WebState,
    viewer: &Viewer,
    again: Again<'_>,
    notice: Option<String>,
) -> Result<Response, DeskError> {
    let customers = accounts::customers(&state.app.db).await?;
    let billing = accounts::billing_accounts(&state.app.db, None)
        .await?
        .into_iter()
        .map(|account| BillingRow {
            tax: account
                .tax
                .map_or_else(|| "default".to_string(), |t| t.to_string()),
            buyer: account
                .buyer
                .as_ref()
                .map_or_else(String::new, |b| b.name.clone()),
            account,
        })
        .collect();
    let none = Vec::new();
    let (c_fields, c_problems, b_fields, b_problems): (&Fields, &[FieldProblem], &Fields, &[_]) =
        match again {
            Again::Nothing => (&none, &[], &none, &[]),
            Again::Customer(f, p) => (f, p, &none, &[]),
            Again::Billing(f, p) => (&none, &[], f, p),
        };
    let failed = !c_problems.is_empty() || !b_problems.is_empty();
    let mut customer_inputs = customer_inputs(c_fields);
    let customer_paths: Vec<FieldProblem> = c_problems
        .iter()
        .map(|p| problem(format!("customer.{}", p.path), p.rule, p.message.clone()))
        .collect();
    let customer_general = place(&mut customer_inputs, &customer_paths);
    let mut billing_inputs = billing_inputs(b_fields, &customers);
    let mut changeable_inputs = changeable_inputs(b_fields);
    let rest = place(&mut billing_inputs, b_problems);
    let mut billing_general = place(&mut changeable_inputs, b_problems);
    billing_general.retain(|m| rest.contains(m));
    let page = AccountsPage {
        chrome: Chrome::new(viewer, "Accounts", "/admin/accounts").notice(notice),
        tabs: tabs(state, "/admin/accounts"),
        customers,
        billing,
        customer_inputs,
        customer_general,
        billing_inputs,
        changeable_inputs,
        billing_general,
    };
    let status = if failed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize)]
struct Done {
    did: Option<String>,
    id: Option<String>,
}

/// The notice after a change; only known verbs are worded (the query is anyone's to write).
fn done_notice(q: &Done) -> Option<String> {
    let what = match q.did.as_deref()? {
        "customer" => "Customer account",
        "billing" => "Billing account",
        _ => return None,
    };
    Some(format!("{what} {} was saved.", q.id.as_deref()?))
}

async fn list(State(state): State<WebState>, viewer: Viewer, Query(q): Query<Done>) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    page(&state, &viewer, Again::Nothing, done_notice(&q))
        .await
        .map_err(|e| viewer.error(e))
}

fn saved(what: &str, id: &str) -> Response {
    let to = format!("/admin/accounts?did={what}&id={}", urlencode(id));
    Redirect::to(&to).into_response()
}

/// A conflict (the id is taken) belongs at the id input; other errors stay errors.
fn save_problems(e: DeskError) -> Result<Vec<FieldProblem>, DeskError> {
    match e {
        DeskError::Conflict(m) => Ok(vec![problem("id", "unique", m)]),
        other => problems_of(other),
    }
}

async fn create_customer(State(state): State<WebState>, posted: Posted<Fields>) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let text = |name: &str| filled(&form, &format!("customer.{name}")).unwrap_or_default();
    let account = CustomerAccount {
        id: text("id").into(),
        name: text("name").into(),
        segment: text("segment").into(),
        country: text("country").into(),
    };
    let problems = match accounts::add_customer(
        &state.app.db,
        &viewer.user.name,
        &account,
        state.app.now_ms(),
    )
    .await
    {
        Ok(()) => return Ok(saved("customer", &account.id)),
        Err(e) => save_problems(e).map_err(|e| viewer.error(e))?,
    };
    page(&state, &viewer, Again::Customer(&form, &problems), None)
        .await
        .map_err(|e| viewer.error(e))
}

async fn create_billing(State(state): State<WebState>, posted: Posted<Fields>) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let text = |name: &str| filled(&form, name).unwrap_or_default().to_string();
    let (changes, mut problems) = read_changes(&form, None);
    let base = BillingAccount {
        id: text("id"),
        customer_account: text("customer_account"),
        name: text("name"),
        currency: text("currency"),
        cycle_day: number(&form, "cycle_day", 1, &mut problems),
        time_zone: text("time_zone"),
        ..BillingAccount::default()
    };
    if problems.is_empty() {
        let account = changes.apply(base);
        match accounts::add_billing(
            &state.app.db,
            &viewer.user.name,
            &account,
            state.app.now_ms(),
        )
        .await
        {
            Ok(()) => return Ok(saved("billing", &account.id)),
            Err(e) => problems = save_problems(e).map_err(|e| viewer.error(e))?,
        }
    }
    page(&state, &viewer, Again::Billing(&form, &problems), None)
        .await
        .map_err(|e| viewer.error(e))
}

async fn stored(state: &WebState, id: &str) -> Result<BillingAccount, DeskError> {
    let mut conn = state.conn().await?;
    accounts::billing(&mut conn, id)
        .await?
        .ok_or_else(|| DeskError::not_found("billing account", id))
}

fn edit_page(
    state: &WebState,
    viewer: &Viewer,
    account: BillingAccount,
    fields: &Fields,
    problems: &[FieldProblem],
) -> Response {
    let mut inputs = changeable_inputs(fields);
    let general = place(&mut inputs, problems);
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = EditPage {
        chrome: Chrome::new(
            viewer,
            format!("Billing account {}", account.id),
            "/admin/accounts",
        ),
        tabs: tabs(state, "/admin/accounts"),
        account,
        inputs,
        general,
    };
    (status, render(&page)).into_response()
}

async fn edit_form(State(state): State<WebState>, viewer: Viewer, Path(id): Path<String>) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let account = stored(&state, &id).await.map_err(|e| viewer.error(e))?;
    let fields = account_fields(&account);
    Ok(edit_page(&state, &viewer, account, &fields, &[]))
}

async fn edit(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<Fields>,
) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let account = stored(&state, &id).await.map_err(|e| viewer.error(e))?;
    let (changes, mut problems) = read_changes(&form, account.buyer.as_ref());
    if problems.is_empty() {
        match accounts::update_billing(
            &state.app.db,
            &viewer.user.name,
            &id,
            changes,
            state.app.now_ms(),
        )
        .await
        {
            Ok(a) => return Ok(saved("billing", &a.id)),
            Err(e) => problems = problems_of(e).map_err(|e| viewer.error(e))?,
        }
    }
    Ok(edit_page(&state, &viewer, account, &form, &problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_empty_buyer_and_tax_are_none_and_bad_input_is_at_its_field() {
        let (c, p) = read_changes(&posted(&[("payment_terms_days", "14")]), None);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(c.payment_terms_days, Some(14));
        assert_eq!((c.buyer, c.tax), (Some(None), Some(None)));
        let bad = posted(&[
            ("payment_terms_days", "soon"),
            ("tax.category", "S"),
            ("tax.percent", "0"),
            ("tax_by_offering", "{"),
        ]);
        let (_, p) = read_changes(&bad, None);
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["payment_terms_days", "tax.percent", "tax_by_offering"]
        );
    }

    #[test]
    fn a_stored_account_fills_the_form_it_is_read_back_from() {
        let (changes, _) = read_changes(
            &posted(&[
                ("tax.category", "S"),
                ("tax.percent", "19"),
                ("buyer.name", "Acme"),
                ("buyer.country", "DE"),
            ]),
            None,
        );
        let account = changes.apply(BillingAccount::default());
        let (again, p) = read_changes(&account_fields(&account), None);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(again.apply(BillingAccount::default()), account);
    }
}

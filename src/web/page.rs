//! What every page shares: the chrome around its content (title, navigation for the
//! viewer's role, the sign-out form with its CSRF token, a notice), rendering a template
//! into a response, and the small formatting helpers templates use.

use super::assets;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use l2c_orders::sessions::Session;
use l2c_orders::users::Role;

/// A page handler's result: the page, or an error page (already rendered).
pub type Page = Result<Response, Response>;

/// One link of the main navigation.
#[derive(Debug, Clone)]
pub struct Nav {
    /// Where it goes.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// Whether it is the current section.
    pub current: bool,
}

/// The signed-in user, as the header shows them.
#[derive(Debug, Clone)]
pub struct UserBar {
    /// The name.
    pub name: String,
    /// The role.
    pub role: String,
}

/// What surrounds every page's content.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page title.
    pub title: String,
    /// The viewer, when signed in.
    pub user: Option<UserBar>,
    /// The main navigation for the viewer's role.
    pub nav: Vec<Nav>,
    /// The session's CSRF token, for the page's forms.
    pub csrf: String,
    /// A notice saying what was just done.
    pub notice: Option<String>,
    /// The stylesheet's URL.
    pub css: String,
    /// The script's URL.
    pub js: String,
}

/// The sections each role works in.
fn sections(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Requester => &[
            ("/catalog", "Catalog"),
            ("/orders", "My orders"),
            ("/products", "My products"),
            ("/invoices", "My invoices"),
        ],
        Role::Approver | Role::Engineer => &[("/inbox", "Inbox"), ("/orders", "Orders")],
        Role::Admin => &[
            ("/inbox", "Inbox"),
            ("/orders", "Orders"),
            ("/admin/incidents", "Incidents"),
            ("/admin/users", "Users"),
            ("/admin/accounts", "Accounts"),
            ("/admin/workflows", "Workflows"),
            ("/billing/runs", "Billing"),
            ("/invoices", "Invoices"),
            ("/report", "Report"),
        ],
        Role::Finance => &[
            ("/orders", "Orders"),
            ("/billing/runs", "Billing runs"),
            ("/invoices", "Invoices"),
            ("/billing/schedules", "Schedules"),
            ("/report", "Report"),
            ("/catalog", "Catalog"),
        ],
    }
}

impl Chrome {
    /// The chrome for the viewer of `session` on a page titled `title` in section `section`
    /// (a nav href).
    pub fn new(viewer: &Session, title: impl Into<String>, section: &str) -> Chrome {
        let nav = sections(viewer.user.role)
            .iter()
            .map(|&(href, label)| Nav {
                href,
                label,
                current: href == section,
            })
            .collect();
        Chrome {
            title: title.into(),
            user: Some(UserBar {
                name: viewer.user.name.clone(),
                role: viewer.user.role.to_string(),
            }),
            nav,
            csrf: viewer.csrf.clone(),
            notice: None,
            css: assets::url("desk.css"),
            js: assets::url("desk.js"),
        }
    }

    /// The chrome of a page nobody is signed in to (sign-in, errors).
    pub fn anonymous(title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            user: None,
            nav: Vec::new(),
            csrf: String::new(),
            notice: None,
            css: assets::url("desk.css"),
            js: assets::url("desk.js"),
        }
    }

    /// With a notice.
    pub fn notice(mut self, notice: Option<String>) -> Chrome {
        self.notice = notice;
        self
    }
}

/// Renders `template` as an HTML response; a template that fails to render (which the
/// compiler's checks leave to runtime values only) is logged and answered 500.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be shown; the error has been logged.",
            )
                .into_response()
        }
    }
}

/// A time as pages show it: `2026-12-07 14:05 UTC`.
pub fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A duration in words, e.g. `3 h 5 min`, `2 d 4 h`.
pub fn span(ms: i64) -> String {
    let minutes = ms.abs() / 60_000;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// How far `at` is from `now_ms` in words (`in 3 h 5 min`, `2 d 4 h ago`), and whether it
/// has passed.
pub fn from_now(at: &DateTime<Utc>, now_ms: i64) -> (String, bool) {
    let left = at.timestamp_millis() - now_ms;
    if left < 0 {
        (format!("{} ago", span(left)), true)
    } else {
        (format!("in {}", span(left)), false)
    }
}

/// A stored period `[start, end)` as a reader says it: its first to its last day.
pub fn period(start: &str, end: &str) -> String {
    let last = chrono::NaiveDate::parse_from_str(end, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.pred_opt())
        .map_or_else(|| end.to_string(), |d| d.to_string());
    format!("{start} to {last}")
}

/// A money amount with its currency, e.g. `1,750.00 EUR`.
pub fn money(amount: &str, currency: &str) -> String {
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped} {currency}")
    } else {
        format!("{sign}{grouped}.{frac} {currency}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_keeps_the_digits() {
        assert_eq!(money("1750.00", "EUR"), "1,750.00 EUR");
        assert_eq!(money("-1234567.5", "USD"), "-1,234,567.5 USD");
        assert_eq!(money("12", "EUR"), "12 EUR");
        assert_eq!(money("0.00", "EUR"), "0.00 EUR");
    }

    #[test]
    fn spans_read_in_the_largest_units() {
        assert_eq!(span(59_000), "0 min");
        assert_eq!(span(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(span(-(2 * 86_400_000 + 4 * 3_600_000)), "2 d 4 h");
    }
}

//! Settings for a running l2c: read from an optional TOML file (`--config`), with defaults that
//! make `l2c serve` and `l2c demo` work with no file at all. docs/configuration.md lists them.

pub use l2c_invoicing::settings::BillingSettings;
use l2c_orders::error::{problem, DeskError, DeskResult};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Everything configurable beside the command-line flags.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Orders whose monthly recurring value exceeds this (in the order's currency) need
    /// commercial approval by `sales-managers`.
    #[serde(with = "rust_decimal::serde::str")]
    pub commercial_approval_threshold: Decimal,
    /// The simulated network.
    pub network: NetworkSettings,
    /// Webhook handlers by name: a task stage naming `webhook.<name>` POSTs to its URL.
    pub webhooks: BTreeMap<String, WebhookSettings>,
    /// Worker tasks per process.
    pub workers: usize,
    /// Billing runs and invoices.
    pub billing: BillingSettings,
    /// The web desk.
    pub web: WebSettings,
    /// The Monthly Operating Report.
    pub report: ReportSettings,
    /// What the HTTP server allows a client (docs/configuration.md, "The server").
    pub server: ServerSettings,
    /// TMF622 event notifications' delivery (docs/configuration.md, "Event notifications").
    pub hub: HubSettings,
}

/// How the hub delivers events to listeners: attempts, exponential backoff, the timeout of
/// one POST, and how often an idle deliverer looks for work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubSettings {
    /// Attempts before an event is a dead letter for its listener (1 to 100).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each next one.
    pub backoff_initial: String,
    /// The longest wait between attempts.
    pub backoff_max: String,
    /// How long a listener has to answer one POST.
    pub timeout: String,
    /// How often an idle deliverer looks for new events.
    pub poll_interval: String,
    /// Deliveries sent at once by one node (1 to 1000).
    pub batch: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            max_attempts: 10,
            backoff_initial: "1s".into(),
            backoff_max: "10m".into(),
            timeout: "10s".into(),
            poll_interval: "200ms".into(),
            batch: 64,
        }
    }
}

/// The hub's delivery settings, read from [`HubSettings`] once they are checked.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    /// See [`HubSettings::max_attempts`].
    pub max_attempts: u32,
    /// See [`HubSettings::backoff_initial`].
    pub backoff_initial: std::time::Duration,
    /// See [`HubSettings::backoff_max`].
    pub backoff_max: std::time::Duration,
    /// See [`HubSettings::timeout`].
    pub timeout: std::time::Duration,
    /// See [`HubSettings::poll_interval`].
    pub poll_interval: std::time::Duration,
    /// See [`HubSettings::batch`].
    pub batch: usize,
}

impl HubSettings {
    /// The durations, parsed; one that does not parse (refused by [`Settings::check`])
    /// reads as its default.
    pub fn limits(&self) -> HubLimits {
        let defaults = HubSettings::default();
        HubLimits {
            max_attempts: self.max_attempts,
            backoff_initial: duration(&self.backoff_initial, &defaults.backoff_initial),
            backoff_max: duration(&self.backoff_max, &defaults.backoff_max),
            timeout: duration(&self.timeout, &defaults.timeout),
            poll_interval: duration(&self.poll_interval, &defaults.poll_interval),
            batch: self.batch,
        }
    }

    /// Every problem of these settings, with paths under `hub.`.
    fn problems(&self) -> Vec<l2c_orders::error::FieldProblem> {
        let mut problems = Vec::new();
        if !(1..=100).contains(&self.max_attempts) {
            problems.push(problem("hub.max_attempts", "range", "must be 1 to 100"));
        }
        let mut parsed = Vec::new();
        for (field, text, least) in [
            ("backoff_initial", &self.backoff_initial, 1),
            ("backoff_max", &self.backoff_max, 1),
            ("timeout", &self.timeout, 100),
            ("poll_interval", &self.poll_interval, 1),
        ] {
            let least = std::time::Duration::from_millis(least);
            match humantime::parse_duration(text) {
                Ok(d) if d >= least => parsed.push(Some(d)),
                _ => {
                    parsed.push(None);
                    problems.push(problem(
                        format!("hub.{field}"),
                        "duration",
                        format!("{text:?} is not a duration of at least {least:?}, such as 1s"),
                    ));
                }
            }
        }
        if let (Some(Some(initial)), Some(Some(max))) = (parsed.first(), parsed.get(1)) {
            if initial > max {
                problems.push(problem(
                    "hub.backoff_max",
                    "minimum",
                    "must not be shorter than hub.backoff_initial",
                ));
            }
        }
        if !(1..=1000).contains(&self.batch) {
            problems.push(problem("hub.batch", "range", "must be 1 to 1000"));
        }
        problems
    }
}

/// What the HTTP server allows a client, so that slow or idle clients cannot hold it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// How long a client has to send a request's headers, counted from when the server waits
    /// for them: on a new connection, and on a kept-alive one after the last answer (so it
    /// also ends idle connections). Humantime, e.g. `10s`.
    pub header_read_timeout: String,
    /// How long a handler may take to answer (its body may stream longer); then 503. Long
    /// work (billing runs) runs in tasks of its own.
    pub request_timeout: String,
    /// Connections served at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Writes (orders placed or cancelled, task actions) one user may make per minute, in
    /// bursts of up to as many; more are answered 429 with `Retry-After`. 0 turns the limit
    /// off. Reads, `/healthz` and `/readyz` are never limited.
    pub writes_per_minute: u32,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            header_read_timeout: "10s".into(),
            request_timeout: "60s".into(),
            max_connections: 1024,
            writes_per_minute: 600,
        }
    }
}

/// `text` as a duration, or `default` when it does not parse (checked settings always do).
fn duration(text: &str, default: &str) -> std::time::Duration {
    humantime::parse_duration(text)
        .or_else(|_| humantime::parse_duration(default))
        .unwrap_or(std::time::Duration::from_secs(10))
}

/// The server's limits, read from [`ServerSettings`] once they are checked.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// See [`ServerSettings::header_read_timeout`].
    pub header_read_timeout: std::time::Duration,
    /// See [`ServerSettings::request_timeout`].
    pub request_timeout: std::time::Duration,
    /// See [`ServerSettings::max_connections`].
    pub max_connections: usize,
}

impl ServerSettings {
    /// The limits; a duration that does not parse (refused by [`Settings::check`]) reads as
    /// its default.
    pub fn limits(&self) -> ServerLimits {
        let defaults = ServerSettings::default();
        ServerLimits {
            header_read_timeout: duration(&self.header_read_timeout, &defaults.header_read_timeout),
            request_timeout: duration(&self.request_timeout, &defaults.request_timeout),
            max_connections: self.max_connections,
        }
    }
}

/// The Monthly Operating Report (docs/report.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// Targets by KPI id (e.g. `mttr_hours = "4"`), over the defaults docs/report.md lists.
    pub targets: BTreeMap<String, Decimal>,
}

/// The web desk's pages (docs/web.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Whether browsers reach l2c over HTTPS (directly or through a proxy): session cookies
    /// are then marked `Secure`, so they are never sent in clear.
    pub behind_tls: bool,
}

/// The built-in simulated network, which serves the `network.*` handlers of the shipped
/// workflows: the default for the demo, the sandbox and tests. A provider's real systems take
/// over stage by stage through webhooks (docs/configuration.md, "Commissioning").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    /// Whether the simulator's `network.*` handlers are registered. With `false`, workflows
    /// that still name one fail to load, naming the stage; `l2c serve` warns at start while
    /// the simulator serves stages outside the sandbox.
    pub simulator: bool,
    /// PE routers to create ports on (when the network is empty).
    pub routers: u32,
    /// Ports per router.
    pub ports_per_router: u32,
    /// Share of calls that fail with a retryable error, 0 to 1 (for demos and tests).
    pub failure_rate: f64,
}

/// One webhook handler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where to POST.
    pub url: String,
    /// How long one call may take (humantime, e.g. `10s`); the stage's timeout still applies.
    #[serde(default = "default_webhook_timeout")]
    pub timeout: String,
}

fn default_webhook_timeout() -> String {
    "10s".into()
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            commercial_approval_threshold: Decimal::from(1000),
            network: NetworkSettings::default(),
            webhooks: BTreeMap::new(),
            workers: 2,
            billing: BillingSettings::default(),
            web: WebSettings::default(),
            report: ReportSettings::default(),
            server: ServerSettings::default(),
            hub: HubSettings::default(),
        }
    }
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            simulator: true,
            routers: 4,
            ports_per_router: 64,
            failure_rate: 0.0,
        }
    }
}

impl Settings {
    /// Reads and checks a settings file.
    pub fn from_file(path: &Path) -> DeskResult<Settings> {
        let text = std::fs::read_to_string(path).map_err(|e| DeskError::BadRequest {
            rule: "config",
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Settings::from_toml(&path.display().to_string(), &text)
    }

    /// Parses and checks settings from TOML text; `source` names it in messages.
    pub fn from_toml(source: &str, text: &str) -> DeskResult<Settings> {
        let settings: Settings = toml::from_str(text).map_err(|e| DeskError::BadRequest {
            rule: "config",
            message: format!("{source}: {e}"),
        })?;
        settings.check()?;
        Ok(settings)
    }

    /// Checks every value (all problems at once).
    pub fn check(&self) -> DeskResult<()> {
        let mut problems = Vec::new();
        let mut add = |path: String, rule: &'static str, message: String| {
            problems.push(problem(path, rule, message))
        };
        if self.commercial_approval_threshold.is_sign_negative() {
            add(
                "commercial_approval_threshold".into(),
                "minimum",
                "must not be negative".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.network.failure_rate) {
            add(
                "network.failure_rate".into(),
                "range",
                "must be between 0 and 1".into(),
            );
        }
        if self.network.routers == 0 || self.network.ports_per_router == 0 {
            add(
                "network".into(),
                "minimum",
                "needs at least one router with one port".into(),
            );
        }
        if self.workers == 0 || self.workers > 64 {
            add("workers".into(), "range", "must be 1 to 64".into());
        }
        for (name, hook) in &self.webhooks {
            let url_ok = hook.url.starts_with("http://") || hook.url.starts_with("https://");
            if !url_ok {
                add(
                    format!("webhooks.{name}.url"),
                    "url",
                    format!("{:?} is not an http(s) URL", hook.url),
                );
            }
            if humantime::parse_duration(&hook.timeout).is_err() {
                add(
                    format!("webhooks.{name}.timeout"),
                    "duration",
                    format!("{:?} is not a duration such as 10s", hook.timeout),
                );
            }
        }
        for id in self.report.targets.keys() {
            if !crate::report::kpi::is_target_key(id) {
                add(
                    format!("report.targets.{id}"),
                    "kpi",
                    "is not a KPI of the report, or not one of its keys (an age bucket such \
                     as backlog_orders:31-90, a currency such as revenue_net:EUR); \
                     docs/report.md lists them"
                        .into(),
                );
            }
        }
        for (field, text) in [
            ("header_read_timeout", &self.server.header_read_timeout),
            ("request_timeout", &self.server.request_timeout),
        ] {
            match humantime::parse_duration(text) {
                Ok(d) if d >= std::time::Duration::from_millis(100) => {}
                _ => add(
                    format!("server.{field}"),
                    "duration",
                    format!("{text:?} is not a duration of at least 100ms, such as 10s"),
                ),
            }
        }
        if self.server.max_connections == 0 {
            add(
                "server.max_connections".into(),
                "range",
                "must be at least 1".into(),
            );
        }
        problems.extend(self.billing.problems("billing."));
        problems.extend(self.hub.problems());
        DeskError::check(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let s = Settings::from_toml("empty", "").expect("empty settings");
        assert_eq!(s.commercial_approval_threshold, Decimal::from(1000));
        assert_eq!(s.network.failure_rate, 0.0);
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
commercial_approval_threshold = "-1"
workers = 0
[network]
failure_rate = 2.0
[webhooks.crm]
url = "ftp://x"
timeout = "soon"
"#;
        let Err(DeskError::Validation(p)) = Settings::from_toml("l2c.toml", text) else {
            panic!("bad settings are refused");
        };
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "commercial_approval_threshold",
                "network.failure_rate",
                "workers",
                "webhooks.crm.url",
                "webhooks.crm.timeout"
            ]
        );
        assert!(Settings::from_toml("x", "unknown = 1").is_err());
    }

    #[test]
    fn server_limits_are_read_and_checked() {
        let text = "[server]\nheader_read_timeout = \"2s\"\nmax_connections = 8\n";
        let s = Settings::from_toml("l2c.toml", text).expect("settings");
        let limits = s.server.limits();
        assert_eq!(
            limits.header_read_timeout,
            std::time::Duration::from_secs(2)
        );
        assert_eq!(limits.request_timeout, std::time::Duration::from_secs(60));
        assert_eq!(limits.max_connections, 8);
        let bad = "[server]\nheader_read_timeout = \"1ms\"\nrequest_timeout = \"soon\"\n\
                   max_connections = 0\n";
        let Err(DeskError::Validation(p)) = Settings::from_toml("l2c.toml", bad) else {
            panic!("bad server settings are refused");
        };
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "server.header_read_timeout",
                "server.request_timeout",
                "server.max_connections"
            ]
        );
    }

    #[test]
    fn hub_settings_are_read_and_checked() {
        let text = "[hub]\nmax_attempts = 3\nbackoff_initial = \"50ms\"\nbatch = 8\n";
        let limits = Settings::from_toml("l2c.toml", text)
            .expect("settings")
            .hub
            .limits();
        assert_eq!(limits.max_attempts, 3);
        assert_eq!(limits.backoff_initial, std::time::Duration::from_millis(50));
        assert_eq!(limits.backoff_max, std::time::Duration::from_secs(600));
        assert_eq!(limits.timeout, std::time::Duration::from_secs(10));
        assert_eq!(limits.batch, 8);
        let bad = "[hub]\nmax_attempts = 0\nbackoff_initial = \"2m\"\nbackoff_max = \"1m\"\n\
                   timeout = \"1ms\"\npoll_interval = \"often\"\nbatch = 0\n";
        let Err(DeskError::Validation(p)) = Settings::from_toml("l2c.toml", bad) else {
            panic!("bad hub settings are refused");
        };
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "hub.max_attempts",
                "hub.timeout",
                "hub.poll_interval",
                "hub.backoff_max",
                "hub.batch"
            ]
        );
    }

    #[test]
    fn the_documented_settings_file_is_valid() {
        let doc = include_str!("../docs/configuration.md");
        let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let end = start + doc[start..].find("```").expect("its end");
        Settings::from_toml("docs/configuration.md", &doc[start..end])
            .expect("the example in docs/configuration.md is accepted");
    }

    #[test]
    fn billing_settings_are_read_and_checked() {
        let text = r#"
[billing]
rounding = "half_even"
accounts_per_chunk = 50
default_tax = { category = "S", percent = "7" }
[billing.seller]
name = "Example Networks GmbH"
street = "Hauptstrasse 1"
city = "Berlin"
postcode = "10115"
country = "DE"
vat_id = "DE123456789"
endpoint_scheme = "9930"
endpoint_id = "DE123456789"

[billing.seller.contact]
name = "Accounts receivable"
phone = "+49 30 1234567"
email = "ar@example.net"

[billing.seller.payment]
code = "58"
account = "DE89370400440532013000"
bic = "COBADEFFXXX"
"#;
        let s = Settings::from_toml("l2c.toml", text).expect("billing settings");
        assert_eq!(s.billing.rounding, l2c_billing::Rounding::HalfEven);
        assert_eq!(s.billing.default_tax.percent(), Decimal::from(7));
        assert_eq!(s.billing.seller.name, "Example Networks GmbH");
        let bad = text.replace("country = \"DE\"", "country = \"Germany\"");
        let bad = bad.replace("accounts_per_chunk = 50", "accounts_per_chunk = 0");
        let Err(DeskError::Validation(p)) = Settings::from_toml("l2c.toml", &bad) else {
            panic!("a bad seller is refused");
        };
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            ["billing.seller.country", "billing.accounts_per_chunk"]
        );
        let mistyped = text.replace("DE89370400440532013000", "DE89370400440532013001");
        let mistyped = mistyped.replace("COBADEFFXXX", "COBADEF");
        let Err(DeskError::Validation(p)) = Settings::from_toml("l2c.toml", &mistyped) else {
            panic!("an IBAN whose checksum fails is refused at start-up");
        };
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "billing.seller.payment.account",
                "billing.seller.payment.bic"
            ]
        );
        let without = text
            .split("[billing.seller.contact]")
            .next()
            .unwrap_or_default();
        let Err(DeskError::Validation(p)) = Settings::from_toml("l2c.toml", without) else {
            panic!("a seller without contact and payment means is refused");
        };
        let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["billing.seller.contact", "billing.seller.payment"]);
        let zero = text.replace("percent = \"7\"", "percent = \"0\"");
        assert!(
            Settings::from_toml("l2c.toml", &zero).is_err(),
            "S at 0% breaks BR-S-05"
        );
    }
}

//! The generic HTTP webhook handler, so real provisioning systems are wired in by
//! configuration: a task stage naming `webhook.<name>` POSTs the step as JSON to the URL
//! configured under `[webhooks.<name>]`, with an `Idempotency-Key` header that is the same for
//! every attempt. 2xx is success (a JSON object in the body is merged into the instance's
//! output); 5xx, 408, 425, 429, timeouts and connection failures are retried; other 4xx and
//! redirects are fatal.

use crate::settings::WebhookSettings;
use chrono::Utc;
use l2c_engine::handler::{HandlerError, HandlerResult, Handlers, TaskContext};
use l2c_orders::error::{DeskError, DeskResult};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The prefix of webhook handler names.
pub const PREFIX: &str = "webhook.";

/// The configured webhooks.
pub struct Webhooks {
    client: reqwest::Client,
    hooks: Vec<(String, String, Duration)>,
}

impl Webhooks {
    /// Webhooks from the settings (already checked by `Settings::check`).
    pub fn new(settings: &BTreeMap<String, WebhookSettings>) -> DeskResult<Webhooks> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("l2c/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DeskError::Internal(format!("HTTP client: {e}")))?;
        let mut hooks = Vec::new();
        for (name, hook) in settings {
            let timeout = humantime::parse_duration(&hook.timeout).map_err(|e| {
                DeskError::field(
                    format!("webhooks.{name}.timeout"),
                    "duration",
                    e.to_string(),
                )
            })?;
            hooks.push((format!("{PREFIX}{name}"), hook.url.clone(), timeout));
        }
        Ok(Webhooks { client, hooks })
    }

    /// Registers `webhook.<name>` for each configured webhook.
    pub fn register(self, handlers: &mut Handlers) {
        for (name, url, timeout) in self.hooks {
            let client = self.client.clone();
            handlers.register(name, move |ctx| {
                call(client.clone(), url.clone(), timeout, ctx)
            });
        }
    }
}

async fn call(
    client: reqwest::Client,
    url: String,
    timeout: Duration,
    ctx: TaskContext,
) -> HandlerResult {
    let left = (ctx.deadline - Utc::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    let timeout = timeout.min(left.max(Duration::from_millis(1)));
    // Errors land in the order's timeline, which the requester reads: name the endpoint by
    // host and path only (never credentials or query keys) and keep answers out of them.
    let shown = redact(&url);
    let body = json!({
        "instance_id": ctx.instance_id,
        "workflow": ctx.workflow,
        "stage": ctx.stage,
        "attempt": ctx.attempt,
        "compensating": ctx.compensating,
        "input": *ctx.input,
        "output": *ctx.output,
    });
    let mut response = client
        .post(&url)
        .timeout(timeout)
        .header("Idempotency-Key", &ctx.idempotency_key)
        .json(&body)
        .send()
        .await
        .map_err(|e| HandlerError::Retryable(format!("POST {shown}: {}", describe(e))))?;
    let status = response.status();
    let mut text = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        HandlerError::Retryable(format!("POST {shown}: reading the answer: {}", describe(e)))
    })? {
        text.extend_from_slice(&chunk);
        if text.len() > MAX_ANSWER {
            return Err(HandlerError::Fatal(format!(
                "POST {shown}: the answer is larger than {MAX_ANSWER} bytes"
            )));
        }
    }
    if status.is_success() {
        return Ok(match serde_json::from_slice::<Value>(&text) {
            Ok(v) if v.is_object() => v,
            _ => Value::Null,
        });
    }
    tracing::warn!(
        url = %shown, %status, answer = %String::from_utf8_lossy(&text).chars().take(500).collect::<String>(),
        "webhook answered with an error"
    );
    let message = format!("POST {shown} answered {status}");
    if retryable(status) {
        Err(HandlerError::Retryable(message))
    } else {
        Err(HandlerError::Fatal(message))
    }
}

/// The largest answer read from a webhook.
const MAX_ANSWER: usize = 1 << 20;

/// 5xx and the 4xx that mean "later" (408 timeout, 425 too early, 429 too many) are worth
/// retrying; other 4xx, and redirects (not followed: a POST must not become a GET), are
/// configuration or data errors that retrying cannot fix.
fn retryable(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429)
}

/// `https://user:key@host/path?token=x` shown as `https://host/path`.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "the configured webhook".into(),
    }
}

/// What went wrong, without the URL reqwest puts in its messages.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.without_url().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(
            redact("https://bot:s3cret@crm.example.net:8443/api/tickets?key=abc"),
            "https://crm.example.net:8443/api/tickets"
        );
        assert_eq!(redact("not a url"), "the configured webhook");
    }

    #[test]
    fn statuses_are_classified() {
        let retry: Vec<u16> = [200, 301, 400, 404, 408, 422, 425, 429, 500, 503]
            .into_iter()
            .filter(|s| retryable(reqwest::StatusCode::from_u16(*s).expect("status")))
            .collect();
        assert_eq!(retry, [408, 425, 429, 500, 503]);
    }
}

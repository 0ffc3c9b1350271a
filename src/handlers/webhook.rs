//! The generic HTTP webhook handler, so real provisioning systems are wired in by
//! configuration: a task stage naming `webhook.<name>` POSTs the step as JSON to the URL
//! configured under `[webhooks.<name>]`, with an `Idempotency-Key` header that is the same for
//! every attempt. 2xx is success (a JSON object in the body is merged into the instance's
//! output), 4xx is fatal, 5xx, timeouts and connection failures are retried.

use crate::error::{AppError, AppResult};
use crate::settings::WebhookSettings;
use chrono::Utc;
use l2c_engine::handler::{HandlerError, HandlerResult, Handlers, TaskContext};
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
    pub fn new(settings: &BTreeMap<String, WebhookSettings>) -> AppResult<Webhooks> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("l2c/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AppError::Internal(format!("HTTP client: {e}")))?;
        let mut hooks = Vec::new();
        for (name, hook) in settings {
            let timeout = humantime::parse_duration(&hook.timeout).map_err(|e| {
                AppError::field(
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
    let body = json!({
        "instance_id": ctx.instance_id,
        "workflow": ctx.workflow,
        "stage": ctx.stage,
        "attempt": ctx.attempt,
        "compensating": ctx.compensating,
        "input": *ctx.input,
        "output": *ctx.output,
    });
    let response = client
        .post(&url)
        .timeout(timeout)
        .header("Idempotency-Key", &ctx.idempotency_key)
        .json(&body)
        .send()
        .await
        .map_err(|e| HandlerError::Retryable(format!("POST {url}: {}", describe(&e))))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| HandlerError::Retryable(format!("POST {url}: reading the answer: {e}")))?;
    if status.is_success() {
        return Ok(match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.is_object() => v,
            _ => Value::Null,
        });
    }
    let snippet: String = text.chars().take(200).collect();
    let message = format!("POST {url} answered {status}: {snippet}");
    if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(HandlerError::Fatal(message))
    } else {
        Err(HandlerError::Retryable(message))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

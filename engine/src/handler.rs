//! Step handlers: the async functions `task` stages (and compensations) call by name.
//!
//! A handler gets the instance's input and output so far, an idempotency key that is the same
//! for every attempt of the stage (so a provisioning system can deduplicate a retried call),
//! and a deadline. It answers with output data (merged into the instance's output), a
//! retryable error (backoff, then an incident), or a fatal error (the instance fails and
//! compensates).

use crate::payload::{decode, PayloadError};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;

/// What a handler is called with.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The instance id.
    pub instance_id: String,
    /// The workflow name.
    pub workflow: String,
    /// The stage id.
    pub stage: String,
    /// `{instance}:{stage}`: the same for every attempt of this stage in this instance.
    pub idempotency_key: String,
    /// Which attempt this is (1 for the first; it grows on retries and reclaims).
    pub attempt: i64,
    /// The instance's input.
    pub input: Arc<Value>,
    /// The merged output of the instance's completed stages.
    pub output: Arc<Value>,
    /// When this attempt times out.
    pub deadline: DateTime<Utc>,
    /// True when this call undoes the stage (a compensation handler).
    pub compensating: bool,
}

impl TaskContext {
    /// The instance's input as `T`. A mismatch is [`HandlerError::Fatal`] (trying again
    /// cannot help), its message naming the field, e.g.
    /// `input: items[0].action: unknown variant `ad`, expected `add` or `modify``.
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        Ok(decode("input", &self.input)?)
    }

    /// The merged output of the instance's completed stages as `T`; a mismatch is
    /// [`HandlerError::Fatal`], as for [`TaskContext::input_as`].
    pub fn output_as<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        Ok(decode("output", &self.output)?)
    }
}

/// How a handler call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// Try again later (network trouble, 5xx, timeouts).
    Retryable(String),
    /// Trying again cannot help (a 4xx, bad data): the instance fails.
    Fatal(String),
}

/// A payload that does not fit its type is bad data: the instance fails.
impl From<PayloadError> for HandlerError {
    fn from(e: PayloadError) -> Self {
        HandlerError::Fatal(e.to_string())
    }
}

/// A handler's answer: output data (an object merged into the instance's output, or null).
pub type HandlerResult = Result<Value, HandlerError>;

type BoxedHandler = Arc<dyn Fn(TaskContext) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// Hears every instrumented handler call: the handler's name, how long it took, its result.
pub type Observer = Arc<dyn Fn(&str, std::time::Duration, &HandlerResult) + Send + Sync>;

/// Reports a call dropped before it finished (the worker's timeout) as a retryable failure,
/// so the slowest calls still show in latency metrics.
struct Unfinished {
    name: Arc<str>,
    observe: Observer,
    started: std::time::Instant,
    done: bool,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.done {
            let dropped = Err(HandlerError::Retryable("did not finish (timed out)".into()));
            (self.observe)(&self.name, self.started.elapsed(), &dropped);
        }
    }
}

/// The registered handlers, by name.
#[derive(Clone)]
pub struct Handlers {
    map: HashMap<String, BoxedHandler>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers::new()
    }
}

/// The built-in handler that does nothing and returns no output.
pub const NOOP: &str = "noop";

impl Handlers {
    /// A registry holding only the built-in `noop` handler.
    pub fn new() -> Handlers {
        let mut handlers = Handlers {
            map: HashMap::new(),
        };
        handlers.register(NOOP, |_ctx| async { Ok(Value::Null) });
        handlers
    }

    /// Registers (or replaces) a handler.
    pub fn register<F, Fut>(&mut self, name: impl Into<String>, handler: F) -> &mut Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let boxed: BoxedHandler = Arc::new(move |ctx| Box::pin(handler(ctx)));
        self.map.insert(name.into(), boxed);
        self
    }

    /// Wraps every handler registered so far so that `observe` hears each call's handler
    /// name, duration and result (for metrics such as step latency histograms).
    pub fn instrument(&mut self, observe: Observer) -> &mut Self {
        for (name, handler) in self.map.iter_mut() {
            let inner = handler.clone();
            let name = Arc::<str>::from(name.as_str());
            let observe = observe.clone();
            *handler = Arc::new(move |ctx| {
                let call = inner(ctx);
                let (name, observe) = (name.clone(), observe.clone());
                Box::pin(async move {
                    let mut guard = Unfinished {
                        name,
                        observe,
                        started: std::time::Instant::now(),
                        done: false,
                    };
                    let result = call.await;
                    (guard.observe)(&guard.name, guard.started.elapsed(), &result);
                    guard.done = true;
                    result
                })
            });
        }
        self
    }

    /// The registered names (what definitions may name).
    pub fn names(&self) -> BTreeSet<String> {
        self.map.keys().cloned().collect()
    }

    pub(crate) fn call(&self, name: &str, ctx: TaskContext) -> BoxFuture<'static, HandlerResult> {
        match self.map.get(name) {
            Some(h) => h(ctx),
            None => {
                let message = format!("no handler named {name:?} is registered");
                Box::pin(async move { Err(HandlerError::Fatal(message)) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn ctx() -> TaskContext {
        TaskContext {
            instance_id: "i".into(),
            workflow: "w".into(),
            stage: "s".into(),
            idempotency_key: "i:s".into(),
            attempt: 1,
            input: Arc::new(Value::Null),
            output: Arc::new(Value::Null),
            deadline: Utc::now(),
            compensating: false,
        }
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Order {
        items: Vec<Item>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Item {
        action: Action,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Action {
        Add,
        Modify,
    }

    #[test]
    fn a_handler_reads_its_input_and_output_typed() {
        let mut ctx = ctx();
        ctx.input = Arc::new(serde_json::json!({"items": [{"action": "modify"}]}));
        ctx.output = Arc::new(serde_json::json!({"items": []}));
        assert_eq!(
            ctx.input_as::<Order>(),
            Ok(Order {
                items: vec![Item {
                    action: Action::Modify
                }]
            })
        );
        assert_eq!(ctx.output_as::<Order>(), Ok(Order { items: vec![] }));
    }

    #[test]
    fn a_payload_that_does_not_fit_is_fatal_and_names_the_field() {
        let mut ctx = ctx();
        ctx.input = Arc::new(serde_json::json!({"items": [{"action": "ad"}]}));
        ctx.output = Arc::new(serde_json::json!({"items": [{}, {"action": 1}]}));
        assert_eq!(
            ctx.input_as::<Order>(),
            Err(HandlerError::Fatal(
                "input: items[0].action: unknown variant `ad`, expected `add` or `modify`".into()
            ))
        );
        let Err(HandlerError::Fatal(message)) = ctx.output_as::<Order>() else {
            panic!("a mismatch is fatal");
        };
        assert_eq!(message, "output: items[0]: missing field `action`");
    }

    #[tokio::test]
    async fn instrumented_handlers_report_each_call() {
        let mut handlers = Handlers::new();
        handlers.register("fails", |_ctx| async {
            Err(HandlerError::Fatal("no".into()))
        });
        let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
        let sink = seen.clone();
        handlers.instrument(Arc::new(move |name, _took, result| {
            if let Ok(mut s) = sink.lock() {
                s.push((name.to_string(), result.is_ok()));
            }
        }));
        assert_eq!(handlers.call(NOOP, ctx()).await, Ok(Value::Null));
        assert!(handlers.call("fails", ctx()).await.is_err());
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            [("noop".to_string(), true), ("fails".to_string(), false)]
        );
    }

    #[tokio::test]
    async fn a_call_cut_short_is_still_reported() {
        let mut handlers = Handlers::new();
        handlers.register("slow", |_ctx| futures::future::pending());
        let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
        let sink = seen.clone();
        handlers.instrument(Arc::new(move |_name, _took, result| {
            if let Ok(mut s) = sink.lock() {
                s.push(result.is_ok());
            }
        }));
        let cut = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            handlers.call("slow", ctx()),
        )
        .await;
        assert!(cut.is_err());
        assert_eq!(seen.lock().map(|s| s.clone()).unwrap_or_default(), [false]);
    }
}

//! The l2c package's one error type. The HTTP layer maps it to RFC 9457 problems
//! (`crate::http::problem`); internal causes are logged there and never shown to clients.

use l2c_catalog::Problem;
use l2c_engine::EngineError;
use thiserror::Error;

/// A field that breaks a rule: the path (`items[0].quantity`), the rule's stable name and a
/// message for people.
pub type FieldProblem = Problem;

/// A field problem: the path, the rule's stable name and a message for people.
pub fn problem(path: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        path: path.into(),
        rule,
        message: message.into(),
    }
}

/// A problem if `text` holds a NUL or another control character (tabs and line breaks are
/// fine): stored text must survive every backend (PostgreSQL refuses NUL) and every export.
pub fn check_text(path: impl Into<String>, text: &str) -> Option<Problem> {
    text.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .then(|| {
            problem(
                path,
                "control_characters",
                "must not contain NUL or other control characters",
            )
        })
}

/// An internal error: something l2c itself got wrong, such as a stored row it cannot read.
pub fn internal(e: impl std::fmt::Display) -> DeskError {
    DeskError::Internal(e.to_string())
}

/// What can go wrong in l2c's order, account and user operations.
#[derive(Debug, Error)]
pub enum DeskError {
    /// The request breaks one or more field rules (every problem, with paths).
    #[error("{} field problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Validation(Vec<FieldProblem>),
    /// The request is malformed (not a field rule).
    #[error("{message}")]
    BadRequest {
        /// A stable rule name, e.g. `idempotency_key`.
        rule: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No credentials, or unknown ones.
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Nothing with this id that the caller may see.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for (`order`, `task`, ...).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The request does not fit the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller made too many writes lately (HTTP 429 with `Retry-After`).
    #[error("too many writes: {user} may write again in {retry_after_secs} s")]
    RateLimited {
        /// Whose limit it is.
        user: String,
        /// Seconds until a write is admitted again (at least 1).
        retry_after_secs: u64,
    },
    /// The database stayed busy; retrying later may succeed (HTTP 503).
    #[error("busy: {0}")]
    Busy(String),
    /// The database may or may not have committed (the connection failed during the
    /// commit): the caller should retry with the same idempotency key (HTTP 503).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Something l2c itself got wrong (a stored row it cannot read, ...).
    #[error("internal: {0}")]
    Internal(String),
}

impl DeskError {
    /// A not-found error.
    pub fn not_found(what: &'static str, id: impl Into<String>) -> DeskError {
        DeskError::NotFound {
            what,
            id: id.into(),
        }
    }

    /// One field problem.
    pub fn field(path: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        DeskError::Validation(vec![problem(path, rule, message)])
    }

    /// `Ok` for no problems, else every problem as one validation error.
    pub fn check(problems: Vec<FieldProblem>) -> DeskResult<()> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DeskError::Validation(problems))
        }
    }

    /// Whether retrying the same transaction may succeed (a busy database, a serialization
    /// failure or deadlock).
    pub fn is_transient(&self) -> bool {
        match self {
            DeskError::Busy(_) => true,
            DeskError::Engine(e) => e.is_transient(),
            DeskError::Database(e) => l2c_engine::error::is_transient_db(e),
            _ => false,
        }
    }

    /// Whether the database refused a row because its unique key was taken.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DeskError::Database(sqlx::Error::Database(d)) if d.is_unique_violation())
    }
}

impl From<serde_json::Error> for DeskError {
    fn from(e: serde_json::Error) -> Self {
        DeskError::Internal(format!("stored JSON: {e}"))
    }
}

/// The result type of l2c's operations.
pub type DeskResult<T> = Result<T, DeskError>;

impl l2c_engine::error::Transient for DeskError {
    fn is_transient(&self) -> bool {
        DeskError::is_transient(self)
    }
}

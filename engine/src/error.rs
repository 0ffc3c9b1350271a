//! The engine's one error type.

use thiserror::Error;

/// Everything an engine call can fail with.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be migrated.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// No definition with this name is loaded.
    #[error("unknown workflow {0:?}")]
    UnknownWorkflow(String),
    /// A stored definition version could not be loaded again.
    #[error("stored definition {name} version {hash}: {message}")]
    StoredDefinition {
        /// The workflow name.
        name: String,
        /// The version hash.
        hash: String,
        /// What went wrong.
        message: String,
    },
    /// No such instance, task or step.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for ("instance", "task", "step", "incident").
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The request does not fit the current state (already claimed, already decided, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The actor may not do this (e.g. approve their own order).
    #[error("refused: {0}")]
    Forbidden(String),
    /// A field of the request breaks a rule.
    #[error("{field}: {message} (rule: {rule})")]
    Invalid {
        /// The field, e.g. `reason`.
        field: &'static str,
        /// The rule's stable name, e.g. `required`.
        rule: &'static str,
        /// What to do about it.
        message: String,
    },
    /// The embedding application's listener refused a change (its records and the engine's
    /// disagree: a bug to investigate, not a request to retry).
    #[error("listener: {0}")]
    Listener(String),
    /// Stored JSON could not be read (a corrupted row).
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An instance's input or output does not have the shape of the type it was read as
    /// (see [`crate::payload`]); its message names the field.
    #[error("payload: {0}")]
    Payload(#[from] crate::payload::PayloadError),
}

impl EngineError {
    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> EngineError {
        EngineError::NotFound {
            what,
            id: id.into(),
        }
    }

    /// Whether retrying the same transaction may succeed (deadlock, serialization, busy).
    pub fn is_transient(&self) -> bool {
        match self {
            EngineError::Database(e) => is_transient_db(e),
            _ => false,
        }
    }
}

/// Errors that say whether running the same transaction again may succeed.
pub trait Transient {
    /// True for a busy database, a deadlock or a serialization failure.
    fn is_transient(&self) -> bool;
}

impl Transient for EngineError {
    fn is_transient(&self) -> bool {
        EngineError::is_transient(self)
    }
}

/// Whether retrying the transaction that hit this database error may succeed.
pub fn is_transient_db(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL deadlock, serialization failure, lost connection (08xxx), server
            // shutting down or restarting (57P01-57P03); SQLite busy / locked.
            matches!(
                code.as_ref(),
                "40P01" | "40001" | "57P01" | "57P02" | "57P03" | "5" | "6" | "517"
            ) || code.starts_with("08")
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        _ => false,
    }
}

/// Results of engine calls.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

//! What a definition is checked against and the loader's fixed names: the handlers and
//! groups the caller knows, the groups file, the default task timeout, and the kebab-case
//! rule for ids.

use std::collections::BTreeSet;
use std::time::Duration;

/// The file in a workflows directory that declares the groups; it is not a definition.
pub const GROUPS_FILE: &str = "groups.toml";

/// How long one attempt of a task stage may run when the stage gives no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The handler and group names a definition may use; the caller knows them (the binary's
/// registered handlers, the groups file), the loader only checks against them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// Registered step handler names (task handlers and compensations).
    pub handlers: BTreeSet<String>,
    /// Declared group names (approval and manual queues, SLA reassignment).
    pub groups: BTreeSet<String>,
}

impl Known {
    /// Builds the set from any lists of names.
    pub fn new<H, G>(handlers: H, groups: G) -> Known
    where
        H: IntoIterator,
        H::Item: Into<String>,
        G: IntoIterator,
        G::Item: Into<String>,
    {
        Known {
            handlers: handlers.into_iter().map(Into::into).collect(),
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }
}

/// Whether `s` is kebab-case (`reserve-port`): lower-case letters, digits and single dashes,
/// starting with a letter.
pub(super) fn is_kebab(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
        && !s.contains("--")
}

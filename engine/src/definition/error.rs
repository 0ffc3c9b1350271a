//! What can go wrong loading workflow definitions: every problem, each naming the file, the
//! stage or edge it is in, a stable rule name and how to fix it.

use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// One thing wrong with a workflow (or groups) file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, as given to the loader (e.g. `workflows/wan-link.toml`).
    pub file: String,
    /// Where in the file: `stage "configure"`, `edge feasibility -> reserve-port`,
    /// `line 3, column 7`, ... Empty when the problem concerns the whole file.
    pub location: String,
    /// A stable kebab-case rule name, e.g. `cycle`, `unreachable`, `unknown-handler`.
    pub rule: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.location, self.message)
        }
    }
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

/// Everything that can go wrong loading workflow definitions or the groups file.
#[derive(Debug, Error)]
pub enum DefinitionError {
    /// A file or directory could not be read.
    ///
    /// The I/O error is part of the message rather than the error's `source()`, so that
    /// `anyhow`'s `{:#}` does not print it twice.
    #[error("{}: cannot read it: {error}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Files were read, but break the rules; every problem found, in file order.
    #[error("{} problem(s) in workflow definitions:{}", .0.len(), lines(.0))]
    Invalid(Vec<Problem>),
}

impl DefinitionError {
    /// The rule problems (none for an I/O error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            DefinitionError::Invalid(problems) => problems,
            DefinitionError::Read { .. } => &[],
        }
    }
}

/// Problems found in one file, collected by every pass so that all of them are reported.
pub(super) struct Problems {
    file: String,
    pub(super) list: Vec<Problem>,
}

impl Problems {
    pub(super) fn new(file: &str) -> Self {
        Problems {
            file: file.to_owned(),
            list: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, location: &str, rule: &'static str, message: impl Into<String>) {
        self.list.push(Problem {
            file: self.file.clone(),
            location: location.to_owned(),
            rule,
            message: message.into(),
        });
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, DefinitionError> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(DefinitionError::Invalid(self.list))
        }
    }
}

pub(super) fn stage_at(id: &str) -> String {
    format!("stage {id:?}")
}

pub(super) fn edge_at(from: &str, to: &str) -> String {
    format!("edge {from} -> {to}")
}

//! The catalog crate's error type and the problems it reports.

use serde::Serialize;
use std::fmt;
use thiserror::Error;

/// One thing wrong with a catalog file, naming the entry it is in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadProblem {
    /// The entry, e.g. "offering `wan-link` v2, price `service`, tier 3".
    pub entry: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entry, self.message)
    }
}

/// One thing wrong with an order item: where, which rule, and a readable message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The path of the offending field, e.g. `items[0].characteristics.bandwidth_mbps`.
    pub path: String,
    /// A stable rule name, e.g. `allowed_values`.
    pub rule: &'static str,
    /// The message, e.g. `250 is not one of 10, 50, 100`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn lines<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|p| format!("\n  - {p}"))
        .collect::<String>()
}

/// Everything that can go wrong in the catalog.
#[derive(Debug, Error)]
pub enum CatalogError {
    /// The catalog file could not be read.
    #[error("{file}: cannot read the catalog: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the catalog's shape.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file parsed, but entries break the catalog's rules.
    #[error("{file}: {} problem(s) in the catalog:{}", problems.len(), lines(problems))]
    Invalid {
        /// The file.
        file: String,
        /// Every problem found.
        problems: Vec<LoadProblem>,
    },
    /// An order item breaks the offering's rules.
    #[error("{} problem(s) in the order:{}", .0.len(), lines(.0))]
    Validation(Vec<Problem>),
    /// The catalog has no such offering version.
    #[error("offering `{id}` v{version} is not in the catalog")]
    UnknownOffering {
        /// The offering id.
        id: String,
        /// The version.
        version: u32,
    },
    /// The item cannot be priced in the requested currency or with its values.
    #[error("cannot price `{offering}`: {message}")]
    Pricing {
        /// The offering id.
        offering: String,
        /// Why.
        message: String,
    },
}

//! The first pass over a workflow (or groups) file: its shape. The TOML is parsed (a syntax
//! error is reported at its line and column) and each table deserialized into the raw types
//! of `file`, reporting every unknown, missing or mistyped key rather than only the first.
//! Nothing here knows what a stage means; the `stages` pass checks that.

use super::error::Problems;
use serde::de::DeserializeOwned;

/// Parses TOML text; a syntax error is reported at its line and column.
pub(super) fn parse_toml(text: &str, p: &mut Problems) -> Option<toml::Table> {
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => Some(table),
        Err(e) => {
            let at = e
                .span()
                .map_or(String::new(), |s| line_column(text, s.start));
            let message = format!("{}: fix the TOML syntax", e.message().trim_end());
            p.add(&at, "syntax", message);
            None
        }
    }
}

fn line_column(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}")
}

/// Deserializes one table, reporting every unknown or mistyped key rather than only the first:
/// serde stops at the first error, so the key it names is removed and the table tried again.
pub(super) fn deserialize<T: DeserializeOwned>(
    mut table: toml::Table,
    location: &str,
    p: &mut Problems,
) -> Option<T> {
    // Each failed round removes a key, so this ends.
    for _ in 0..=table.len() {
        let error = match table.clone().try_into::<T>() {
            Ok(value) => return Some(value),
            Err(e) => e,
        };
        let (rule, key, message) = describe_toml_error(&error);
        p.add(location, rule, message);
        match key {
            Some(key) if table.remove(&key).is_some() => continue,
            _ => return None,
        }
    }
    None
}

/// A deserialization error's rule, the key of the table at fault (if it names one), and its
/// message with the fix.
fn describe_toml_error(error: &toml::de::Error) -> (&'static str, Option<String>, String) {
    let message = error.message().trim();
    // Errors inside a value end with a line "in `key`" (e.g. "in `sla`", "in `retry.backoff`").
    let display = error.to_string();
    let path = display
        .lines()
        .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'))
        .map(str::to_owned);
    let top = path
        .as_deref()
        .and_then(|p| p.split(['.', '[']).next())
        .map(str::to_owned);
    let at = path
        .as_deref()
        .map_or(String::new(), |p| format!("`{p}`: "));
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default().to_owned();
        let text = format!("{at}{message}: remove it or correct its spelling");
        return ("unknown-field", top.or(Some(field)), text);
    }
    if message.starts_with("missing field") {
        return ("missing-field", top, format!("{at}{message}: add it"));
    }
    ("bad-field", top, format!("{at}{message}"))
}

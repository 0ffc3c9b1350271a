//! Loading workflow definitions: sound files load into the graph the runtime relies on; each
//! kind of mistake is refused with its rule, the file and the stage or edge; every mistake in
//! a file is reported at once; the documented example loads; drawings show the graph.
//!
//! The helpers here build variations of one sound workflow ([`BASE`]) and check how they are
//! refused; the modules hold the tests by topic.

mod at_once;
mod drawings;
mod graph;
mod random;
mod shape;
mod sound;
mod stages;

use l2c_engine::definition::{
    load_groups, Definition, DefinitionError, Definitions, Known, Problem,
};
use std::path::Path;

const FILE: &str = "wan-link.toml";

fn known() -> Known {
    Known::new(
        ["noop", "network.reserve-port", "network.release-port"],
        [
            "network-engineering",
            "network-leads",
            "sales-managers",
            "field-engineers",
        ],
    )
}

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// A sound three-stage workflow the invalid cases below change one thing in.
const BASE: &str = r#"
description = "Test workflow"

[[stage]]
id = "feasibility"
kind = "approval"
group = "network-engineering"

[[stage]]
id = "reserve-port"
kind = "task"
handler = "network.reserve-port"

[[stage]]
id = "done"
kind = "end"

[[edge]]
from = "feasibility"
to = "reserve-port"

[[edge]]
from = "reserve-port"
to = "done"
"#;

/// BASE with the stage `reserve-port` given these extra lines.
fn with_task_lines(lines: &str) -> String {
    BASE.replacen(
        "handler = \"network.reserve-port\"\n",
        &format!("handler = \"network.reserve-port\"\n{lines}\n"),
        1,
    )
}

/// BASE with the approval stage `feasibility` given these extra lines.
fn with_approval_lines(lines: &str) -> String {
    BASE.replacen(
        "group = \"network-engineering\"\n",
        &format!("group = \"network-engineering\"\n{lines}\n"),
        1,
    )
}

/// BASE with more stages and edges appended.
fn plus(more: &str) -> String {
    format!("{BASE}\n{more}\n")
}

fn edge(from: &str, to: &str) -> String {
    format!("[[edge]]\nfrom = \"{from}\"\nto = \"{to}\"\n")
}

fn load(text: &str) -> Result<Definition, DefinitionError> {
    Definition::from_toml(FILE, text, &known())
}

fn problems(text: &str) -> Vec<Problem> {
    match load(text) {
        Err(DefinitionError::Invalid(problems)) => {
            assert!(!problems.is_empty(), "an error without problems");
            problems
        }
        Err(other) => panic!("expected rule problems, got {other}"),
        Ok(_) => panic!("a broken definition loaded:\n{text}"),
    }
}

fn listing(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("[{}] {p}", p.rule))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `text` is refused under `rule` at `location`, the shown problem naming the
/// file and the location, and returns that problem for checks of its message.
fn refused(text: &str, rule: &str, location: &str) -> Problem {
    let found = problems(text);
    let problem = found
        .iter()
        .find(|p| p.rule == rule && p.location == location)
        .unwrap_or_else(|| panic!("no {rule} at {location}; found:\n{}", listing(&found)));
    assert_eq!(problem.file, FILE);
    let shown = problem.to_string();
    let prefix = if location.is_empty() {
        format!("{FILE}: ")
    } else {
        format!("{FILE}: {location}: ")
    };
    assert!(shown.starts_with(&prefix), "{shown}");
    problem.clone()
}

/// As [`refused`], and no other rule fired: the mistake does not cascade into others.
fn refused_alone(text: &str, rule: &str, location: &str) -> Problem {
    let problem = refused(text, rule, location);
    let found = problems(text);
    assert!(
        found.iter().all(|p| p.rule == rule),
        "only {rule} expected:\n{}",
        listing(&found)
    );
    problem
}

fn assert_mentions(problem: &Problem, needles: &[&str]) {
    for needle in needles {
        assert!(
            problem.message.contains(needle),
            "{needle:?} missing in: {problem}"
        );
    }
}

/// The fixture set in `tests/fixtures/good`, loaded with its own groups file.
fn good_set() -> Definitions {
    let dir = fixtures().join("good");
    let groups = load_groups(&dir.join("groups.toml")).unwrap_or_else(|e| panic!("{e}"));
    let known = Known::new(["noop"], groups);
    Definitions::load_dir(&dir, &known).unwrap_or_else(|e| panic!("{e}"))
}

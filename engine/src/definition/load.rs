//! Turns workflow files into validated [`Definition`]s, collecting every problem with the file,
//! the stage or edge it is in, a rule name and the fix, so one run of `l2c workflow check`
//! shows all the mistakes at once.
//!
//! A file is checked in three passes: its shape (TOML, known keys, value types), each stage and
//! edge on its own (kinds, handlers, groups, durations, expressions), then the graph (cycles,
//! one start, reachability, every stage reaching an `end`). Checks across files (subflow
//! targets exist, subflows never lead back to their own workflow) run in the set loaders.

use super::error::{DefinitionError, Problem};
use super::file::{RawEdge, RawEscalation, RawGroup, RawGroups, RawRetry, RawStage, RawWorkflow};
use super::model::{
    ChildFailure, ChildWorkflow, Definition, Escalation, HumanStage, Quorum, RetryPolicy,
    SlaAction, Stage, StageKind, SubflowStage, TaskStage, Version, Wait,
};
use super::render::human_duration;
use crate::expr::Expr;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
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

/// Reads a groups file (`workflows/groups.toml`) and returns the declared group names.
pub fn load_groups(path: &Path) -> Result<BTreeSet<String>, DefinitionError> {
    let text = read(path)?;
    parse_groups(&path.display().to_string(), &text)
}

/// Parses the text of a groups file; `file` names it in problems.
///
/// ```toml
/// [groups.sales-managers]
/// description = "Commercial approval of orders above the threshold"
/// ```
pub fn parse_groups(file: &str, text: &str) -> Result<BTreeSet<String>, DefinitionError> {
    let mut p = Problems::new(file);
    let raw: Option<RawGroups> = parse_toml(text, &mut p).and_then(|t| deserialize(t, "", &mut p));
    let mut names = BTreeSet::new();
    for (name, table) in raw.map(|r| r.groups).unwrap_or_default() {
        let at = format!("group {name:?}");
        if !is_kebab(&name) {
            p.add(
                &at,
                "bad-name",
                "a group name is lower-case kebab-case, e.g. `network-engineering`: rename it",
            );
        }
        let group: Option<RawGroup> = deserialize(table, &at, &mut p);
        if group.is_some_and(|g| g.description.trim().is_empty()) {
            p.add(
                &at,
                "empty-description",
                "description is empty: say whose queue this is and what they decide or do",
            );
        }
        names.insert(name);
    }
    p.finish(names)
}

fn read(path: &Path) -> Result<String, DefinitionError> {
    std::fs::read_to_string(path).map_err(|error| DefinitionError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// A checked set of workflow definitions by name, loaded together so that subflows can be
/// checked against the workflows they start.
#[derive(Debug, Clone, Default)]
pub struct Definitions {
    by_name: BTreeMap<String, Arc<Definition>>,
}

impl Definitions {
    /// Loads every `*.toml` file in `dir` except `groups.toml`; a file's name without `.toml`
    /// is the workflow's name. Files are read in name order, so problems come in a stable order.
    pub fn load_dir(dir: &Path, known: &Known) -> Result<Definitions, DefinitionError> {
        let read_error = |error| DefinitionError::Read {
            path: dir.to_path_buf(),
            error,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            let is_toml = path.extension().is_some_and(|e| e == "toml");
            let is_groups = path.file_name().is_some_and(|n| n == GROUPS_FILE);
            if is_toml && !is_groups && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut sources = Vec::with_capacity(files.len());
        for path in files {
            let text = read(&path)?;
            sources.push((path.display().to_string(), text));
        }
        Definitions::from_sources(&sources, known)
    }

    /// Loads definitions from `(file, text)` pairs; the file (a name or a path) names each in
    /// problems, and its file name without `.toml` is the workflow's name.
    pub fn from_sources(
        sources: &[(String, String)],
        known: &Known,
    ) -> Result<Definitions, DefinitionError> {
        let mut problems = Vec::new();
        let mut loaded = Vec::with_capacity(sources.len());
        let mut first_file: BTreeMap<String, &str> = BTreeMap::new();
        for (file, text) in sources {
            let mut p = Problems::new(file);
            let name = workflow_name(file, &mut p);
            if let Some(earlier) = first_file.insert(name.clone(), file) {
                let message = format!("workflow `{name}` is also defined by {earlier}; keep one");
                p.add("", "duplicate-workflow", message);
            }
            loaded.push(load_file(file, name, text, known, &mut p));
            problems.extend(p.list);
        }
        check_subflows(&loaded, &mut problems);
        // Cross-file problems are found last; grouping by file keeps a file's problems together.
        problems.sort_by(|a, b| a.file.cmp(&b.file));
        if !problems.is_empty() {
            return Err(DefinitionError::Invalid(problems));
        }
        let mut by_name = BTreeMap::new();
        for l in loaded {
            let Some(definition) = l.definition else {
                return Err(internal(&l.file));
            };
            by_name.insert(l.name, Arc::new(definition));
        }
        Ok(Definitions { by_name })
    }

    /// Loads one file on its own (a subflow in it may only run the file's own workflow, which
    /// is refused as a cycle, or take its workflow from a field).
    pub fn single(file: &str, text: &str, known: &Known) -> Result<Definitions, DefinitionError> {
        Definitions::from_sources(&[(file.to_owned(), text.to_owned())], known)
    }

    /// The definition with this name.
    pub fn get(&self, name: &str) -> Option<Arc<Definition>> {
        self.by_name.get(name).cloned()
    }

    /// Every definition, by name in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<Definition>)> + '_ {
        self.by_name.iter().map(|(n, d)| (n.as_str(), d))
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.by_name.keys().map(String::as_str)
    }

    /// How many definitions the set holds.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl Definition {
    /// Loads and checks one file on its own; see [`Definitions::single`].
    pub fn from_toml(file: &str, text: &str, known: &Known) -> Result<Definition, DefinitionError> {
        let set = Definitions::single(file, text, known)?;
        set.by_name
            .into_values()
            .next()
            .map(Arc::unwrap_or_clone)
            .ok_or_else(|| internal(file))
    }
}

/// A file that passed every check yet built nothing would be a loader bug; it is reported
/// rather than silently dropped from the set.
fn internal(file: &str) -> DefinitionError {
    DefinitionError::Invalid(vec![Problem {
        file: file.to_owned(),
        location: String::new(),
        rule: "internal",
        message: "the loader built no definition although it found no problem; please report this"
            .to_owned(),
    }])
}

/// Problems found in one file.
struct Problems {
    file: String,
    list: Vec<Problem>,
}

impl Problems {
    fn new(file: &str) -> Self {
        Problems {
            file: file.to_owned(),
            list: Vec::new(),
        }
    }

    fn add(&mut self, location: &str, rule: &'static str, message: impl Into<String>) {
        self.list.push(Problem {
            file: self.file.clone(),
            location: location.to_owned(),
            rule,
            message: message.into(),
        });
    }

    fn finish<T>(self, value: T) -> Result<T, DefinitionError> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(DefinitionError::Invalid(self.list))
        }
    }
}

fn is_kebab(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn stage_at(id: &str) -> String {
    format!("stage {id:?}")
}

fn edge_at(from: &str, to: &str) -> String {
    format!("edge {from} -> {to}")
}

/// The workflow name a file stands for: its file name without `.toml`, in kebab-case. A bad
/// name is reported and the file still checked under it, so its other problems show too.
fn workflow_name(file: &str, p: &mut Problems) -> String {
    let path = Path::new(file);
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or(file);
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    if !is_toml || !is_kebab(stem) {
        p.add(
            "",
            "bad-name",
            "a workflow file is named <name>.toml with a lower-case kebab-case name \
             (e.g. wan-link.toml): rename it",
        );
    }
    stem.to_owned()
}

/// Parses TOML text; a syntax error is reported at its line and column.
fn parse_toml(text: &str, p: &mut Problems) -> Option<toml::Table> {
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
fn deserialize<T: DeserializeOwned>(
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

/// What a stage is, as far as the graph checks need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Approval,
    Manual,
    Task,
    Timer,
    Subflow,
    End,
}

const KINDS: [(&str, Kind); 6] = [
    ("approval", Kind::Approval),
    ("manual", Kind::Manual),
    ("task", Kind::Task),
    ("timer", Kind::Timer),
    ("subflow", Kind::Subflow),
    ("end", Kind::End),
];

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        KINDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(n, _)| n)
    }

    /// The optional fields that apply to this kind (besides `id`, `title` and `kind`).
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Approval | Kind::Manual => &["group", "quorum", "sla"],
            Kind::Task => &["handler", "compensation", "timeout", "retry"],
            Kind::Timer => &["duration", "until"],
            Kind::Subflow => &["items", "workflow", "workflow_field", "on_child_failure"],
            Kind::End => &[],
        }
    }
}

/// A stage as the graph checks see it. `kind` is `None` when the stage's kind is unknown; such
/// a stage is assumed able to end the workflow, so one mistake does not cascade into others.
struct Slot {
    id: String,
    title: String,
    kind: Option<Kind>,
    built: Option<StageKind>,
}

/// A `workflow = "..."` of a subflow stage, for the checks across files.
struct SubflowRef {
    stage: String,
    target: String,
}

/// What loading one file gave: the definition when the file is sound on its own, and its
/// subflow references even when it is not, so the checks across files still run.
struct Loaded {
    file: String,
    name: String,
    definition: Option<Definition>,
    subflows: Vec<SubflowRef>,
}

struct EdgeSpec {
    from: usize,
    to: usize,
    when: Option<Expr>,
}

fn load_file(file: &str, name: String, text: &str, known: &Known, p: &mut Problems) -> Loaded {
    let mut loaded = Loaded {
        file: file.to_owned(),
        name,
        definition: None,
        subflows: Vec::new(),
    };
    let Some(table) = parse_toml(text, p) else {
        return loaded;
    };
    let Some(raw) = deserialize::<RawWorkflow>(table, "", p) else {
        return loaded;
    };
    if raw.description.trim().is_empty() {
        let message = "description is empty: say in one line what the workflow provisions";
        p.add("", "empty-description", message);
    }
    if raw.version == Some(0) {
        p.add("", "bad-version", "version must be 1 or more (or left out)");
    }
    let header = (raw.description.trim().to_owned(), raw.version);
    let slots = load_stages(raw.stage, known, p, &mut loaded.subflows);
    let edges = load_edges(raw.edge, &slots, p);
    let graph = build_graph(&slots, edges);
    let start = check_graph(&slots, &graph, p);
    if p.list.is_empty() {
        loaded.definition = assemble(&loaded.name, header, slots, graph, start, text);
        if loaded.definition.is_none() {
            p.add(
                "",
                "internal",
                "the loader could not build the definition; please report this",
            );
        }
    }
    loaded
}

fn assemble(
    name: &str,
    (description, number): (String, Option<u32>),
    slots: Vec<Slot>,
    graph: DiGraph<usize, Option<Expr>>,
    start: Option<usize>,
    text: &str,
) -> Option<Definition> {
    let stages = slots
        .into_iter()
        .map(|s| {
            Some(Stage {
                id: s.id,
                title: s.title,
                kind: s.built?,
            })
        })
        .collect::<Option<Vec<Stage>>>()?;
    Some(Definition {
        name: name.to_owned(),
        version: Version {
            number,
            hash: content_hash(text),
        },
        description,
        stages,
        graph,
        start: start?,
        source: text.to_owned(),
    })
}

/// SHA-256 of the source text, lower-case hex: the identity of a definition version.
fn content_hash(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn load_stages(
    tables: Vec<toml::Table>,
    known: &Known,
    p: &mut Problems,
    subflows: &mut Vec<SubflowRef>,
) -> Vec<Slot> {
    let given = tables.len();
    let mut slots: Vec<Slot> = Vec::with_capacity(given);
    let mut positions: BTreeMap<String, usize> = BTreeMap::new();
    for (index, table) in tables.into_iter().enumerate() {
        let id = table.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        let at = id
            .as_deref()
            .map_or_else(|| format!("stage #{}", index + 1), stage_at);
        let slot = match deserialize::<RawStage>(table, &at, p) {
            Some(raw) => load_stage(raw, &at, known, p, subflows),
            // Keep a stage with a readable id, so edges to it are not reported as well.
            None => match id {
                Some(id) => Slot {
                    title: id.clone(),
                    id,
                    kind: None,
                    built: None,
                },
                None => continue,
            },
        };
        if let Some(first) = positions.get(&slot.id) {
            let message = format!(
                "is defined twice (stages #{} and #{}): give each stage its own id",
                first + 1,
                index + 1
            );
            p.add(&at, "duplicate-stage", message);
            continue;
        }
        positions.insert(slot.id.clone(), index);
        slots.push(slot);
    }
    // Stages that failed to parse were reported already; only a file without any is news.
    if given == 0 {
        p.add(
            "",
            "no-stages",
            "the workflow has no stages: add [[stage]] tables and [[edge]]s between them",
        );
    }
    slots
}

fn load_stage(
    raw: RawStage,
    at: &str,
    known: &Known,
    p: &mut Problems,
    subflows: &mut Vec<SubflowRef>,
) -> Slot {
    if !is_kebab(&raw.id) {
        p.add(
            at,
            "bad-id",
            "a stage id is lower-case kebab-case, e.g. `reserve-port`: rename it",
        );
    }
    let kind = Kind::parse(&raw.kind);
    let built = match kind {
        Some(kind) => {
            check_fields_apply(&raw, kind, at, p);
            build_kind(kind, &raw, at, known, p)
        }
        None => {
            let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            let message = format!(
                "kind `{}` is not one of {}: fix the kind",
                raw.kind,
                names.join(", ")
            );
            p.add(at, "unknown-kind", message);
            None
        }
    };
    // Only an unambiguous target is followed across files; "both given" is reported above.
    let named = raw
        .workflow
        .as_ref()
        .filter(|_| raw.workflow_field.is_none());
    if let (Some(Kind::Subflow), Some(target)) = (kind, named) {
        subflows.push(SubflowRef {
            stage: raw.id.clone(),
            target: target.clone(),
        });
    }
    Slot {
        title: raw.title.clone().unwrap_or_else(|| raw.id.clone()),
        id: raw.id,
        kind,
        built,
    }
}

/// Refuses fields that belong to another kind, so a stage never silently ignores a setting
/// (a `timeout` on an approval stage would otherwise look like it meant something).
fn check_fields_apply(raw: &RawStage, kind: Kind, at: &str, p: &mut Problems) {
    let given = [
        ("group", raw.group.is_some()),
        ("quorum", raw.quorum.is_some()),
        ("sla", raw.sla.is_some()),
        ("handler", raw.handler.is_some()),
        ("compensation", raw.compensation.is_some()),
        ("timeout", raw.timeout.is_some()),
        ("retry", raw.retry.is_some()),
        ("duration", raw.duration.is_some()),
        ("until", raw.until.is_some()),
        ("items", raw.items.is_some()),
        ("workflow", raw.workflow.is_some()),
        ("workflow_field", raw.workflow_field.is_some()),
        ("on_child_failure", raw.on_child_failure.is_some()),
    ];
    for (field, present) in given {
        if !present || kind.fields().contains(&field) {
            continue;
        }
        let owners: Vec<&str> = KINDS
            .iter()
            .filter(|(_, k)| k.fields().contains(&field))
            .map(|(n, _)| *n)
            .collect();
        let message = format!(
            "`{field}` does not apply to a {} stage (only to {}): remove it",
            kind.name(),
            owners.join(" and ")
        );
        p.add(at, "misplaced-field", message);
    }
}

fn build_kind(
    kind: Kind,
    raw: &RawStage,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<StageKind> {
    match kind {
        Kind::Approval => human(raw, false, at, known, p).map(StageKind::Approval),
        Kind::Manual => human(raw, true, at, known, p).map(StageKind::Manual),
        Kind::Task => task(raw, at, known, p).map(StageKind::Task),
        Kind::Timer => timer(raw, at, p).map(StageKind::Timer),
        Kind::Subflow => subflow(raw, at, p).map(StageKind::Subflow),
        Kind::End => Some(StageKind::End),
    }
}

fn list_or_none(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn check_group(group: &str, field: &str, at: &str, known: &Known, p: &mut Problems) {
    if !known.groups.contains(group) {
        let message = format!(
            "{field} `{group}` is not a known group (known: {}): fix the name or declare it in \
             workflows/{GROUPS_FILE}",
            list_or_none(&known.groups)
        );
        p.add(at, "unknown-group", message);
    }
}

fn check_handler(handler: &str, field: &str, at: &str, known: &Known, p: &mut Problems) {
    if !known.handlers.contains(handler) {
        let message = format!(
            "{field} `{handler}` is not a registered handler (registered: {}): fix the name",
            list_or_none(&known.handlers)
        );
        p.add(at, "unknown-handler", message);
    }
}

/// Parses a duration such as `30s`, `15m`, `4h` or `2d`; zero is refused, since no wait,
/// timeout or backoff of zero means anything useful.
fn duration(text: &str, field: &str, at: &str, p: &mut Problems) -> Option<Duration> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            let message = format!("{field} `{text}` is zero: give a positive duration");
            p.add(at, "bad-duration", message);
            None
        }
        Err(e) => {
            let message = format!(
                "{field} `{text}` is not a duration ({e}): write it like 30s, 15m, 4h or 2d"
            );
            p.add(at, "bad-duration", message);
            None
        }
    }
}

/// Compiles a CEL expression; the first line of CEL's message says where it went wrong.
fn expression(source: &str, field: &str, at: &str, p: &mut Problems) -> Option<Expr> {
    match Expr::compile(source) {
        Ok(expr) => Some(expr),
        Err(e) => {
            let first = e.lines().next().unwrap_or_default().trim();
            let reason = first
                .strip_prefix("ERROR: <input>:")
                .map_or_else(|| first.to_owned(), |r| format!("at {r}"));
            // The parser's list of every token it would have accepted is noise to a reader.
            let reason = reason
                .split_once(" expecting {")
                .map_or(reason.as_str(), |(before, _)| before);
            let message = format!(
                "{field} `{source}` does not compile: {reason}; write a CEL expression over \
                 `input` and `output`"
            );
            p.add(at, "bad-expression", message);
            None
        }
    }
}

fn human(
    raw: &RawStage,
    manual: bool,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<HumanStage> {
    let group = match &raw.group {
        Some(group) => {
            check_group(group, "group", at, known, p);
            Some(group.clone())
        }
        None => {
            let what = if manual { "a manual" } else { "an approval" };
            let message =
                format!("{what} stage needs `group`, the group whose queue receives its task");
            p.add(at, "missing-field", message);
            None
        }
    };
    let quorum = quorum(raw.quorum.as_ref(), manual, at, p);
    let sla = sla(raw.sla.as_deref().unwrap_or_default(), manual, at, known, p);
    Some(HumanStage {
        group: group?,
        quorum: quorum?,
        sla: sla?,
    })
}

fn quorum(raw: Option<&toml::Value>, manual: bool, at: &str, p: &mut Problems) -> Option<Quorum> {
    let quorum = match raw {
        None => Quorum::Any,
        Some(toml::Value::String(s)) if s == "any" => Quorum::Any,
        Some(toml::Value::String(s)) if s == "all" => Quorum::All,
        Some(toml::Value::Integer(n)) if *n > 0 => match u32::try_from(*n) {
            Ok(n) => Quorum::Count(n),
            Err(_) => {
                p.add(at, "bad-quorum", format!("quorum {n} is too large"));
                return None;
            }
        },
        Some(other) => {
            let message =
                format!("quorum {other} is not \"any\", \"all\" or a positive number of approvals");
            p.add(at, "bad-quorum", message);
            return None;
        }
    };
    if manual && quorum != Quorum::Any {
        let message = "a manual stage is done once, by one person: remove `quorum`";
        p.add(at, "bad-quorum", message);
        return None;
    }
    Some(quorum)
}

fn sla(
    raw: &[RawEscalation],
    manual: bool,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<Vec<Escalation>> {
    let built: Vec<Option<Escalation>> = raw
        .iter()
        .enumerate()
        .map(|(i, step)| escalation(step, i + 1, manual, at, known, p))
        .collect();
    let steps: Vec<Escalation> = built.into_iter().collect::<Option<_>>()?;
    let mut ok = true;
    for (i, pair) in steps.windows(2).enumerate() {
        if let [earlier, later] = pair {
            if later.after <= earlier.after {
                let message = format!(
                    "sla step {} (after {}) must come later than step {} (after {}): list the \
                     steps in increasing `after` order",
                    i + 2,
                    human_duration(later.after),
                    i + 1,
                    human_duration(earlier.after)
                );
                p.add(at, "bad-sla", message);
                ok = false;
            }
        }
    }
    let decisive =
        |e: &Escalation| matches!(e.action, SlaAction::AutoApprove | SlaAction::AutoReject);
    if let Some(i) = steps.iter().position(decisive) {
        if i + 1 < steps.len() {
            let message = format!(
                "sla steps after step {} can never run, because it decides the stage: remove \
                 them or move them before it",
                i + 1
            );
            p.add(at, "bad-sla", message);
            ok = false;
        }
    }
    ok.then_some(steps)
}

fn escalation(
    raw: &RawEscalation,
    number: usize,
    manual: bool,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<Escalation> {
    let field = format!("sla step {number}");
    let after = duration(&raw.after, &format!("{field}: after"), at, p);
    let action = match (raw.action.as_str(), &raw.group) {
        ("reassign", Some(group)) => {
            check_group(group, &format!("{field}: group"), at, known, p);
            Ok(SlaAction::Reassign {
                group: group.clone(),
            })
        }
        ("reassign", None) => {
            Err("reassign needs `group`, the group that takes the task over".into())
        }
        ("remind" | "auto-approve" | "auto-reject", Some(_)) => {
            Err("`group` applies only to reassign: remove it".into())
        }
        ("remind", None) => Ok(SlaAction::Remind),
        ("auto-approve", None) if manual => Err(
            "auto-approve cannot complete a manual stage (only a person can say the work is \
             done): use remind, reassign or auto-reject"
                .into(),
        ),
        ("auto-approve", None) => Ok(SlaAction::AutoApprove),
        ("auto-reject", None) => Ok(SlaAction::AutoReject),
        (other, _) => Err(format!(
            "action `{other}` is not one of remind, reassign, auto-approve, auto-reject"
        )),
    };
    let action = action
        .map_err(|message: String| p.add(at, "bad-sla", format!("{field}: {message}")))
        .ok();
    Some(Escalation {
        after: after?,
        action: action?,
    })
}

fn task(raw: &RawStage, at: &str, known: &Known, p: &mut Problems) -> Option<TaskStage> {
    let handler = match &raw.handler {
        Some(handler) => {
            check_handler(handler, "handler", at, known, p);
            Some(handler.clone())
        }
        None => {
            let message = "a task stage needs `handler`, the registered handler that runs it";
            p.add(at, "missing-field", message);
            None
        }
    };
    if let Some(compensation) = &raw.compensation {
        check_handler(compensation, "compensation", at, known, p);
    }
    let timeout = match &raw.timeout {
        Some(text) => duration(text, "timeout", at, p),
        None => Some(DEFAULT_TIMEOUT),
    };
    let retry = match &raw.retry {
        Some(r) => retry(r, at, p),
        None => Some(RetryPolicy::default()),
    };
    Some(TaskStage {
        handler: handler?,
        compensation: raw.compensation.clone(),
        timeout: timeout?,
        retry: retry?,
    })
}

fn retry(raw: &RawRetry, at: &str, p: &mut Problems) -> Option<RetryPolicy> {
    let default = RetryPolicy::default();
    let max_attempts = raw.max_attempts.unwrap_or(default.max_attempts);
    if max_attempts == 0 {
        let message = "retry.max_attempts must be 1 or more (it counts the first attempt)";
        p.add(at, "bad-retry", message);
    }
    let backoff = match &raw.backoff {
        Some(text) => duration(text, "retry.backoff", at, p),
        None => Some(default.backoff),
    };
    let max_backoff = match &raw.max_backoff {
        Some(text) => duration(text, "retry.max_backoff", at, p),
        None => Some(default.max_backoff),
    };
    let (backoff, max_backoff) = (backoff?, max_backoff?);
    if backoff > max_backoff {
        let message = format!(
            "retry.backoff {} is longer than retry.max_backoff {}: raise max_backoff or lower \
             backoff",
            human_duration(backoff),
            human_duration(max_backoff)
        );
        p.add(at, "bad-retry", message);
        return None;
    }
    (max_attempts > 0).then_some(RetryPolicy {
        max_attempts,
        backoff,
        max_backoff,
    })
}

fn timer(raw: &RawStage, at: &str, p: &mut Problems) -> Option<Wait> {
    match (&raw.duration, &raw.until) {
        (Some(text), None) => duration(text, "duration", at, p).map(Wait::Duration),
        (None, Some(source)) => expression(source, "until", at, p).map(Wait::Until),
        (Some(_), Some(_)) => {
            let message = "give either `duration` or `until`, not both";
            p.add(at, "timer-wait", message);
            None
        }
        (None, None) => {
            let message = "a timer stage needs `duration` (e.g. \"2h\") or `until` (an \
                           expression giving an RFC 3339 time, e.g. \"input.requested_date\")";
            p.add(at, "timer-wait", message);
            None
        }
    }
}

fn subflow(raw: &RawStage, at: &str, p: &mut Problems) -> Option<SubflowStage> {
    let items = match &raw.items {
        Some(source) => expression(source, "items", at, p),
        None => {
            let message = "a subflow stage needs `items`, an expression giving the list with \
                           one element per child (e.g. \"input.items\")";
            p.add(at, "missing-field", message);
            None
        }
    };
    let mut refuse = |message: &str| {
        p.add(at, "subflow-target", message);
        None
    };
    let workflow = match (&raw.workflow, &raw.workflow_field) {
        (Some(name), None) => Some(ChildWorkflow::Named(name.clone())),
        (None, Some(field)) if !field.trim().is_empty() => {
            Some(ChildWorkflow::FromField(field.clone()))
        }
        (None, Some(_)) => refuse("workflow_field is empty: name the field of each element"),
        (Some(_), Some(_)) => refuse("give either `workflow` or `workflow_field`, not both"),
        (None, None) => refuse(
            "a subflow stage needs `workflow` (the workflow every child runs) or \
             `workflow_field` (the field of each element that names its workflow)",
        ),
    };
    let on_child_failure = match raw.on_child_failure.as_deref() {
        None | Some("report") => Some(ChildFailure::Report),
        Some("fail") => Some(ChildFailure::Fail),
        Some(other) => {
            let message =
                format!("on_child_failure `{other}` is not \"report\" or \"fail\": fix it");
            p.add(at, "bad-value", message);
            None
        }
    };
    Some(SubflowStage {
        items: items?,
        workflow: workflow?,
        on_child_failure: on_child_failure?,
    })
}

fn load_edges(tables: Vec<toml::Table>, slots: &[Slot], p: &mut Problems) -> Vec<EdgeSpec> {
    let mut edges = Vec::with_capacity(tables.len());
    let mut seen = BTreeSet::new();
    for (index, table) in tables.into_iter().enumerate() {
        let end = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let at = match (end("from"), end("to")) {
            (Some(from), Some(to)) => edge_at(&from, &to),
            _ => format!("edge #{}", index + 1),
        };
        let Some(raw) = deserialize::<RawEdge>(table, &at, p) else {
            continue;
        };
        let when = raw
            .when
            .as_ref()
            .and_then(|w| expression(w, "when", &at, p));
        let (Some(from), Some(to)) = (
            stage_index(&raw.from, slots, &at, p),
            stage_index(&raw.to, slots, &at, p),
        ) else {
            continue;
        };
        if from == to {
            let message = "leads from a stage to itself: a workflow runs each stage once, so \
                           remove the edge";
            p.add(&at, "self-loop", message);
        } else if !seen.insert((from, to)) {
            let message = "is given twice: keep one edge (combine conditions with `||`)";
            p.add(&at, "duplicate-edge", message);
        } else {
            edges.push(EdgeSpec { from, to, when });
        }
    }
    edges
}

fn stage_index(id: &str, slots: &[Slot], at: &str, p: &mut Problems) -> Option<usize> {
    let index = slots.iter().position(|s| s.id == id);
    if index.is_none() {
        let ids: Vec<&str> = slots.iter().map(|s| s.id.as_str()).collect();
        let message = format!(
            "`{id}` is not a stage of this workflow (stages: {}): fix the id or add the stage",
            ids.join(", ")
        );
        p.add(at, "unknown-stage", message);
    }
    index
}

/// Node `i` has weight `i`, the stage's index, as the model promises; edges in file order.
fn build_graph(slots: &[Slot], edges: Vec<EdgeSpec>) -> DiGraph<usize, Option<Expr>> {
    let mut graph = DiGraph::with_capacity(slots.len(), edges.len());
    for index in 0..slots.len() {
        graph.add_node(index);
    }
    for e in edges {
        graph.add_edge(NodeIndex::new(e.from), NodeIndex::new(e.to), e.when);
    }
    graph
}

fn successors(graph: &DiGraph<usize, Option<Expr>>, node: usize) -> Vec<usize> {
    graph
        .neighbors_directed(NodeIndex::new(node), Direction::Outgoing)
        .map(|n| n.index())
        .collect()
}

fn predecessors(graph: &DiGraph<usize, Option<Expr>>, node: usize) -> Vec<usize> {
    graph
        .neighbors_directed(NodeIndex::new(node), Direction::Incoming)
        .map(|n| n.index())
        .collect()
}

/// Runs the whole-graph checks and returns the start stage when there is exactly one.
fn check_graph(
    slots: &[Slot],
    graph: &DiGraph<usize, Option<Expr>>,
    p: &mut Problems,
) -> Option<usize> {
    if slots.is_empty() {
        return None;
    }
    check_cycles(slots, graph, p);
    let starts: Vec<usize> = (0..slots.len())
        .filter(|&i| predecessors(graph, i).is_empty())
        .collect();
    check_starts(slots, &starts, p);
    check_reachable(slots, graph, &starts, p);
    check_ends(slots, graph, p);
    match starts.as_slice() {
        [start] => Some(*start),
        _ => None,
    }
}

/// Reports each strongly connected group of stages once, with one concrete cycle through it.
fn check_cycles(slots: &[Slot], graph: &DiGraph<usize, Option<Expr>>, p: &mut Problems) {
    for component in petgraph::algo::tarjan_scc(graph) {
        if component.len() < 2 {
            continue; // self-loops never enter the graph; they are reported as such
        }
        let members: BTreeSet<usize> = component.iter().map(|n| n.index()).collect();
        let Some(&first) = members.first() else {
            continue;
        };
        let within = |n: usize| {
            successors(graph, n)
                .into_iter()
                .filter(|m| members.contains(m))
                .collect()
        };
        let path = path_between(first, first, within).unwrap_or_default();
        let mut message = format!(
            "is on a cycle {}: a workflow must be acyclic, so remove or redirect one of these \
             edges",
            ids(slots, &path).join(" -> ")
        );
        let others: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| !path.contains(m))
            .collect();
        if !others.is_empty() {
            message.push_str(&format!(
                " (stages {} are on cycles with it too)",
                ids(slots, &others).join(", ")
            ));
        }
        p.add(&stage_at(&slots[first].id), "cycle", message);
    }
}

/// The shortest path from `from` to `to` of at least one edge (so `from == to` gives a
/// cycle), both ends included, following `next`.
fn path_between(from: usize, to: usize, next: impl Fn(usize) -> Vec<usize>) -> Option<Vec<usize>> {
    let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        for succ in next(node) {
            if succ == to {
                let mut path = vec![to, node];
                let mut current = node;
                while current != from {
                    current = *parent.get(&current)?;
                    path.push(current);
                }
                path.reverse();
                return Some(path);
            }
            if seen.insert(succ) {
                parent.insert(succ, node);
                queue.push_back(succ);
            }
        }
    }
    None
}

fn ids<'a>(slots: &'a [Slot], indices: &[usize]) -> Vec<&'a str> {
    indices.iter().map(|&i| slots[i].id.as_str()).collect()
}

fn quoted_ids(slots: &[Slot], indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&i| format!("{:?}", slots[i].id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_starts(slots: &[Slot], starts: &[usize], p: &mut Problems) {
    match starts {
        [] => p.add(
            "",
            "no-start",
            "every stage has an incoming edge, so none can start the workflow: the start stage \
             is the one stage without incoming edges (remove the edges into it)",
        ),
        [_] => {}
        several => {
            let message = format!(
                "have no incoming edge, so each would be a start stage: a workflow has exactly \
                 one start, so add edges into all but one of them (stages {})",
                quoted_ids(slots, several)
            );
            p.add(
                &format!("stages {}", quoted_ids(slots, several)),
                "several-starts",
                message,
            );
        }
    }
}

fn reach(from: &[usize], count: usize, next: impl Fn(usize) -> Vec<usize>) -> Vec<bool> {
    let mut seen = vec![false; count];
    let mut stack: Vec<usize> = from.to_vec();
    while let Some(node) = stack.pop() {
        if let Some(flag) = seen.get_mut(node) {
            if !*flag {
                *flag = true;
                stack.extend(next(node));
            }
        }
    }
    seen
}

fn check_reachable(
    slots: &[Slot],
    graph: &DiGraph<usize, Option<Expr>>,
    starts: &[usize],
    p: &mut Problems,
) {
    // Without a start every stage would be unreachable; "no-start" already says what to fix.
    if starts.is_empty() {
        return;
    }
    let reached = reach(starts, slots.len(), |n| successors(graph, n));
    let from = match starts {
        [start] => format!("the start stage {:?}", slots[*start].id),
        _ => "any start stage".to_owned(),
    };
    for (slot, _) in slots.iter().zip(&reached).filter(|(_, r)| !**r) {
        let message = format!(
            "cannot be reached from {from}: add an edge into it from a stage before it, or \
             remove it"
        );
        p.add(&stage_at(&slot.id), "unreachable", message);
    }
}

fn check_ends(slots: &[Slot], graph: &DiGraph<usize, Option<Expr>>, p: &mut Problems) {
    for (index, slot) in slots.iter().enumerate() {
        let out = successors(graph, index);
        if slot.kind == Some(Kind::End) && !out.is_empty() {
            let message = format!(
                "is an end stage but has edges to {}: remove them, or change its kind",
                quoted_ids(slots, &out)
            );
            p.add(&stage_at(&slot.id), "end-with-edges", message);
        }
    }
    // A stage of unknown kind might be an end; its own problem says what to fix.
    let ends: Vec<usize> = (0..slots.len())
        .filter(|&i| matches!(slots[i].kind, Some(Kind::End) | None))
        .collect();
    if ends.is_empty() {
        let message = "the workflow has no end stage: add a stage with kind = \"end\" and edges \
                       into it";
        p.add("", "no-end", message);
        return;
    }
    let reaches_end = reach(&ends, slots.len(), |n| predecessors(graph, n));
    for (slot, _) in slots.iter().zip(&reaches_end).filter(|(_, r)| !**r) {
        let message = "cannot reach an end stage: add an edge from it to an end (or to a \
                       stage that reaches one)";
        p.add(&stage_at(&slot.id), "no-end", message);
    }
}

/// Subflow targets must be in the set, and following subflows must never lead back to the
/// workflow that started them: each child would start the same workflows again, forever.
fn check_subflows(loaded: &[Loaded], problems: &mut Vec<Problem>) {
    let index: BTreeMap<&str, usize> = loaded
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.as_str(), i))
        .collect();
    let names: Vec<&str> = index.keys().copied().collect();
    let mut calls: Vec<Vec<usize>> = vec![Vec::new(); loaded.len()];
    for (i, l) in loaded.iter().enumerate() {
        for r in &l.subflows {
            match index.get(r.target.as_str()) {
                Some(&target) => calls[i].push(target),
                None => problems.push(Problem {
                    file: l.file.clone(),
                    location: stage_at(&r.stage),
                    rule: "unknown-workflow",
                    message: format!(
                        "runs workflow `{}`, which is not among the definitions loaded ({}): \
                         fix the name or add {}.toml",
                        r.target,
                        names.join(", "),
                        r.target
                    ),
                }),
            }
        }
    }
    for (i, l) in loaded.iter().enumerate() {
        for r in &l.subflows {
            let Some(&target) = index.get(r.target.as_str()) else {
                continue;
            };
            let chain = if target == i {
                Some(vec![i, i])
            } else {
                path_between(target, i, |n| calls[n].clone()).map(|path| {
                    let mut chain = vec![i];
                    chain.extend(path);
                    chain
                })
            };
            let Some(chain) = chain else { continue };
            let shown: Vec<&str> = chain.iter().map(|&n| loaded[n].name.as_str()).collect();
            problems.push(Problem {
                file: l.file.clone(),
                location: stage_at(&r.stage),
                rule: "subflow-cycle",
                message: format!(
                    "runs workflow `{}`, which leads back here ({}): children would start \
                     children forever, so break the chain",
                    r.target,
                    shown.join(" -> ")
                ),
            });
        }
    }
}

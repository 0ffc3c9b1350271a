//! Turns workflow files into validated [`Definition`]s, collecting every problem with the file,
//! the stage or edge it is in, a rule name and the fix, so one run of `l2c workflow check`
//! shows all the mistakes at once.
//!
//! A file is checked in three passes, each in its own module: its shape (`shape`: TOML, known
//! keys, value types), each stage and edge on its own (`stages`: kinds, handlers, groups,
//! durations, expressions), then the graph (`graph`: cycles, one start, reachability, every
//! stage reaching an `end`). This module runs the passes over a file, assembles the
//! [`Definition`], and holds the set loaders, which run the checks across files (subflow
//! targets exist, subflows never lead back to their own workflow).

use super::error::{stage_at, DefinitionError, Problem, Problems};
use super::file::{RawGroup, RawGroups, RawWorkflow};
use super::graph::{build_graph, check_graph, path_between};
use super::known::{is_kebab, Known, GROUPS_FILE};
use super::model::{Definition, Stage, Version};
use super::shape::{deserialize, parse_toml};
use super::stages::{load_edges, load_stages, Slot, SubflowRef};
use crate::expr::Expr;
use petgraph::graph::DiGraph;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

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

/// What loading one file gave: the definition when the file is sound on its own, and its
/// subflow references even when it is not, so the checks across files still run.
struct Loaded {
    file: String,
    name: String,
    definition: Option<Definition>,
    subflows: Vec<SubflowRef>,
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

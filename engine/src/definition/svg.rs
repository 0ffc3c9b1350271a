//! A definition drawn as a standalone SVG document, laid out on the server: the web pages
//! inline it (one drawing per instance, coloured by how far each stage has got) and
//! `l2c workflow show NAME --format svg` prints it plain.
//!
//! The layout is a small layering of our own rather than a layout crate, because workflow
//! graphs are small DAGs with one start:
//!
//! - columns: a stage's column is its longest path from the start (petgraph's topological
//!   order), so every edge points rightwards, and a join sits right of all its branches;
//! - an edge spanning several columns takes a lane (a slot like a stage's) in each column it
//!   passes, so it never runs through a box;
//! - within a column the slots are ordered by the mean height of their predecessors (one
//!   left-to-right barycenter sweep), which removes the crossings file order would give;
//! - rows are evenly spaced and each column is centred vertically.
//!
//! The output is meant for pages under a strict CSP: no script, no `style` attribute; colours
//! are presentation attributes (`fill`, `stroke`), which any stylesheet rule overrides, and
//! each stage group carries classes (`stage task done`) for the page to style by. Every text
//! taken from a definition file is XML-escaped, and characters XML cannot carry are replaced.
//! The drawing uses no element ids, so several can be inlined in one page (an order's item
//! subflows, one drawing per item) without clashing; arrowheads are drawn as small paths
//! rather than a shared `<marker>` for that reason.

use super::model::{Definition, Stage};
use petgraph::algo::toposort;
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// How far one stage of an instance has got, as the drawing colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StageState {
    /// Finished (completed or approved).
    Done,
    /// In progress: ready, running, or waiting for people, a timer or children.
    Active,
    /// Not reached yet.
    Waiting,
    /// Will not run: on a dead path, or skipped by an operator.
    Skipped,
    /// Failed or rejected, or an incident waiting for an operator.
    Failed,
}

impl StageState {
    /// Every state, in the order a legend lists them.
    pub const ALL: [StageState; 5] = [
        StageState::Done,
        StageState::Active,
        StageState::Waiting,
        StageState::Skipped,
        StageState::Failed,
    ];

    /// The CSS class the stage's group carries (`done`, `active`, ...).
    pub fn class(self) -> &'static str {
        match self {
            StageState::Done => "done",
            StageState::Active => "active",
            StageState::Waiting => "waiting",
            StageState::Skipped => "skipped",
            StageState::Failed => "failed",
        }
    }

    /// The state in words, for tooltips and screen readers.
    pub fn words(self) -> &'static str {
        match self {
            StageState::Done => "done",
            StageState::Active => "in progress",
            StageState::Waiting => "not reached yet",
            StageState::Skipped => "skipped",
            StageState::Failed => "failed",
        }
    }

    /// Fill, stroke and stroke width of the stage's box (the fallback a stylesheet
    /// overrides).
    fn paint(state: Option<StageState>) -> Paint {
        let (fill, stroke, width) = match state {
            None => ("#fff", "#555", 1),
            Some(StageState::Done) => ("#dff0d8", "#3c763d", 1),
            Some(StageState::Active) => ("#d9edf7", "#1f6fb2", 2),
            Some(StageState::Waiting) => ("#fff", "#999", 1),
            Some(StageState::Skipped) => ("#f2f2f2", "#bbb", 1),
            Some(StageState::Failed) => ("#f2dede", "#a94442", 2),
        };
        Paint {
            fill,
            stroke,
            width,
        }
    }
}

struct Paint {
    fill: &'static str,
    stroke: &'static str,
    width: u32,
}

/// The definition as an SVG document, left to right from the start stage.
///
/// `state` gives each stage's state by stage id in the instance being shown; `None` (for
/// every stage, when drawing a definition on its own) draws the stage in neutral colours
/// with no state class.
pub fn svg(definition: &Definition, state: &dyn Fn(&str) -> Option<StageState>) -> String {
    let layout = Layout::new(definition);
    let states: Vec<Option<StageState>> = definition.stages.iter().map(|s| state(&s.id)).collect();
    let mut out = String::with_capacity(4096);
    let (width, height) = (layout.width(), layout.height());
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"workflow\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"middle\">",
        Escaped(&aria_label(definition, &states)),
    );
    out.push_str("<g class=\"edges\" fill=\"none\" stroke=\"#777\" stroke-width=\"1.5\">\n");
    for (index, edge) in definition.graph.edge_references().enumerate() {
        let condition = edge.weight().as_ref().map(|e| e.source());
        write_edge(&mut out, &layout, index, condition);
    }
    out.push_str("</g>\n");
    for node in definition.graph.node_indices() {
        let Some(stage) = definition.stages.get(definition.graph[node]) else {
            continue;
        };
        let stage_state = states.get(definition.graph[node]).copied().flatten();
        write_stage(&mut out, &layout, node.index(), stage, stage_state);
    }
    out.push_str("</svg>\n");
    out
}

/// "Workflow wan-link, 7 stages: 2 done, 1 in progress, 4 not reached yet".
fn aria_label(definition: &Definition, states: &[Option<StageState>]) -> String {
    let mut label = format!(
        "Workflow {}, {} stage{}",
        definition.name,
        states.len(),
        if states.len() == 1 { "" } else { "s" }
    );
    let counts: Vec<String> = StageState::ALL
        .into_iter()
        .filter_map(|s| {
            let n = states.iter().filter(|&&t| t == Some(s)).count();
            (n > 0).then(|| format!("{n} {}", s.words()))
        })
        .collect();
    if !counts.is_empty() {
        label.push_str(": ");
        label.push_str(&counts.join(", "));
    }
    label
}

fn write_stage(
    out: &mut String,
    layout: &Layout,
    node: usize,
    stage: &Stage,
    state: Option<StageState>,
) {
    let kind = stage.kind.name();
    let (x, y) = layout.top_left(node);
    let w = layout.box_width(node);
    let centre = x + w / 2;
    let paint = StageState::paint(state);
    let _ = write!(out, "<g class=\"stage {kind}");
    if let Some(s) = state {
        let _ = write!(out, " {}", s.class());
    }
    let _ = write!(out, "\"><title>{}", Escaped(&stage.id));
    if stage.title != stage.id {
        let _ = write!(out, " ({})", Escaped(&stage.title));
    }
    let _ = write!(out, " — {kind}");
    if let Some(s) = state {
        let _ = write!(out, " — {}", s.words());
    }
    let _ = write!(
        out,
        "</title><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{}\" \
         stroke=\"{}\"",
        paint.fill, paint.stroke
    );
    if paint.width != 1 {
        let _ = write!(out, " stroke-width=\"{}\"", paint.width);
    }
    if state == Some(StageState::Skipped) {
        // Dashed as well as grey, so a skipped stage reads without colour too.
        out.push_str(" stroke-dasharray=\"4 3\"");
    }
    let _ = writeln!(
        out,
        "/><text x=\"{centre}\" y=\"{}\">{}</text><text x=\"{centre}\" y=\"{}\" \
         font-size=\"9\" fill=\"#555\">{kind}</text></g>",
        y + 17,
        Escaped(&stage.id),
        y + 31,
    );
}

/// One edge: cubic curves between columns, straight runs through the lanes it passes, and an
/// arrowhead at the target's left side. Conditional edges are dashed, their condition a
/// tooltip (drawn text would crowd the picture; the text and dot drawings show it).
fn write_edge(out: &mut String, layout: &Layout, edge: usize, condition: Option<&str>) {
    let (Some(chain), Some(&(leave, enter))) = (layout.chains.get(edge), layout.ports.get(edge))
    else {
        return;
    };
    let (Some(&first), Some(&last)) = (chain.first(), chain.last()) else {
        return;
    };
    match condition {
        Some(c) => {
            let _ = write!(
                out,
                "<g class=\"edge when\"><title>when {}</title><path stroke-dasharray=\"5 3\" d=\"",
                Escaped(c)
            );
        }
        None => out.push_str("<g class=\"edge\"><path d=\""),
    }
    let (mut x, mut y) = layout.right_middle(first);
    y += leave;
    let _ = write!(out, "M{x} {y}");
    for (position, &slot) in chain.iter().enumerate().skip(1) {
        let (mut to_x, mut to_y) = layout.left_middle(slot);
        let is_target = position + 1 == chain.len();
        if is_target {
            to_x -= ARROW;
            to_y += enter;
        }
        if to_y == y {
            let _ = write!(out, "H{to_x}");
        } else {
            let mid = (x + to_x) / 2;
            let _ = write!(out, "C{mid} {y} {mid} {to_y} {to_x} {to_y}");
        }
        (x, y) = (to_x, to_y);
        if !is_target {
            // A lane: straight across the column it passes.
            x = layout.right_middle(slot).0;
            let _ = write!(out, "H{x}");
        }
    }
    let (tip_x, middle) = layout.left_middle(last);
    let tip_y = middle + enter;
    let _ = writeln!(
        out,
        "\"/><path fill=\"#777\" stroke=\"none\" d=\"M{} {}L{tip_x} {tip_y}L{} {}z\"/></g>",
        tip_x - ARROW,
        tip_y - 4,
        tip_x - ARROW,
        tip_y + 4
    );
}

/// Box height, and the vertical distance from one row to the next (even, so half a row,
/// which centring a column may need, is a whole number).
const BOX_H: i64 = 40;
const ROW: i64 = 56;
/// Horizontal space between columns, where the edges bend.
const GAP: i64 = 48;
const MARGIN: i64 = 8;
/// The narrowest box, and the estimated width of one character of a stage id (12px
/// sans-serif); the estimate is generous, so ids fit without measuring text.
const MIN_BOX_W: i64 = 88;
const CHAR_W: i64 = 7;
const PAD: i64 = 10;
const ARROW: i64 = 7;
/// The vertical distance between edges that leave or enter one side of a box.
const PORT: i64 = 8;

/// Where everything goes. Slots are the stages (numbered by node index) followed by the
/// lanes long edges take through the columns they pass.
struct Layout {
    /// The column of each slot.
    column: Vec<usize>,
    /// The slots of each column, top to bottom.
    columns: Vec<Vec<usize>>,
    /// Each edge (in the graph's edge order) as the slots it goes through, source to target.
    chains: Vec<Vec<usize>>,
    /// Each edge's vertical offsets from the middle of the box where it leaves and enters.
    ports: Vec<(i64, i64)>,
    /// The width of each column's boxes.
    widths: Vec<i64>,
    /// The row count of the fullest column.
    rows: usize,
}

impl Layout {
    fn new(definition: &Definition) -> Layout {
        let graph = &definition.graph;
        let stages = graph.node_count();
        // A loaded definition is acyclic; were it not, node order keeps the drawing possible
        // (edges that point back are then drawn leftwards) instead of failing a page.
        let order: Vec<usize> = match toposort(graph, None) {
            Ok(nodes) => nodes.into_iter().map(|n| n.index()).collect(),
            Err(_) => (0..stages).collect(),
        };
        let mut column = vec![0usize; stages];
        for &node in &order {
            for edge in graph.edges(NodeIndex::new(node)) {
                let target = edge.target().index();
                column[target] = column[target].max(column[node] + 1);
            }
        }

        // Lanes for long edges, and each slot's predecessors for the ordering.
        let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); stages];
        let mut chains = Vec::with_capacity(graph.edge_count());
        for edge in graph.edge_references() {
            let (source, target) = (edge.source().index(), edge.target().index());
            let mut chain = vec![source];
            for passed in column[source] + 1..column[target] {
                column.push(passed);
                predecessors.push(Vec::new());
                chain.push(column.len() - 1);
            }
            chain.push(target);
            for pair in chain.windows(2) {
                if let [from, to] = *pair {
                    predecessors[to].push(from);
                }
            }
            chains.push(chain);
        }

        let count = column.iter().max().map_or(0, |&c| c + 1);
        let mut columns: Vec<Vec<usize>> = vec![Vec::new(); count];
        // Slot order starts as file order, stages before lanes, and stays so among ties.
        for (slot, &c) in column.iter().enumerate() {
            columns[c].push(slot);
        }
        let rows = columns.iter().map(Vec::len).max().unwrap_or(0);

        // One barycenter sweep: each column ordered by the mean height of its slots'
        // predecessors, heights taken as drawn (rows plus the column's centring offset).
        let mut height = vec![0i64; column.len()];
        for (c, slots) in columns.iter_mut().enumerate() {
            if c > 0 {
                let placed = &height;
                let mut keyed: Vec<((i64, i64), usize)> = slots
                    .iter()
                    .enumerate()
                    .map(|(row, &slot)| {
                        let preds = &predecessors[slot];
                        // A slot without predecessors (only in a broken graph) keeps its row.
                        let mean = if preds.is_empty() {
                            (row as i64 * ROW, 1)
                        } else {
                            let sum = preds.iter().map(|&p| placed[p]).sum();
                            (sum, preds.len() as i64)
                        };
                        (mean, slot)
                    })
                    .collect();
                // Means compared as fractions; the sort is stable, so ties keep file order.
                keyed.sort_by(|((sa, na), _), ((sb, nb), _)| (sa * nb).cmp(&(sb * na)));
                *slots = keyed.into_iter().map(|(_, slot)| slot).collect();
            }
            let offset = (rows - slots.len()) as i64 * ROW / 2;
            for (row, &slot) in slots.iter().enumerate() {
                height[slot] = offset + row as i64 * ROW;
            }
        }

        let widths = columns
            .iter()
            .map(|slots| {
                slots
                    .iter()
                    .filter_map(|&s| graph.node_weight(NodeIndex::new(s)))
                    .filter_map(|&stage| definition.stages.get(stage))
                    .map(|stage| {
                        let chars = stage.id.chars().count().max(stage.kind.name().len());
                        chars as i64 * CHAR_W + 2 * PAD
                    })
                    .fold(MIN_BOX_W, i64::max)
            })
            .collect();
        let ports = ports(&chains, &height);
        Layout {
            column,
            columns,
            chains,
            ports,
            widths,
            rows,
        }
    }

    fn width(&self) -> i64 {
        let boxes: i64 = self.widths.iter().sum();
        let gaps = self.widths.len().saturating_sub(1) as i64 * GAP;
        2 * MARGIN + boxes + gaps
    }

    fn height(&self) -> i64 {
        2 * MARGIN + self.rows.saturating_sub(1) as i64 * ROW + BOX_H
    }

    fn box_width(&self, slot: usize) -> i64 {
        self.widths
            .get(self.column[slot])
            .copied()
            .unwrap_or(MIN_BOX_W)
    }

    /// The top left corner of a slot's box (a lane has a box's place, undrawn).
    fn top_left(&self, slot: usize) -> (i64, i64) {
        let c = self.column[slot];
        let x = MARGIN + self.widths[..c].iter().sum::<i64>() + c as i64 * GAP;
        let slots = &self.columns[c];
        let row = slots.iter().position(|&s| s == slot).unwrap_or(0);
        let offset = (self.rows - slots.len()) as i64 * ROW / 2;
        (x, MARGIN + offset + row as i64 * ROW)
    }

    fn left_middle(&self, slot: usize) -> (i64, i64) {
        let (x, y) = self.top_left(slot);
        (x, y + BOX_H / 2)
    }

    fn right_middle(&self, slot: usize) -> (i64, i64) {
        let (x, y) = self.top_left(slot);
        (x + self.box_width(slot), y + BOX_H / 2)
    }
}

/// Where each edge leaves and enters its boxes, as offsets from the middle: the edges at
/// one side of a box spread out in the order of the slots they go to or come from, so
/// arrowheads do not pile up and the edges do not cross at the box.
fn ports(chains: &[Vec<usize>], height: &[i64]) -> Vec<(i64, i64)> {
    let mut ports = vec![(0, 0); chains.len()];
    let mut outgoing: BTreeMap<usize, Vec<(i64, usize)>> = BTreeMap::new();
    let mut incoming: BTreeMap<usize, Vec<(i64, usize)>> = BTreeMap::new();
    for (edge, chain) in chains.iter().enumerate() {
        if let ([first, second, ..], [.., before, last]) = (chain.as_slice(), chain.as_slice()) {
            outgoing
                .entry(*first)
                .or_default()
                .push((height[*second], edge));
            incoming
                .entry(*last)
                .or_default()
                .push((height[*before], edge));
        }
    }
    for (leaving, side) in [(true, outgoing), (false, incoming)] {
        for mut edges in side.into_values() {
            edges.sort_unstable();
            let n = edges.len() as i64;
            // Many edges at one side squeeze together to stay within the box.
            let step = if n > 1 {
                PORT.min((BOX_H - 12) / (n - 1))
            } else {
                0
            };
            for (rank, (_, edge)) in edges.into_iter().enumerate() {
                let offset = (2 * rank as i64 - (n - 1)) * step / 2;
                if leaving {
                    ports[edge].0 = offset;
                } else {
                    ports[edge].1 = offset;
                }
            }
        }
    }
    ports
}

/// Text for XML content and double-quoted attributes: the five markup characters as
/// entities, and characters XML 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF),
/// which a TOML string can hold, as U+FFFD.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' => {
                    f.write_char(c)?
                }
                c if c >= '\u{10000}' => f.write_char(c)?,
                _ => f.write_char('\u{FFFD}')?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{svg, Layout, StageState};
    use crate::definition::{load_groups, Definition, Definitions, Known};
    use petgraph::visit::EdgeRef;
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::{Reader, XmlVersion};
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// One parsed element: name, attributes and text (entities resolved), children.
    #[derive(Debug, Default)]
    struct Node {
        name: String,
        attrs: BTreeMap<String, String>,
        text: String,
        children: Vec<Node>,
    }

    impl Node {
        fn attr(&self, name: &str) -> &str {
            self.attrs.get(name).map_or("", String::as_str)
        }

        fn child(&self, name: &str) -> Option<&Node> {
            self.children.iter().find(|c| c.name == name)
        }

        /// Every element below this one with this name, depth first.
        fn all<'a>(&'a self, name: &str, found: &mut Vec<&'a Node>) {
            for c in &self.children {
                if c.name == name {
                    found.push(c);
                }
                c.all(name, found);
            }
        }

        /// The groups whose classes include all of these.
        fn groups(&self, classes: &str) -> Vec<&Node> {
            let mut gs = Vec::new();
            self.all("g", &mut gs);
            gs.retain(|g| {
                let has: Vec<&str> = g.attr("class").split(' ').collect();
                classes.split(' ').all(|c| has.contains(&c))
            });
            gs
        }
    }

    fn element(e: &BytesStart<'_>) -> Node {
        let name = e.name().as_ref().to_owned();
        let mut attrs = BTreeMap::new();
        for a in e.attributes() {
            // Attribute checks are on by default: a duplicate or unquoted attribute fails.
            let a = a.unwrap_or_else(|err| panic!("bad attribute in <{name}>: {err}"));
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .unwrap_or_else(|err| panic!("attribute value in <{name}> unescapes: {err}"));
            let key = a.key.as_ref().to_owned();
            assert!(attrs.insert(key, value.into_owned()).is_none());
        }
        Node {
            name,
            attrs,
            ..Node::default()
        }
    }

    /// Parses a whole document into its root; panics on anything not well-formed.
    fn parse(xml: &str) -> Node {
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Node> = Vec::new();
        let mut root = None;
        loop {
            let event = reader
                .read_event()
                .unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{xml}"));
            match event {
                Event::Start(e) => stack.push(element(&e)),
                Event::Empty(e) => {
                    let node = element(&e);
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => root = Some(node),
                    }
                }
                Event::Text(t) => {
                    let text = t.xml10_content();
                    match stack.last_mut() {
                        Some(top) => top.text.push_str(&text),
                        None => assert!(text.trim().is_empty(), "text outside the root"),
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().expect("a valid character reference")
                    {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_predefined_entity(&r)
                            .expect("only predefined entities")
                            .to_owned(),
                    };
                    stack.last_mut().expect("inside an element").text += &resolved;
                }
                Event::End(_) => {
                    let node = stack.pop().expect("balanced tags");
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => {
                            assert!(root.is_none(), "one root element");
                            root = Some(node);
                        }
                    }
                }
                Event::Eof => break,
                other => panic!("unexpected XML event {other:?}"),
            }
        }
        assert!(stack.is_empty(), "unclosed elements");
        root.expect("a root element")
    }

    /// The repository's workflows/, checked against the handler names the files use (l2c
    /// registers them; the engine does not know them) and the groups file.
    fn shipped() -> Definitions {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows"));
        let groups = load_groups(&dir.join("groups.toml")).unwrap_or_else(|e| panic!("{e}"));
        let mut handlers = BTreeSet::new();
        for entry in std::fs::read_dir(dir).expect("workflows/") {
            let path = entry.expect("an entry").path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let table: toml::Table = text.parse().expect("TOML");
            let stages = table.get("stage").and_then(|s| s.as_array());
            for stage in stages.into_iter().flatten() {
                for key in ["handler", "compensation"] {
                    if let Some(name) = stage.get(key).and_then(|v| v.as_str()) {
                        handlers.insert(name.to_owned());
                    }
                }
            }
        }
        let known = Known::new(handlers, groups);
        let set = Definitions::load_dir(dir, &known).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            set.len() >= 7,
            "the shipped workflows: {:?}",
            set.names().collect::<Vec<_>>()
        );
        set
    }

    fn load(text: &str) -> Definition {
        let known = Known::new(["noop"], ["approvers"]);
        Definition::from_toml("test.toml", text, &known).unwrap_or_else(|e| panic!("{e}"))
    }

    fn plain(d: &Definition) -> String {
        svg(d, &|_| None)
    }

    #[test]
    fn every_shipped_workflow_draws_as_a_small_well_formed_document() {
        let mut biggest = (0, String::new());
        for (name, d) in shipped().iter() {
            let drawing = plain(d);
            let root = parse(&drawing);
            assert_eq!(root.name, "svg");
            assert_eq!(root.attr("xmlns"), "http://www.w3.org/2000/svg");
            assert_eq!(root.attr("role"), "img");
            assert!(root
                .attr("aria-label")
                .starts_with(&format!("Workflow {name}, ")));
            let (w, h) = (root.attr("width"), root.attr("height"));
            assert_eq!(root.attr("viewBox"), format!("0 0 {w} {h}"));
            assert!(!drawing.contains("style=") && !drawing.contains("<script"));

            let stages = root.groups("stage");
            assert_eq!(stages.len(), d.stages.len(), "{name}");
            for (g, stage) in stages.iter().zip(&d.stages) {
                assert_eq!(g.attr("class"), format!("stage {}", stage.kind.name()));
                let title = g.child("title").expect("a title").text.as_str();
                assert!(title.starts_with(&stage.id), "{title}");
                let texts: Vec<&str> = g
                    .children
                    .iter()
                    .filter(|c| c.name == "text")
                    .map(|c| c.text.as_str())
                    .collect();
                assert_eq!(texts, [stage.id.as_str(), stage.kind.name()]);
                assert_eq!(g.child("rect").expect("a box").attr("fill"), "#fff");
            }

            let edges = root.groups("edge");
            assert_eq!(edges.len(), d.graph.edge_count(), "{name}");
            for (g, edge) in edges.iter().zip(d.graph.edge_references()) {
                let paths: Vec<&Node> = g.children.iter().filter(|c| c.name == "path").collect();
                assert_eq!(paths.len(), 2, "a line and an arrowhead");
                match edge.weight() {
                    Some(expr) => {
                        assert_eq!(g.attr("class"), "edge when");
                        let title = g.child("title").expect("a tooltip");
                        assert_eq!(title.text, format!("when {}", expr.source()));
                        assert_eq!(paths[0].attr("stroke-dasharray"), "5 3");
                    }
                    None => {
                        assert_eq!(g.attr("class"), "edge");
                        assert!(g.child("title").is_none());
                    }
                }
                // The arrowhead's tip touches the target's box on its left side.
                let mut rects = Vec::new();
                root.all("rect", &mut rects);
                let target = rects[edge.target().index()];
                let tip = format!("L{} ", target.attr("x"));
                assert!(paths[1].attr("d").contains(&tip), "{:?}", paths[1].attrs);
            }
            if drawing.len() > biggest.0 {
                biggest = (drawing.len(), name.to_owned());
            }
        }
        eprintln!("biggest drawing: {} with {} bytes", biggest.1, biggest.0);
        assert!(biggest.0 < 15_000, "{biggest:?}");
    }

    #[test]
    fn every_edge_points_to_a_later_column() {
        for (name, d) in shipped().iter() {
            let layout = Layout::new(d);
            assert_eq!(layout.column[d.start], 0, "{name}: the start comes first");
            for edge in d.graph.edge_references() {
                let (s, t) = (edge.source().index(), edge.target().index());
                assert!(layout.column[t] > layout.column[s], "{name}: {s} -> {t}");
                // Every slot the edge takes is one column right of the one before.
                let chain = &layout.chains[edge.id().index()];
                let columns: Vec<usize> = chain.iter().map(|&slot| layout.column[slot]).collect();
                let expected: Vec<usize> = (layout.column[s]..=layout.column[t]).collect();
                assert_eq!(columns, expected, "{name}");
                let (sx, _) = layout.right_middle(s);
                let (tx, _) = layout.left_middle(t);
                assert!(tx > sx, "{name}: drawn left to right");
            }
        }
    }

    const DIAMOND: &str = r#"
description = "Branches that file order would cross"

[[stage]]
id = "start"
kind = "task"
handler = "noop"

[[stage]]
id = "upper"
kind = "approval"
group = "approvers"

[[stage]]
id = "lower"
kind = "manual"
group = "approvers"

[[stage]]
id = "after-lower"
kind = "timer"
duration = "1h"

[[stage]]
id = "after-upper"
kind = "task"
handler = "noop"

[[stage]]
id = "done"
kind = "end"

[[edge]]
from = "start"
to = "upper"
when = "input.note == \"<&>\\\"'\""
[[edge]]
from = "start"
to = "lower"
[[edge]]
from = "upper"
to = "after-upper"
[[edge]]
from = "lower"
to = "after-lower"
[[edge]]
from = "after-upper"
to = "done"
[[edge]]
from = "after-lower"
to = "done"
[[edge]]
from = "start"
to = "done"
"#;

    #[test]
    fn rows_follow_the_predecessors_not_the_file() {
        let d = load(DIAMOND);
        let layout = Layout::new(&d);
        let at = |id: &str| {
            let stage = d.stage_index(id).expect("a stage");
            (layout.column[stage], layout.top_left(stage).1)
        };
        assert_eq!(at("start").0, 0);
        assert_eq!((at("upper").0, at("lower").0), (1, 1));
        assert!(at("upper").1 < at("lower").1);
        // after-lower comes first in the file, yet is drawn beside `lower`, below.
        assert_eq!((at("after-upper").0, at("after-lower").0), (2, 2));
        assert!(at("after-upper").1 < at("after-lower").1, "no crossing");
        assert_eq!(at("done").0, 3);
        // start -> done passes columns 1 and 2 in lanes of its own, beside the boxes.
        let long = d
            .graph
            .edge_references()
            .find(|e| e.source().index() == 0 && e.target().index() == 5)
            .expect("the long edge");
        let chain = &layout.chains[long.id().index()];
        assert_eq!(chain.len(), 4);
        for &lane in &chain[1..3] {
            assert!(lane >= d.stages.len(), "a lane, not a stage");
            assert!(layout.columns[layout.column[lane]].len() == 3);
        }
        assert_eq!(layout.rows, 3);
    }

    #[test]
    fn text_from_files_is_escaped() {
        let mut d = load(DIAMOND);
        d.name = "odd<&>\"'".to_owned();
        d.stages[1].id = "a<&>\"'b".to_owned();
        d.stages[1].title = "Title <b>&amp; \u{7}bell".to_owned();
        let drawing = svg(&d, &|id| (id == "a<&>\"'b").then_some(StageState::Active));
        assert!(!drawing.contains("a<&>"), "{drawing}");
        let root = parse(&drawing);
        assert!(root
            .attr("aria-label")
            .starts_with("Workflow odd<&>\"', 6 stages"));
        let stages = root.groups("stage");
        let g = stages[1];
        let texts: Vec<&str> = g
            .children
            .iter()
            .filter(|c| c.name == "text")
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(texts, ["a<&>\"'b", "approval"]);
        assert_eq!(
            g.child("title").expect("a title").text,
            "a<&>\"'b (Title <b>&amp; \u{FFFD}bell) — approval — in progress"
        );
        let when = root.groups("edge when");
        assert_eq!(when.len(), 1);
        assert_eq!(
            when[0].child("title").expect("a tooltip").text,
            "when input.note == \"<&>\\\"'\""
        );
    }

    #[test]
    fn states_give_classes_fills_and_words() {
        let d = load(DIAMOND);
        let states: BTreeMap<&str, StageState> = [
            ("start", StageState::Done),
            ("upper", StageState::Skipped),
            ("lower", StageState::Active),
            ("after-lower", StageState::Failed),
            ("after-upper", StageState::Skipped),
            ("done", StageState::Waiting),
        ]
        .into();
        let drawing = svg(&d, &|id| states.get(id).copied());
        let root = parse(&drawing);
        assert_eq!(
            root.attr("aria-label"),
            "Workflow test, 6 stages: 1 done, 1 in progress, 1 not reached yet, 2 skipped, 1 failed"
        );
        let groups = root.groups("stage");
        let mut fills = BTreeSet::new();
        for (g, stage) in groups.iter().zip(&d.stages) {
            let state = states[stage.id.as_str()];
            assert_eq!(
                g.attr("class"),
                format!("stage {} {}", stage.kind.name(), state.class())
            );
            let title = &g.child("title").expect("a title").text;
            assert!(title.ends_with(&format!(" — {}", state.words())), "{title}");
            let rect = g.child("rect").expect("a box");
            fills.insert((state.class(), rect.attr("fill").to_owned()));
            if state == StageState::Skipped {
                assert_eq!(rect.attr("stroke-dasharray"), "4 3");
            }
        }
        let distinct: BTreeSet<&String> = fills.iter().map(|(_, f)| f).collect();
        assert_eq!(
            (fills.len(), distinct.len()),
            (5, 5),
            "one fill per state: {fills:?}"
        );

        // A state for some stages only: the others stay neutral.
        let partial = svg(&d, &|id| (id == "start").then_some(StageState::Done));
        let root = parse(&partial);
        let classes: Vec<&str> = root
            .groups("stage")
            .iter()
            .map(|g| g.attr("class"))
            .collect();
        assert_eq!(classes[0], "stage task done");
        assert_eq!(classes[1], "stage approval");
    }

    #[test]
    fn a_lone_end_stage_draws_one_box() {
        let d = load("description = \"x\"\n[[stage]]\nid = \"done\"\nkind = \"end\"\n");
        let root = parse(&plain(&d));
        assert_eq!(root.groups("stage").len(), 1);
        assert_eq!(root.groups("edge").len(), 0);
        assert_eq!(root.attr("aria-label"), "Workflow test, 1 stage");
        assert_eq!((root.attr("width"), root.attr("height")), ("104", "56"));
    }
}

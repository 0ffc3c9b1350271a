//! `l2c workflow check` and `l2c workflow show`: workflow definitions as people read them.

use anyhow::{bail, Result};
use clap::ValueEnum;
use l2c_engine::definition::{load_groups, render, svg, Definitions, Known, GROUPS_FILE};
use std::path::Path;

/// How `show` draws a definition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable listing in topological order.
    #[default]
    Text,
    /// Graphviz dot (`| dot -Tsvg > workflow.svg`).
    Dot,
    /// A Mermaid flowchart for Markdown.
    Mermaid,
    /// An SVG drawing, as the web pages show it (`> workflow.svg`).
    Svg,
}

/// Loads the groups file and every definition of `dir`, checked against the handlers compiled
/// into this binary (`l2c::handlers::builtin_names`).
pub fn load(dir: &Path) -> Result<(Known, Definitions)> {
    let groups = load_groups(&dir.join(GROUPS_FILE))?;
    let known = Known::new(l2c::handlers::builtin_names(), groups);
    let definitions = Definitions::load_dir(dir, &known)?;
    Ok((known, definitions))
}

/// Checks a directory of definitions and prints a one-line-per-definition summary.
pub fn check(dir: &Path) -> Result<()> {
    let (known, definitions) = load(dir)?;
    println!(
        "{}: OK, {} definitions, {} groups",
        dir.display(),
        definitions.len(),
        known.groups.len()
    );
    for (name, d) in definitions.iter() {
        let number = d.version.number.map_or("-".to_owned(), |n| format!("v{n}"));
        let hash = d.version.hash.get(..12).unwrap_or(&d.version.hash);
        println!(
            "  {name:<28} {number:<5} {hash}  {} stages, {} edges  {}",
            d.stages.len(),
            d.graph.edge_count(),
            d.description
        );
    }
    Ok(())
}

/// Prints one definition of `dir` in the chosen format.
pub fn show(dir: &Path, name: &str, format: Format) -> Result<()> {
    let (_, definitions) = load(dir)?;
    let Some(definition) = definitions.get(name) else {
        let names: Vec<&str> = definitions.names().collect();
        let known = if names.is_empty() {
            "it has none".to_owned()
        } else {
            format!("it has {}", names.join(", "))
        };
        bail!("no workflow `{name}` in {} ({known})", dir.display());
    };
    let drawing = match format {
        Format::Text => render::text(&definition),
        Format::Dot => render::dot(&definition),
        Format::Mermaid => render::mermaid(&definition),
        // A definition on its own: no instance, so no stage has a state.
        Format::Svg => svg::svg(&definition, &|_| None),
    };
    print!("{drawing}");
    Ok(())
}

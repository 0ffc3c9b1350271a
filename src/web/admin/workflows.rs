//! Workflows: each loaded definition drawn (the SVG the order page uses, uncoloured), with
//! every stored version of it (hash, number, first seen) and how many instances run on each
//! (`Engine::definition_versions`, one grouped count).

use super::super::page::{render, when, Chrome, Page};
use super::super::session::Viewer;
use super::super::WebState;
use super::{admin_only, tabs, Tab};
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use l2c_engine::definition::svg::svg;
use l2c_engine::runtime::DefinitionVersion;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new().route("/admin/workflows", get(list))
}

/// Hex digits of a hash shown; the whole hash is the cell's title.
const SHORT_HASH: usize = 12;

struct VersionRow {
    hash: String,
    short: String,
    number: Option<i64>,
    first_seen: String,
    running: i64,
    instances: i64,
    current: bool,
}

struct Workflow {
    name: String,
    number: Option<u32>,
    description: String,
    stages: usize,
    /// Built by the engine from escaped text: the one raw HTML of the page.
    svg: String,
    versions: Vec<VersionRow>,
}

#[derive(Template)]
#[template(path = "admin_workflows.html")]
struct WorkflowsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    workflows: Vec<Workflow>,
}

fn version_row(v: &DefinitionVersion, current_hash: &str) -> VersionRow {
    VersionRow {
        short: v.hash.chars().take(SHORT_HASH).collect(),
        hash: v.hash.clone(),
        number: v.number,
        first_seen: when(&v.first_seen),
        running: v.running,
        instances: v.instances,
        current: v.hash == current_hash,
    }
}

async fn list(State(state): State<WebState>, viewer: Viewer) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let engine = &state.app.engine;
    let versions = engine
        .definition_versions()
        .await
        .map_err(|e| viewer.error(e))?;
    let mut definitions = engine.definitions();
    definitions.sort_by(|a, b| a.name.cmp(&b.name));
    let workflows = definitions
        .iter()
        .map(|d| Workflow {
            name: d.name.clone(),
            number: d.version.number,
            description: d.description.clone(),
            stages: d.stages.len(),
            svg: svg(d, &|_| None),
            versions: versions
                .iter()
                .filter(|v| v.name == d.name)
                .map(|v| version_row(v, &d.version.hash))
                .collect(),
        })
        .collect();
    Ok(render(&WorkflowsPage {
        chrome: Chrome::new(&viewer, "Workflows", "/admin/workflows"),
        tabs: tabs(&state, "/admin/workflows"),
        workflows,
    }))
}

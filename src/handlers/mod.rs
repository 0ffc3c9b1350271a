//! The step handlers l2c registers with the engine: the simulated network, webhooks
//! configured in the settings (`webhook.<name>`), and from l2c-invoicing billing activation
//! and scheduled billing runs. `workflow check` checks definitions against
//! [`builtin_names`] (webhooks depend on the settings).

pub mod network;
pub mod webhook;

use crate::settings::Settings;
use l2c_catalog::Catalog;
use l2c_engine::clock::Clock;
use l2c_engine::db::Db;
use l2c_engine::definition::{Definitions, StageKind};
use l2c_engine::handler::{Handlers, NOOP};
use l2c_invoicing::activation::Billing;
use l2c_invoicing::Invoicing;
use l2c_orders::error::DeskResult;
use std::sync::Arc;

/// Every handler l2c serves with these settings: the simulated network (when it is on),
/// billing activation, scheduled billing runs and the configured webhooks.
pub fn register(
    db: &Db,
    catalog: &Arc<Catalog>,
    clock: &Arc<dyn Clock>,
    invoicing: &Invoicing,
    settings: &Settings,
) -> DeskResult<Handlers> {
    let mut handlers = Handlers::new();
    if settings.network.simulator {
        network::Network::new(db.clone(), settings.network.failure_rate).register(&mut handlers);
    }
    Billing::new(db.clone(), catalog.clone(), clock.clone()).register(&mut handlers);
    l2c_invoicing::schedule::register(invoicing, &mut handlers);
    webhook::Webhooks::new(&settings.webhooks)?.register(&mut handlers);
    Ok(handlers)
}

/// Every handler a task stage of `definitions` names (its own and its compensation), as
/// `(workflow, stage, handler)`.
fn task_handlers(definitions: &Definitions) -> impl Iterator<Item = (&str, &str, &str)> + '_ {
    definitions.iter().flat_map(|(name, definition)| {
        definition.stages.iter().flat_map(move |stage| {
            let handlers: Vec<&str> = match &stage.kind {
                StageKind::Task(task) => std::iter::once(task.handler.as_str())
                    .chain(task.compensation.as_deref())
                    .collect(),
                _ => Vec::new(),
            };
            handlers
                .into_iter()
                .map(move |h| (name, stage.id.as_str(), h))
        })
    })
}

/// The stages of `definitions` that the simulated network serves, as
/// `workflow/stage (handler)`.
pub fn simulated_stages(definitions: &Definitions) -> Vec<String> {
    task_handlers(definitions)
        .filter(|(_, _, handler)| network::NAMES.contains(handler))
        .map(|(workflow, stage, handler)| format!("{workflow}/{stage} ({handler})"))
        .collect()
}

/// Every handler name l2c registers.
pub fn builtin_names() -> Vec<&'static str> {
    let mut names = vec![NOOP];
    names.extend(network::NAMES);
    names.extend(l2c_invoicing::activation::NAMES);
    names.push(l2c_invoicing::schedule::HANDLER);
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[tokio::test]
    async fn the_declared_names_are_the_registered_ones_and_the_shipped_workflows_use_them() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("l2c.db").display());
        let db = Db::connect(&url, 1).await.expect("db");
        let clock: Arc<dyn Clock> = Arc::new(l2c_engine::clock::SystemClock);
        let catalog = Arc::new(Catalog::builtin().expect("catalog"));
        let settings = Settings::default();
        let invoicing = Invoicing {
            db: db.clone(),
            settings: Arc::new(settings.billing.clone()),
            clock: clock.clone(),
        };
        let registered = register(&db, &catalog, &clock, &invoicing, &settings)
            .expect("handlers")
            .names();
        let declared: BTreeSet<String> = builtin_names().into_iter().map(String::from).collect();
        assert_eq!(registered, declared);
        let mut off = Settings::default();
        off.network.simulator = false;
        let without = register(&db, &catalog, &clock, &invoicing, &off).expect("handlers");
        let simulated: Vec<String> = without
            .names()
            .into_iter()
            .filter(|n| network::NAMES.contains(&n.as_str()))
            .collect();
        assert!(simulated.is_empty(), "the simulator is off: {simulated:?}");

        let names: Vec<String> = declared.iter().cloned().collect();
        let loaded = crate::workflows::load(None, &names).expect("the shipped workflows load");
        let used: BTreeSet<String> = task_handlers(&loaded.definitions)
            .map(|(_, _, handler)| handler.to_string())
            .collect();
        let unused: Vec<&String> = declared
            .iter()
            .filter(|n| !used.contains(*n) && n.as_str() != NOOP)
            .collect();
        assert!(
            unused.is_empty(),
            "declared but used by no shipped workflow: {unused:?}"
        );
    }
}

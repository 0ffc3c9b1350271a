//! The workflow definitions shipped in `workflows/`, embedded so `l2c` runs from any
//! directory; `--workflows DIR` loads another set.

use l2c_engine::definition::{load_groups, Definitions, Known};
use std::path::Path;

/// `(file name, text)` of every shipped definition, and groups.toml.
pub const BUILTIN: [(&str, &str); 8] = [
    ("order.toml", include_str!("../workflows/order.toml")),
    ("wan-link.toml", include_str!("../workflows/wan-link.toml")),
    (
        "lan-setup.toml",
        include_str!("../workflows/lan-setup.toml"),
    ),
    (
        "bandwidth-upgrade.toml",
        include_str!("../workflows/bandwidth-upgrade.toml"),
    ),
    (
        "network-element-replacement.toml",
        include_str!("../workflows/network-element-replacement.toml"),
    ),
    (
        "disconnect.toml",
        include_str!("../workflows/disconnect.toml"),
    ),
    (
        "billing-schedule.toml",
        include_str!("../workflows/billing-schedule.toml"),
    ),
    ("groups.toml", include_str!("../workflows/groups.toml")),
];

/// Loaded definitions, the groups they may use, and what they were checked against.
pub struct Loaded {
    /// The definitions.
    pub definitions: Definitions,
    /// What they were checked against.
    pub known: Known,
    /// The declared groups, sorted.
    pub groups: Vec<String>,
}

/// Loads the shipped definitions, or those in `dir`, checked against `handlers`.
pub fn load(dir: Option<&Path>, handlers: &[String]) -> anyhow::Result<Loaded> {
    let groups = match dir {
        Some(d) => load_groups(&d.join("groups.toml"))?,
        None => {
            let (file, text) = BUILTIN[BUILTIN.len() - 1];
            l2c_engine::definition::parse_groups(&format!("workflows/{file}"), text)?
        }
    };
    let known = Known::new(handlers.iter().cloned(), groups.iter().cloned());
    let definitions = match dir {
        Some(d) => Definitions::load_dir(d, &known)?,
        None => {
            let sources: Vec<(String, String)> = BUILTIN[..BUILTIN.len() - 1]
                .iter()
                .map(|(f, t)| (format!("workflows/{f}"), (*t).to_string()))
                .collect();
            Definitions::from_sources(&sources, &known)?
        }
    };
    Ok(Loaded {
        definitions,
        known,
        groups: groups.into_iter().collect(),
    })
}

//! l2c-catalog: what a requester can order and what it costs.
//!
//! Modelled on TM Forum TMF620 without copying its JSON: an [`Offering`] (product offering
//! with its product specification) has [`CharacteristicSpec`]s, [`Price`]s (one-time and
//! recurring, flat, tiered by a characteristic, per unit), eligibility, a lifecycle, validity
//! dates, the workflow it runs, and an ITIL [`ServiceDefinition`].
//!
//! The catalog is a TOML file (`catalog/catalog.toml` ships with l2c and is embedded in the
//! binary; `docs/catalog.md` documents the format). Loading checks every rule and reports
//! every mistake with the entry it is in. An order item is validated with
//! [`Catalog::validate_item`] (all problems at once, with paths) and priced with
//! [`Catalog::quote`] at the version it is pinned to, so publishing a new version never changes
//! what an earlier order agreed to.

mod error;
mod file;
mod load;
mod model;
mod quote;
mod tiers;
mod validate;
mod value;

pub use error::{CatalogError, LoadProblem, Problem};
pub use model::{
    CharacteristicSpec, Eligibility, LifecycleStatus, ModifySpec, Offering, OrderAction, Price,
    PriceAmount, PriceKind, ServiceDefinition, Tier, TierMatch,
};
pub use quote::{Charge, Quote};
pub use validate::{ItemRequest, OrderContext, ValidItem, MAX_QUANTITY};
pub use value::{Value, ValueType};

use std::path::Path;

/// The catalog that ships with l2c, embedded at build time.
pub const BUILTIN_CATALOG: &str = include_str!("../catalog.toml");

/// A loaded, checked catalog: every version of every offering.
#[derive(Clone, Debug)]
pub struct Catalog {
    source: String,
    offerings: Vec<Offering>,
}

impl Catalog {
    /// Loads a catalog from TOML `text`; `source` names it in messages (usually the file name).
    pub fn from_toml(source: &str, text: &str) -> Result<Self, CatalogError> {
        Ok(Self {
            source: source.to_owned(),
            offerings: load::load(source, text)?,
        })
    }

    /// Reads and loads a catalog file.
    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Read {
            file: source.clone(),
            source: e,
        })?;
        Self::from_toml(&source, &text)
    }

    /// The catalog shipped with l2c.
    pub fn builtin() -> Result<Self, CatalogError> {
        Self::from_toml("catalog/catalog.toml", BUILTIN_CATALOG)
    }

    /// Where the catalog came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every offering version, ordered by id then version.
    pub fn offerings(&self) -> &[Offering] {
        &self.offerings
    }

    /// One offering version, whatever its status (used to re-price pinned orders).
    pub fn get(&self, id: &str, version: u32) -> Option<&Offering> {
        self.offerings
            .iter()
            .find(|o| o.id() == id && o.version() == version)
    }

    /// All versions of one offering, oldest first.
    pub fn versions<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Offering> + 'a {
        self.offerings.iter().filter(move |o| o.id() == id)
    }
}

#[cfg(test)]
mod tests;

//! The [`Catalog`]: every version of every offering, loaded and checked. Validating an item
//! and quoting it are in `validate` and `quote`.

use crate::error::CatalogError;
use crate::load;
use crate::model::Offering;
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

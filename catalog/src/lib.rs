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
//! what an earlier order agreed to. [`rule_words`] says a characteristic's rules in words for
//! order forms.

mod catalog;
mod error;
mod file;
mod load;
mod model;
mod quote;
mod tiers;
mod validate;
mod value;
mod words;

pub use error::{CatalogError, LoadProblem, Problem};
pub use model::{
    CharacteristicSpec, Eligibility, LifecycleStatus, ModifySpec, Offering, OrderAction, Price,
    PriceAmount, PriceKind, ServiceDefinition, Tier, TierMatch,
};
pub use quote::{Charge, Quote};
pub use validate::{ItemRequest, OrderContext, ValidItem, MAX_QUANTITY};
pub use value::{Value, ValueType};
pub use words::{pattern_words, rule_words};

pub use catalog::{Catalog, BUILTIN_CATALOG};

#[cfg(test)]
mod tests;

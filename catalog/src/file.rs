//! The catalog file's shape as written (TOML), before any rule is checked.
//!
//! Unknown keys are refused, so a misspelt field is an error rather than silently ignored.
//! `docs/catalog.md` documents every key.

use crate::model::{Eligibility, LifecycleStatus, OrderAction, ServiceDefinition};
use l2c_billing::BillingFrequency;
use serde::Deserialize;
use toml::value::Datetime;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCatalog {
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default, rename = "offering")]
    pub offerings: Vec<RawOffering>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOffering {
    pub id: String,
    pub version: u32,
    pub name: String,
    pub status: LifecycleStatus,
    pub valid_from: Option<Datetime>,
    pub valid_to: Option<Datetime>,
    pub workflow: String,
    pub actions: Vec<OrderAction>,
    #[serde(default)]
    pub eligibility: RawEligibility,
    pub service: ServiceDefinition,
    pub modifies: Option<RawModify>,
    #[serde(default, rename = "characteristic")]
    pub characteristics: Vec<RawCharacteristic>,
    #[serde(default, rename = "price")]
    pub prices: Vec<RawPrice>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEligibility {
    #[serde(default)]
    pub segments: Vec<String>,
    #[serde(default)]
    pub countries: Vec<String>,
}

impl From<RawEligibility> for Eligibility {
    fn from(raw: RawEligibility) -> Self {
        Eligibility {
            segments: raw.segments,
            countries: raw.countries,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModify {
    pub offering: String,
    #[serde(default)]
    pub increase: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCharacteristic {
    pub name: String,
    #[serde(rename = "type")]
    pub value_type: crate::value::ValueType,
    #[serde(default)]
    pub required: bool,
    pub default: Option<toml::Value>,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    #[serde(default)]
    pub allowed: Vec<toml::Value>,
    pub pattern: Option<String>,
    pub unit: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawPriceKind {
    OneTime,
    Recurring,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrice {
    pub id: String,
    pub name: String,
    pub kind: RawPriceKind,
    pub period: Option<BillingFrequency>,
    pub currency: String,
    pub amount: Option<String>,
    pub tier_by: Option<String>,
    #[serde(default)]
    pub tiers: Vec<RawTier>,
    pub per_unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTier {
    pub value: Option<toml::Value>,
    pub from: Option<toml::Value>,
    pub to: Option<toml::Value>,
    pub amount: String,
}

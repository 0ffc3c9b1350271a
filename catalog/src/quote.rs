//! Pricing a validated item: its one-time and recurring charges as exact [`Money`].
//!
//! Catalog amounts are already at the currency's minor unit and units are whole numbers, so a
//! quote is exact and needs no rounding.

use crate::catalog::Catalog;
use crate::error::CatalogError;
use crate::model::{OrderAction, Price, PriceAmount, PriceKind};
use crate::validate::ValidItem;
use l2c_billing::{BillingError, BillingFrequency, Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One priced charge of a quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// The price's id in the offering.
    pub price_id: String,
    /// Its name.
    pub name: String,
    /// One-time or recurring, with the period.
    pub kind: PriceKind,
    /// The amount for one unit.
    pub unit_amount: Money,
    /// Units charged: the per-unit characteristic (or 1) times the item quantity.
    pub units: u64,
    /// `unit_amount * units`.
    pub amount: Money,
}

/// What an item costs, at the offering version it is pinned to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The offering id.
    pub offering: String,
    /// The pinned version the prices come from.
    pub version: u32,
    /// The currency.
    pub currency: Currency,
    /// One-time charges (zero charges are left out).
    pub one_time: Vec<Charge>,
    /// Recurring charges (zero charges are left out).
    pub recurring: Vec<Charge>,
}

impl Quote {
    /// The sum of the one-time charges.
    pub fn one_time_total(&self) -> Result<Money, BillingError> {
        Money::sum(self.currency, self.one_time.iter().map(|c| c.amount))
    }

    /// The sum of the recurring charges billed every `frequency`.
    pub fn recurring_total(&self, frequency: BillingFrequency) -> Result<Money, BillingError> {
        let every = PriceKind::Recurring(frequency);
        let charges = self.recurring.iter().filter(|c| c.kind == every);
        Money::sum(self.currency, charges.map(|c| c.amount))
    }
}

impl Catalog {
    /// Prices `item` in `currency` with the offering version it is pinned to, whatever that
    /// version's lifecycle status is now. A `delete` item has no charges.
    pub fn quote(&self, item: &ValidItem, currency: Currency) -> Result<Quote, CatalogError> {
        let offering = self.get(&item.offering, item.version).ok_or_else(|| {
            CatalogError::UnknownOffering {
                id: item.offering.clone(),
                version: item.version,
            }
        })?;
        let fail = |message: String| CatalogError::Pricing {
            offering: item.offering.clone(),
            message,
        };
        let prices: Vec<_> = offering
            .prices()
            .iter()
            .filter(|p| p.currency() == currency)
            .collect();
        if prices.is_empty() {
            let sold: Vec<&str> = offering.currencies().iter().map(|c| c.code()).collect();
            return Err(fail(format!(
                "not sold in {currency} (sold in {})",
                sold.join(", ")
            )));
        }
        let mut quote = Quote {
            offering: item.offering.clone(),
            version: item.version,
            currency,
            one_time: Vec::new(),
            recurring: Vec::new(),
        };
        if item.action == OrderAction::Delete {
            // A disconnect costs nothing here: billing ends the subscription's recurring charges.
            return Ok(quote);
        }
        for price in prices {
            let Some(charge) = charge(item, price).map_err(fail)? else {
                continue;
            };
            match price.kind() {
                PriceKind::OneTime => quote.one_time.push(charge),
                PriceKind::Recurring(_) => quote.recurring.push(charge),
            }
        }
        Ok(quote)
    }
}

/// What `price` charges for `item`: its unit amount (flat, or the tier its characteristic
/// falls in) times its units (per-unit characteristic times quantity); `None` for a zero
/// charge.
fn charge(item: &ValidItem, price: &Price) -> Result<Option<Charge>, String> {
    let unit_amount = match price.amount() {
        PriceAmount::Flat(m) => *m,
        PriceAmount::Tiered { by, tiers } => {
            let value = item
                .characteristics
                .get(by)
                .ok_or_else(|| format!("`{by}` has no value"))?;
            let tier = tiers.iter().find(|t| t.when.matches(value));
            tier.ok_or_else(|| {
                format!("no tier of price `{}` covers `{by}` = {value}", price.id())
            })?
            .amount
        }
    };
    let per_unit = match price.per_unit() {
        Some(name) => item
            .characteristics
            .get(name)
            .and_then(|v| v.as_integer())
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("`{name}` has no whole-number value"))?,
        None => 1,
    };
    let units = per_unit
        .checked_mul(u64::from(item.quantity))
        .ok_or_else(|| format!("{per_unit} units x quantity {} is too many", item.quantity))?;
    let amount = unit_amount
        .times(Decimal::from(units))
        .map_err(|e| e.to_string())?;
    if amount.amount().is_zero() {
        return Ok(None);
    }
    Ok(Some(Charge {
        price_id: price.id().to_owned(),
        name: price.name().to_owned(),
        kind: price.kind(),
        unit_amount,
        units,
        amount,
    }))
}

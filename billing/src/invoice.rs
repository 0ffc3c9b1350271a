//! Invoice composition: lines, VAT per rate on summed bases, and EN 16931 document totals.
//!
//! Rounding happens at three points only (see `docs/billing.md`): a line's unit price
//! (after proration), a line's net amount (quantity times unit price), and each VAT
//! category's tax amount, computed once on the sum of its lines' nets (BR-CO-17, BR-S-08).
//! Document totals are plain sums of those rounded amounts and are never rounded again.

use crate::proration::prorate;
use crate::{BillingError, Currency, Money, Period, Rounding};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The EN 16931 VAT category (UNCL5305 code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaxCategory {
    /// `S`: standard rated.
    #[serde(rename = "S")]
    Standard,
    /// `Z`: zero rated goods.
    #[serde(rename = "Z")]
    ZeroRated,
    /// `E`: exempt from VAT.
    #[serde(rename = "E")]
    Exempt,
    /// `AE`: VAT reverse charge.
    #[serde(rename = "AE")]
    ReverseCharge,
    /// `K`: intra-community supply.
    #[serde(rename = "K")]
    IntraCommunity,
    /// `G`: export outside the EU.
    #[serde(rename = "G")]
    Export,
    /// `O`: services outside the scope of VAT.
    #[serde(rename = "O")]
    OutOfScope,
}

impl TaxCategory {
    /// The UNCL5305 code, e.g. `"S"`.
    pub fn code(self) -> &'static str {
        match self {
            TaxCategory::Standard => "S",
            TaxCategory::ZeroRated => "Z",
            TaxCategory::Exempt => "E",
            TaxCategory::ReverseCharge => "AE",
            TaxCategory::IntraCommunity => "K",
            TaxCategory::Export => "G",
            TaxCategory::OutOfScope => "O",
        }
    }
}

/// A VAT category with its percentage, checked against the category's EN 16931 rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawTaxRate", into = "RawTaxRate")]
pub struct TaxRate {
    category: TaxCategory,
    percent: Decimal,
}

#[derive(Clone, Serialize, Deserialize)]
struct RawTaxRate {
    category: TaxCategory,
    #[serde(with = "rust_decimal::serde::str")]
    percent: Decimal,
}

impl TryFrom<RawTaxRate> for TaxRate {
    type Error = BillingError;
    fn try_from(raw: RawTaxRate) -> Result<Self, Self::Error> {
        TaxRate::new(raw.category, raw.percent)
    }
}

impl From<TaxRate> for RawTaxRate {
    fn from(t: TaxRate) -> Self {
        RawTaxRate {
            category: t.category,
            percent: t.percent,
        }
    }
}

impl TaxRate {
    /// Standard rate must be above 0 and at most 100 (BR-S-05); every other category is 0%.
    pub fn new(category: TaxCategory, percent: Decimal) -> Result<Self, BillingError> {
        let bad = |rule| BillingError::TaxRate {
            category: category.code(),
            percent: percent.to_string(),
            rule,
        };
        match category {
            TaxCategory::Standard if percent <= Decimal::ZERO => {
                Err(bad("a standard rate must be greater than 0 (BR-S-05)"))
            }
            TaxCategory::Standard if percent > Decimal::ONE_HUNDRED => {
                Err(bad("a rate is at most 100"))
            }
            TaxCategory::Standard => Ok(Self {
                category,
                percent: percent.normalize(),
            }),
            _ if !percent.is_zero() => {
                Err(bad("only the standard category (S) has a non-zero rate"))
            }
            _ => Ok(Self {
                category,
                percent: Decimal::ZERO,
            }),
        }
    }

    /// The category.
    pub fn category(&self) -> TaxCategory {
        self.category
    }

    /// The percentage, e.g. 19 for 19%.
    pub fn percent(&self) -> Decimal {
        self.percent
    }
}

impl fmt::Display for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}%", self.category.code(), self.percent)
    }
}

/// One invoice line: `net = quantity * unit_price`, rounded to the minor unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    description: String,
    period: Option<Period>,
    #[serde(with = "rust_decimal::serde::str")]
    quantity: Decimal,
    unit_price: Money,
    net: Money,
    tax: TaxRate,
}

impl InvoiceLine {
    /// A line of `quantity` (negative for a credit) at `unit_price` (never negative, BR-27),
    /// both the unit price and the net rounded with `rounding`.
    pub fn new(
        description: impl Into<String>,
        period: Option<Period>,
        quantity: Decimal,
        unit_price: Money,
        tax: TaxRate,
        rounding: Rounding,
    ) -> Result<Self, BillingError> {
        if unit_price.amount().is_sign_negative() && !unit_price.amount().is_zero() {
            return Err(BillingError::NegativePrice(unit_price.to_string()));
        }
        let unit_price = unit_price.round(rounding);
        let net = unit_price.times(quantity)?.round(rounding);
        Ok(Self {
            description: description.into(),
            period,
            quantity,
            unit_price,
            net,
            tax,
        })
    }

    /// A line for the part `part` of `full`: the unit price is `full_price` prorated by days.
    pub fn prorated(
        description: impl Into<String>,
        part: Period,
        full: &Period,
        quantity: Decimal,
        full_price: Money,
        tax: TaxRate,
        rounding: Rounding,
    ) -> Result<Self, BillingError> {
        let unit = prorate(full_price, part.start(), part.end(), full, rounding)?;
        Self::new(description, Some(part), quantity, unit, tax, rounding)
    }

    /// What the line is for.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The service period the line covers, if any.
    pub fn period(&self) -> Option<Period> {
        self.period
    }
    /// The quantity (negative for credits).
    pub fn quantity(&self) -> Decimal {
        self.quantity
    }
    /// The unit price, rounded.
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }
    /// The net amount, rounded.
    pub fn net(&self) -> Money {
        self.net
    }
    /// The VAT category and rate.
    pub fn tax(&self) -> TaxRate {
        self.tax
    }
}

/// Whether a document is an invoice or a credit note.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A commercial invoice (UNCL1001 380).
    Invoice,
    /// A credit note (UNCL1001 381): its positive amounts are owed back to the buyer.
    CreditNote,
}

impl DocumentKind {
    /// How it is written down: `invoice` or `credit_note`.
    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::CreditNote => "credit_note",
        }
    }
}

/// The VAT breakdown for one category and rate (EN 16931 BG-23).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxSubtotal {
    /// Category and rate.
    pub rate: TaxRate,
    /// BT-116: sum of the line nets at this rate.
    pub taxable: Money,
    /// BT-117: `taxable * rate / 100`, rounded once.
    pub tax: Money,
}

/// Document totals (EN 16931 BG-22).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// BT-106: sum of line net amounts.
    pub line_net_total: Money,
    /// BT-107: document-level allowances (l2c issues none yet).
    pub allowance_total: Money,
    /// BT-108: document-level charges (l2c issues none yet).
    pub charge_total: Money,
    /// BT-109: total without VAT.
    pub tax_exclusive: Money,
    /// BT-110: total VAT.
    pub tax_total: Money,
    /// BT-112: total with VAT.
    pub tax_inclusive: Money,
    /// BT-113: amount already paid.
    pub prepaid: Money,
    /// BT-114: rounding amount (always zero: l2c never rounds a total).
    pub rounding_amount: Money,
    /// BT-115: amount due.
    pub payable: Money,
}

/// An invoice or credit note with its lines, VAT breakdown and totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    kind: DocumentKind,
    currency: Currency,
    lines: Vec<InvoiceLine>,
    tax_subtotals: Vec<TaxSubtotal>,
    totals: Totals,
}

impl Invoice {
    /// Composes a document from `lines` (all in `currency`) and an amount already `prepaid`
    /// (rounded to the minor unit once, before it is used).
    pub fn compose(
        kind: DocumentKind,
        currency: Currency,
        lines: Vec<InvoiceLine>,
        prepaid: Money,
        rounding: Rounding,
    ) -> Result<Self, BillingError> {
        if lines.is_empty() {
            return Err(BillingError::NoLines);
        }
        let zero = Money::zero(currency);
        let line_net_total = Money::sum(currency, lines.iter().map(InvoiceLine::net))?;
        let tax_subtotals = tax_breakdown(currency, &lines, rounding)?;
        let tax_total = Money::sum(currency, tax_subtotals.iter().map(|s| s.tax))?;
        let tax_exclusive = line_net_total;
        let tax_inclusive = tax_exclusive.checked_add(tax_total)?;
        let prepaid = prepaid.round(rounding);
        let payable = tax_inclusive.checked_sub(prepaid)?;
        let totals = Totals {
            line_net_total,
            allowance_total: zero,
            charge_total: zero,
            tax_exclusive,
            tax_total,
            tax_inclusive,
            prepaid,
            rounding_amount: zero,
            payable,
        };
        Ok(Self {
            kind,
            currency,
            lines,
            tax_subtotals,
            totals,
        })
    }

    /// A credit note that reverses this whole invoice: same lines, same totals, owed back.
    pub fn credit_note(&self) -> Invoice {
        let mut note = self.clone();
        note.kind = DocumentKind::CreditNote;
        note.totals.payable = note.totals.tax_inclusive;
        note.totals.prepaid = Money::zero(self.currency);
        note
    }

    /// Invoice or credit note.
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }
    /// The document currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// The lines, in order.
    pub fn lines(&self) -> &[InvoiceLine] {
        &self.lines
    }
    /// VAT per category and rate, ordered by category then rate.
    pub fn tax_subtotals(&self) -> &[TaxSubtotal] {
        &self.tax_subtotals
    }
    /// The totals.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Checks the document against EN 16931 BR-CO-10, 13, 14, 15, 16, 17 and BR-S-08 by
    /// recomputing each rule from its definition; returns one message per broken rule.
    pub fn check_rules(&self) -> Vec<String> {
        crate::invoice_rules::check(self)
    }
}

/// Groups lines by (category, rate) and taxes each group's summed net once.
fn tax_breakdown(
    currency: Currency,
    lines: &[InvoiceLine],
    rounding: Rounding,
) -> Result<Vec<TaxSubtotal>, BillingError> {
    let mut bases: BTreeMap<TaxRate, Money> = BTreeMap::new();
    for line in lines {
        let base = bases
            .entry(line.tax)
            .or_insert_with(|| Money::zero(currency));
        *base = base.checked_add(line.net)?;
    }
    bases
        .into_iter()
        .map(|(rate, taxable)| {
            let tax = taxable
                .times(rate.percent)?
                .times_ratio(1, 100)?
                .round(rounding);
            Ok(TaxSubtotal { rate, taxable, tax })
        })
        .collect()
}

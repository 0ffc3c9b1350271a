//! The billing crate's one error type.

use crate::Currency;
use chrono::NaiveDate;
use thiserror::Error;

/// Everything that can go wrong in money and billing arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BillingError {
    /// The code is not an ISO 4217 currency with a defined minor unit.
    #[error("currency `{0}` is not an ISO 4217 code with a minor unit (e.g. EUR, USD, JPY)")]
    UnknownCurrency(String),
    /// An amount string could not be read as a decimal number.
    #[error("amount `{0}` is not a decimal number (write it like \"1250.00\")")]
    BadAmount(String),
    /// Two amounts in different currencies were combined.
    #[error("cannot combine {left} with {right}: amounts in different currencies")]
    CurrencyMismatch {
        /// Currency of the left operand.
        left: Currency,
        /// Currency of the right operand.
        right: Currency,
    },
    /// An operation left the range `rust_decimal` can represent exactly.
    #[error("amount out of range while computing {0}")]
    Overflow(&'static str),
    /// A division by zero (a ratio with a zero denominator).
    #[error("division by zero while computing {0}")]
    DivisionByZero(&'static str),
    /// A date too close to the calendar's limits to have a billing period.
    #[error("{0} is outside the dates l2c can bill (years 1 to 9998)")]
    DateOutOfRange(NaiveDate),
    /// A billing cycle day outside 1..=31.
    #[error("billing cycle day {0} is outside 1..=31")]
    CycleDay(u32),
    /// An anchor month outside 1..=12.
    #[error("anchor month {0} is outside 1..=12")]
    AnchorMonth(u32),
    /// A period whose end is not after its start.
    #[error("period {start}..{end} is empty: the end must be after the start")]
    EmptyPeriod {
        /// First day of the period.
        start: NaiveDate,
        /// First day after the period.
        end: NaiveDate,
    },
    /// A part of a period that lies outside it.
    #[error("{from}..{to} is not inside the period {start}..{end}")]
    OutsidePeriod {
        /// First day of the part.
        from: NaiveDate,
        /// First day after the part.
        to: NaiveDate,
        /// First day of the period.
        start: NaiveDate,
        /// First day after the period.
        end: NaiveDate,
    },
    /// A tax rate that breaks an EN 16931 rule for its category.
    #[error("tax rate {percent}% is not allowed for category {category}: {rule}")]
    TaxRate {
        /// The category code (S, Z, E, AE, K, G, O).
        category: &'static str,
        /// The offending percentage.
        percent: String,
        /// What the rule requires.
        rule: &'static str,
    },
    /// A unit price below zero (EN 16931 BR-27); credits use a negative quantity instead.
    #[error("unit price {0} is negative: an item price may not be negative (BR-27); credit with a negative quantity")]
    NegativePrice(String),
    /// An invoice with no lines.
    #[error("an invoice needs at least one line")]
    NoLines,
    /// Writing an export to its output failed (the I/O error as text, so that this type stays
    /// `Clone` and `Eq`).
    #[error("could not write the {format} export: {reason}")]
    Export {
        /// The export format, e.g. `UBL`.
        format: &'static str,
        /// What went wrong underneath.
        reason: String,
    },
    /// A document field EN 16931 requires is missing or malformed.
    #[error("{field}: {rule}")]
    Document {
        /// The field's path, e.g. `buyer.country`.
        field: String,
        /// What the rule requires.
        rule: &'static str,
    },
}

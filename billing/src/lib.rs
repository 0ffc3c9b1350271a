//! l2c-billing: exact money and the arithmetic of billing.
//!
//! Everything here is pure and deterministic: no I/O, no clock, no floats.
//!
//! - [`Currency`] and [`Money`]: ISO 4217 amounts as `rust_decimal::Decimal`; combining two
//!   currencies is an error, never a conversion.
//! - [`Rounding`]: the one rounding rule, applied only at the points listed in `docs/billing.md`.
//! - [`BillingCycle`] and [`Period`]: monthly/quarterly/yearly periods aligned to a billing cycle
//!   day, with short months clamped to their last day.
//! - [`proration`]: day-based proration and mid-period changes.
//! - [`invoice`]: invoice lines, tax per rate on summed bases, and EN 16931 totals.
//! - [`rating`]: what an invoice for a period carries, recomputed against what was billed.
//! - [`document`]: an issued invoice or credit note with its number, dates and parties,
//!   [`Contact`] and [`PaymentMeans`] among them; [`eas`] the electronic address schemes.
//! - [`ubl`]: an issued document as a UBL 2.1 Peppol BIS Billing 3.0 invoice or credit note.
//! - [`pdf`]: an issued document as a readable A4 PDF invoice or credit note.

mod currency;
pub mod document;
pub mod eas;
mod error;
pub mod invoice;
mod invoice_rules;
mod money;
mod payment;
pub mod pdf;
mod period;
mod printed;
pub mod proration;
pub mod rating;
pub mod ubl;

pub use currency::Currency;
pub use document::{IssuedDocument, Party, PrecedingInvoice};
pub use error::BillingError;
pub use invoice::{DocumentKind, Invoice, InvoiceLine, TaxCategory, TaxRate, TaxSubtotal, Totals};
pub use money::{Money, Rounding};
pub use payment::{is_bic, Contact, PaymentMeans, PAYMENT_MEANS_CODES};
pub use period::{BillingCycle, BillingCycleDay, BillingFrequency, Period};
pub use proration::{mid_period_change, proration_factor, PeriodChange};
pub use rating::{rate, BilledLine, ChargeKind, ChargeTerm, RatedLine};

//! The billing section of l2c's settings (`[billing]` in the settings file): what every
//! invoice shares and how big a run's transactions are.

use l2c_billing::{Contact, Party, PaymentMeans, Rounding, TaxCategory, TaxRate};
use l2c_orders::error::{problem, FieldProblem};
use rust_decimal::Decimal;
use serde::Deserialize;

/// What every invoice shares: the seller, the default VAT, the rounding rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingSettings {
    /// The seller on every invoice (EN 16931 BG-4). The default is a placeholder for demos
    /// and tests: set your own before issuing real invoices.
    pub seller: Party,
    /// The VAT of accounts that set none.
    pub default_tax: TaxRate,
    /// `half_away_from_zero` (the default) or `half_even`.
    pub rounding: Rounding,
    /// Accounts rated and written per transaction in a billing run.
    pub accounts_per_chunk: usize,
}

impl Default for BillingSettings {
    fn default() -> Self {
        BillingSettings {
            seller: Party {
                name: "l2c Demo Networks GmbH".into(),
                street: "Beispielstrasse 1".into(),
                city: "Berlin".into(),
                postcode: "10115".into(),
                country: "DE".into(),
                vat_id: Some("DE999999999".into()),
                endpoint_scheme: "9930".into(),
                endpoint_id: "DE999999999".into(),
                contact: Some(Contact {
                    name: "Accounts receivable".into(),
                    phone: "+49 30 0000000".into(),
                    email: "billing@demo.l2c.invalid".into(),
                }),
                payment: Some(PaymentMeans {
                    code: "58".into(),
                    // A checksum-valid IBAN of the Bundesbank's example range: demos only.
                    account: "DE89370400440532013000".into(),
                    account_name: None,
                    bic: Some("COBADEFFXXX".into()),
                }),
            },
            default_tax: TaxRate::new(TaxCategory::Standard, Decimal::from(19))
                .unwrap_or_else(|_| unreachable!("19% is a valid standard rate")),
            rounding: Rounding::HalfAwayFromZero,
            accounts_per_chunk: 500,
        }
    }
}

impl BillingSettings {
    /// Every value that breaks a rule, with its path under `prefix` (e.g. `billing.`).
    pub fn problems(&self, prefix: &str) -> Vec<FieldProblem> {
        let mut problems: Vec<FieldProblem> = self
            .seller
            .problems()
            .into_iter()
            .map(|(field, rule)| problem(format!("{prefix}seller.{field}"), "party", rule))
            .collect();
        // Every document carries both (BG-6 and BG-16): a payer needs them, and Peppol's
        // German CIUS refuses documents without them (DE-R-001, DE-R-002).
        if self.seller.contact.is_none() {
            problems.push(problem(
                format!("{prefix}seller.contact"),
                "required",
                "must give the seller's contact: name, phone and email (BG-6)",
            ));
        }
        if self.seller.payment.is_none() {
            problems.push(problem(
                format!("{prefix}seller.payment"),
                "required",
                "must give how buyers pay: code (58, 30 or 31), account and optional bic (BG-16)",
            ));
        }
        if !(1..=10_000).contains(&self.accounts_per_chunk) {
            problems.push(problem(
                format!("{prefix}accounts_per_chunk"),
                "range",
                "must be 1 to 10000",
            ));
        }
        problems
    }
}

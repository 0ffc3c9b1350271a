//! An issued document: an [`Invoice`] (or credit note) with what EN 16931 needs around it —
//! its number, dates, the seller and buyer parties, and for a credit note the invoice it
//! corrects. Exports (CSV, JSON, UBL) read this one type.

use crate::eas::is_eas_code;
use crate::{BillingError, Contact, Invoice, InvoiceLine, PaymentMeans, Period};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A seller or buyer (EN 16931 BG-4 / BG-7 with their postal address and electronic address).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// BT-27 / BT-44: the legal name.
    pub name: String,
    /// BT-35 / BT-50: street and number.
    pub street: String,
    /// BT-37 / BT-52: city.
    pub city: String,
    /// BT-38 / BT-53: post code.
    pub postcode: String,
    /// BT-40 / BT-55: ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// BT-31 / BT-48: VAT identifier with its country prefix, e.g. `DE123456789`.
    #[serde(default)]
    pub vat_id: Option<String>,
    /// BT-34 / BT-49 scheme (Peppol EAS code, e.g. `0088` for GLN, `9930` for a German VAT id).
    pub endpoint_scheme: String,
    /// BT-34 / BT-49: the electronic address in that scheme.
    pub endpoint_id: String,
    /// BG-6 / BG-9: who to ask. Required of the seller (settings), optional for a buyer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// BG-16: how this party is paid; the seller's only (a buyer's is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentMeans>,
}

impl Party {
    /// Every field that is required but empty or malformed, as `(field, rule)` pairs.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        for (field, value) in [
            ("name", &self.name),
            ("street", &self.street),
            ("city", &self.city),
            ("postcode", &self.postcode),
            ("endpoint_scheme", &self.endpoint_scheme),
            ("endpoint_id", &self.endpoint_id),
        ] {
            if value.trim().is_empty() {
                out.push((field, "must not be empty"));
            }
        }
        let country_ok =
            self.country.len() == 2 && self.country.chars().all(|c| c.is_ascii_uppercase());
        if !country_ok {
            out.push(("country", "must be an ISO 3166-1 alpha-2 code such as DE"));
        }
        if self
            .vat_id
            .as_deref()
            .is_some_and(|v| v.len() < 3 || !v.chars().take(2).all(|c| c.is_ascii_uppercase()))
        {
            out.push((
                "vat_id",
                "must start with a two-letter country prefix, e.g. DE123456789",
            ));
        }
        if let Some(contact) = &self.contact {
            out.extend(contact.problems());
        }
        if let Some(payment) = &self.payment {
            out.extend(payment.problems());
        }
        if self.endpoint_scheme == "0088" && !is_gln(&self.endpoint_id) {
            out.push((
                "endpoint_id",
                "must be a GLN of 13 digits whose last is its GS1 check digit (scheme 0088)",
            ));
        }
        if !self.endpoint_scheme.trim().is_empty() && !is_eas_code(&self.endpoint_scheme) {
            out.push((
                "endpoint_scheme",
                "must be a code of the Peppol EAS list, e.g. 0088 (GLN) or 9930 (German VAT id)",
            ));
        }
        out
    }
}

/// A GS1 Global Location Number: 13 digits, the last the check digit of the other twelve
/// (weights 3 and 1 alternating from the right), as Peppol checks it (PEPPOL-COMMON-R040).
fn is_gln(id: &str) -> bool {
    let digits: Vec<u32> = id.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 13 || id.len() != 13 {
        return false;
    }
    let sum: u32 = digits[..12]
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10 == digits[12]
}

/// The invoice a credit note corrects (EN 16931 BG-3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrecedingInvoice {
    /// BT-25: its number.
    pub number: String,
    /// BT-26: its issue date.
    pub issue_date: NaiveDate,
}

/// An issued invoice or credit note with everything an export writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedDocument {
    /// BT-1: the number from the gapless series, e.g. `INV-2026-000001`.
    pub number: String,
    /// BT-2: the issue date.
    pub issue_date: NaiveDate,
    /// BT-9: the payment due date (invoices only).
    pub due_date: Option<NaiveDate>,
    /// BT-10: the buyer reference (l2c writes the billing account id).
    pub buyer_reference: String,
    /// BG-14: the invoicing period, if the document covers one.
    pub period: Option<Period>,
    /// BT-20: payment terms in words, e.g. `Net 30 days`.
    pub payment_terms: Option<String>,
    /// BG-3: what a credit note corrects.
    pub preceding: Option<PrecedingInvoice>,
    /// BG-4: the seller.
    pub seller: Party,
    /// BG-7: the buyer.
    pub buyer: Party,
    /// The lines, VAT breakdown, totals, kind and currency.
    pub invoice: Invoice,
}

impl IssuedDocument {
    /// Checks what EN 16931 requires beside the amounts: a number, a buyer reference and
    /// parties with their mandatory fields. Returns every problem as `(field path, rule)`.
    pub fn problems(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        if self.number.trim().is_empty() {
            out.push(("number".to_string(), "must not be empty (BR-02)"));
        }
        if self.buyer_reference.trim().is_empty() {
            out.push(("buyer_reference".to_string(), "must not be empty"));
        }
        for (who, party) in [("seller", &self.seller), ("buyer", &self.buyer)] {
            for (field, rule) in party.problems() {
                out.push((format!("{who}.{field}"), rule));
            }
        }
        for (i, line) in self.invoice.lines().iter().enumerate() {
            if line.description().trim().is_empty() {
                let field = format!("invoice.lines[{i}].description");
                out.push((field, "must not be empty: it is the item name (BR-25)"));
            }
            let outside = match (&self.period, line.period()) {
                (Some(document), Some(own)) => !document.covers(&own),
                _ => false,
            };
            if outside {
                let field = format!("invoice.lines[{i}].period");
                out.push((
                    field,
                    "must lie within the document's period (PEPPOL-EN16931-R110, R111)",
                ));
            }
        }
        out
    }

    /// The document period (BG-14) of a document that bills `base` with `invoice`'s lines:
    /// `base` widened until it covers every line's period, since a line may adjust a period
    /// invoiced before or bill a quarter or year ahead, and Peppol refuses a line period
    /// outside the document's (PEPPOL-EN16931-R110, R111). The period a run billed stays
    /// with the stored invoice for finance; this one is what the document says it covers.
    pub fn period_covering(base: Period, invoice: &Invoice) -> Period {
        invoice
            .lines()
            .iter()
            .filter_map(InvoiceLine::period)
            .fold(base, |all, line| all.hull(&line))
    }

    /// Fails with the first problem [`IssuedDocument::problems`] finds.
    pub fn check(&self) -> Result<(), BillingError> {
        match self.problems().into_iter().next() {
            Some((field, rule)) => Err(BillingError::Document { field, rule }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glns_carry_their_gs1_check_digit() {
        for ok in ["4000001000005", "5790000435975", "0000000000000"] {
            assert!(is_gln(ok), "{ok}");
        }
        for bad in [
            "4000001000006",
            "400000100000",
            "40000010000050",
            "4000001O00005",
            "1",
        ] {
            assert!(!is_gln(bad), "{bad}");
        }
    }
}

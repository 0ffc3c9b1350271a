//! How values read on the page: amounts, quantities, dates, periods, VAT rates, IBANs.
//!
//! Amounts and blanks print through [`crate::printed`], as in the UBL file, so the PDF and
//! the XML of one document show the same digits.

use crate::{Period, TaxCategory, TaxRate};
use chrono::NaiveDate;

/// ISO 8601, as in the UBL file, so the two read the same in any language.
pub(super) fn date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// First day – last day: [`Period`] is half-open, a reader expects the last day billed.
pub(super) fn period(period: &Period) -> String {
    format!("{} – {}", date(period.start()), date(period.last_day()))
}

/// `S 19%`; out of scope (O) has no rate at all, as in the UBL file (BR-O-05).
pub(super) fn rate(rate: TaxRate) -> String {
    let code = rate.category().code();
    match percent(rate) {
        Some(percent) => format!("{code} {percent}"),
        None => code.to_string(),
    }
}

/// `19%`, or nothing for out of scope (O).
pub(super) fn percent(rate: TaxRate) -> Option<String> {
    (rate.category() != TaxCategory::OutOfScope).then(|| format!("{}%", rate.percent().normalize()))
}

/// What a VAT category means, for the breakdown (the UNCL5305 names, shortened).
pub(super) fn category_name(category: TaxCategory) -> &'static str {
    match category {
        TaxCategory::Standard => "Standard rate",
        TaxCategory::ZeroRated => "Zero rated",
        TaxCategory::Exempt => "Exempt from VAT",
        TaxCategory::ReverseCharge => "Reverse charge",
        TaxCategory::IntraCommunity => "Intra-community supply",
        TaxCategory::Export => "Export outside the EU",
        TaxCategory::OutOfScope => "Not subject to VAT",
    }
}

/// An IBAN in groups of four, the paper format of ISO 13616 that people type from.
pub(super) fn iban(account: &str) -> String {
    let chars: Vec<char> = account.chars().filter(|c| !c.is_whitespace()).collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn ibans_print_in_groups_of_four_and_rates_name_their_category() {
        assert_eq!(
            iban("DE89370400440532013000"),
            "DE89 3704 0044 0532 0130 00"
        );
        let standard = TaxRate::new(TaxCategory::Standard, dec!(7.50)).expect("rate");
        assert_eq!(rate(standard), "S 7.5%");
        let out = TaxRate::new(TaxCategory::OutOfScope, dec!(0)).expect("rate");
        assert_eq!(rate(out), "O");
    }
}

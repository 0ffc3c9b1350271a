//! How a document's values print, the same in every export (UBL, PDF): amounts with exactly
//! their currency's minor-unit decimals, never `-0`, and blank optional values left out, so
//! the XML and the PDF of one document show the same digits.

use crate::{BillingError, Currency, Money};
use rust_decimal::Decimal;

/// The amount with exactly `currency`'s minor-unit decimals. Composed invoices are already
/// rounded; anything else is refused rather than rounded here, so an export never differs
/// from what was booked.
pub(crate) fn amount_text(money: Money, currency: Currency) -> Result<String, BillingError> {
    if money.currency() != currency {
        return Err(BillingError::CurrencyMismatch {
            left: currency,
            right: money.currency(),
        });
    }
    if !money.is_rounded() {
        return Err(BillingError::Document {
            field: format!("amount {money}"),
            rule: "must be rounded to the currency's minor unit before export",
        });
    }
    let mut amount = money.amount();
    amount.rescale(currency.minor_units());
    Ok(plain_decimal(amount))
}

/// Decimal text without an exponent, and `0` rather than `-0` (a zero product of a negative
/// quantity keeps its sign in `Decimal`).
pub(crate) fn plain_decimal(mut value: Decimal) -> String {
    if value.is_zero() {
        value.set_sign_positive(true);
    }
    value.to_string()
}

/// `value` unless it is blank: an optional field left empty is not written at all (Peppol
/// refuses empty elements, PEPPOL-EN16931-R008) nor printed as a label with nothing after it.
pub(crate) fn filled(value: &str) -> Option<&str> {
    Some(value).filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).expect("known currency")
    }

    #[test]
    fn amounts_show_every_minor_digit_and_no_negative_zero() {
        let text = |a, c| amount_text(Money::new(a, c), c).expect("rounded");
        assert_eq!(text(dec!(5), cur("EUR")), "5.00");
        assert_eq!(text(dec!(-12.5), cur("EUR")), "-12.50");
        assert_eq!(text(dec!(1200), cur("JPY")), "1200");
        assert_eq!(text(dec!(1.2), cur("BHD")), "1.200");
        assert_eq!(text(-dec!(0.00), cur("EUR")), "0.00");
        assert_eq!(plain_decimal(dec!(-3)), "-3");
    }

    #[test]
    fn unrounded_or_foreign_amounts_are_refused() {
        let (eur, usd) = (cur("EUR"), cur("USD"));
        assert!(amount_text(Money::new(dec!(1.005), eur), eur).is_err());
        assert!(matches!(
            amount_text(Money::new(dec!(1), usd), eur),
            Err(BillingError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn blank_optional_values_are_left_out() {
        assert_eq!(filled("DE123456789"), Some("DE123456789"));
        assert_eq!(filled(" a "), Some(" a "), "printed as given");
        for blank in ["", " ", "\t\n", "\u{a0}"] {
            assert_eq!(filled(blank), None, "{blank:?}");
        }
    }
}

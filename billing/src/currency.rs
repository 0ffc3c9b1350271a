//! ISO 4217 currencies with their minor unit, backed by the `iso_currency` tables.

use crate::BillingError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An ISO 4217 currency that has a minor unit (EUR: 2 decimals, JPY: 0, BHD: 3).
///
/// Precious metals, testing codes and other codes without a minor unit are refused, because an
/// amount in them cannot be rounded to "the currency's minor unit".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    iso: iso_currency::Currency,
    minor_units: u32,
}

impl Currency {
    /// Looks up an upper-case ISO 4217 alphabetic code such as `"EUR"`.
    pub fn from_code(code: &str) -> Result<Self, BillingError> {
        let unknown = || BillingError::UnknownCurrency(code.to_owned());
        let iso = iso_currency::Currency::from_code(code).ok_or_else(unknown)?;
        let minor_units = iso.exponent().ok_or_else(unknown)?;
        Ok(Self {
            iso,
            minor_units: u32::from(minor_units),
        })
    }

    /// Every code [`Currency::from_code`] accepts, in ISO order.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        use iso_currency::IntoEnumIterator;
        iso_currency::Currency::iter()
            .filter(|iso| iso.exponent().is_some())
            .map(|iso| iso.code())
    }

    /// The three-letter code, e.g. `"EUR"`.
    pub fn code(self) -> &'static str {
        self.iso.code()
    }

    /// Decimal places of the minor unit: 2 for EUR, 0 for JPY, 3 for BHD.
    pub fn minor_units(self) -> u32 {
        self.minor_units
    }
}

impl FromStr for Currency {
    type Err = BillingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_code(s)
    }
}

impl TryFrom<String> for Currency {
    type Error = BillingError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_code(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_of_the_required_currencies() {
        for (code, units) in [
            ("USD", 2),
            ("EUR", 2),
            ("GBP", 2),
            ("CHF", 2),
            ("JPY", 0),
            ("BHD", 3),
        ] {
            let c = Currency::from_code(code).expect(code);
            assert_eq!(c.minor_units(), units, "{code}");
            assert_eq!(c.code(), code);
        }
    }

    #[test]
    fn refuses_unknown_and_unitless_codes() {
        for code in ["XYZ", "eur", "", "EURO", "XAU"] {
            assert_eq!(
                Currency::from_code(code),
                Err(BillingError::UnknownCurrency(code.to_owned())),
                "{code}"
            );
        }
    }

    #[test]
    fn serde_uses_the_code() {
        let c: Currency = serde_json::from_str("\"CHF\"").expect("valid");
        assert_eq!(c.code(), "CHF");
        assert_eq!(serde_json::to_string(&c).expect("serializes"), "\"CHF\"");
        let err = serde_json::from_str::<Currency>("\"ABC\"").expect_err("unknown");
        assert!(err.to_string().contains("ABC"), "{err}");
    }
}

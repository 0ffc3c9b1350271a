//! Exact amounts of money and the one rounding rule.
//!
//! A [`Money`] may carry more decimals than its currency's minor unit while it is an
//! intermediate result (a price times a proration factor). It is rounded with
//! [`Money::round`] only at the points documented in `docs/billing.md`.

use crate::{BillingError, Currency};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How an amount is rounded to its currency's minor unit.
///
/// The default, half away from zero, is what Kill Bill and most invoicing does
/// (2.345 -> 2.35, -2.345 -> -2.35). Half even (banker's rounding) is available for
/// jurisdictions that require it (2.345 -> 2.34, 2.355 -> 2.36).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Midpoints move away from zero.
    #[default]
    HalfAwayFromZero,
    /// Midpoints move to the even neighbour.
    HalfEven,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfAwayFromZero => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
        }
    }
}

/// An exact amount in one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// An amount as given, with any number of decimals (an intermediate value).
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Zero in `currency`, shown with the currency's decimals.
    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::new(0, currency.minor_units()), currency)
    }

    /// Parses a decimal string such as `"1250.00"` (no exponent, no float).
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, BillingError> {
        let amount = Decimal::from_str(amount.trim())
            .map_err(|_| BillingError::BadAmount(amount.to_owned()))?;
        Ok(Self::new(amount, currency))
    }

    /// The amount, exactly as stored.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// True when the amount has no more decimals than the currency's minor unit.
    pub fn is_rounded(&self) -> bool {
        self.amount.normalize().scale() <= self.currency.minor_units()
    }

    /// Rounds to the currency's minor unit with `rule`, always showing all minor digits.
    pub fn round(self, rule: Rounding) -> Self {
        let units = self.currency.minor_units();
        let mut amount = self.amount.round_dp_with_strategy(units, rule.strategy());
        amount.rescale(units);
        Self::new(amount, self.currency)
    }

    fn same_currency(&self, other: &Money) -> Result<(), BillingError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(BillingError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`; an error for different currencies or overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, BillingError> {
        self.same_currency(&other)?;
        let sum = self.amount.checked_add(other.amount);
        Ok(Self::new(
            sum.ok_or(BillingError::Overflow("a sum"))?,
            self.currency,
        ))
    }

    /// `self - other`; an error for different currencies or overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, BillingError> {
        self.checked_add(-other)
    }

    /// `self * factor`, unrounded; an error on overflow.
    pub fn times(self, factor: Decimal) -> Result<Money, BillingError> {
        let product = self.amount.checked_mul(factor);
        Ok(Self::new(
            product.ok_or(BillingError::Overflow("a product"))?,
            self.currency,
        ))
    }

    /// `self * numerator / denominator`, multiplying first so that day fractions such as
    /// 23/31 stay as exact as `Decimal`'s 28 digits allow.
    pub fn times_ratio(self, numerator: i64, denominator: i64) -> Result<Money, BillingError> {
        if denominator == 0 {
            return Err(BillingError::DivisionByZero("a ratio"));
        }
        let overflow = BillingError::Overflow("a ratio");
        let scaled = self
            .amount
            .checked_mul(Decimal::from(numerator))
            .ok_or(overflow.clone())?;
        let amount = scaled
            .checked_div(Decimal::from(denominator))
            .ok_or(overflow)?;
        Ok(Self::new(amount, self.currency))
    }

    /// The sum of `items`, all in `currency` (zero when empty).
    pub fn sum<I: IntoIterator<Item = Money>>(
        currency: Currency,
        items: I,
    ) -> Result<Money, BillingError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money::new(-self.amount, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.amount)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).expect("known currency")
    }

    fn m(amount: Decimal, code: &str) -> Money {
        Money::new(amount, cur(code))
    }

    #[test]
    fn rounds_half_away_from_zero_by_default() {
        let r = Rounding::default();
        assert_eq!(m(dec!(2.345), "EUR").round(r).amount(), dec!(2.35));
        assert_eq!(m(dec!(-2.345), "EUR").round(r).amount(), dec!(-2.35));
        assert_eq!(m(dec!(2.344), "EUR").round(r).amount(), dec!(2.34));
        assert_eq!(m(dec!(0.5), "JPY").round(r).amount(), dec!(1));
        assert_eq!(m(dec!(1.2345), "BHD").round(r).amount(), dec!(1.235));
    }

    #[test]
    fn rounds_half_even_when_configured() {
        let r = Rounding::HalfEven;
        assert_eq!(m(dec!(2.345), "EUR").round(r).amount(), dec!(2.34));
        assert_eq!(m(dec!(2.355), "EUR").round(r).amount(), dec!(2.36));
        assert_eq!(m(dec!(2.5), "JPY").round(r).amount(), dec!(2));
    }

    #[test]
    fn rounded_amounts_show_every_minor_digit() {
        let r = Rounding::default();
        assert_eq!(m(dec!(5), "EUR").round(r).to_string(), "EUR 5.00");
        assert_eq!(m(dec!(5), "BHD").round(r).to_string(), "BHD 5.000");
        assert_eq!(m(dec!(5.4), "JPY").round(r).to_string(), "JPY 5");
        assert_eq!(Money::zero(cur("GBP")).to_string(), "GBP 0.00");
    }

    #[test]
    fn combining_currencies_is_an_error() {
        let err = m(dec!(1), "EUR").checked_add(m(dec!(1), "USD"));
        assert_eq!(
            err,
            Err(BillingError::CurrencyMismatch {
                left: cur("EUR"),
                right: cur("USD")
            })
        );
        assert!(m(dec!(1), "EUR").checked_sub(m(dec!(1), "CHF")).is_err());
        assert!(Money::sum(cur("EUR"), [m(dec!(1), "EUR"), m(dec!(2), "GBP")]).is_err());
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let big = m(Decimal::MAX, "EUR");
        assert_eq!(big.checked_add(big), Err(BillingError::Overflow("a sum")));
        assert!(big.times(dec!(2)).is_err());
        assert!(big.times_ratio(3, 1).is_err());
        assert_eq!(
            m(dec!(1), "EUR").times_ratio(1, 0),
            Err(BillingError::DivisionByZero("a ratio"))
        );
    }

    #[test]
    fn parse_refuses_garbage() {
        assert!(Money::parse("12,50", cur("EUR")).is_err());
        assert!(Money::parse("NaN", cur("EUR")).is_err());
        assert_eq!(
            Money::parse(" 12.50 ", cur("EUR")).map(|m| m.amount()),
            Ok(dec!(12.50))
        );
    }

    #[test]
    fn serializes_amount_as_exact_text() {
        let json = serde_json::to_string(&m(dec!(0.10), "EUR")).expect("serializes");
        assert_eq!(json, r#"{"amount":"0.10","currency":"EUR"}"#);
        let back: Money = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, m(dec!(0.1), "EUR"));
    }

    fn cents() -> impl Strategy<Value = Decimal> {
        (-10_000_000_000i64..10_000_000_000).prop_map(|c| Decimal::new(c, 2))
    }

    proptest! {
        #[test]
        fn addition_is_exact_commutative_and_associative(a in cents(), b in cents(), c in cents()) {
            let (a, b, c) = (m(a, "EUR"), m(b, "EUR"), m(c, "EUR"));
            let ab = a.checked_add(b).expect("no overflow");
            prop_assert_eq!(ab, b.checked_add(a).expect("no overflow"));
            let left = ab.checked_add(c).expect("no overflow");
            let right = a.checked_add(b.checked_add(c).expect("no overflow")).expect("no overflow");
            prop_assert_eq!(left, right);
            prop_assert_eq!(ab.checked_sub(b).expect("no overflow"), a);
        }

        #[test]
        fn rounding_moves_less_than_half_a_minor_unit(raw in -1_000_000_000_000i64..1_000_000_000_000, scale in 0u32..8, code in prop::sample::select(vec!["EUR", "JPY", "BHD"])) {
            let x = m(Decimal::new(raw, scale), code);
            for rule in [Rounding::HalfAwayFromZero, Rounding::HalfEven] {
                let r = x.round(rule);
                prop_assert!(r.is_rounded());
                let half = Decimal::new(5, x.currency().minor_units() + 1);
                prop_assert!((r.amount() - x.amount()).abs() <= half);
                prop_assert_eq!(r.round(rule), r, "rounding is idempotent");
            }
        }

        #[test]
        fn half_away_from_zero_is_symmetric(raw in -1_000_000_000i64..1_000_000_000, scale in 0u32..6) {
            let x = m(Decimal::new(raw, scale), "EUR");
            let r = Rounding::HalfAwayFromZero;
            prop_assert_eq!((-x).round(r), -(x.round(r)));
        }
    }
}

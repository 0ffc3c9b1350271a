//! Proration by days and mid-period changes.
//!
//! A part of a period is worth `price * days_in_part / days_in_period`, over the real length of
//! that period (28 to 31 days for a month). The product is computed before the division and
//! rounded once, to the currency's minor unit, by the caller's [`Rounding`].

use crate::{BillingError, Money, Period, Rounding};
use chrono::NaiveDate;
use rust_decimal::Decimal;

fn check_inside(from: NaiveDate, to: NaiveDate, period: &Period) -> Result<(), BillingError> {
    if period.start() <= from && from <= to && to <= period.end() {
        Ok(())
    } else {
        Err(BillingError::OutsidePeriod {
            from,
            to,
            start: period.start(),
            end: period.end(),
        })
    }
}

/// The share of `period` covered by `[from, to)`, exact to `Decimal`'s 28 digits.
///
/// Kill Bill's vector: from 2023-05-23 to the next bill date 2023-06-15 in the period
/// 2023-05-15..2023-06-15 is 23/31 = 0.741935484 (to 9 decimals).
pub fn proration_factor(
    from: NaiveDate,
    to: NaiveDate,
    period: &Period,
) -> Result<Decimal, BillingError> {
    check_inside(from, to, period)?;
    let days = Decimal::from((to - from).num_days());
    days.checked_div(Decimal::from(period.days()))
        .ok_or(BillingError::Overflow("a proration factor"))
}

/// `price` for the part `[from, to)` of `period`, rounded once with `rounding`.
pub fn prorate(
    price: Money,
    from: NaiveDate,
    to: NaiveDate,
    period: &Period,
    rounding: Rounding,
) -> Result<Money, BillingError> {
    check_inside(from, to, period)?;
    let days = (to - from).num_days();
    Ok(price.times_ratio(days, period.days())?.round(rounding))
}

/// What a change of price on `effective` inside a period already billed in advance costs:
/// a credit for the unused part of the old price and a charge for the new price over the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodChange {
    /// The unused part of the old price, as a negative amount.
    pub credit: Money,
    /// The new price for the rest of the period.
    pub charge: Money,
}

impl PeriodChange {
    /// `charge + credit`: what the customer pays (positive) or gets back (negative).
    pub fn net(&self) -> Result<Money, BillingError> {
        self.charge.checked_add(self.credit)
    }
}

/// The credit and charge for changing from `old` to `new` on `effective` within `period`.
///
/// Stripe's example: $10 -> $20 exactly halfway gives credit -5.00 and charge +10.00.
/// A cancellation is a change to a price of zero.
pub fn mid_period_change(
    old: Money,
    new: Money,
    period: &Period,
    effective: NaiveDate,
    rounding: Rounding,
) -> Result<PeriodChange, BillingError> {
    old.checked_sub(new)?;
    let unused_old = prorate(old, effective, period.end(), period, rounding)?;
    let rest_new = prorate(new, effective, period.end(), period, rounding)?;
    Ok(PeriodChange {
        credit: -unused_old,
        charge: rest_new,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BillingCycle, BillingCycleDay, Currency};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
    }

    fn usd(amount: Decimal) -> Money {
        Money::new(amount, Currency::from_code("USD").expect("known"))
    }

    /// Kill Bill's published proration vectors: subscription start, next bill date, factor.
    #[test]
    fn kill_bill_golden_vectors() {
        let cycle = BillingCycle::monthly(BillingCycleDay::new(15).expect("valid"));
        for (start, next_bill, factor) in [
            ("2023-05-23", "2023-06-15", dec!(0.741935484)),
            ("2023-06-23", "2023-07-15", dec!(0.733333333)),
            ("2023-02-23", "2023-03-15", dec!(0.714285714)),
            ("2024-02-23", "2024-03-15", dec!(0.724137931)),
        ] {
            let period = cycle.period_containing(d(start)).expect("in range");
            assert_eq!(period.end(), d(next_bill), "{start}");
            let f = proration_factor(d(start), d(next_bill), &period).expect("inside");
            assert_eq!(f.round_dp(9), factor, "{start} -> {next_bill}");
        }
    }

    #[test]
    fn stripe_upgrade_halfway() {
        let period = Period::new(d("2026-04-01"), d("2026-05-01")).expect("valid");
        let change = mid_period_change(
            usd(dec!(10)),
            usd(dec!(20)),
            &period,
            d("2026-04-16"),
            Rounding::default(),
        )
        .expect("same currency");
        assert_eq!(change.credit.amount(), dec!(-5.00));
        assert_eq!(change.charge.amount(), dec!(10.00));
        assert_eq!(change.net().expect("same currency").amount(), dec!(5.00));
    }

    #[test]
    fn kill_bill_upgrade_on_the_26th() {
        let period = Period::new(d("2013-04-11"), d("2013-05-11")).expect("valid");
        let change = mid_period_change(
            usd(dec!(20)),
            usd(dec!(30)),
            &period,
            d("2013-04-26"),
            Rounding::default(),
        )
        .expect("same currency");
        assert_eq!(change.credit.amount(), dec!(-10.00));
        assert_eq!(change.charge.amount(), dec!(15.00));
    }

    #[test]
    fn downgrade_and_cancel_credit_more_than_they_charge() {
        let period = Period::new(d("2026-02-01"), d("2026-03-01")).expect("valid");
        let r = Rounding::default();
        let down = mid_period_change(
            usd(dec!(99.99)),
            usd(dec!(49.99)),
            &period,
            d("2026-02-08"),
            r,
        )
        .expect("same currency");
        // 21 of 28 days remain: 99.99 * 21/28 = 74.9925 -> 74.99; 49.99 * 21/28 = 37.4925 -> 37.49
        assert_eq!(down.credit.amount(), dec!(-74.99));
        assert_eq!(down.charge.amount(), dec!(37.49));
        let cancel = mid_period_change(usd(dec!(99.99)), usd(dec!(0)), &period, d("2026-02-08"), r)
            .expect("same currency");
        assert_eq!(cancel.charge.amount(), dec!(0));
        assert_eq!(cancel.net().expect("same").amount(), dec!(-74.99));
    }

    #[test]
    fn refuses_parts_outside_the_period_and_mixed_currencies() {
        let period = Period::new(d("2026-02-01"), d("2026-03-01")).expect("valid");
        assert!(proration_factor(d("2026-01-31"), d("2026-02-10"), &period).is_err());
        assert!(proration_factor(d("2026-02-10"), d("2026-03-02"), &period).is_err());
        assert!(proration_factor(d("2026-02-10"), d("2026-02-09"), &period).is_err());
        let eur = Money::new(dec!(1), Currency::from_code("EUR").expect("known"));
        let r = Rounding::default();
        assert!(mid_period_change(usd(dec!(1)), eur, &period, d("2026-02-10"), r).is_err());
    }

    proptest! {
        /// Cutting a period into parts and prorating each part loses at most half a minor unit
        /// per part against the whole price.
        #[test]
        fn prorated_parts_add_up_to_the_whole(
            cents in 0i64..100_000_000,
            start_offset in 0i64..20_000,
            cuts in prop::collection::vec(1i64..400, 0..6),
            half_even in any::<bool>(),
        ) {
            let rounding = if half_even { Rounding::HalfEven } else { Rounding::HalfAwayFromZero };
            let cycle = BillingCycle::monthly(BillingCycleDay::new(31).expect("valid"));
            let period = cycle.period_containing(d("1990-01-01") + chrono::Duration::days(start_offset)).expect("in range");
            let mut points: Vec<NaiveDate> = cuts
                .iter()
                .map(|c| period.start() + chrono::Duration::days(c % period.days()))
                .collect();
            points.push(period.start());
            points.push(period.end());
            points.sort();
            points.dedup();
            let price = usd(Decimal::new(cents, 2));
            let parts = points
                .windows(2)
                .map(|w| prorate(price, w[0], w[1], &period, rounding).expect("inside"));
            let total = Money::sum(price.currency(), parts).expect("same currency");
            let splits = Decimal::from(points.len() as i64 - 1);
            let tolerance = dec!(0.005) * splits;
            prop_assert!((total.amount() - price.amount()).abs() <= tolerance,
                "{} vs {} over {} parts", total, price, splits);
        }

        /// A change on the first day of the period is a full swap: all of the old price back,
        /// all of the new price charged.
        #[test]
        fn a_change_on_the_first_day_swaps_whole_prices(old in 0i64..100_000_000, new in 0i64..100_000_000, day in 1u32..=31) {
            let cycle = BillingCycle::monthly(BillingCycleDay::new(day).expect("valid"));
            let period = cycle.period_containing(d("2026-01-20")).expect("in range");
            let (old, new) = (usd(Decimal::new(old, 2)), usd(Decimal::new(new, 2)));
            let change = mid_period_change(old, new, &period, period.start(), Rounding::default()).expect("same");
            prop_assert_eq!(change.credit, -old);
            prop_assert_eq!(change.charge, new);
            let at_end = mid_period_change(old, new, &period, period.end(), Rounding::default()).expect("same");
            prop_assert!(at_end.credit.amount().is_zero() && at_end.charge.amount().is_zero());
        }
    }
}

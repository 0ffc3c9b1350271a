//! Billing periods aligned to an account's billing cycle day.
//!
//! A period is the half-open date range `[start, end)`. Its boundaries fall on the billing cycle
//! day of every month (monthly), every third month (quarterly) or every twelfth (yearly),
//! counted from an anchor month. A month shorter than the cycle day uses its last day, and the
//! next month goes back to the cycle day: cycle day 31 gives Jan 31, Feb 28 (29), Mar 31, Apr 30.

use crate::BillingError;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How often a recurring charge is billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingFrequency {
    /// Every month.
    Monthly,
    /// Every three months.
    Quarterly,
    /// Every twelve months.
    Yearly,
}

impl BillingFrequency {
    /// Number of months in one period.
    pub fn months(self) -> u32 {
        match self {
            BillingFrequency::Monthly => 1,
            BillingFrequency::Quarterly => 3,
            BillingFrequency::Yearly => 12,
        }
    }
}

impl fmt::Display for BillingFrequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BillingFrequency::Monthly => "monthly",
            BillingFrequency::Quarterly => "quarterly",
            BillingFrequency::Yearly => "yearly",
        })
    }
}

/// A billing cycle day, 1..=31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct BillingCycleDay(u32);

impl BillingCycleDay {
    /// Accepts 1..=31.
    pub fn new(day: u32) -> Result<Self, BillingError> {
        if (1..=31).contains(&day) {
            Ok(Self(day))
        } else {
            Err(BillingError::CycleDay(day))
        }
    }

    /// The day number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for BillingCycleDay {
    type Error = BillingError;
    fn try_from(day: u32) -> Result<Self, Self::Error> {
        Self::new(day)
    }
}

impl From<BillingCycleDay> for u32 {
    fn from(d: BillingCycleDay) -> u32 {
        d.0
    }
}

/// A half-open range of days `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawPeriod")]
pub struct Period {
    start: NaiveDate,
    end: NaiveDate,
}

#[derive(Deserialize)]
struct RawPeriod {
    start: NaiveDate,
    end: NaiveDate,
}

impl TryFrom<RawPeriod> for Period {
    type Error = BillingError;
    fn try_from(raw: RawPeriod) -> Result<Self, Self::Error> {
        Period::new(raw.start, raw.end)
    }
}

impl Period {
    /// A period from `start` up to, not including, `end`; refuses empty periods.
    pub fn new(start: NaiveDate, end: NaiveDate) -> Result<Self, BillingError> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(BillingError::EmptyPeriod { start, end })
        }
    }

    /// The first day in the period.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// The first day after the period.
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// The last day in the period (what an invoice prints as "to").
    pub fn last_day(&self) -> NaiveDate {
        self.end.pred_opt().unwrap_or(self.end)
    }

    /// Number of days in the period.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// Whether `date` falls inside the period.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }

    /// Whether every day of `other` falls inside the period.
    pub fn covers(&self, other: &Period) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// The shortest period that covers both.
    pub fn hull(&self, other: &Period) -> Period {
        Period {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.last_day())
    }
}

/// An account's billing cycle: the cycle day, the frequency and, for quarterly and yearly
/// billing, the month the cycle is anchored to (ignored for monthly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCycle")]
pub struct BillingCycle {
    day: BillingCycleDay,
    frequency: BillingFrequency,
    anchor_month: u32,
}

#[derive(Deserialize)]
struct RawCycle {
    day: BillingCycleDay,
    frequency: BillingFrequency,
    anchor_month: u32,
}

impl TryFrom<RawCycle> for BillingCycle {
    type Error = BillingError;
    fn try_from(raw: RawCycle) -> Result<Self, Self::Error> {
        BillingCycle::new(raw.day, raw.frequency, raw.anchor_month)
    }
}

impl BillingCycle {
    /// A cycle on `day` every `frequency`, with boundaries in `anchor_month` (1..=12) and every
    /// `frequency` months from it.
    pub fn new(
        day: BillingCycleDay,
        frequency: BillingFrequency,
        anchor_month: u32,
    ) -> Result<Self, BillingError> {
        if !(1..=12).contains(&anchor_month) {
            return Err(BillingError::AnchorMonth(anchor_month));
        }
        Ok(Self {
            day,
            frequency,
            anchor_month,
        })
    }

    /// A monthly cycle on `day`.
    pub fn monthly(day: BillingCycleDay) -> Self {
        Self {
            day,
            frequency: BillingFrequency::Monthly,
            anchor_month: 1,
        }
    }

    /// The cycle day.
    pub fn day(&self) -> BillingCycleDay {
        self.day
    }

    /// The frequency.
    pub fn frequency(&self) -> BillingFrequency {
        self.frequency
    }

    /// The boundary date in the month with absolute index `month_index` (year * 12 + month0).
    fn boundary(&self, month_index: i32) -> Option<NaiveDate> {
        let year = month_index.div_euclid(12);
        let month = month_index.rem_euclid(12) as u32 + 1;
        let last = last_day_of_month(year, month);
        NaiveDate::from_ymd_opt(year, month, self.day.get().min(last))
    }

    /// The period that contains `date`; dates in year 0 or before, or after 9998, are refused.
    pub fn period_containing(&self, date: NaiveDate) -> Result<Period, BillingError> {
        if !(1..=9998).contains(&date.year()) {
            return Err(BillingError::DateOutOfRange(date));
        }
        let months = self.frequency.months() as i32;
        let index = date.year() * 12 + date.month0() as i32;
        let anchor = self.anchor_month as i32 - 1;
        let mut start_index = index - (index - anchor).rem_euclid(months);
        let out_of_range = || BillingError::DateOutOfRange(date);
        if self.boundary(start_index).ok_or_else(out_of_range)? > date {
            start_index -= months;
        }
        Ok(Period {
            start: self.boundary(start_index).ok_or_else(out_of_range)?,
            end: self
                .boundary(start_index + months)
                .ok_or_else(out_of_range)?,
        })
    }

    /// The period that follows `period` (which must be a period of this cycle).
    pub fn next_period(&self, period: &Period) -> Result<Period, BillingError> {
        self.period_containing(period.end())
    }

    /// Consecutive periods starting with the one that contains `from`, up to the last
    /// billable date.
    pub fn periods_from(&self, from: NaiveDate) -> impl Iterator<Item = Period> + '_ {
        std::iter::successors(self.period_containing(from).ok(), move |p| {
            self.next_period(p).ok()
        })
    }
}

/// The number of days in `month` of `year`.
fn last_day_of_month(year: i32, month: u32) -> u32 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(next_year, next_month, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
    }

    fn monthly(day: u32) -> BillingCycle {
        BillingCycle::monthly(BillingCycleDay::new(day).expect("valid day"))
    }

    #[test]
    fn cycle_day_31_follows_short_months_and_comes_back() {
        let cycle = monthly(31);
        let starts: Vec<String> = cycle
            .periods_from(d("2024-01-31"))
            .take(5)
            .map(|p| p.start().to_string())
            .collect();
        assert_eq!(
            starts,
            [
                "2024-01-31",
                "2024-02-29",
                "2024-03-31",
                "2024-04-30",
                "2024-05-31"
            ]
        );
        let p = cycle.period_containing(d("2023-02-28")).expect("in range");
        assert_eq!((p.start(), p.end()), (d("2023-02-28"), d("2023-03-31")));
        let p = cycle.period_containing(d("2023-02-27")).expect("in range");
        assert_eq!((p.start(), p.end()), (d("2023-01-31"), d("2023-02-28")));
    }

    #[test]
    fn quarterly_and_yearly_are_anchored() {
        let day = BillingCycleDay::new(15).expect("valid");
        let q = BillingCycle::new(day, BillingFrequency::Quarterly, 2).expect("valid");
        let p = q.period_containing(d("2026-04-10")).expect("in range");
        assert_eq!((p.start(), p.end()), (d("2026-02-15"), d("2026-05-15")));
        let p = q.period_containing(d("2026-01-20")).expect("in range");
        assert_eq!((p.start(), p.end()), (d("2025-11-15"), d("2026-02-15")));
        let y = BillingCycle::new(day, BillingFrequency::Yearly, 7).expect("valid");
        let p = y.period_containing(d("2026-07-14")).expect("in range");
        assert_eq!((p.start(), p.end()), (d("2025-07-15"), d("2026-07-15")));
        assert_eq!(p.days(), 365);
    }

    #[test]
    fn rejects_bad_days_months_and_empty_periods() {
        assert_eq!(BillingCycleDay::new(0), Err(BillingError::CycleDay(0)));
        assert_eq!(BillingCycleDay::new(32), Err(BillingError::CycleDay(32)));
        let day = BillingCycleDay::new(1).expect("valid");
        assert_eq!(
            BillingCycle::new(day, BillingFrequency::Yearly, 13),
            Err(BillingError::AnchorMonth(13))
        );
        assert!(Period::new(d("2026-01-02"), d("2026-01-02")).is_err());
    }

    #[test]
    fn deserializing_checks_the_same_rules() {
        let bad: Result<Period, _> =
            serde_json::from_str(r#"{"start":"2026-02-01","end":"2026-01-01"}"#);
        assert!(bad
            .expect_err("empty period")
            .to_string()
            .contains("is empty"));
        let bad: Result<BillingCycle, _> =
            serde_json::from_str(r#"{"day":31,"frequency":"yearly","anchor_month":0}"#);
        assert!(bad
            .expect_err("bad anchor")
            .to_string()
            .contains("anchor month 0"));
        let bad: Result<BillingCycleDay, _> = serde_json::from_str("32");
        assert!(bad.is_err());
    }

    #[test]
    fn dates_at_the_calendar_limits_are_refused() {
        let cycle = monthly(31);
        assert!(matches!(
            cycle.period_containing(NaiveDate::MAX),
            Err(BillingError::DateOutOfRange(_))
        ));
        assert!(matches!(
            cycle.period_containing(NaiveDate::MIN),
            Err(BillingError::DateOutOfRange(_))
        ));
        // Oct 31..Nov 30, Nov 30..Dec 31, Dec 31..9999-01-31, then the limit.
        assert_eq!(cycle.periods_from(d("9998-11-15")).count(), 3);
    }

    #[test]
    fn period_display_shows_the_last_day() {
        let p = monthly(1)
            .period_containing(d("2026-02-10"))
            .expect("in range");
        assert_eq!(p.to_string(), "2026-02-01..2026-02-28");
        assert_eq!(p.days(), 28);
    }

    proptest! {
        #[test]
        fn late_cycle_days_never_skip_a_month_for_ten_years(
            day in 28u32..=31,
            year in 1990i32..2100,
            month in 1u32..=12,
        ) {
            let cycle = monthly(day);
            let start = NaiveDate::from_ymd_opt(year, month, 1).expect("valid date");
            let periods: Vec<Period> = cycle.periods_from(start).take(121).collect();
            for pair in periods.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                prop_assert_eq!(a.end(), b.start(), "periods are contiguous");
                let months_between = (b.start().year() * 12 + b.start().month0() as i32)
                    - (a.start().year() * 12 + a.start().month0() as i32);
                prop_assert_eq!(months_between, 1, "{} -> {}", a, b);
                let expected = day.min(last_day_of_month(b.start().year(), b.start().month()));
                prop_assert_eq!(b.start().day(), expected);
            }
        }

        #[test]
        fn every_date_lies_in_exactly_its_period(
            day in 1u32..=31,
            freq in prop::sample::select(vec![BillingFrequency::Monthly, BillingFrequency::Quarterly, BillingFrequency::Yearly]),
            anchor in 1u32..=12,
            offset in 0i64..40_000,
        ) {
            let cycle = BillingCycle::new(BillingCycleDay::new(day).expect("valid"), freq, anchor).expect("valid");
            let date = d("1980-01-01") + chrono::Duration::days(offset);
            let p = cycle.period_containing(date).expect("in range");
            prop_assert!(p.contains(date), "{} not in {}", date, p);
            prop_assert_eq!(cycle.period_containing(p.start()).expect("in range"), p);
            prop_assert_eq!(cycle.next_period(&p).expect("in range").start(), p.end());
        }
    }
}

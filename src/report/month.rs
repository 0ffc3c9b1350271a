//! A report month: `YYYY-MM`, in UTC, with its bounds in epoch milliseconds (the unit every
//! l2c timestamp is stored in), the months before it and the minutes it has.

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use l2c_orders::error::{DeskError, DeskResult};
use std::fmt;

/// A calendar month in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// `text` as `YYYY-MM`; anything else is a problem naming `month`.
    pub fn parse(text: &str) -> DeskResult<Month> {
        let shape = &l2c_orders::shapes::MONTH;
        let bad = || DeskError::field("month", "format", format!("must be {}", shape.says));
        if !shape.fits(text) {
            return Err(bad());
        }
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        Ok(Month {
            year: year.parse().map_err(|_| bad())?,
            month: month.parse().map_err(|_| bad())?,
        })
    }

    /// The month `at_ms` falls in.
    pub fn of(at_ms: i64) -> Month {
        let at = Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default();
        Month {
            year: at.year(),
            month: at.month(),
        }
    }

    fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    /// The month after.
    pub fn next(self) -> Month {
        match self.month {
            12 => Month {
                year: self.year + 1,
                month: 1,
            },
            m => Month {
                year: self.year,
                month: m + 1,
            },
        }
    }

    /// The month before.
    pub fn previous(self) -> Month {
        match self.month {
            1 => Month {
                year: self.year - 1,
                month: 12,
            },
            m => Month {
                year: self.year,
                month: m - 1,
            },
        }
    }

    /// The same month a year before.
    pub fn year_ago(self) -> Month {
        Month {
            year: self.year - 1,
            month: self.month,
        }
    }

    /// The `n` months ending with this one, oldest first.
    pub fn trailing(self, n: usize) -> Vec<Month> {
        let mut months = vec![self];
        while months.len() < n {
            let first = months[0];
            months.insert(0, first.previous());
        }
        months
    }

    /// Its first millisecond.
    pub fn start_ms(self) -> i64 {
        self.first_day()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
            .unwrap_or_default()
    }

    /// The first millisecond after it.
    pub fn end_ms(self) -> i64 {
        self.next().start_ms()
    }

    /// Its last day, as `YYYY-MM-DD` (billing dates are text).
    pub fn last_date(self) -> String {
        let last = self.next().first_day().pred_opt().unwrap_or_default();
        last.to_string()
    }

    /// Its first day, as `YYYY-MM-DD`.
    pub fn first_date(self) -> String {
        self.first_day().to_string()
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_step_across_years() {
        let jan = Month::parse("2027-01").expect("a month");
        assert_eq!(jan.previous().to_string(), "2026-12");
        assert_eq!(jan.year_ago().to_string(), "2026-01");
        assert_eq!(jan.previous().next(), jan);
        assert_eq!(jan.end_ms() - jan.start_ms(), 31 * 86_400_000);
        assert_eq!(Month::of(jan.end_ms() - 1), jan);
        assert_eq!(jan.last_date(), "2027-01-31");
        let trailing: Vec<String> = jan.trailing(3).iter().map(Month::to_string).collect();
        assert_eq!(trailing, ["2026-11", "2026-12", "2027-01"]);
        for bad in ["2027-13", "2027-00", "27-1x", "2027", "", "1969-12"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }
}

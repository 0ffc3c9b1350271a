//! The fixture's plan: which accounts and subscriptions there are, in which currencies,
//! zones and VAT, and what each subscription's charges did in the due period; and the
//! documents and lines that plan implies.

use super::*;

pub(crate) const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "JPY", "CHF"];

/// Monthly prices per currency (JPY has no minor unit).
pub(crate) const PRICES: [[&str; 4]; 5] = [
    ["49.90", "129.00", "349.50", "1250.00"],
    ["59.00", "149.99", "399.00", "1490.00"],
    ["44.50", "119.00", "299.95", "1100.00"],
    ["6900", "18500", "52000", "185000"],
    ["54.90", "139.00", "379.00", "1390.00"],
];

/// One-time (installation) prices per currency.
pub(crate) const ONE_TIME: [&str; 5] = ["250.00", "290.00", "220.00", "35000", "270.00"];

pub(crate) const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/Zurich",
];

pub(crate) const OFFERINGS: [&str; 3] = ["wan-link", "lan-setup", "sd-wan-edge"];

/// A well-mixed 64-bit hash of `x` (splitmix64), for deterministic choices.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A UUID-shaped id, increasing with `n` (so inserts append to the primary key's index).
pub(crate) fn id(n: u64, tag: u8) -> String {
    uuid::Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 | (u128::from(n) << 8) | u128::from(tag),
    )
    .to_string()
}

pub(crate) struct AccountPlan {
    pub(crate) id: String,
    pub(crate) customer: String,
    pub(crate) currency: usize,
    pub(crate) cycle_day: u32,
    pub(crate) zone: &'static str,
    pub(crate) tax: Option<TaxRate>,
    pub(crate) tax_by_offering: BTreeMap<String, TaxRate>,
    /// The period due on the run date.
    pub(crate) due: Period,
    /// The period before it (what the history run bills).
    pub(crate) previous: Period,
}

pub(crate) fn rate(percent: i64) -> Result<TaxRate, Failure> {
    Ok(TaxRate::new(TaxCategory::Standard, Decimal::from(percent))?)
}

pub(crate) fn account_plan(i: usize, date: NaiveDate) -> Result<AccountPlan, Failure> {
    let h = mix(i as u64 ^ 0xA11C_E5ED);
    let cycle_day = (h % 31) as u32 + 1;
    let cycle = BillingCycle::monthly(BillingCycleDay::new(cycle_day)?);
    let due = cycle.period_containing(date)?;
    let before = due.start().pred_opt().ok_or("date out of range")?;
    let previous = cycle.period_containing(before)?;
    // The history run bills `history_date(date)` for every account: it must fall in each
    // account's previous period.
    if !previous.contains(history_date(date)?) {
        return Err(format!(
            "--date {date}: a month earlier is not in the previous period of cycle day \
             {cycle_day}; choose a day of the month up to 28"
        )
        .into());
    }
    let (tax, tax_by_offering) = match (h >> 8) % 4 {
        0 => (None, BTreeMap::new()),
        1 => (Some(rate(19)?), BTreeMap::new()),
        2 => (Some(rate(7)?), BTreeMap::new()),
        _ => (
            Some(rate(19)?),
            BTreeMap::from([("lan-setup".to_string(), rate(7)?)]),
        ),
    };
    Ok(AccountPlan {
        id: format!("BA{i:08}"),
        customer: format!("CU{:08}", i / 2),
        currency: i % CURRENCIES.len(),
        cycle_day,
        zone: ZONES[(h >> 16) as usize % ZONES.len()],
        tax,
        tax_by_offering,
        due,
        previous,
    })
}

/// The date the history run bills for: a month before the run date.
pub(crate) fn history_date(date: NaiveDate) -> Result<NaiveDate, Failure> {
    Ok(date
        .checked_sub_months(Months::new(1))
        .ok_or("date out of range")?)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Started on the due period's first day.
    Plain,
    /// Activated on this day, later in the due period.
    Activated(NaiveDate),
    /// Changed price on this day of the due period.
    Changed(NaiveDate),
    /// Started on the previous period's first day, invoiced for it by the history run, then
    /// changed price on this day of that period.
    ChangedBilled(NaiveDate),
}

pub(crate) struct SubPlan {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    pub(crate) offering: &'static str,
    pub(crate) start: NaiveDate,
    pub(crate) price: &'static str,
    pub(crate) new_price: &'static str,
    pub(crate) units: i64,
    pub(crate) one_time: bool,
}

/// A day in `[from + 1, from + span]`, `span >= 1`.
pub(crate) fn day_after(from: NaiveDate, span: i64, h: u64) -> Result<NaiveDate, Failure> {
    let offset = 1 + (h % span as u64);
    Ok(from
        .checked_add_days(Days::new(offset))
        .ok_or("date out of range")?)
}

pub(crate) fn sub_plan(
    account: &AccountPlan,
    s: usize,
    date: NaiveDate,
) -> Result<SubPlan, Failure> {
    let h = mix(s as u64);
    let pick = h % 100;
    let (due, previous) = (account.due, account.previous);
    // Activations and changes happen after the period starts and no later than the run date.
    let to_date = (date - due.start()).num_days();
    let kind = if pick < 5 && previous.days() > 1 {
        Kind::ChangedBilled(day_after(previous.start(), previous.days() - 1, h >> 8)?)
    } else if pick < 10 && to_date >= 1 {
        Kind::Changed(day_after(due.start(), to_date, h >> 8)?)
    } else if pick < 20 && to_date >= 1 {
        Kind::Activated(day_after(due.start(), to_date, h >> 8)?)
    } else {
        Kind::Plain
    };
    let start = match kind {
        Kind::Activated(d) => d,
        Kind::ChangedBilled(_) => previous.start(),
        Kind::Plain | Kind::Changed(_) => due.start(),
    };
    let prices = &PRICES[account.currency];
    let p = (h >> 24) as usize % prices.len();
    Ok(SubPlan {
        id: id(s as u64, 0),
        kind,
        offering: OFFERINGS[(h >> 32) as usize % OFFERINGS.len()],
        start,
        price: prices[p],
        // An upgrade or a downgrade, never the same price.
        new_price: prices[(p + 1 + (h >> 40) as usize % (prices.len() - 1)) % prices.len()],
        units: if (h >> 48).is_multiple_of(4) { 2 } else { 1 },
        one_time: !matches!(kind, Kind::ChangedBilled(_)) && (h >> 52) % 10 < 3,
    })
}

/// What the measured run must produce, counted while generating.
#[derive(Default, Debug, PartialEq, Eq)]
pub(crate) struct Expected {
    /// Invoices and credit notes (a credit note where an account's credits outweigh its
    /// charges, e.g. a steep downgrade after the previous period was invoiced).
    pub(crate) documents: i64,
    pub(crate) lines: i64,
    pub(crate) one_time: i64,
    /// Recurring lines for part of a charge period.
    pub(crate) prorated: i64,
    /// Lines giving back part of an invoiced period.
    pub(crate) credits: i64,
}

impl Expected {
    pub(crate) fn add(&mut self, sub: &SubPlan) {
        let one_time = i64::from(sub.one_time);
        self.one_time += one_time;
        let (lines, prorated, credits) = match sub.kind {
            Kind::Plain => (1, 0, 0),
            Kind::Activated(_) => (1, 1, 0),
            Kind::Changed(_) => (2, 2, 0),
            // credit old [change, end of previous), new [change, end of previous), new due.
            Kind::ChangedBilled(_) => (3, 2, 1),
        };
        self.lines += lines + one_time;
        self.prorated += prorated;
        self.credits += credits;
    }
}

// ---------------------------------------------------------------------------------------
// Multi-row inserts.

pub(crate) enum Val {
    Text(String),
    Int(i64),
    Null,
}

pub(crate) fn text(s: impl Into<String>) -> Val {
    Val::Text(s.into())
}

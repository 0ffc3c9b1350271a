//! Rating: what an account's invoice for a period carries, found by recomputing what every
//! charge should have billed so far and comparing it with what was billed.
//!
//! A charge covers days. A recurring charge is billed in advance per its own period (the
//! account's cycle day, monthly, quarterly or yearly): every charge period that starts before
//! the end of the invoiced account period is due, prorated to the days of it the charge is
//! effective. A one-time charge covers the single day it became effective. Lines already
//! billed add their days (a credit line takes them back). Wherever expected and billed
//! coverage differ, the difference becomes a line: a charge for days due but not billed, a
//! credit (negative quantity, BR-27) for days billed but no longer due. So a mid-period
//! upgrade gives `mid_period_change`'s credit and charge, and a back-dated activation or
//! cancellation shows up as adjustment lines on the next invoice. Rating a period again once
//! its lines are billed yields nothing: runs are repeatable.

use crate::proration::prorate;
use crate::TaxRate;
use crate::{BillingCycle, BillingError, BillingFrequency, InvoiceLine, Money, Period, Rounding};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// How a charge recurs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChargeKind {
    /// Once, on the day it becomes effective.
    OneTime,
    /// Every period of this frequency, in advance.
    Recurring(BillingFrequency),
}

impl ChargeKind {
    /// How it is written down: `one_time`, `monthly`, `quarterly` or `yearly`.
    pub fn code(self) -> &'static str {
        match self {
            ChargeKind::OneTime => "one_time",
            ChargeKind::Recurring(BillingFrequency::Monthly) => "monthly",
            ChargeKind::Recurring(BillingFrequency::Quarterly) => "quarterly",
            ChargeKind::Recurring(BillingFrequency::Yearly) => "yearly",
        }
    }

    /// The kind written as [`ChargeKind::code`] writes it.
    pub fn from_code(code: &str) -> Option<ChargeKind> {
        Some(match code {
            "one_time" => ChargeKind::OneTime,
            "monthly" => ChargeKind::Recurring(BillingFrequency::Monthly),
            "quarterly" => ChargeKind::Recurring(BillingFrequency::Quarterly),
            "yearly" => ChargeKind::Recurring(BillingFrequency::Yearly),
            _ => return None,
        })
    }
}

/// A subscription's charge as it stands now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeTerm {
    /// Identifies the charge across runs (subscription, order item and price).
    pub key: String,
    /// The subscription it belongs to.
    pub subscription: String,
    /// What invoice lines call it.
    pub description: String,
    /// One-time or recurring.
    pub kind: ChargeKind,
    /// The price of one unit for a whole period (or once).
    pub unit_price: Money,
    /// How many units.
    pub units: Decimal,
    /// The first day it applies.
    pub from: NaiveDate,
    /// The first day it no longer applies, once it ended.
    pub to: Option<NaiveDate>,
    /// Its VAT.
    pub tax: TaxRate,
}

/// A line an earlier invoice (issued or draft) carries for a charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BilledLine {
    /// The charge's key.
    pub key: String,
    /// The subscription.
    pub subscription: String,
    /// The line's description.
    pub description: String,
    /// Whether the charge is one-time or recurring.
    pub kind: ChargeKind,
    /// The charge period the line belongs to.
    pub charge_period: Period,
    /// The days it billed (or, for a credit, gave back).
    pub service: Period,
    /// Negative for a credit.
    pub quantity: Decimal,
    /// The charge's full unit price for the charge period.
    pub list_price: Money,
    /// The VAT it was billed with.
    pub tax: TaxRate,
}

/// A line the invoice for the rated period should carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatedLine {
    /// The charge's key.
    pub key: String,
    /// The subscription.
    pub subscription: String,
    /// One-time or recurring.
    pub kind: ChargeKind,
    /// The charge period it belongs to.
    pub charge_period: Period,
    /// The days it bills or gives back.
    pub service: Period,
    /// The charge's full unit price for the charge period.
    pub list_price: Money,
    /// The invoice line (quantity negative for a credit).
    pub line: InvoiceLine,
}

impl RatedLine {
    /// The line as a later rating sees it once it is billed.
    pub fn billed(&self) -> BilledLine {
        BilledLine {
            key: self.key.clone(),
            subscription: self.subscription.clone(),
            description: self.line.description().to_string(),
            kind: self.kind,
            charge_period: self.charge_period,
            service: self.service,
            quantity: self.line.quantity(),
            list_price: self.list_price,
            tax: self.line.tax(),
        }
    }
}

/// Everything known about one charge period of one charge.
#[derive(Default)]
struct Slot<'a> {
    term: Option<&'a ChargeTerm>,
    billed: Vec<&'a BilledLine>,
    expected: Option<Period>,
}

/// The lines the invoice for `due` (a period of the account's `cycle`) should carry, given
/// the account's `charges` as they stand and the lines already `billed`, in the order they
/// were billed (a credit gives back the price and VAT last charged).
pub fn rate(
    cycle: &BillingCycle,
    due: &Period,
    charges: &[ChargeTerm],
    billed: &[BilledLine],
    rounding: Rounding,
) -> Result<Vec<RatedLine>, BillingError> {
    let mut slots: BTreeMap<(&str, &str, NaiveDate), (Period, Slot<'_>)> = BTreeMap::new();
    for term in charges {
        for (period, covered) in expected_coverage(cycle, due, term)? {
            if worth_nothing(term, &period, &covered, rounding)? {
                continue;
            }
            let slot = slots
                .entry((
                    term.subscription.as_str(),
                    term.key.as_str(),
                    period.start(),
                ))
                .or_insert_with(|| (period, Slot::default()));
            slot.1.term = Some(term);
            slot.1.expected = Some(covered);
        }
    }
    // Periods that start after the rated one are not this invoice's business: a run for an
    // earlier date must not take back what later invoices billed in advance.
    for line in billed
        .iter()
        .filter(|l| l.charge_period.start() < due.end())
    {
        let key = (
            line.subscription.as_str(),
            line.key.as_str(),
            line.charge_period.start(),
        );
        slots
            .entry(key)
            .or_insert_with(|| (line.charge_period, Slot::default()))
            .1
            .billed
            .push(line);
    }
    let mut out = Vec::new();
    for (charge_period, slot) in slots.values() {
        for (service, diff) in differences(slot) {
            // One line per unit of difference, each for the charge's whole quantity, so every
            // stored line counts as exactly one coverage when it is read back.
            let line = price_difference(charge_period, slot, service, diff.signum(), rounding)?;
            let units = usize::try_from(diff.unsigned_abs()).unwrap_or(usize::MAX);
            out.extend(std::iter::repeat_n(line, units));
        }
    }
    out.retain(|l| !l.line.net().amount().is_zero());
    Ok(out)
}

/// `(charge period, days of it the charge is due)` for every charge period due by `due.end()`.
fn expected_coverage(
    cycle: &BillingCycle,
    due: &Period,
    term: &ChargeTerm,
) -> Result<Vec<(Period, Period)>, BillingError> {
    let end = term.to.unwrap_or(NaiveDate::MAX);
    if end <= term.from || term.from >= due.end() {
        return Ok(Vec::new());
    }
    let frequency = match term.kind {
        ChargeKind::OneTime => {
            let day = one_day(term.from)?;
            return Ok(vec![(day, day)]);
        }
        ChargeKind::Recurring(f) => f,
    };
    let charge_cycle = BillingCycle::new(cycle.day(), frequency, 1)?;
    let mut out = Vec::new();
    for period in charge_cycle.periods_from(term.from) {
        if period.start() >= due.end() || period.start() >= end {
            break;
        }
        let from = period.start().max(term.from);
        let to = period.end().min(end);
        out.push((period, Period::new(from, to)?));
    }
    Ok(out)
}

/// Whether the days `covered` of charge period `period` price to nothing once rounded. Such
/// days are not due at all: rated at once they would make a zero line, which no invoice
/// carries, so rated bit by bit (billed whole, then shortened) they must not stay billed
/// either; the credit then gives back the whole charge. One rule, so both ways agree on what
/// each charge period has billed.
fn worth_nothing(
    term: &ChargeTerm,
    period: &Period,
    covered: &Period,
    rounding: Rounding,
) -> Result<bool, BillingError> {
    let unit = match term.kind {
        ChargeKind::OneTime => term.unit_price.round(rounding),
        ChargeKind::Recurring(_) => prorate(
            term.unit_price,
            covered.start(),
            covered.end(),
            period,
            rounding,
        )?,
    };
    Ok(unit.amount().is_zero())
}

fn one_day(day: NaiveDate) -> Result<Period, BillingError> {
    let next = day
        .checked_add_days(Days::new(1))
        .ok_or(BillingError::DateOutOfRange(day))?;
    Period::new(day, next)
}

/// Maximal day ranges where expected coverage minus billed coverage is the same non-zero
/// count, in date order.
fn differences(slot: &Slot<'_>) -> Vec<(Period, i64)> {
    let mut points: Vec<NaiveDate> = Vec::new();
    let mut ranges: Vec<(Period, i64)> = Vec::new();
    if let Some(e) = slot.expected {
        ranges.push((e, 1));
    }
    for b in &slot.billed {
        ranges.push((
            b.service,
            if b.quantity.is_sign_negative() { 1 } else { -1 },
        ));
    }
    for (p, _) in &ranges {
        points.push(p.start());
        points.push(p.end());
    }
    points.sort();
    points.dedup();
    let mut out: Vec<(Period, i64)> = Vec::new();
    for w in points.windows(2) {
        let (from, to) = (w[0], w[1]);
        let diff: i64 = ranges
            .iter()
            .filter(|(p, _)| p.start() <= from && to <= p.end())
            .map(|(_, sign)| sign)
            .sum();
        if diff == 0 {
            continue;
        }
        match out.last_mut() {
            Some((last, d)) if *d == diff && last.end() == from => {
                if let Ok(joined) = Period::new(last.start(), to) {
                    *last = joined;
                }
            }
            _ => {
                if let Ok(p) = Period::new(from, to) {
                    out.push((p, diff));
                }
            }
        }
    }
    out
}

/// The billed line a credit over `service` gives back: the latest charge (not credit) line
/// that covered those days, so the credit carries the price and VAT that were charged.
/// Billed lines come in the order they were billed.
fn credited_line<'a>(slot: &Slot<'a>, service: Period) -> Option<&'a BilledLine> {
    let charges = || {
        slot.billed
            .iter()
            .rev()
            .filter(|b| !b.quantity.is_sign_negative())
    };
    charges()
        .find(|b| b.service.start() < service.end() && service.start() < b.service.end())
        .or_else(|| charges().next())
        .or_else(|| slot.billed.first())
        .copied()
}

/// A line for `diff` times the charge over `service`: the current term prices what is due,
/// the billed lines price what is given back (at the price and VAT they were billed with).
fn price_difference(
    charge_period: &Period,
    slot: &Slot<'_>,
    service: Period,
    diff: i64,
    rounding: Rounding,
) -> Result<RatedLine, BillingError> {
    let billed = credited_line(slot, service);
    let term = slot.term.filter(|_| diff > 0 || billed.is_none());
    let (key, subscription, kind, list_price, units, tax, description) = match (term, billed) {
        (Some(t), _) => (
            t.key.clone(),
            t.subscription.clone(),
            t.kind,
            t.unit_price,
            t.units,
            t.tax,
            t.description.clone(),
        ),
        (None, Some(b)) => (
            b.key.clone(),
            b.subscription.clone(),
            b.kind,
            b.list_price,
            b.quantity.abs(),
            b.tax,
            b.description.clone(),
        ),
        (None, None) => return Err(BillingError::NoLines),
    };
    let description = if diff < 0 {
        format!("{description} (credit)")
    } else {
        description
    };
    let quantity = units * Decimal::from(diff);
    let line = match kind {
        ChargeKind::OneTime => {
            InvoiceLine::new(description, None, quantity, list_price, tax, rounding)?
        }
        ChargeKind::Recurring(_) => {
            let unit = prorate(
                list_price,
                service.start(),
                service.end(),
                charge_period,
                rounding,
            )?;
            InvoiceLine::new(description, Some(service), quantity, unit, tax, rounding)?
        }
    };
    Ok(RatedLine {
        key,
        subscription,
        kind,
        charge_period: *charge_period,
        service,
        list_price,
        line,
    })
}

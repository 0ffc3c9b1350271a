//! Rates one account into a draft: the lines, whether it is an invoice or (when the lines
//! sum to less than zero) a credit note, and its totals. Stored lines keep the ledger's sign
//! (a credit is negative); a credit note's document lines are the same lines negated, so its
//! amounts read as what is owed back.

use chrono::{Days, NaiveDate};
use l2c_billing::{
    rate, BilledLine, BillingCycle, ChargeTerm, Currency, DocumentKind, Invoice, InvoiceLine,
    Money, Party, Period, RatedLine, Rounding,
};
use l2c_orders::accounts::BillingAccount;
use l2c_orders::error::{internal, DeskResult};
use rust_decimal::Decimal;

/// An account whose period is due, with its charges and billing history.
pub struct AccountWork {
    /// The account.
    pub account: BillingAccount,
    /// Its currency.
    pub currency: Currency,
    /// Its cycle.
    pub cycle: BillingCycle,
    /// The account's local date the run bills for.
    pub local_date: NaiveDate,
    /// The period due on that date.
    pub due: Period,
    /// Its charges as they stand.
    pub charges: Vec<ChargeTerm>,
    /// What its invoices (issued or draft) already bill.
    pub billed: Vec<BilledLine>,
}

/// An invoice or credit note a run would issue for one account.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The billing account.
    pub account: String,
    /// The period it is for.
    pub period: Period,
    /// The account's local date of the run (the issue date).
    pub issue_date: NaiveDate,
    /// When it is due (BT-9): the issue date plus the account's payment terms.
    pub due_date: Option<NaiveDate>,
    /// The number series it takes its number from when issued.
    pub series: String,
    /// The rated lines, in the ledger's sign.
    pub lines: Vec<RatedLine>,
    /// The document: kind, document lines and totals.
    pub invoice: Invoice,
    /// The buyer as the account has it now (kept with the document).
    pub buyer: Option<Party>,
    /// Payment terms in words, e.g. `Net 30 days`.
    pub payment_terms: Option<String>,
    /// The rounding rule its VAT was computed with.
    pub rounding: Rounding,
}

/// When a document issued on `issued` is due and its payment terms in words, for an account
/// with `days` of payment terms. A credit note is due as an invoice would be, the other way
/// round: the buyer is owed its amount by then, refunded or set off (docs/billing.md).
pub fn terms(kind: DocumentKind, issued: NaiveDate, days: u32) -> (Option<NaiveDate>, String) {
    let due = issued.checked_add_days(Days::new(u64::from(days)));
    let words = match kind {
        DocumentKind::Invoice => format!("Net {days} days"),
        DocumentKind::CreditNote => {
            format!("Refunded or set off against open invoices within {days} days")
        }
    };
    (due, words)
}

/// The draft for `work`, or `None` when nothing is due.
pub fn draft(work: &AccountWork, rounding: Rounding) -> DeskResult<Option<Draft>> {
    let lines = rate(
        &work.cycle,
        &work.due,
        &work.charges,
        &work.billed,
        rounding,
    )
    .map_err(internal)?;
    if lines.is_empty() {
        return Ok(None);
    }
    let net: Decimal = lines.iter().map(|l| l.line.net().amount()).sum();
    let kind = if net.is_sign_negative() {
        DocumentKind::CreditNote
    } else {
        DocumentKind::Invoice
    };
    let invoice = document(kind, work.currency, &lines, rounding)?;
    let series = match kind {
        DocumentKind::Invoice => work.account.invoice_series.clone(),
        DocumentKind::CreditNote => work.account.credit_series.clone(),
    };
    let (due_date, words) = terms(kind, work.local_date, work.account.payment_terms_days);
    Ok(Some(Draft {
        account: work.account.id.clone(),
        period: work.due,
        issue_date: work.local_date,
        due_date,
        series,
        lines,
        buyer: work.account.buyer.clone(),
        payment_terms: Some(words),
        rounding,
        invoice,
    }))
}

/// How a document of `kind` shows ledger-signed amounts: as they are on an invoice, negated
/// on a credit note.
pub(super) fn sign(kind: DocumentKind) -> Decimal {
    match kind {
        DocumentKind::Invoice => Decimal::ONE,
        DocumentKind::CreditNote => Decimal::NEGATIVE_ONE,
    }
}

/// The document for ledger-signed `lines`: as they are on an invoice, negated on a credit note.
pub fn document(
    kind: DocumentKind,
    currency: l2c_billing::Currency,
    lines: &[RatedLine],
    rounding: Rounding,
) -> DeskResult<Invoice> {
    let sign = sign(kind);
    let doc_lines = lines
        .iter()
        .map(|l| {
            let line = &l.line;
            InvoiceLine::new(
                line.description(),
                line.period(),
                line.quantity() * sign,
                line.unit_price(),
                line.tax(),
                rounding,
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    Invoice::compose(kind, currency, doc_lines, Money::zero(currency), rounding).map_err(internal)
}

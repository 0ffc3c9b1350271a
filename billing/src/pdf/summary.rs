//! Below the lines: the VAT breakdown, the totals and how to pay.
//!
//! Each block is kept on one page (it asks the canvas for its full height first), so a total
//! never stands on a page apart from its label.

use super::canvas::{Canvas, LEFT, RIGHT};
use super::format;
use super::text::{wrap, Font};
use crate::printed::{amount_text, filled};
use crate::{BillingError, Currency, DocumentKind, IssuedDocument, TaxSubtotal};

const SIZE: f32 = 9.0;
const LEADING: f32 = 12.0;
/// Labels of the totals start here; their amounts end at the right margin.
const TOTALS_LABEL: f32 = 330.0;
const RATE_END: f32 = 330.0;
const TAXABLE_END: f32 = 450.0;

/// The three blocks, in reading order.
pub(super) fn draw(canvas: &mut Canvas, doc: &IssuedDocument) -> Result<(), BillingError> {
    let currency = doc.invoice.currency();
    vat_breakdown(canvas, doc.invoice.tax_subtotals(), currency)?;
    totals(canvas, doc, currency)?;
    payment(canvas, doc);
    Ok(())
}

/// A block heading with a rule under it.
fn heading(canvas: &mut Canvas, text: &str) {
    canvas.text(LEFT, canvas.y, Font::Bold, SIZE, text);
    canvas.rule(LEFT, RIGHT, canvas.y - 4.0, 0.5);
    canvas.y -= LEADING + 4.0;
}

/// BG-23: one row per (category, rate) with its taxable amount and tax.
fn vat_breakdown(
    canvas: &mut Canvas,
    subtotals: &[TaxSubtotal],
    currency: Currency,
) -> Result<(), BillingError> {
    canvas.ensure(LEADING * (subtotals.len() as f32 + 3.0));
    heading(canvas, "VAT breakdown");
    let code = currency.code();
    let columns: [(f32, &str); 3] = [
        (RATE_END, "Rate"),
        (TAXABLE_END, &format!("Taxable amount {code}")),
        (RIGHT, &format!("VAT {code}")),
    ];
    canvas.text(LEFT, canvas.y, Font::Bold, 8.0, "Category");
    for (end, label) in columns {
        canvas.text_right(end, canvas.y, Font::Bold, 8.0, label);
    }
    canvas.y -= LEADING;
    for subtotal in subtotals {
        let category = subtotal.rate.category();
        let name = format!("{} – {}", category.code(), format::category_name(category));
        canvas.text(LEFT, canvas.y, Font::Regular, SIZE, &name);
        let cells = [
            (RATE_END, format::percent(subtotal.rate).unwrap_or_default()),
            (TAXABLE_END, amount_text(subtotal.taxable, currency)?),
            (RIGHT, amount_text(subtotal.tax, currency)?),
        ];
        for (end, text) in cells {
            canvas.text_right(end, canvas.y, Font::Regular, SIZE, &text);
        }
        canvas.y -= LEADING;
    }
    canvas.y -= LEADING;
    Ok(())
}

/// BG-22: the document totals, the amount due last and in bold.
fn totals(
    canvas: &mut Canvas,
    doc: &IssuedDocument,
    currency: Currency,
) -> Result<(), BillingError> {
    let t = doc.invoice.totals();
    let due = match doc.invoice.kind() {
        DocumentKind::Invoice => "Amount due",
        DocumentKind::CreditNote => "Amount credited",
    };
    let rows = [
        ("Sum of line net amounts", t.line_net_total),
        ("Total without VAT", t.tax_exclusive),
        ("VAT total", t.tax_total),
        ("Total with VAT", t.tax_inclusive),
        ("Prepaid", t.prepaid),
    ];
    canvas.ensure(LEADING * (rows.len() as f32 + 3.0));
    for (label, amount) in rows {
        let text = format!("{} {}", amount_text(amount, currency)?, currency.code());
        canvas.text(TOTALS_LABEL, canvas.y, Font::Regular, SIZE, label);
        canvas.text_right(RIGHT, canvas.y, Font::Regular, SIZE, &text);
        canvas.y -= LEADING;
    }
    canvas.rule(TOTALS_LABEL, RIGHT, canvas.y + LEADING - 3.0, 0.75);
    canvas.y -= 2.0;
    let payable = format!("{} {}", amount_text(t.payable, currency)?, currency.code());
    canvas.text(TOTALS_LABEL, canvas.y, Font::Bold, 10.0, due);
    canvas.text_right(RIGHT, canvas.y, Font::Bold, 10.0, &payable);
    canvas.y -= 2.0 * LEADING;
    Ok(())
}

/// BG-16 / BG-17 and BT-20: how to pay an invoice (the seller's account; a credit note is
/// paid back by the seller, so it shows only its reference) and the payment terms.
fn payment(canvas: &mut Canvas, doc: &IssuedDocument) {
    let mut lines = Vec::new();
    let means = doc.seller.payment.as_ref();
    if let (Some(means), DocumentKind::Invoice) = (means, doc.invoice.kind()) {
        lines.push(means.code_name().to_string());
        if means.code == "58" {
            lines.push(format!("IBAN: {}", format::iban(&means.account)));
        } else {
            lines.push(format!("Account: {}", means.account));
        }
        if let Some(bic) = means.bic.as_deref().and_then(filled) {
            lines.push(format!("BIC: {bic}"));
        }
        let holder = means.account_name.as_deref().and_then(filled);
        let holder = holder.unwrap_or(&doc.seller.name);
        lines.push(format!("Account holder: {holder}"));
    }
    lines.push(format!("Reference: {}", doc.number));
    if let Some(terms) = doc.payment_terms.as_deref().and_then(filled) {
        lines.push(terms.to_string());
    }
    let wrapped: Vec<String> = lines
        .iter()
        .flat_map(|line| wrap(Font::Regular, SIZE, line, RIGHT - LEFT))
        .collect();
    canvas.ensure(LEADING * (wrapped.len() as f32 + 2.0));
    heading(canvas, "Payment");
    for line in wrapped {
        canvas.text(LEFT, canvas.y, Font::Regular, SIZE, &line);
        canvas.y -= LEADING;
    }
}

//! The top of the first page: the logo box, the title with number and dates, the seller and
//! buyer blocks, and what a credit note corrects.

use super::canvas::{Canvas, LEFT, RIGHT, TOP};
use super::format;
use super::text::{wrap, Font};
use crate::printed::filled;
use crate::{DocumentKind, IssuedDocument, Party};

/// Where the logo would go: a box this size with the seller's name, until l2c stores an image.
const LOGO_WIDTH: f32 = 170.0;
const LOGO_HEIGHT: f32 = 50.0;
/// The right-hand column (document data, buyer) starts here.
const RIGHT_COLUMN: f32 = 330.0;
const BODY: f32 = 9.0;
const LEADING: f32 = 12.0;

/// "Invoice" or "Credit note".
pub(super) fn title(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Invoice => "Invoice",
        DocumentKind::CreditNote => "Credit note",
    }
}

/// Draws everything above the line table and leaves the cursor below it.
pub(super) fn draw(canvas: &mut Canvas, doc: &IssuedDocument) {
    logo(canvas, &doc.seller.name);
    let meta_end = document_data(canvas, doc);
    canvas.y = meta_end.min(TOP - LOGO_HEIGHT) - 2.0 * LEADING;
    parties(canvas, doc);
    if let Some(preceding) = doc
        .preceding
        .as_ref()
        .filter(|p| filled(&p.number).is_some())
    {
        let text = format!(
            "Corrects invoice {} of {}",
            preceding.number,
            format::date(preceding.issue_date)
        );
        for line in wrap(Font::Bold, BODY, &text, RIGHT - LEFT) {
            canvas.text(LEFT, canvas.y, Font::Bold, BODY, &line);
            canvas.y -= LEADING;
        }
        canvas.y -= LEADING / 2.0;
    }
}

/// A placeholder box with the seller's name in it, at most two lines.
fn logo(canvas: &mut Canvas, name: &str) {
    let bottom = TOP - LOGO_HEIGHT;
    canvas.boxed(LEFT, bottom, LOGO_WIDTH, LOGO_HEIGHT, 0.94);
    let size = 12.0;
    let lines = wrap(Font::Bold, size, name, LOGO_WIDTH - 16.0);
    let shown = lines.len().min(2);
    // Centre the lines vertically: the box's middle, less half the block, plus the cap height.
    let block = size * 1.2 * shown as f32;
    let mut y = bottom + LOGO_HEIGHT / 2.0 + block / 2.0 - size;
    for line in lines.iter().take(shown) {
        canvas.text(LEFT + 8.0, y, Font::Bold, size, line);
        y -= size * 1.2;
    }
}

/// The title and the number, dates and period, right-aligned; returns the last baseline.
fn document_data(canvas: &mut Canvas, doc: &IssuedDocument) -> f32 {
    let title = title(doc.invoice.kind());
    canvas.text_right(RIGHT, TOP - 16.0, Font::Bold, 20.0, title);
    let mut rows = vec![
        (format!("{title} no."), doc.number.clone()),
        ("Issue date".to_string(), format::date(doc.issue_date)),
    ];
    if let Some(due) = doc.due_date {
        rows.push(("Due date".to_string(), format::date(due)));
    }
    if let Some(period) = &doc.period {
        rows.push(("Period".to_string(), format::period(period)));
    }
    let mut y = TOP - 36.0;
    for (label, value) in rows {
        canvas.text(RIGHT_COLUMN, y, Font::Regular, BODY, &label);
        canvas.text_right(RIGHT, y, Font::Bold, BODY, &value);
        y -= LEADING;
    }
    y + LEADING
}

/// Seller on the left, buyer on the right; the cursor ends below the longer block.
fn parties(canvas: &mut Canvas, doc: &IssuedDocument) {
    let top = canvas.y;
    let seller = party_lines(&doc.seller, None);
    let buyer = party_lines(&doc.buyer, Some(&doc.buyer_reference));
    let left = (LEFT, RIGHT_COLUMN - LEFT - 20.0);
    let right = (RIGHT_COLUMN, RIGHT - RIGHT_COLUMN);
    let left_end = block(canvas, left, top, "From", &seller);
    let right_end = block(canvas, right, top, "Bill to", &buyer);
    canvas.y = left_end.min(right_end) - LEADING;
}

/// One party as lines: name, address, VAT id, the buyer reference (buyer only) and contact.
fn party_lines(party: &Party, buyer_reference: Option<&str>) -> Vec<(Font, String)> {
    let mut lines = vec![
        (Font::Bold, party.name.clone()),
        (Font::Regular, party.street.clone()),
        (Font::Regular, format!("{} {}", party.postcode, party.city)),
        (Font::Regular, party.country.clone()),
    ];
    let mut add =
        |label: &str, value: &str| lines.push((Font::Regular, format!("{label}: {value}")));
    if let Some(vat_id) = party.vat_id.as_deref().and_then(filled) {
        add("VAT ID", vat_id);
    }
    if let Some(reference) = buyer_reference {
        add("Buyer reference", reference);
    }
    if let Some(contact) = &party.contact {
        add("Contact", &contact.name);
        add("Phone", &contact.phone);
        add("Email", &contact.email);
    }
    lines
}

/// A heading and `lines` wrapped to the column (`x`, `column` width) from `top`; returns
/// the baseline below the block.
fn block(
    canvas: &mut Canvas,
    (x, column): (f32, f32),
    top: f32,
    heading: &str,
    lines: &[(Font, String)],
) -> f32 {
    canvas.text(x, top, Font::Bold, 8.0, heading);
    canvas.rule(x, x + column, top - 4.0, 0.5);
    let mut y = top - LEADING - 4.0;
    for (font, text) in lines {
        for line in wrap(*font, BODY, text, column) {
            canvas.text(x, y, *font, BODY, &line);
            y -= LEADING;
        }
    }
    y
}

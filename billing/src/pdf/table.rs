//! The line table: position, description, period, quantity, unit price, VAT and net amount,
//! one row per invoice line, split across pages with the header repeated on each.
//!
//! Description and period wrap inside their columns; a row never splits across pages, so a
//! reader always sees a line's amounts beside its description.

use super::canvas::{Canvas, LEFT, RIGHT};
use super::format;
use super::text::{wrap, Font};
use crate::printed::{amount_text, plain_decimal};
use crate::{BillingError, Currency, InvoiceLine};

const SIZE: f32 = 8.0;
const LEADING: f32 = 10.0;
/// Space above and below a row's text.
const PAD: f32 = 3.0;
const HEADER_HEIGHT: f32 = 16.0;

/// Left-aligned columns: where they start and how wide they are.
const POSITION: (f32, f32) = (LEFT + 2.0, 20.0);
const DESCRIPTION: (f32, f32) = (LEFT + 24.0, 150.0);
const PERIOD: (f32, f32) = (LEFT + 180.0, 100.0);
/// Right-aligned columns: where they end.
const QUANTITY_END: f32 = 368.0;
const UNIT_PRICE_END: f32 = 430.0;
const VAT_END: f32 = 476.0;
const NET_END: f32 = RIGHT - 2.0;

/// One line as the cells of its row.
struct Row {
    position: String,
    description: Vec<String>,
    period: Vec<String>,
    quantity: String,
    unit_price: String,
    vat: String,
    net: String,
}

impl Row {
    fn of(position: usize, line: &InvoiceLine, currency: Currency) -> Result<Self, BillingError> {
        let period = line
            .period()
            .map(|p| format::period(&p))
            .unwrap_or_default();
        Ok(Self {
            position: position.to_string(),
            description: wrap(Font::Regular, SIZE, line.description(), DESCRIPTION.1),
            period: wrap(Font::Regular, SIZE, &period, PERIOD.1),
            quantity: plain_decimal(line.quantity()),
            unit_price: amount_text(line.unit_price(), currency)?,
            vat: format::rate(line.tax()),
            net: amount_text(line.net(), currency)?,
        })
    }

    fn height(&self) -> f32 {
        let lines = self.description.len().max(self.period.len());
        lines as f32 * LEADING + 2.0 * PAD
    }
}

/// Draws the table from the cursor down, over as many pages as the lines need.
pub(super) fn draw(
    canvas: &mut Canvas,
    lines: &[InvoiceLine],
    currency: Currency,
) -> Result<(), BillingError> {
    let rows = lines
        .iter()
        .enumerate()
        .map(|(i, line)| Row::of(i + 1, line, currency))
        .collect::<Result<Vec<_>, _>>()?;
    // The header with at least the first row, so a header never stands alone at a page foot.
    let first = rows.first().map_or(0.0, Row::height);
    canvas.ensure(HEADER_HEIGHT + first);
    header(canvas, currency);
    for row in &rows {
        if canvas.ensure(row.height()) {
            header(canvas, currency);
        }
        draw_row(canvas, row);
    }
    canvas.y -= 2.0 * LEADING;
    Ok(())
}

fn header(canvas: &mut Canvas, currency: Currency) {
    canvas.boxed(
        LEFT,
        canvas.y - HEADER_HEIGHT,
        RIGHT - LEFT,
        HEADER_HEIGHT,
        0.9,
    );
    let y = canvas.y - HEADER_HEIGHT + 5.0;
    let bold = Font::Bold;
    canvas.text(POSITION.0, y, bold, SIZE, "Pos.");
    canvas.text(DESCRIPTION.0, y, bold, SIZE, "Description");
    canvas.text(PERIOD.0, y, bold, SIZE, "Period");
    canvas.text_right(QUANTITY_END, y, bold, SIZE, "Qty");
    let unit_price = format!("Unit price {}", currency.code());
    canvas.text_right(UNIT_PRICE_END, y, bold, SIZE, &unit_price);
    canvas.text_right(VAT_END, y, bold, SIZE, "VAT");
    let net = format!("Net {}", currency.code());
    canvas.text_right(NET_END, y, bold, SIZE, &net);
    canvas.y -= HEADER_HEIGHT;
}

fn draw_row(canvas: &mut Canvas, row: &Row) {
    let height = row.height();
    let first = canvas.y - PAD - SIZE;
    let regular = Font::Regular;
    canvas.text(POSITION.0, first, regular, SIZE, &row.position);
    for (cell, x) in [(&row.description, DESCRIPTION.0), (&row.period, PERIOD.0)] {
        let mut y = first;
        for line in cell {
            canvas.text(x, y, regular, SIZE, line);
            y -= LEADING;
        }
    }
    canvas.text_right(QUANTITY_END, first, regular, SIZE, &row.quantity);
    canvas.text_right(UNIT_PRICE_END, first, regular, SIZE, &row.unit_price);
    canvas.text_right(VAT_END, first, regular, SIZE, &row.vat);
    canvas.text_right(NET_END, first, regular, SIZE, &row.net);
    canvas.y -= height;
    canvas.rule(LEFT, RIGHT, canvas.y, 0.25);
}

//! PDF export: one [`IssuedDocument`] as a readable A4 invoice or credit note.
//!
//! This is the document a buyer reads; the UBL file ([`crate::ubl`]) is the one their system
//! books. [`write`](fn@write) streams one PDF to any `std::io::Write`, [`to_vec`] returns it:
//!
//! - page 1 has a logo placeholder with the seller's name, the title with number, issue date,
//!   due date and invoicing period, the seller (address, VAT id, contact) and the buyer
//!   (address, VAT id, buyer reference), and for a credit note the invoice it corrects;
//! - the line table (position, description, period, quantity, unit price, VAT, net) runs over
//!   as many pages as it needs, its header repeated on each, then the VAT breakdown, the
//!   totals and the payment instructions (IBAN in groups of four, BIC, reference, terms);
//! - every page has a "Page n of m" footer.
//!
//! Nothing is computed here: amounts come from the composed [`Invoice`] and print with exactly
//! the currency's minor-unit decimals, as in the UBL file; an unrounded or foreign amount is
//! refused, not rounded.
//!
//! **Why `pdf-writer` and the standard fonts.** `pdf-writer` (typst's low-level writer) writes
//! exactly the objects asked for, with no layout engine, font loading or image stack to pull
//! in, which keeps the crate pure and a document at about 0.1 ms. Text uses the
//! standard Type 1 fonts Helvetica and Helvetica-Bold with WinAnsiEncoding, which every viewer
//! has built in, so no font file is embedded or shipped and a one-page invoice is a few KiB.
//! The price is the character set: CP1252 only (`text` maps the rest to `?`), enough for
//! the Western European names and the `€` l2c bills in. Widths for alignment and wrapping come
//! from Adobe's AFM metrics (`metrics`). `printpdf` and `genpdf` bring font, image and
//! layout machinery this one fixed page design does not need (`genpdf` also wants font
//! files); drawing the few boxes, rules and text runs by hand is shorter than configuring it.
//!
//! Layout: `canvas` (pages, cursor, footers), `header`, `table`, `summary` draw;
//! `format` and `text` turn values into strings and strings into glyph codes.
//!
//! [`Invoice`]: crate::Invoice

mod canvas;
mod format;
mod header;
mod metrics;
mod summary;
mod table;
mod text;

use crate::{BillingError, IssuedDocument};
use canvas::{Canvas, PAGE_HEIGHT, PAGE_WIDTH};
use chrono::Datelike;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use pdf_writer::{Buf, Date, Filter, Finish, Name, Pdf, Rect, Ref, TextStr};
use std::io::{self, Write as _};
use text::Font;

/// Writes `doc` as a PDF to `out` and hands `out` back.
///
/// Refuses a document that [`IssuedDocument::check`] rejects, or whose amounts are in another
/// currency or not rounded to the minor unit, as [`crate::ubl::write`] does. An I/O failure is
/// [`BillingError::Export`].
pub fn write<W: io::Write>(doc: &IssuedDocument, mut out: W) -> Result<W, BillingError> {
    let bytes = to_vec(doc)?;
    out.write_all(&bytes).map_err(export_error)?;
    out.flush().map_err(export_error)?;
    Ok(out)
}

/// `doc` as the bytes of one PDF file; see [`write`](fn@write).
pub fn to_vec(doc: &IssuedDocument) -> Result<Vec<u8>, BillingError> {
    doc.check()?;
    let pages = draw(doc)?;
    assemble(doc, &pages)
}

/// The one place an I/O error becomes a billing error.
fn export_error(e: io::Error) -> BillingError {
    BillingError::Export {
        format: "PDF",
        reason: e.to_string(),
    }
}

/// Every page's content stream, uncompressed.
fn draw(doc: &IssuedDocument) -> Result<Vec<Buf>, BillingError> {
    let title = header::title(doc.invoice.kind());
    let mut canvas = Canvas::new(format!("{title} {} (continued)", doc.number));
    header::draw(&mut canvas, doc);
    table::draw(&mut canvas, doc.invoice.lines(), doc.invoice.currency())?;
    summary::draw(&mut canvas, doc)?;
    Ok(canvas.finish(&format!("{title} {} · {}", doc.number, doc.seller.name)))
}

/// The file around the pages: catalog, page tree, the two fonts, document information, and
/// each page with its compressed content stream.
fn assemble(doc: &IssuedDocument, pages: &[Buf]) -> Result<Vec<u8>, BillingError> {
    let mut ids = Ref::new(1);
    let catalog = ids.bump();
    let tree = ids.bump();
    let info = ids.bump();
    let fonts = [(Font::Regular, ids.bump()), (Font::Bold, ids.bump())];
    let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (ids.bump(), ids.bump())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let count = i32::try_from(pages.len()).unwrap_or(i32::MAX);
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(page, _)| *page))
        .count(count);
    for (font, id) in fonts {
        pdf.type1_font(id)
            .base_font(Name(font.base_font()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (content, (page, stream)) in pages.iter().zip(&page_ids) {
        let mut writer = pdf.page(*page);
        writer
            .parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .contents(*stream);
        let mut resources = writer.resources();
        let mut dict = resources.fonts();
        for (font, id) in fonts {
            dict.pair(Name(font.resource()), id);
        }
        dict.finish();
        resources.finish();
        writer.finish();
        let compressed = deflate(content)?;
        pdf.stream(*stream, &compressed).filter(Filter::FlateDecode);
    }
    info_dictionary(&mut pdf, info, doc);
    Ok(pdf.finish())
}

/// Title = the number (what a viewer's window and a mail client's attachment list show).
fn info_dictionary(pdf: &mut Pdf, id: Ref, doc: &IssuedDocument) {
    let issued = doc.issue_date;
    // The issue date, not the clock: the same document renders to the same bytes.
    let date = Date::new(u16::try_from(issued.year()).unwrap_or(0))
        .month(u8::try_from(issued.month()).unwrap_or(1))
        .day(u8::try_from(issued.day()).unwrap_or(1));
    pdf.document_info(id)
        .title(TextStr(&doc.number))
        .author(TextStr(&doc.seller.name))
        .subject(TextStr(header::title(doc.invoice.kind())))
        .producer(TextStr("l2c"))
        .creation_date(date);
}

/// zlib (RFC 1950), what `FlateDecode` reads. The fastest level: on these small, repetitive
/// streams it renders twice as many documents per second as zlib's default (level 6) for
/// about 600 bytes more per file (`billing/benches/pdf.rs`: 3.4 KB against 2.7 KB).
fn deflate(data: &[u8]) -> Result<Vec<u8>, BillingError> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len() / 2), Compression::fast());
    encoder.write_all(data).map_err(export_error)?;
    encoder.finish().map_err(export_error)
}

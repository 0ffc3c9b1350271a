//! The pages being drawn: a cursor that runs down an A4 page and onto the next one.
//!
//! Coordinates are PDF points from the bottom-left corner. Sections ask for the room they
//! need with [`Canvas::ensure`] before drawing, which starts a new page when the rest of the
//! current one is too short; the footers ("Page n of m") are drawn last, in
//! [`Canvas::finish`], once the number of pages is known.

use super::text::{encode, width, Font};
use pdf_writer::{Buf, Content, Name, Str};

/// A4 portrait in points.
pub(super) const PAGE_WIDTH: f32 = 595.0;
pub(super) const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
/// The left edge of the text column.
pub(super) const LEFT: f32 = MARGIN;
/// The right edge of the text column; right-aligned text ends here.
pub(super) const RIGHT: f32 = PAGE_WIDTH - MARGIN;
/// The top of the first line on a page.
pub(super) const TOP: f32 = PAGE_HEIGHT - MARGIN;
/// Nothing but the footer goes below this.
const BOTTOM: f32 = MARGIN + 20.0;
/// The footer's baseline.
const FOOTER: f32 = MARGIN - 20.0;
/// Light grey for rules and boxes, so the text stays the strongest mark on the page.
const RULE_GREY: f32 = 0.6;

/// The finished pages and the one being drawn, with the cursor `y` on it.
pub(super) struct Canvas {
    done: Vec<Content>,
    current: Content,
    /// The baseline the next section starts from, moving down the page.
    pub(super) y: f32,
    /// What a continuation page shows at its top, e.g. `Invoice INV-1 (continued)`.
    continued: String,
}

impl Canvas {
    /// A first page with the cursor at its top.
    pub(super) fn new(continued: String) -> Self {
        Self {
            done: Vec::new(),
            current: Content::new(),
            y: TOP,
            continued,
        }
    }

    /// `text` with its baseline starting at (`x`, `y`).
    pub(super) fn text(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) {
        self.current
            .begin_text()
            .set_font(Name(font.resource()), size)
            .next_line(x, y)
            .show(Str(&encode(text)))
            .end_text();
    }

    /// `text` ending at `right`: amounts line up on their last digit.
    pub(super) fn text_right(&mut self, right: f32, y: f32, font: Font, size: f32, text: &str) {
        let x = right - width(font, size, text);
        self.text(x, y, font, size, text);
    }

    /// A horizontal rule from `x1` to `x2` at `y`.
    pub(super) fn rule(&mut self, x1: f32, x2: f32, y: f32, line_width: f32) {
        self.current
            .save_state()
            .set_stroke_gray(RULE_GREY)
            .set_line_width(line_width)
            .move_to(x1, y)
            .line_to(x2, y)
            .stroke()
            .restore_state();
    }

    /// A box with a light fill and a grey border, its lower-left corner at (`x`, `y`).
    pub(super) fn boxed(&mut self, x: f32, y: f32, w: f32, h: f32, fill: f32) {
        self.current
            .save_state()
            .set_fill_gray(fill)
            .set_stroke_gray(RULE_GREY)
            .set_line_width(0.75)
            .rect(x, y, w, h)
            .fill_nonzero_and_stroke()
            .restore_state();
    }

    /// Makes sure `height` points fit below the cursor, starting a new page if they do not;
    /// tells whether it did, so a table can repeat its header there.
    pub(super) fn ensure(&mut self, height: f32) -> bool {
        if self.y - height >= BOTTOM {
            return false;
        }
        self.new_page();
        true
    }

    fn new_page(&mut self) {
        let page = std::mem::replace(&mut self.current, Content::new());
        self.done.push(page);
        let continued = std::mem::take(&mut self.continued);
        self.text(LEFT, TOP, Font::Bold, 9.0, &continued);
        self.continued = continued;
        self.rule(LEFT, RIGHT, TOP - 6.0, 0.5);
        self.y = TOP - 22.0;
    }

    /// Every page's content stream, each with its footer: `left` at the left margin and
    /// "Page n of m" at the right.
    pub(super) fn finish(mut self, left: &str) -> Vec<Buf> {
        self.done.push(self.current);
        let count = self.done.len();
        self.done
            .into_iter()
            .enumerate()
            .map(|(i, mut page)| {
                footer(&mut page, left, &format!("Page {} of {count}", i + 1));
                page.finish()
            })
            .collect()
    }
}

fn footer(page: &mut Content, left: &str, right: &str) {
    let size = 8.0;
    let x = RIGHT - width(Font::Regular, size, right);
    page.save_state()
        .set_stroke_gray(RULE_GREY)
        .set_line_width(0.5)
        .move_to(LEFT, FOOTER + 10.0)
        .line_to(RIGHT, FOOTER + 10.0)
        .stroke()
        .restore_state();
    for (x, text) in [(LEFT, left), (x, right)] {
        page.begin_text()
            .set_font(Name(Font::Regular.resource()), size)
            .next_line(x, FOOTER)
            .show(Str(&encode(text)))
            .end_text();
    }
}

//! Text in the standard fonts: Unicode to WinAnsiEncoding bytes, text widths, line wrapping.
//!
//! The standard Type 1 fonts are not embedded, so a page can only show the glyphs that
//! WinAnsiEncoding (Windows code page 1252) names: ASCII, Latin-1 (`ä ö ü ß é ñ`) and the
//! CP1252 extras at 0x80..=0x9F (`€ „ “ ” – — Š Ž`). Any other character prints as `?`, so a
//! name in another script is visibly replaced rather than silently dropped.

use super::metrics::{HELVETICA, HELVETICA_BOLD};

/// The two faces the document uses, each a page resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Font {
    /// Helvetica.
    Regular,
    /// Helvetica-Bold.
    Bold,
}

impl Font {
    /// The resource name the content streams refer to.
    pub(super) fn resource(self) -> &'static [u8] {
        match self {
            Font::Regular => b"F1",
            Font::Bold => b"F2",
        }
    }

    /// The PostScript name of the standard font.
    pub(super) fn base_font(self) -> &'static [u8] {
        match self {
            Font::Regular => b"Helvetica",
            Font::Bold => b"Helvetica-Bold",
        }
    }

    /// Advance width of one WinAnsi code in 1/1000 em (0 for control codes, never emitted).
    fn units(self, code: u8) -> u32 {
        let table = match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        };
        let index = usize::from(code).wrapping_sub(0x20);
        table.get(index).map_or(0, |w| u32::from(*w))
    }
}

/// CP1252 at 0x80..=0x9F; `None` where the code page leaves a code undefined.
const CP1252_HIGH: [Option<char>; 32] = [
    Some('€'),
    None,
    Some('‚'),
    Some('ƒ'),
    Some('„'),
    Some('…'),
    Some('†'),
    Some('‡'),
    Some('ˆ'),
    Some('‰'),
    Some('Š'),
    Some('‹'),
    Some('Œ'),
    None,
    Some('Ž'),
    None,
    None,
    Some('‘'),
    Some('’'),
    Some('“'),
    Some('”'),
    Some('•'),
    Some('–'),
    Some('—'),
    Some('˜'),
    Some('™'),
    Some('š'),
    Some('›'),
    Some('œ'),
    None,
    Some('ž'),
    Some('Ÿ'),
];

/// The WinAnsi code of `c`: itself for ASCII and Latin-1, its CP1252 slot for the extras, a
/// space for whitespace controls, `?` for everything the standard fonts cannot show.
pub(super) fn encode_char(c: char) -> u8 {
    match c {
        ' '..='~' | '\u{A0}'..='\u{FF}' => u8::try_from(c).unwrap_or(b'?'),
        '\t' | '\n' | '\r' => b' ',
        _ => CP1252_HIGH
            .iter()
            .position(|&high| high == Some(c))
            .and_then(|i| u8::try_from(0x80 + i).ok())
            .unwrap_or(b'?'),
    }
}

/// `text` as WinAnsi bytes, one per character.
pub(super) fn encode(text: &str) -> Vec<u8> {
    text.chars().map(encode_char).collect()
}

/// Width of `text` in 1/1000 em.
fn units(font: Font, text: &str) -> u32 {
    text.chars().map(|c| font.units(encode_char(c))).sum()
}

/// Width of `text` in points at `size`.
pub(super) fn width(font: Font, size: f32, text: &str) -> f32 {
    em_to_points(units(font, text), size)
}

fn em_to_points(units: u32, size: f32) -> f32 {
    // Widths of one line stay far below f32's exact integer range (2^24).
    units as f32 * size / 1000.0
}

/// `text` broken into lines no wider than `max` points at `size`, at spaces; a word wider
/// than `max` on its own (an IBAN-like token, a long product code) is cut between characters.
/// Always at least one line, so an empty cell still takes its row.
pub(super) fn wrap(font: Font, size: f32, text: &str, max: f32) -> Vec<String> {
    let limit = max * 1000.0 / size;
    let space = font.units(b' ');
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_units = 0;
    for word in text.split_whitespace() {
        let word_units = units(font, word);
        let joined = line_units + space + word_units;
        if !line.is_empty() && joined as f32 <= limit {
            line.push(' ');
            line.push_str(word);
            line_units = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        line_units = cut_word(font, word, limit, &mut lines, &mut line);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Puts `word` into `line` (empty on entry), pushing full pieces to `lines` whenever it
/// overflows `limit`; returns the width of what is left in `line`.
fn cut_word(font: Font, word: &str, limit: f32, lines: &mut Vec<String>, line: &mut String) -> u32 {
    let mut line_units = 0;
    for c in word.chars() {
        let c_units = font.units(encode_char(c));
        if !line.is_empty() && (line_units + c_units) as f32 > limit {
            lines.push(std::mem::take(line));
            line_units = 0;
        }
        line.push(c);
        line_units += c_units;
    }
    line_units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_and_cp1252_extras_map_to_their_codes_and_the_rest_to_a_question_mark() {
        assert_eq!(encode("aäöüß"), [b'a', 0xE4, 0xF6, 0xFC, 0xDF]);
        assert_eq!(encode("€–é"), [0x80, 0x96, 0xE9]);
        assert_eq!(encode("Łź\u{1F600}"), b"???");
        assert_eq!(encode("a\tb"), b"a b");
    }

    #[test]
    fn widths_come_from_the_afm_tables() {
        // Helvetica: 'W' 944, 'i' 222; Helvetica-Bold 'W' 944, 'i' 278; '€' 556 in both.
        assert!((width(Font::Regular, 10.0, "Wi") - 11.66).abs() < 1e-3);
        assert!((width(Font::Bold, 10.0, "Wi") - 12.22).abs() < 1e-3);
        assert!((width(Font::Regular, 1000.0, "€") - 556.0).abs() < 1e-3);
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_words_that_cannot_fit() {
        let lines = wrap(Font::Regular, 10.0, "one two three four", 50.0);
        assert_eq!(lines, ["one two", "three four"]);
        for line in &lines {
            assert!(width(Font::Regular, 10.0, line) <= 50.0, "{line}");
        }
        let cut = wrap(Font::Regular, 10.0, "ABCDEFGHIJKLMNOP", 30.0);
        assert!(
            cut.len() > 1 && cut.concat() == "ABCDEFGHIJKLMNOP",
            "{cut:?}"
        );
        assert_eq!(wrap(Font::Bold, 8.0, "", 100.0), [""]);
    }
}

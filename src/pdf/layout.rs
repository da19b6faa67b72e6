//! Pure layout rules: fonts and text measurement, line wrapping, pagination
//! and the QR module matrix. No drawing and no I/O here.

use std::ops::Range;
use std::sync::LazyLock;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

/// DejaVu Sans (Bitstream Vera licence, see `fonts/LICENSE-DejaVu.txt`).
static REGULAR_TTF: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../fonts/DejaVuSans-Bold.ttf");

/// A font with what measuring needs: glyph ids and advances (in em) of the
/// ASCII characters, looked up once; other characters through the cmap.
pub struct Face {
    pub font: Font,
    bytes: &'static [u8],
    ascii: Vec<(u32, f32)>,
    units_per_em: f32,
}

pub static REGULAR: LazyLock<Face> = LazyLock::new(|| Face::load(REGULAR_TTF));
pub static BOLD: LazyLock<Face> = LazyLock::new(|| Face::load(BOLD_TTF));

impl Face {
    fn load(bytes: &'static [u8]) -> Face {
        let font = Font::new(bytes.into(), 0).expect("the bundled font parses");
        let units_per_em = font.units_per_em();
        let mut face = Face {
            font,
            bytes,
            ascii: Vec::new(),
            units_per_em,
        };
        face.ascii = (0u8..128)
            .map(|b| face.lookup(char::from(b)))
            .collect::<Vec<_>>();
        face
    }

    fn lookup(&self, c: char) -> (u32, f32) {
        let Ok(font) = FontRef::new(self.bytes) else {
            return (0, 0.5);
        };
        let gid = font.charmap().map(c).unwrap_or_default();
        let advance = font
            .glyph_metrics(Size::unscaled(), LocationRef::default())
            .advance_width(gid)
            .unwrap_or(0.0);
        (gid.to_u32(), advance / self.units_per_em)
    }

    fn glyph(&self, c: char) -> (u32, f32) {
        match self.ascii.get(c as usize) {
            Some(g) => *g,
            None => self.lookup(c),
        }
    }

    /// The width of a line of text at a font size, in points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).1).sum::<f32>() * size
    }

    /// One glyph per character, each mapped back to its text (so the text
    /// extracts exactly, with no ligatures).
    pub fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                let (gid, advance) = self.glyph(c);
                KrillaGlyph::new(
                    GlyphId::new(gid),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }
}

/// Text as it may be printed: control characters (tabs, stray carriage
/// returns) become spaces. Markup stays as typed: PDF text is not HTML.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Breaks text into lines no wider than `max` by `measure`: at the line
/// breaks it has, then between words; a word longer than a line is cut.
pub fn wrap(text: &str, max: f32, measure: impl Fn(&str) -> f32) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = printable(paragraph.trim_end_matches('\r'));
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if measure(&candidate) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                out.push(std::mem::take(&mut line));
            }
            // The word alone: cut it where it overflows.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if measure(&piece) > max && piece.chars().count() > 1 {
                    piece.pop();
                    out.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        out.push(line);
    }
    // Blank lines inside are kept; trailing blank lines are not.
    while out.len() > 1 && out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// Splits table rows over pages. `first` and `rest` are the heights free
/// for rows on the first and the following pages; `tail` is what must
/// follow the last row on the same page (totals, payment box). Every page
/// gets at least one row, however tall, so the split always ends; a tail
/// that does not fit after the last row gets a page of its own (an empty
/// range). Returns one range of row indexes per page.
pub fn paginate(heights: &[f32], first: f32, rest: f32, tail: f32) -> Vec<Range<usize>> {
    let mut pages = Vec::new();
    let mut start = 0;
    let mut free = first;
    let mut used = 0.0;
    for (i, h) in heights.iter().enumerate() {
        if used + h > free && i > start {
            pages.push(start..i);
            start = i;
            free = rest;
            used = 0.0;
        }
        used += h;
    }
    pages.push(start..heights.len());
    if used + tail > free && !heights.is_empty() {
        pages.push(heights.len()..heights.len());
    }
    pages
}

/// A QR code of `text` (error correction M): its width in modules and
/// whether each module, row by row, is dark. `None` when it does not fit.
pub fn qr_matrix(text: &str) -> Option<(usize, Vec<bool>)> {
    let code =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).ok()?;
    let width = code.width();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Some((width, dark))
}

/// The dark modules as horizontal runs `(row, first column, length)`: one
/// rectangle per run keeps the drawing small and leaves no seams.
pub fn qr_runs(width: usize, dark: &[bool]) -> Vec<(usize, usize, usize)> {
    let mut runs = Vec::new();
    for (row, cells) in dark.chunks(width).enumerate() {
        let mut col = 0;
        while col < cells.len() {
            if cells[col] {
                let start = col;
                while col < cells.len() && cells[col] {
                    col += 1;
                }
                runs.push((row, start, col - start));
            } else {
                col += 1;
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character 1 unit wide.
    fn chars(s: &str) -> f32 {
        s.chars().count() as f32
    }

    #[test]
    fn wrap_between_words_and_cuts_long_words() {
        assert_eq!(wrap("one two three", 7.0, chars), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4.0, chars), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\nb c", 10.0, chars), vec!["a", "b c"]);
        assert_eq!(wrap("", 10.0, chars), vec![""]);
        assert_eq!(wrap("x\n\n", 10.0, chars), vec!["x"]);
        assert_eq!(wrap("tab\there", 20.0, chars), vec!["tab here"]);
        // Markup is text like any other.
        assert_eq!(
            wrap("<script>alert(1)</script>", 100.0, chars),
            vec!["<script>alert(1)</script>"]
        );
    }

    #[test]
    fn wrap_never_exceeds_the_width_with_real_metrics() {
        let text = "Quarterly interior and exterior general pest control service, including \
                    termite inspection of the crawl space and garage";
        for line in wrap(text, 150.0, |s| REGULAR.width(s, 9.0)) {
            assert!(REGULAR.width(&line, 9.0) <= 150.0, "{line}");
        }
        assert!(BOLD.width("Total", 10.0) > REGULAR.width("Total", 10.0));
        assert!(REGULAR.width("WWW", 10.0) > REGULAR.width("iii", 10.0));
    }

    #[test]
    fn paginate_fills_pages_and_keeps_the_tail_with_the_last_rows() {
        // Ten rows of 10 on a first page with room for 35 and 50 after.
        let rows = [10.0; 10];
        assert_eq!(paginate(&rows, 35.0, 50.0, 10.0), vec![0..3, 3..8, 8..10]);
        // The tail does not fit after the last rows: a page of its own.
        assert_eq!(
            paginate(&rows, 35.0, 50.0, 40.0),
            vec![0..3, 3..8, 8..10, 10..10]
        );
        // Everything on one page.
        assert_eq!(paginate(&rows[..2], 100.0, 100.0, 50.0), vec![0..2]);
        // No rows at all.
        assert_eq!(paginate(&[], 100.0, 100.0, 50.0), vec![0..0]);
        // A row taller than a page still goes somewhere.
        assert_eq!(paginate(&[80.0, 5.0], 50.0, 50.0, 0.0), vec![0..1, 1..2]);
    }

    #[test]
    fn sixty_lines_need_more_than_one_page() {
        let rows = vec![14.0; 60];
        let pages = paginate(&rows, 792.0 - 330.0, 792.0 - 200.0, 180.0);
        assert!(pages.len() >= 2);
        assert_eq!(pages.iter().map(|r| r.len()).sum::<usize>(), 60);
        assert_eq!(pages.first().map(|r| r.start), Some(0));
        for w in pages.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
    }

    #[test]
    fn qr_runs_cover_exactly_the_dark_modules() {
        let (w, dark) = qr_matrix("https://pay.example.test/pay/abc").unwrap();
        assert_eq!(dark.len(), w * w);
        let mut painted = vec![false; w * w];
        for (row, col, len) in qr_runs(w, &dark) {
            for c in col..col + len {
                assert!(!painted[row * w + c]);
                painted[row * w + c] = true;
            }
        }
        assert_eq!(painted, dark);
        assert_eq!(
            qr_runs(
                3,
                &[true, true, false, false, true, true, true, false, true]
            ),
            vec![(0, 0, 2), (1, 1, 2), (2, 0, 1), (2, 2, 1)]
        );
    }
}

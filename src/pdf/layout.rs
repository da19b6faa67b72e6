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

/// The characters whose glyphs every PDF embeds, subset and compressed
/// once per process (`krilla::text::prepare_glyphs`) instead of on every
/// render: printable ASCII, Latin-1 (Spanish and the other Western European
/// languages) and the punctuation and symbols people paste into names and
/// descriptions. Text with any other character the font has is still drawn:
/// that PDF subsets the font for the prepared glyphs and its own, as every
/// render did before.
pub const PREPARED: &[std::ops::RangeInclusive<char>] = &[
    ' '..='~',
    '\u{a0}'..='\u{ff}',
    '\u{2013}'..='\u{2014}', // – —
    '\u{2018}'..='\u{201e}', // ‘ ’ ‚ ‛ “ ” „
    '\u{2022}'..='\u{2022}', // •
    '\u{2026}'..='\u{2026}', // …
    '\u{20ac}'..='\u{20ac}', // €
    '\u{2122}'..='\u{2122}', // ™
];

/// Whether `c` is one of the `PREPARED` characters.
pub fn is_prepared(c: char) -> bool {
    PREPARED.iter().any(|range| range.contains(&c))
}

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
        krilla::text::prepare_glyphs(&face.font, &face.prepared_glyphs())
            .expect("the bundled font's glyphs prepare");
        face
    }

    /// The font file as bundled.
    #[cfg(test)]
    pub fn bytes(&self) -> &'static [u8] {
        self.bytes
    }

    /// The glyphs of the `PREPARED` characters the font has, each once
    /// (with the first character that maps to it).
    fn prepared_glyphs(&self) -> Vec<(GlyphId, String)> {
        let mut seen = std::collections::HashSet::new();
        PREPARED
            .iter()
            .flat_map(|range| range.clone())
            .filter_map(|c| {
                let gid = self.lookup(c).0;
                (gid != 0 && seen.insert(gid)).then(|| (GlyphId::new(gid), c.to_string()))
            })
            .collect()
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
///
/// The same code as `qrcode::QrCode::with_error_correction_level` gives
/// (the tests compare them), but the mask is chosen here: each of the eight
/// masks is applied by `apply_mask` below to one reading of the unmasked
/// code and scored by `penalty`, where the crate clones the whole code,
/// masks it through a function pointer per module and allocates for every
/// position it scores.
pub fn qr_matrix(text: &str) -> Option<(usize, Vec<bool>)> {
    use qrcode::canvas::Canvas;
    let ec = qrcode::EcLevel::M;
    let bits = qrcode::bits::encode_auto(text.as_bytes(), ec).ok()?;
    let version = bits.version();
    let (data, ec_data) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, ec).ok()?;
    let mut canvas = Canvas::new(version, ec);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec_data);
    let width = usize::try_from(version.width()).ok()?;
    let unmasked = unmasked_modules(&canvas, width)?;
    let mut best: Option<(u32, Vec<bool>)> = None;
    let mut columns = Vec::with_capacity(width * width);
    let mut dark = Vec::with_capacity(width * width);
    for pattern in MASKS {
        apply_mask(&unmasked, width, pattern as usize, &mut dark);
        let score = penalty(width, &dark, &mut columns);
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, dark.clone()));
        }
    }
    best.map(|(_, dark)| (width, dark))
}

/// The eight masks in the crate's order: on equal penalties the first wins.
const MASKS: [qrcode::canvas::MaskPattern; 8] = {
    use qrcode::canvas::MaskPattern;
    [
        MaskPattern::Checkerboard,
        MaskPattern::HorizontalLines,
        MaskPattern::VerticalLines,
        MaskPattern::DiagonalLines,
        MaskPattern::LargeCheckerboard,
        MaskPattern::Fields,
        MaskPattern::Diamonds,
        MaskPattern::Meadow,
    ]
};

/// A module of the code before masking: fixed (`FIXED_LIGHT`, `FIXED_DARK`:
/// finder, timing, alignment and version patterns) or data that the mask
/// inverts (`DATA_LIGHT`, `DATA_DARK`; a module left empty masks as light).
const FIXED_LIGHT: u8 = 0;
const FIXED_DARK: u8 = 1;
const DATA_LIGHT: u8 = 2;
const DATA_DARK: u8 = 3;

fn unmasked_modules(canvas: &qrcode::canvas::Canvas, width: usize) -> Option<Vec<u8>> {
    use qrcode::Color::Dark;
    use qrcode::canvas::Module;
    let side = i16::try_from(width).ok()?;
    let mut modules = Vec::with_capacity(width * width);
    for y in 0..side {
        for x in 0..side {
            modules.push(match canvas.get(x, y) {
                Module::Empty => DATA_LIGHT,
                Module::Unmasked(Dark) => DATA_DARK,
                Module::Unmasked(_) => DATA_LIGHT,
                Module::Masked(Dark) => FIXED_DARK,
                Module::Masked(_) => FIXED_LIGHT,
            });
        }
    }
    Some(modules)
}

/// The format information of error correction M with each mask pattern
/// (ISO/IEC 18004 table C.1; the `qrcode` crate's values).
const FORMAT_M: [u16; 8] = [
    0x5412, 0x5125, 0x5e7c, 0x5b4b, 0x45f9, 0x40ce, 0x4f97, 0x4aa0,
];

/// Where the 15 format bits go, most significant first, once around the
/// top-left finder and once split between the other two (negative: from
/// the far edge), as the crate draws them.
#[rustfmt::skip]
const FORMAT_MAIN: [(i16, i16); 15] = [
    (0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (7, 8), (8, 8),
    (8, 7), (8, 5), (8, 4), (8, 3), (8, 2), (8, 1), (8, 0),
];
#[rustfmt::skip]
const FORMAT_SIDE: [(i16, i16); 15] = [
    (8, -1), (8, -2), (8, -3), (8, -4), (8, -5), (8, -6), (8, -7), (-8, 8),
    (-7, 8), (-6, 8), (-5, 8), (-4, 8), (-3, 8), (-2, 8), (-1, 8),
];

/// `dark` becomes the code masked with pattern `pattern` (0-7, the
/// crate's `MaskPattern` numbers) with its format information drawn: what
/// the crate's `Canvas::apply_mask` and `into_colors` give.
fn apply_mask(unmasked: &[u8], width: usize, pattern: usize, dark: &mut Vec<bool>) {
    fn masked(
        unmasked: &[u8],
        width: usize,
        dark: &mut Vec<bool>,
        invert: impl Fn(usize, usize) -> bool,
    ) {
        dark.clear();
        dark.extend(unmasked.iter().enumerate().map(|(i, &m)| match m {
            DATA_LIGHT | DATA_DARK => (m == DATA_DARK) != invert(i % width, i / width),
            _ => m == FIXED_DARK,
        }));
    }
    match pattern {
        0 => masked(unmasked, width, dark, |x, y| (x + y) % 2 == 0),
        1 => masked(unmasked, width, dark, |_, y| y % 2 == 0),
        2 => masked(unmasked, width, dark, |x, _| x % 3 == 0),
        3 => masked(unmasked, width, dark, |x, y| (x + y) % 3 == 0),
        4 => masked(unmasked, width, dark, |x, y| (y / 2 + x / 3) % 2 == 0),
        5 => masked(unmasked, width, dark, |x, y| (x * y) % 2 + (x * y) % 3 == 0),
        6 => masked(unmasked, width, dark, |x, y| {
            ((x * y) % 2 + (x * y) % 3) % 2 == 0
        }),
        _ => masked(unmasked, width, dark, |x, y| {
            ((x + y) % 2 + (x * y) % 3) % 2 == 0
        }),
    }
    let at = |x: i16, y: i16| {
        let side = width as i16;
        let wrap = |v: i16| usize::try_from(if v < 0 { v + side } else { v }).unwrap_or(0);
        wrap(y) * width + wrap(x)
    };
    let format = FORMAT_M[pattern % 8];
    for (bit, (main, side)) in FORMAT_MAIN.iter().zip(&FORMAT_SIDE).enumerate() {
        let on = format & (1 << (14 - bit)) != 0;
        dark[at(main.0, main.1)] = on;
        dark[at(side.0, side.1)] = on;
    }
    dark[at(8, -8)] = true;
}

/// The mask penalty of ISO/IEC 18004 as the `qrcode` crate scores it: runs
/// of five or more, 2×2 blocks, finder-like patterns and the dark/light
/// balance. (The crate takes the real finder patterns' points off; they are
/// the same for every mask, so the choice is the same.) `columns` is a
/// buffer for the matrix read down, reused across the eight masks.
fn penalty(width: usize, dark: &[bool], columns: &mut Vec<bool>) -> u32 {
    columns.clear();
    columns.extend((0..width * width).map(|k| dark[(k % width) * width + k / width]));
    let mut score = 0u32;
    for lines in [dark, columns.as_slice()] {
        for line in lines.chunks_exact(width) {
            score += line_penalty(line);
        }
    }
    for (above, below) in dark
        .chunks_exact(width)
        .zip(dark.chunks_exact(width).skip(1))
    {
        for (a, b) in above.windows(2).zip(below.windows(2)) {
            // Four modules of one colour: all four dark or none. Counted
            // without a branch: QR modules are as good as random, so a
            // branch here was mispredicted half the time.
            let darks = u8::from(a[0]) + u8::from(a[1]) + u8::from(b[0]) + u8::from(b[1]);
            score += 3 * u32::from(darks % 4 == 0);
        }
    }
    let darks = dark.iter().filter(|d| **d).count();
    let ratio = darks * 200 / dark.len();
    score + ratio.abs_diff(100) as u32
}

/// One row or column's share of the penalty: runs of five or more of the
/// same colour, and dark-light-dark-dark-dark-light-dark without four
/// light modules on both sides. One pass, the last seven modules kept as
/// bits.
fn line_penalty(line: &[bool]) -> u32 {
    const FINDER: u8 = 0b101_1101;
    let dark_in = |from: usize, to: usize| line[from..to.min(line.len())].contains(&true);
    let mut score = 0u32;
    let mut run = 0u32;
    let mut window = 0u8;
    for (j, &d) in line.iter().enumerate() {
        if j > 0 && d != line[j - 1] {
            if run >= 5 {
                score += run - 2;
            }
            run = 0;
        }
        run += 1;
        window = ((window << 1) | u8::from(d)) & 0x7f;
        if j >= 6 && window == FINDER {
            let first = j - 6;
            if !dark_in(first.saturating_sub(4), first) || !dark_in(j + 1, j + 5) {
                score += 40;
            }
        }
    }
    if run >= 5 {
        score += run - 2;
    }
    score
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

/// The dark modules as rectangles `(row, column, width, height)`: the
/// horizontal runs, with the same run on the rows below merged into one
/// taller rectangle. About a third fewer shapes than one per run, so a
/// smaller content stream to write and compress.
pub fn qr_rects(width: usize, dark: &[bool]) -> Vec<(usize, usize, usize, usize)> {
    let mut rects: Vec<(usize, usize, usize, usize)> = Vec::new();
    // For each run open on the row above: (column, length) -> index in rects.
    let mut open: std::collections::HashMap<(usize, usize), usize> = Default::default();
    let mut next = std::collections::HashMap::new();
    let mut row_now = 0;
    for (row, col, len) in qr_runs(width, dark) {
        if row != row_now {
            // Only runs on the row just above can grow.
            if row == row_now + 1 {
                open = std::mem::take(&mut next);
            } else {
                open.clear();
                next.clear();
            }
            row_now = row;
        }
        match open.remove(&(col, len)) {
            Some(i) => {
                rects[i].3 += 1;
                next.insert((col, len), i);
            }
            None => {
                next.insert((col, len), rects.len());
                rects.push((row, col, len, 1));
            }
        }
    }
    rects
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

    /// The penalty as first written: position by position, each line read
    /// through a closure. `penalty` must score every matrix the same.
    fn penalty_reference(width: usize, dark: &[bool]) -> u32 {
        let at = |x: usize, y: usize| dark[y * width + x];
        let mut score = 0u32;
        // Lines read across (`horizontal`) or down.
        for horizontal in [true, false] {
            let cell = |i: usize, j: usize| if horizontal { at(j, i) } else { at(i, j) };
            for i in 0..width {
                // Runs of the same colour.
                let mut run = 1u32;
                for j in 1..=width {
                    if j < width && cell(i, j) == cell(i, j - 1) {
                        run += 1;
                    } else {
                        if run >= 5 {
                            score += run - 2;
                        }
                        run = 1;
                    }
                }
                // Dark-light-dark-dark-dark-light-dark without four light
                // modules on both sides.
                const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
                for j in 0..width.saturating_sub(6) {
                    if (0..7).any(|k| cell(i, j + k) != FINDER[k]) {
                        continue;
                    }
                    let dark_in =
                        |from: usize, to: usize| (from..to.min(width)).any(|k| cell(i, k));
                    if !dark_in(j.saturating_sub(4), j) || !dark_in(j + 7, j + 11) {
                        score += 40;
                    }
                }
            }
        }
        for y in 0..width - 1 {
            for x in 0..width - 1 {
                let c = at(x, y);
                if at(x + 1, y) == c && at(x, y + 1) == c && at(x + 1, y + 1) == c {
                    score += 3;
                }
            }
        }
        let darks = dark.iter().filter(|d| **d).count();
        let ratio = darks * 200 / dark.len();
        score + ratio.abs_diff(100) as u32
    }

    #[test]
    fn penalty_scores_as_the_position_by_position_reading() {
        // A small xorshift: reproducible matrices of every QR width used
        // for payment links and beyond, with runs, finder-like patterns and
        // 2x2 blocks in them.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut columns = Vec::new();
        for case in 0..400 {
            let width = 21 + 4 * (case % 12);
            // Sparse, even and dense matrices.
            let bias = [2u64, 4, 6][case % 3];
            let dark: Vec<bool> = (0..width * width).map(|_| next() % 8 < bias).collect();
            assert_eq!(
                penalty(width, &dark, &mut columns),
                penalty_reference(width, &dark),
                "case {case}, width {width}"
            );
        }
        // Finder patterns with and without light margins, at the edges.
        let width = 21;
        for offset in 0..width - 6 {
            let mut dark = vec![false; width * width];
            for (k, d) in [true, false, true, true, true, false, true]
                .iter()
                .enumerate()
            {
                dark[offset + k] = *d;
                dark[(offset + k) * width] = *d;
            }
            assert_eq!(
                penalty(width, &dark, &mut columns),
                penalty_reference(width, &dark)
            );
        }
    }

    #[test]
    fn qr_matrix_is_the_code_the_qrcode_crate_draws() {
        let mut urls: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    "https://pay.example.test/pay/{}",
                    &"q1T3vXb9S0m8Zr2LkWc7eYpA5hN4uJdF6gHiKoPlMnQ".repeat(3)[..20 + i % 97]
                )
            })
            .collect();
        urls.extend(
            [
                "a",
                "HELLO WORLD 123",
                "0123456789",
                "https://a.test/portal",
            ]
            .map(String::from),
        );
        for url in &urls {
            let code =
                qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
                    .unwrap();
            let expected: Vec<bool> = code
                .to_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect();
            assert_eq!(qr_matrix(url), Some((code.width(), expected)), "{url}");
        }
        assert_eq!(qr_matrix(&"x".repeat(3000)), None);
    }

    #[test]
    fn each_mask_is_applied_as_the_qrcode_crate_applies_it() {
        use qrcode::canvas::Canvas;
        // Versions 1 to 10 and beyond: with and without alignment and
        // version patterns, and with remainder modules left empty.
        for len in [1, 10, 30, 60, 90, 120, 150, 200, 400] {
            let text = "q1T3vXb9S0m8Zr2LkWc7eYpA5hN4uJdF6gHiKoPlMnQ".repeat(10)[..len].to_string();
            let ec = qrcode::EcLevel::M;
            let bits = qrcode::bits::encode_auto(text.as_bytes(), ec).unwrap();
            let version = bits.version();
            let (data, ec_data) =
                qrcode::ec::construct_codewords(&bits.into_bytes(), version, ec).unwrap();
            let mut canvas = Canvas::new(version, ec);
            canvas.draw_all_functional_patterns();
            canvas.draw_data(&data, &ec_data);
            let width = version.width() as usize;
            let unmasked = unmasked_modules(&canvas, width).unwrap();
            let mut dark = Vec::new();
            for pattern in MASKS {
                let mut masked = canvas.clone();
                masked.apply_mask(pattern);
                let expected: Vec<bool> = masked
                    .into_colors()
                    .into_iter()
                    .map(|c| c == qrcode::Color::Dark)
                    .collect();
                apply_mask(&unmasked, width, pattern as usize, &mut dark);
                assert_eq!(dark, expected, "length {len}, {pattern:?}");
            }
        }
    }

    #[test]
    fn qr_rects_cover_exactly_the_dark_modules_with_fewer_shapes() {
        let (w, dark) = qr_matrix(&sample_url()).unwrap();
        let mut painted = vec![false; w * w];
        let rects = qr_rects(w, &dark);
        for &(row, col, width, height) in &rects {
            for r in row..row + height {
                for c in col..col + width {
                    assert!(!painted[r * w + c]);
                    painted[r * w + c] = true;
                }
            }
        }
        assert_eq!(painted, dark);
        assert!(rects.len() < qr_runs(w, &dark).len());
        // Two rows with the same run, then one with a different run.
        assert_eq!(
            qr_rects(
                3,
                &[true, true, false, true, true, false, false, true, false]
            ),
            vec![(0, 0, 2, 2), (2, 1, 1, 1)]
        );
    }

    fn sample_url() -> String {
        "https://pay.greenleaf.example/pay/q1T3vXb9S0m8Zr2LkWc7eYpA5hN4uJdF6gHiKoPlMnQ".into()
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

//! What a PDF embeds for its text: every character maps (ToUnicode) to a
//! glyph of the embedded font program drawn exactly as the bundled font
//! draws that character, whether the character is one of the glyphs
//! prepared once per process (`layout::PREPARED`) or not.

use std::collections::HashMap;

use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::{FontRef, GlyphId, MetadataProvider};

use super::layout::{BOLD, Face, REGULAR, is_prepared};
use super::{render_invoice, sample_invoice};
use crate::domain::i18n::Lang;

/// The dictionary and stream of object `n`.
fn object(pdf: &[u8], n: u32) -> &[u8] {
    let head = format!("\n{n} 0 obj\n");
    let start = pdf
        .windows(head.len())
        .position(|w| w == head.as_bytes())
        .unwrap_or_else(|| panic!("object {n}"))
        + head.len();
    let len = pdf[start..]
        .windows(7)
        .position(|w| w == b"\nendobj")
        .unwrap();
    &pdf[start..start + len]
}

/// The number after `/key` (a reference `N 0 R`, or `[N 0 R]`, or a length).
fn number(dict: &[u8], key: &str) -> Option<u32> {
    let key = format!("/{key}");
    let at = dict.windows(key.len()).position(|w| w == key.as_bytes())? + key.len();
    let digits: String = dict[at..]
        .iter()
        .map(|b| char::from(*b))
        .skip_while(|c| *c == ' ' || *c == '[')
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The data of stream object `n`, inflated when it is compressed.
fn stream(pdf: &[u8], n: u32) -> Vec<u8> {
    use std::io::Read;
    let obj = object(pdf, n);
    let len = number(obj, "Length").unwrap() as usize;
    let start = obj.windows(7).position(|w| w == b"stream\n").unwrap() + 7;
    let raw = &obj[start..start + len];
    if obj[..start].windows(12).any(|w| w == b"/FlateDecode") {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(raw)
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw.to_vec()
    }
}

/// One embedded font: its CIDs' text and its font program.
struct Embedded {
    text: HashMap<u16, String>,
    program: Vec<u8>,
}

fn embedded_fonts(pdf: &[u8]) -> Vec<Embedded> {
    let marker = b"/Subtype/Type0";
    let mut fonts = Vec::new();
    for (at, _) in pdf
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
    {
        let open = pdf[..at].windows(6).rposition(|w| w == b" 0 obj").unwrap();
        let first = pdf[..open].iter().rposition(|b| *b == b'\n').unwrap() + 1;
        let n: u32 = std::str::from_utf8(&pdf[first..open])
            .unwrap()
            .parse()
            .unwrap();
        let font = object(pdf, n);
        let cid_font = object(pdf, number(font, "DescendantFonts").unwrap());
        let descriptor = object(pdf, number(cid_font, "FontDescriptor").unwrap());
        let program = stream(pdf, number(descriptor, "FontFile2").unwrap());
        let cmap = String::from_utf8(stream(pdf, number(font, "ToUnicode").unwrap())).unwrap();
        let mut text = HashMap::new();
        for line in cmap.lines() {
            // `<0001> <0041>`: a CID and its text in UTF-16BE.
            let hex: Vec<&str> = line
                .split(['<', '>', ' '])
                .filter(|s| !s.is_empty())
                .collect();
            if let [cid, utf16] = hex[..]
                && cid.len() == 4
                && utf16.len() % 4 == 0
                && let Ok(cid) = u16::from_str_radix(cid, 16)
            {
                let units: Vec<u16> = (0..utf16.len() / 4)
                    .map(|i| u16::from_str_radix(&utf16[4 * i..4 * i + 4], 16).unwrap())
                    .collect();
                text.insert(cid, String::from_utf16(&units).unwrap());
            }
        }
        fonts.push(Embedded { text, program });
    }
    fonts
}

/// The outline of a glyph as drawing commands, in font units.
#[derive(Default, PartialEq, Debug)]
struct Path(Vec<(char, [f32; 6])>);

impl OutlinePen for Path {
    fn move_to(&mut self, x: f32, y: f32) {
        self.0.push(('M', [x, y, 0.0, 0.0, 0.0, 0.0]));
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.0.push(('L', [x, y, 0.0, 0.0, 0.0, 0.0]));
    }
    fn quad_to(&mut self, cx0: f32, cy0: f32, x: f32, y: f32) {
        self.0.push(('Q', [cx0, cy0, x, y, 0.0, 0.0]));
    }
    fn curve_to(&mut self, cx0: f32, cy0: f32, cx1: f32, cy1: f32, x: f32, y: f32) {
        self.0.push(('C', [cx0, cy0, cx1, cy1, x, y]));
    }
    fn close(&mut self) {
        self.0.push(('Z', [0.0; 6]));
    }
}

fn outline(program: &[u8], glyph: u32) -> Path {
    let font = FontRef::new(program).unwrap();
    let mut path = Path::default();
    if let Some(g) = font.outline_glyphs().get(GlyphId::new(glyph)) {
        g.draw(
            DrawSettings::unhinted(Size::unscaled(), LocationRef::default()),
            &mut path,
        )
        .unwrap();
    }
    path
}

/// The glyph the bundled font draws for `c`.
fn bundled_outline(face: &Face, c: char) -> Path {
    let font = FontRef::new(face.bytes()).unwrap();
    let glyph = font.charmap().map(c).unwrap();
    outline(face.bytes(), glyph.to_u32())
}

/// Every character of `text` but spaces is in one of the PDF's fonts,
/// mapped to a glyph with ink that is the bundled face's glyph for it.
fn assert_drawn(pdf: &[u8], face: &Face, text: &str) {
    let fonts = embedded_fonts(pdf);
    for c in text.chars().filter(|c| !c.is_whitespace()) {
        let want = bundled_outline(face, c);
        assert!(!want.0.is_empty(), "{c:?} has ink in the bundled font");
        let found = fonts.iter().any(|f| {
            f.text
                .iter()
                .any(|(cid, t)| *t == c.to_string() && outline(&f.program, u32::from(*cid)) == want)
        });
        assert!(found, "{c:?} of {text:?} is embedded with its glyph");
    }
}

#[test]
fn spanish_and_latin_1_text_embeds_the_prepared_glyphs() {
    let mut doc = sample_invoice(2);
    doc.lang = Lang::Es;
    doc.bill_to_name = "Begoña Núñez-Ibáñez".into();
    doc.lines[0].description =
        "Tratamiento de garaje, ¿cuántas trampas? ¡Año 2026! «Güero» – 5 €".into();
    let pdf = render_invoice(&doc).unwrap();
    assert!(doc.bill_to_name.chars().all(is_prepared));
    // The first line of "Bill to" is bold, descriptions are regular.
    assert_drawn(&pdf, &BOLD, &doc.bill_to_name);
    assert_drawn(&pdf, &REGULAR, &doc.lines[0].description);

    // Another customer, other amounts and words: the same font programs,
    // made once for the process, not a subset of each document's text.
    let mut other = sample_invoice(4);
    other.bill_to_name = "Zoë O'Brien".into();
    other.balance = 987_654;
    let programs = |pdf: &[u8]| -> Vec<Vec<u8>> {
        let mut p: Vec<Vec<u8>> = embedded_fonts(pdf).into_iter().map(|f| f.program).collect();
        p.sort();
        p
    };
    let mine = programs(&pdf);
    assert_eq!(mine.len(), 2);
    assert_eq!(mine, programs(&render_invoice(&other).unwrap()));
}

#[test]
fn characters_beyond_the_prepared_glyphs_are_still_drawn() {
    let mut doc = sample_invoice(2);
    doc.bill_to_name = "Łukasz Żółć Ωmega".into();
    doc.lines[0].description = "Čistenie ½ – Σπίτι ✓ ň".into();
    assert!(doc.bill_to_name.chars().any(|c| !is_prepared(c)));
    let pdf = render_invoice(&doc).unwrap();
    assert_drawn(&pdf, &BOLD, &doc.bill_to_name);
    assert_drawn(&pdf, &REGULAR, &doc.lines[0].description);
    // Its fonts are subset for its own glyphs only, not for the prepared
    // ones as well: each holds fewer glyphs than a plain invoice's.
    let plain = embedded_fonts(&render_invoice(&sample_invoice(2)).unwrap());
    let prepared = plain.iter().map(|f| f.text.len()).min().unwrap();
    for font in embedded_fonts(&pdf) {
        assert!(font.text.len() < prepared, "{} glyphs", font.text.len());
    }
}

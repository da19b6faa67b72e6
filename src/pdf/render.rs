//! Drawing: a `Sheet` (the shape invoices and statements share: a header
//! repeated on every page, the parties, a table of rows, totals, the payment
//! box and a footer with the page number) onto krilla pages.

use crate::domain::i18n;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use krilla::action::{Action, LinkAction};
use krilla::annotation::{Annotation, LinkAnnotation, Target};
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::{Document, SerializeSettings};

use super::layout::{BOLD, Face, REGULAR, is_prepared, paginate, qr_matrix, qr_rects, wrap};
use super::{Logo, PaperSize, PdfError};

const MARGIN: f32 = 48.0;
const BODY: f32 = 9.5;
const SMALL: f32 = 8.0;
const LEADING: f32 = 1.32;
const CELL_PAD: f32 = 5.0;
const QR_SIDE: f32 = 104.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub title: String,
    /// Width in points; `None` takes what the others leave.
    pub width: Option<f32>,
    pub align: Align,
}

#[derive(Debug, Clone)]
pub enum Row {
    Cells(Vec<String>),
    /// A heading across the table (a property on a statement), with an
    /// optional note under it.
    Group(String, Option<String>),
}

/// What one printed document says, before layout.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub paper: PaperSize,
    /// The language of the words the drawing adds ("Pay online", "Page 1 of 2").
    pub lang: crate::domain::i18n::Lang,
    /// The PDF's title (metadata), e.g. "Invoice 1001 from Greenleaf".
    pub title: String,
    pub company_name: String,
    pub company_lines: Vec<String>,
    pub logo: Option<Logo>,
    /// "INVOICE" / "STATEMENT".
    pub kind: String,
    /// Right of the header: (label, value), e.g. ("Invoice number", "1001").
    pub facts: Vec<(String, String)>,
    /// Under the header on page 1: (heading, lines), side by side.
    pub parties: Vec<(String, Vec<String>)>,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// After the table: (label, value, bold).
    pub summary: Vec<(String, String, bool)>,
    pub pay_url: Option<String>,
    /// A line instead of the payment box when there is no link (or nothing due).
    pub closing: Option<String>,
    /// The footer on every page, e.g. the terms.
    pub footer: String,
    /// What the footer names the document by on every page ("Invoice 1001").
    pub footer_ref: String,
}

fn grey(v: u8) -> Fill {
    Fill {
        paint: rgb::Color::new(v, v, v).into(),
        ..Fill::default()
    }
}

fn line_height(size: f32) -> f32 {
    size * LEADING
}

/// Draws one line of text with its baseline at `y`.
fn text(s: &mut Surface, face: &Face, size: f32, x: f32, y: f32, t: &str) {
    if t.is_empty() {
        return;
    }
    let glyphs = face.glyphs(t);
    s.draw_glyphs(
        Point::from_xy(x, y),
        &glyphs,
        face.font.clone(),
        t,
        size,
        false,
    );
}

fn text_right(s: &mut Surface, face: &Face, size: f32, right: f32, y: f32, t: &str) {
    text(s, face, size, right - face.width(t, size), y, t);
}

fn rule(s: &mut Surface, x: f32, y: f32, w: f32, thickness: f32, shade: u8) {
    if let Some(r) = Rect::from_xywh(x, y, w, thickness) {
        let mut pb = PathBuilder::new();
        pb.push_rect(r);
        if let Some(p) = pb.finish() {
            s.set_fill(Some(grey(shade)));
            s.draw_path(&p);
            s.set_fill(None);
        }
    }
}

fn frame(s: &mut Surface, r: Rect, shade: u8) {
    let t = 0.8;
    rule(s, r.left(), r.top(), r.width(), t, shade);
    rule(s, r.left(), r.bottom() - t, r.width(), t, shade);
    if let (Some(a), Some(b)) = (
        Rect::from_xywh(r.left(), r.top(), t, r.height()),
        Rect::from_xywh(r.right() - t, r.top(), t, r.height()),
    ) {
        let mut pb = PathBuilder::new();
        pb.push_rect(a);
        pb.push_rect(b);
        if let Some(p) = pb.finish() {
            s.set_fill(Some(grey(shade)));
            s.draw_path(&p);
            s.set_fill(None);
        }
    }
}

/// The logo as krilla reads it, and its size on the page (at most 150×48).
type LaidLogo = (Image, f32, f32);

/// A krilla image decodes the picture and compresses its pixels when it is
/// made, and every invoice of a company carries the same logo: the images
/// are kept by their exact bytes (a few companies' worth; the whole set is
/// dropped when it fills). `None` marks a logo that is left out: not a
/// picture krilla reads, or one whose pixel data broke a render.
type LogoCache = HashMap<(String, Vec<u8>), Option<LaidLogo>>;
static LOGOS: LazyLock<Mutex<LogoCache>> = LazyLock::new(Default::default);
const LOGOS_KEPT: usize = 32;

fn logo_key(logo: &Logo) -> (String, Vec<u8>) {
    (logo.media_type.clone(), logo.bytes.clone())
}

fn cached_logo(logo: &Logo) -> Option<LaidLogo> {
    let key = logo_key(logo);
    if let Some(hit) = LOGOS.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return hit.clone();
    }
    let laid = logo_image(logo);
    let mut logos = LOGOS.lock().unwrap_or_else(|e| e.into_inner());
    if logos.len() >= LOGOS_KEPT {
        logos.clear();
    }
    logos.insert(key, laid.clone());
    laid
}

fn forget_broken_logo(logo: &Logo) {
    LOGOS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(logo_key(logo), None);
}

fn logo_image(logo: &Logo) -> Option<LaidLogo> {
    let data = krilla::Data::from(logo.bytes.clone());
    let image = match logo.media_type.as_str() {
        "image/png" => Image::from_png(data, true),
        "image/jpeg" => Image::from_jpeg(data, true),
        "image/gif" => Image::from_gif(data, true),
        "image/webp" => Image::from_webp(data, true),
        _ => return None,
    }
    .ok()?;
    let (w, h) = image.size();
    if w == 0 || h == 0 {
        return None;
    }
    let scale = (48.0 / h as f32).min(150.0 / w as f32);
    Some((image, w as f32 * scale, h as f32 * scale))
}

/// Column x positions and widths over the content width.
fn column_spans(columns: &[Column], width: f32) -> Vec<(f32, f32)> {
    let fixed: f32 = columns.iter().filter_map(|c| c.width).sum();
    let flex = columns.iter().filter(|c| c.width.is_none()).count().max(1) as f32;
    let rest = ((width - fixed) / flex).max(40.0);
    let mut x = 0.0;
    columns
        .iter()
        .map(|c| {
            let w = c.width.unwrap_or(rest);
            let span = (x, w);
            x += w;
            span
        })
        .collect()
}

/// A row laid out: its lines per cell and its height.
struct LaidRow {
    cells: Vec<Vec<String>>,
    group: bool,
    height: f32,
}

fn lay_row(row: &Row, spans: &[(f32, f32)], width: f32) -> LaidRow {
    let lh = line_height(BODY);
    match row {
        Row::Cells(cells) => {
            let laid: Vec<Vec<String>> = cells
                .iter()
                .zip(spans)
                .map(|(c, (_, w))| wrap(c, w - 2.0 * CELL_PAD, |t| REGULAR.width(t, BODY)))
                .collect();
            let n = laid.iter().map(Vec::len).max().unwrap_or(1).max(1);
            LaidRow {
                cells: laid,
                group: false,
                height: n as f32 * lh + 2.0 * CELL_PAD - 2.0,
            }
        }
        Row::Group(heading, note) => {
            let mut lines = wrap(heading, width - 2.0 * CELL_PAD, |t| BOLD.width(t, BODY));
            let mut notes = note
                .as_deref()
                .map(|n| wrap(n, width - 2.0 * CELL_PAD, |t| REGULAR.width(t, SMALL)))
                .unwrap_or_default();
            let h = lines.len() as f32 * lh + notes.len() as f32 * line_height(SMALL);
            let mut cells = vec![std::mem::take(&mut lines)];
            cells.push(std::mem::take(&mut notes));
            LaidRow {
                cells,
                group: true,
                height: h + 2.0 * CELL_PAD + 4.0,
            }
        }
    }
}

/// Fits the URL on one line: the body size, or smaller down to 6 pt.
fn url_size(url: &str, width: f32) -> f32 {
    let at_one = REGULAR.width(url, 1.0).max(0.001);
    (width / at_one).clamp(6.0, 10.5)
}

/// Draws the sheet. A logo krilla cannot decode (its header read, its data
/// broken) fails the whole document, so it is drawn again without it.
/// krilla's settings, but the page's content stream and the fonts'
/// ToUnicode maps are written as they are instead of through zlib: krilla
/// compresses each stream with a fresh level-6 encoder, which was two
/// fifths of a render, and the page of an invoice is about 20 KB of text
/// and QR rectangles (so a PDF is about 40 KB instead of 20 KB).
///
/// A sheet whose text has characters beyond the glyphs prepared once per
/// process (`layout::PREPARED`) has its fonts subset for its own glyphs
/// only, as krilla does without prepared glyphs: they would otherwise be
/// subset for the 205 prepared glyphs and its own, a larger subset to
/// compress on this render.
fn serialize_settings(sheet: &Sheet) -> SerializeSettings {
    SerializeSettings {
        compress_content_streams: false,
        prepared_glyphs: prints_only_prepared(sheet),
        ..SerializeSettings::default()
    }
}

/// Whether every character the sheet prints is one of `layout::PREPARED`
/// (control characters print as spaces).
fn prints_only_prepared(sheet: &Sheet) -> bool {
    let lang = sheet.lang;
    let added = [
        i18n::t(lang, "pdf-pay-online"),
        i18n::t(lang, "pdf-scan"),
        i18n::tr(
            lang,
            "pdf-page",
            &[("page", 1usize.into()), ("pages", 1usize.into())],
        ),
    ];
    let rows = sheet.rows.iter().flat_map(|r| match r {
        Row::Cells(cells) => cells.iter().collect::<Vec<_>>(),
        Row::Group(heading, note) => std::iter::once(heading).chain(note).collect(),
    });
    let mut texts = std::iter::once(&sheet.company_name)
        .chain(&sheet.company_lines)
        .chain([&sheet.kind, &sheet.footer, &sheet.footer_ref])
        .chain(sheet.facts.iter().flat_map(|(k, v)| [k, v]))
        .chain(
            sheet
                .parties
                .iter()
                .flat_map(|(h, l)| std::iter::once(h).chain(l)),
        )
        .chain(sheet.columns.iter().map(|c| &c.title))
        .chain(rows)
        .chain(sheet.summary.iter().flat_map(|(l, v, _)| [l, v]))
        .chain(&sheet.pay_url)
        .chain(&sheet.closing)
        .chain(&added);
    texts.all(|t| t.chars().all(|c| c.is_control() || is_prepared(c)))
}

pub fn render(sheet: &Sheet) -> Result<Vec<u8>, PdfError> {
    if let Some(stored) = &sheet.logo
        && let Some(logo) = cached_logo(stored)
    {
        match render_with(sheet, Some(logo)) {
            Ok(pdf) => return Ok(pdf),
            Err(_) => forget_broken_logo(stored),
        }
    }
    render_with(sheet, None)
}

fn render_with(sheet: &Sheet, logo: Option<LaidLogo>) -> Result<Vec<u8>, PdfError> {
    let (page_w, page_h) = sheet.paper.size_pt();
    let content_w = page_w - 2.0 * MARGIN;
    let left_w = content_w * 0.56;
    let right_x = MARGIN + content_w * 0.6;
    let right_w = content_w * 0.4;

    // ---- header (every page)
    let name_lines = wrap(&sheet.company_name, left_w, |t| BOLD.width(t, 14.0));
    let company_lines: Vec<String> = sheet
        .company_lines
        .iter()
        .flat_map(|l| wrap(l, left_w, |t| REGULAR.width(t, BODY)))
        .filter(|l| !l.is_empty())
        .collect();
    let logo_h = logo.as_ref().map(|(_, _, h)| h + 8.0).unwrap_or(0.0);
    let left_h = logo_h
        + name_lines.len() as f32 * line_height(14.0)
        + company_lines.len() as f32 * line_height(BODY);
    let facts: Vec<(String, Vec<String>)> = sheet
        .facts
        .iter()
        .map(|(k, v)| (k.clone(), wrap(v, right_w * 0.62, |t| BOLD.width(t, BODY))))
        .collect();
    let right_h = line_height(18.0)
        + 4.0
        + facts
            .iter()
            .map(|(_, v)| v.len() as f32 * line_height(BODY))
            .sum::<f32>();
    let header_h = left_h.max(right_h) + 14.0;

    // ---- parties (page 1)
    let party_w = content_w / sheet.parties.len().max(1) as f32 - 12.0;
    let parties: Vec<(String, Vec<String>)> = sheet
        .parties
        .iter()
        .map(|(h, lines)| {
            (
                h.clone(),
                lines
                    .iter()
                    .flat_map(|l| wrap(l, party_w, |t| REGULAR.width(t, BODY)))
                    .collect(),
            )
        })
        .collect();
    let parties_h = parties
        .iter()
        .map(|(_, l)| line_height(SMALL) + 2.0 + l.len() as f32 * line_height(BODY))
        .fold(0.0, f32::max)
        + 16.0;

    // ---- table
    let spans = column_spans(&sheet.columns, content_w);
    let head_h = line_height(SMALL) + 2.0 * CELL_PAD;
    let rows: Vec<LaidRow> = sheet
        .rows
        .iter()
        .map(|r| lay_row(r, &spans, content_w))
        .collect();

    // ---- tail: totals and the payment box (or the closing line)
    let summary_h = sheet.summary.len() as f32 * (line_height(BODY) + 3.0) + 12.0;
    let qr = sheet.pay_url.as_deref().and_then(qr_matrix);
    let pay_h = match (&sheet.pay_url, &qr) {
        (Some(_), Some(_)) => QR_SIDE + 24.0 + 12.0,
        (Some(_), None) => 80.0,
        _ => 0.0,
    };
    let closing_lines = sheet
        .closing
        .as_deref()
        .map(|c| wrap(c, content_w, |t| REGULAR.width(t, BODY)))
        .unwrap_or_default();
    let tail_h = summary_h + pay_h + closing_lines.len() as f32 * line_height(BODY) + 8.0;

    // ---- footer (every page)
    let footer_lines = wrap(&sheet.footer, content_w, |t| REGULAR.width(t, SMALL));
    let footer_h = (footer_lines.len() as f32 + 1.0) * line_height(SMALL) + 14.0;

    let body_bottom = page_h - MARGIN - footer_h;
    let first_free = body_bottom - (MARGIN + header_h + parties_h) - head_h;
    let rest_free = body_bottom - (MARGIN + header_h) - head_h;
    let heights: Vec<f32> = rows.iter().map(|r| r.height).collect();
    let pages = paginate(&heights, first_free, rest_free, tail_h);
    let page_count = pages.len();

    let mut doc = Document::new_with(serialize_settings(sheet));
    doc.set_metadata(
        Metadata::new()
            .title(sheet.title.clone())
            .language(match sheet.lang {
                crate::domain::i18n::Lang::En => "en-US".into(),
                crate::domain::i18n::Lang::Es => "es-US".into(),
            })
            .creator("fieldpay".into())
            .producer("fieldpay".into())
            .authors(vec![sheet.company_name.clone()]),
    );
    let settings = PageSettings::from_wh(page_w, page_h).ok_or(PdfError::Layout)?;
    for (index, range) in pages.iter().enumerate() {
        let mut page = doc.start_page_with(settings.clone());
        let mut link_rect = None;
        {
            let mut s = page.surface();
            // Header.
            let mut y = MARGIN;
            if let Some((image, w, h)) = &logo
                && let Some(size) = Size::from_wh(*w, *h)
            {
                s.push_transform(&Transform::from_translate(MARGIN, y));
                s.draw_image(image.clone(), size);
                s.pop();
                y += h + 8.0;
            }
            for l in &name_lines {
                y += line_height(14.0);
                text(&mut s, &BOLD, 14.0, MARGIN, y - 3.5, l);
            }
            s.set_fill(Some(grey(70)));
            for l in &company_lines {
                y += line_height(BODY);
                text(&mut s, &REGULAR, BODY, MARGIN, y - 3.0, l);
            }
            s.set_fill(None);
            let right = MARGIN + content_w;
            let mut ry = MARGIN + line_height(18.0);
            text_right(&mut s, &BOLD, 18.0, right, ry - 4.0, &sheet.kind);
            ry += 4.0;
            for (label, values) in &facts {
                for (i, v) in values.iter().enumerate() {
                    ry += line_height(BODY);
                    if i == 0 {
                        s.set_fill(Some(grey(90)));
                        text(&mut s, &REGULAR, BODY, right_x, ry - 3.0, label);
                        s.set_fill(None);
                    }
                    text_right(&mut s, &BOLD, BODY, right, ry - 3.0, v);
                }
            }
            let mut y = MARGIN + header_h - 8.0;
            rule(&mut s, MARGIN, y, content_w, 1.0, 40);
            y += 8.0;

            // Parties, page 1 only.
            if index == 0 {
                let col_w = content_w / parties.len().max(1) as f32;
                for (i, (heading, lines)) in parties.iter().enumerate() {
                    let x = MARGIN + i as f32 * col_w;
                    let mut py = y + line_height(SMALL);
                    s.set_fill(Some(grey(90)));
                    text(&mut s, &BOLD, SMALL, x, py - 2.0, heading);
                    s.set_fill(None);
                    py += 2.0;
                    for (j, l) in lines.iter().enumerate() {
                        py += line_height(BODY);
                        let face: &Face = if j == 0 { &BOLD } else { &REGULAR };
                        text(&mut s, face, BODY, x, py - 3.0, l);
                    }
                }
                y += parties_h;
            }

            // Table.
            if !range.is_empty() {
                rule(&mut s, MARGIN, y, content_w, 0.6, 150);
                let base = y + head_h - CELL_PAD - 2.0;
                s.set_fill(Some(grey(70)));
                for (c, (x, w)) in sheet.columns.iter().zip(&spans) {
                    match c.align {
                        Align::Left => {
                            text(&mut s, &BOLD, SMALL, MARGIN + x + CELL_PAD, base, &c.title)
                        }
                        Align::Right => text_right(
                            &mut s,
                            &BOLD,
                            SMALL,
                            MARGIN + x + w - CELL_PAD,
                            base,
                            &c.title,
                        ),
                    }
                }
                s.set_fill(None);
                y += head_h;
                rule(&mut s, MARGIN, y - 0.6, content_w, 0.6, 150);
                for row in &rows[range.clone()] {
                    if row.group {
                        let mut gy = y + CELL_PAD + 4.0;
                        for l in &row.cells[0] {
                            gy += line_height(BODY);
                            text(&mut s, &BOLD, BODY, MARGIN + CELL_PAD, gy - 3.0, l);
                        }
                        s.set_fill(Some(grey(80)));
                        for l in &row.cells[1] {
                            gy += line_height(SMALL);
                            text(&mut s, &REGULAR, SMALL, MARGIN + CELL_PAD, gy - 2.5, l);
                        }
                        s.set_fill(None);
                    } else {
                        for ((c, (x, w)), lines) in sheet.columns.iter().zip(&spans).zip(&row.cells)
                        {
                            let mut cy = y + CELL_PAD - 1.0;
                            for l in lines {
                                cy += line_height(BODY);
                                match c.align {
                                    Align::Left => text(
                                        &mut s,
                                        &REGULAR,
                                        BODY,
                                        MARGIN + x + CELL_PAD,
                                        cy - 3.0,
                                        l,
                                    ),
                                    Align::Right => text_right(
                                        &mut s,
                                        &REGULAR,
                                        BODY,
                                        MARGIN + x + w - CELL_PAD,
                                        cy - 3.0,
                                        l,
                                    ),
                                }
                            }
                        }
                    }
                    y += row.height;
                    rule(&mut s, MARGIN, y - 0.4, content_w, 0.4, 210);
                }
            }

            // Totals and the payment box after the last row.
            if index + 1 == page_count {
                y += 12.0;
                let label_x = MARGIN + content_w * 0.55;
                for (label, value, bold) in &sheet.summary {
                    y += line_height(BODY) + 3.0;
                    let face: &Face = if *bold { &BOLD } else { &REGULAR };
                    if *bold {
                        rule(
                            &mut s,
                            label_x,
                            y - line_height(BODY) - 1.0,
                            right - label_x,
                            0.6,
                            60,
                        );
                    }
                    text(&mut s, face, BODY, label_x, y - 3.0, label);
                    text_right(&mut s, face, BODY, right, y - 3.0, value);
                }
                y += 12.0;
                if let Some(url) = &sheet.pay_url {
                    let box_h = pay_h - 12.0;
                    if let Some(r) = Rect::from_xywh(MARGIN, y, content_w, box_h) {
                        frame(&mut s, r, 120);
                    }
                    let qr_x = MARGIN + content_w - QR_SIDE - 12.0;
                    let text_w = qr_x - MARGIN - 24.0;
                    let mut ty = y + 14.0 + line_height(13.0);
                    text(
                        &mut s,
                        &BOLD,
                        13.0,
                        MARGIN + 12.0,
                        ty - 3.0,
                        &i18n::t(sheet.lang, "pdf-pay-online"),
                    );
                    ty += 4.0;
                    for l in wrap(&i18n::t(sheet.lang, "pdf-scan"), text_w, |t| {
                        REGULAR.width(t, BODY)
                    }) {
                        ty += line_height(BODY);
                        text(&mut s, &REGULAR, BODY, MARGIN + 12.0, ty - 3.0, &l);
                    }
                    let size = url_size(url, text_w);
                    ty += line_height(size) + 6.0;
                    let url_x = MARGIN + 12.0;
                    s.set_fill(Some(Fill {
                        paint: rgb::Color::new(20, 60, 160).into(),
                        ..Fill::default()
                    }));
                    text(&mut s, &REGULAR, size, url_x, ty - 3.0, url);
                    s.set_fill(None);
                    link_rect = Rect::from_xywh(
                        url_x,
                        ty - 3.0 - size,
                        REGULAR.width(url, size),
                        size * 1.3,
                    );
                    if let Some((w, dark)) = &qr {
                        // A quiet zone of 4 modules is part of the side. The
                        // path is drawn in module units (whole numbers keep the
                        // content stream small) and scaled into place.
                        let module = QR_SIDE / (*w as f32 + 8.0);
                        let ox = qr_x + 4.0 * module;
                        let oy = y + 12.0 + 4.0 * module;
                        let mut pb = PathBuilder::new();
                        for (row, col, width, height) in qr_rects(*w, dark) {
                            if let Some(r) =
                                Rect::from_xywh(col as f32, row as f32, width as f32, height as f32)
                            {
                                pb.push_rect(r);
                            }
                        }
                        if let Some(p) = pb.finish() {
                            s.push_transform(&Transform::from_row(
                                module, 0.0, 0.0, module, ox, oy,
                            ));
                            s.set_fill(Some(Fill::default()));
                            s.draw_path(&p);
                            s.set_fill(None);
                            s.pop();
                        }
                    }
                    y += pay_h;
                }
                for l in &closing_lines {
                    y += line_height(BODY);
                    text(&mut s, &REGULAR, BODY, MARGIN, y - 3.0, l);
                }
            }

            // Footer.
            let mut fy = page_h - MARGIN - footer_h + 10.0;
            rule(&mut s, MARGIN, fy, content_w, 0.5, 170);
            fy += 4.0;
            s.set_fill(Some(grey(80)));
            for l in &footer_lines {
                fy += line_height(SMALL);
                text(&mut s, &REGULAR, SMALL, MARGIN, fy - 2.0, l);
            }
            fy += line_height(SMALL);
            text(&mut s, &REGULAR, SMALL, MARGIN, fy - 2.0, &sheet.footer_ref);
            text_right(
                &mut s,
                &REGULAR,
                SMALL,
                MARGIN + content_w,
                fy - 2.0,
                &i18n::tr(
                    sheet.lang,
                    "pdf-page",
                    &[("page", (index + 1).into()), ("pages", page_count.into())],
                ),
            );
            s.set_fill(None);
            s.finish();
        }
        if let (Some(rect), Some(url)) = (link_rect, &sheet.pay_url) {
            page.add_annotation(Annotation::new_link(
                LinkAnnotation::new(
                    rect,
                    Target::Action(Action::Link(LinkAction::new(url.clone()))),
                ),
                Some(i18n::tr(
                    sheet.lang,
                    "pdf-pay-online-at",
                    &[("url", url.as_str().into())],
                )),
            ));
        }
        page.finish();
    }
    doc.finish().map_err(|e| PdfError::Render(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flexible_columns_take_the_rest() {
        let cols = vec![
            Column {
                title: "A".into(),
                width: None,
                align: Align::Left,
            },
            Column {
                title: "B".into(),
                width: Some(100.0),
                align: Align::Right,
            },
        ];
        assert_eq!(
            column_spans(&cols, 500.0),
            vec![(0.0, 400.0), (400.0, 100.0)]
        );
    }

    #[test]
    fn long_urls_shrink_to_fit_short_ones_do_not_grow() {
        let long = format!("https://pay.example.test/pay/{}", "W".repeat(43));
        let size = url_size(&long, 300.0);
        assert!(REGULAR.width(&long, size) <= 300.0 + 0.01 || size == 6.0);
        assert_eq!(url_size("https://a.test/portal", 300.0), 10.5);
    }
}

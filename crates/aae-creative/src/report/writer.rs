//! A small flowing-layout engine over `pdf-writer`: A4 pages, a cursor that moves down the page
//! and starts a new one when the next block does not fit, paragraphs, headings, bullet lists,
//! tables that repeat their header across pages, images with captions, and page numbers.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::text::{Face, width, wrap};
use crate::CreativeError;

pub(crate) const PAGE_W: f32 = 595.28;
pub(crate) const PAGE_H: f32 = 841.89;
pub(crate) const MARGIN: f32 = 56.0;
pub(crate) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Lowest the cursor may go; below it sits the page footer.
const BOTTOM: f32 = PAGE_H - MARGIN - 10.0;

pub(crate) type Color = [f32; 3];
pub(crate) const INK: Color = [0.11, 0.11, 0.13];
pub(crate) const MUTED: Color = [0.38, 0.40, 0.45];
pub(crate) const ACCENT: Color = [0.12, 0.23, 0.37];
const ROW_TINT: Color = [0.95, 0.96, 0.97];
const WHITE: Color = [1.0, 1.0, 1.0];

/// Horizontal alignment of a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table column: header text, share of the content width, alignment.
pub(crate) struct Column<'a> {
    pub header: &'a str,
    pub share: f32,
    pub align: Align,
}

/// An image ready to embed: 8-bit RGB samples.
pub(crate) struct Image {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

struct Page {
    content: Content,
    images: Vec<usize>,
}

/// The document being laid out. `y` is the cursor's distance from the top of the current page.
pub(crate) struct Document {
    pages: Vec<Page>,
    images: Vec<Image>,
    y: f32,
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, CreativeError> {
    let fail = |e: std::io::Error| CreativeError::Encode { artifact: "pdf".to_owned(), reason: e.to_string() };
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).map_err(fail)?;
    encoder.finish().map_err(fail)
}

impl Document {
    pub fn new() -> Self {
        let mut doc = Document { pages: Vec::new(), images: Vec::new(), y: MARGIN };
        doc.new_page();
        doc
    }

    pub fn new_page(&mut self) {
        self.pages.push(Page { content: Content::new(), images: Vec::new() });
        self.y = MARGIN;
    }

    fn content(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.new_page();
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last].content
    }

    /// Moves the cursor down by `h` points.
    pub fn space(&mut self, h: f32) {
        self.y += h;
    }

    /// Starts a new page unless `h` more points fit on this one.
    pub fn ensure(&mut self, h: f32) {
        if self.y + h > BOTTOM && self.y > MARGIN {
            self.new_page();
        }
    }

    /// Draws one encoded line with its baseline `size * 0.8` below the top `y`.
    fn line_at(&mut self, x: f32, y: f32, bytes: &[u8], face: Face, size: f32, color: Color) {
        let c = self.content();
        c.set_fill_rgb(color[0], color[1], color[2]);
        c.begin_text();
        c.set_font(Name(face.resource()), size);
        c.next_line(x, PAGE_H - y - size * 0.8);
        c.show(Str(bytes));
        c.end_text();
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color) {
        let c = self.content();
        c.set_fill_rgb(color[0], color[1], color[2]);
        c.rect(x, PAGE_H - y - h, w, h);
        c.fill_nonzero();
    }

    /// A wrapped block of text at `indent` from the left margin, flowing across pages.
    pub fn paragraph(&mut self, text: &str, face: Face, size: f32, color: Color, indent: f32) {
        let leading = size * 1.4;
        for line in wrap(text, face, size, CONTENT_W - indent) {
            self.ensure(leading);
            let y = self.y;
            self.line_at(MARGIN + indent, y, &line, face, size, color);
            self.y += leading;
        }
    }

    /// A section heading with a rule under it, kept on the same page as the next few lines.
    pub fn heading(&mut self, text: &str) {
        self.ensure(90.0);
        if self.y > MARGIN {
            self.space(14.0);
        }
        self.paragraph(text, Face::Bold, 17.0, ACCENT, 0.0);
        let y = self.y - 2.0;
        self.fill_rect(MARGIN, y, CONTENT_W, 1.2, ACCENT);
        self.space(10.0);
    }

    /// A bold label above a paragraph.
    pub fn labelled(&mut self, label: &str, text: &str) {
        self.ensure(40.0);
        self.paragraph(label, Face::Bold, 11.0, INK, 0.0);
        self.paragraph(text, Face::Regular, 11.0, INK, 0.0);
        self.space(6.0);
    }

    /// A bulleted list.
    pub fn bullets(&mut self, items: &[String]) {
        for item in items {
            self.ensure(16.0);
            let y = self.y;
            self.line_at(MARGIN + 4.0, y, b"\x95", Face::Regular, 11.0, ACCENT);
            self.paragraph(item, Face::Regular, 11.0, INK, 16.0);
            self.space(2.0);
        }
    }

    fn table_row(
        &mut self,
        columns: &[Column<'_>],
        cells: &[Vec<Vec<u8>>],
        face: Face,
        fill: Option<Color>,
        color: Color,
    ) {
        const SIZE: f32 = 10.0;
        const PAD: f32 = 5.0;
        let leading = SIZE * 1.35;
        let lines = cells.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let height = lines as f32 * leading + 2.0 * PAD;
        let top = self.y;
        if let Some(fill) = fill {
            self.fill_rect(MARGIN, top, CONTENT_W, height, fill);
        }
        let mut x = MARGIN;
        for (col, cell) in columns.iter().zip(cells) {
            let col_w = CONTENT_W * col.share;
            for (i, line) in cell.iter().enumerate() {
                let lx = match col.align {
                    Align::Left => x + PAD,
                    Align::Right => x + col_w - PAD - width(line, face, SIZE),
                };
                self.line_at(lx, top + PAD + i as f32 * leading, line, face, SIZE, color);
            }
            x += col_w;
        }
        self.y += height;
    }

    fn row_height(cells: &[Vec<Vec<u8>>]) -> f32 {
        cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * 13.5 + 10.0
    }

    /// A table with a header row (repeated on each new page); the last row is bold if `total_row`.
    pub fn table(&mut self, columns: &[Column<'_>], rows: &[Vec<String>], total_row: bool) {
        // A cell never outgrows one page: past that many lines it ends with an ellipsis.
        let max_lines = ((BOTTOM - MARGIN - 60.0) / 13.5) as usize;
        let wrap_row = |row: &[String], face: Face| -> Vec<Vec<Vec<u8>>> {
            let cell = |col: &Column<'_>, text: &String| {
                let mut lines = wrap(text, face, 10.0, CONTENT_W * col.share - 10.0);
                if lines.len() > max_lines {
                    lines.truncate(max_lines);
                    lines.push(b"\x85".to_vec());
                }
                lines
            };
            columns.iter().zip(row).map(|(col, text)| cell(col, text)).collect()
        };
        let header_texts: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
        let header = wrap_row(&header_texts, Face::Bold);
        let header_h = Self::row_height(&header);
        for (i, row) in rows.iter().enumerate() {
            let last = total_row && i + 1 == rows.len();
            let face = if last { Face::Bold } else { Face::Regular };
            let cells = wrap_row(row, face);
            let needed = Self::row_height(&cells) + if i == 0 { header_h } else { 0.0 };
            let before = self.pages.len();
            self.ensure(needed);
            if i == 0 || self.pages.len() != before {
                self.table_row(columns, &header, Face::Bold, Some(ACCENT), WHITE);
            }
            let fill = if last || i % 2 == 1 { Some(ROW_TINT) } else { None };
            self.table_row(columns, &cells, face, fill, INK);
        }
        self.space(8.0);
    }

    /// An image `w`×`h` points, left-aligned, with a caption under it.
    pub fn image(&mut self, image: Image, w: f32, h: f32, caption: &str) {
        let caption_lines = wrap(caption, Face::Regular, 9.5, CONTENT_W).len() as f32;
        self.ensure(h + 8.0 + caption_lines * 13.3);
        let index = self.images.len();
        self.images.push(image);
        let y = self.y;
        let last = self.pages.len().saturating_sub(1);
        if let Some(page) = self.pages.get_mut(last) {
            page.images.push(index);
        }
        let c = self.content();
        c.save_state();
        c.transform([w, 0.0, 0.0, h, MARGIN, PAGE_H - y - h]);
        c.x_object(Name(format!("Im{index}").as_bytes()));
        c.restore_state();
        self.y += h + 6.0;
        self.paragraph(caption, Face::Regular, 9.5, MUTED, 0.0);
        self.space(12.0);
    }

    /// Adds "label · page i of n" footers and serialises the document.
    pub fn finish(mut self, title: &str, footer_label: &[u8]) -> Result<Vec<u8>, CreativeError> {
        let n = self.pages.len();
        for i in 0..n {
            let number = format!("Page {} of {n}", i + 1);
            let nw = width(number.as_bytes(), Face::Regular, 9.0);
            let fy = PAGE_H - MARGIN + 16.0;
            let page = &mut self.pages[i].content;
            for (x, text) in [(MARGIN, footer_label), (PAGE_W - MARGIN - nw, number.as_bytes())] {
                page.set_fill_rgb(MUTED[0], MUTED[1], MUTED[2]);
                page.begin_text();
                page.set_font(Name(Face::Regular.resource()), 9.0);
                page.next_line(x, PAGE_H - fy - 7.2);
                page.show(Str(text));
                page.end_text();
            }
        }

        let mut next = Ref::new(1);
        let mut alloc = || next.bump();
        let (catalog, tree, info, regular, bold) = (alloc(), alloc(), alloc(), alloc(), alloc());
        let image_ids: Vec<Ref> = self.images.iter().map(|_| alloc()).collect();
        let page_ids: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (alloc(), alloc())).collect();

        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(page_ids.iter().map(|(p, _)| *p)).count(n as i32);
        pdf.document_info(info).title(TextStr(title)).producer(TextStr("AAE aae-creative"));
        for (id, name) in [(regular, Name(b"Helvetica")), (bold, Name(b"Helvetica-Bold"))] {
            pdf.type1_font(id).base_font(name).encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        for (image, id) in self.images.iter().zip(&image_ids) {
            let data = deflate(&image.rgb)?;
            let mut x = pdf.image_xobject(*id, &data);
            x.filter(Filter::FlateDecode);
            x.width(image.width as i32);
            x.height(image.height as i32);
            x.color_space().device_rgb();
            x.bits_per_component(8);
        }
        for (page, (page_id, content_id)) in self.pages.into_iter().zip(&page_ids) {
            let mut p = pdf.page(*page_id);
            p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
            p.parent(tree);
            p.contents(*content_id);
            let mut resources = p.resources();
            resources.fonts().pair(Name(b"F1"), regular).pair(Name(b"F2"), bold);
            if !page.images.is_empty() {
                let mut xobjects = resources.x_objects();
                for &i in &page.images {
                    xobjects.pair(Name(format!("Im{i}").as_bytes()), image_ids[i]);
                }
            }
            drop(resources);
            p.finish();
            let data = deflate(&page.content.finish().into_vec())?;
            pdf.stream(*content_id, &data).filter(Filter::FlateDecode);
        }
        Ok(pdf.finish())
    }
}

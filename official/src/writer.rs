//! The DOCX file of an official document, laid out as Decree 30/2020
//! (Appendix I) asks: A4, margins top and bottom 20 mm, left 30 mm, right
//! 15 mm, Times New Roman, body text 14 pt.

use docx_rs::{
    AlignmentType, Docx, LineSpacing, PageMargin, Paragraph, Run, RunFonts, SpecialIndentType,
    Table, TableCell, TableRow, WidthType,
};
use unicode_normalization::UnicodeNormalization;

use crate::{fits_xml, OfficialDocument, MOTTO, NATIONAL_TITLE};

const FONT: &str = "Times New Roman";
/// A4 in twentieths of a point.
const PAGE: (u32, u32) = (11906, 16838);
/// 1 mm in twentieths of a point.
const MM: f64 = 56.6929;
const TOP_MM: f64 = 20.0;
const BOTTOM_MM: f64 = 20.0;
const LEFT_MM: f64 = 30.0;
const RIGHT_MM: f64 = 15.0;
/// Sizes in half-points.
const BODY: usize = 28;
const HEADING: usize = 26;
const SMALL: usize = 24;
const RECIPIENTS: usize = 22;

#[derive(Debug)]
pub struct WriteError(String);

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the document could not be written: {}", self.0)
    }
}

impl std::error::Error for WriteError {}

fn twips(mm: f64) -> i32 {
    (mm * MM).round() as i32
}

fn fonts() -> RunFonts {
    RunFonts::new()
        .ascii(FONT)
        .hi_ansi(FONT)
        .cs(FONT)
        .east_asia(FONT)
}

/// Text as the file holds it: composed (NFC), as Vietnamese text is
/// exchanged, without what XML cannot hold.
fn clean(text: &str) -> String {
    text.nfc().filter(|c| fits_xml(*c) && *c != '\r').collect()
}

/// A run of `text` in the document's font; tabs stay tabs.
fn run(text: &str, size: usize) -> Run {
    let mut r = Run::new().fonts(fonts()).size(size);
    for (i, part) in clean(text).split('\t').enumerate() {
        if i > 0 {
            r = r.add_tab();
        }
        if !part.is_empty() {
            r = r.add_text(part);
        }
    }
    r
}

fn centred(r: Run) -> Paragraph {
    Paragraph::new()
        .add_run(r)
        .align(AlignmentType::Center)
        .line_spacing(LineSpacing::new().before(0).after(0))
}

/// Body paragraphs, one per line of `text`: justified, the first line
/// indented 1 cm, 6 pt after.
fn body(text: &str, lead: Option<Run>) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut lead = lead;
    for line in clean(text).split('\n') {
        let mut p = Paragraph::new()
            .align(AlignmentType::Both)
            .indent(
                None,
                Some(SpecialIndentType::FirstLine(twips(10.0))),
                None,
                None,
            )
            .line_spacing(LineSpacing::new().before(0).after(120));
        if let Some(l) = lead.take() {
            p = p.add_run(l);
        }
        out.push(p.add_run(run(line, BODY)));
    }
    out
}

/// A cell of the borderless layout tables that the heading and the
/// signature block are made of.
fn cell(width: usize, paragraphs: Vec<Paragraph>) -> TableCell {
    paragraphs
        .into_iter()
        .fold(TableCell::new().width(width, WidthType::Dxa), |c, p| {
            c.add_paragraph(p)
        })
}

fn layout(left: TableCell, right: TableCell) -> Table {
    let width = PAGE.0 as usize - (twips(LEFT_MM) + twips(RIGHT_MM)) as usize;
    Table::without_borders(vec![TableRow::new(vec![left, right])])
        .width(width, WidthType::Dxa)
        .set_grid(vec![width * 2 / 5, width - width * 2 / 5])
}

/// The short solid line the Decree draws under the issuer and the motto.
fn rule() -> Paragraph {
    centred(
        Run::new()
            .fonts(fonts())
            .size(SMALL)
            .underline("single")
            .add_text("\u{a0}".repeat(22)),
    )
}

/// The DOCX file of `doc`.
pub fn docx(doc: &OfficialDocument) -> Result<Vec<u8>, WriteError> {
    let width = PAGE.0 as usize - (twips(LEFT_MM) + twips(RIGHT_MM)) as usize;
    let (left_w, right_w) = (width * 2 / 5, width - width * 2 / 5);
    let heading = layout(
        cell(
            left_w,
            vec![
                centred(run(&doc.parent_issuer.to_uppercase(), HEADING)),
                centred(run(&doc.issuer.to_uppercase(), HEADING).bold()),
                rule(),
                centred(run(&doc.number_line(), HEADING)),
            ],
        ),
        cell(
            right_w,
            vec![
                centred(run(NATIONAL_TITLE, SMALL).bold()),
                centred(run(MOTTO, BODY).bold().underline("single")),
                centred(run("", BODY)),
                centred(run(&doc.place_and_date(), BODY).italic()),
            ],
        ),
    );
    let mut file = Docx::new()
        .page_size(PAGE.0, PAGE.1)
        .page_margin(
            PageMargin::new()
                .top(twips(TOP_MM))
                .bottom(twips(BOTTOM_MM))
                .left(twips(LEFT_MM))
                .right(twips(RIGHT_MM)),
        )
        .default_fonts(fonts())
        .default_size(BODY)
        .add_table(heading)
        .add_paragraph(centred(run("", BODY)))
        .add_paragraph(centred(run(&doc.kind.to_uppercase(), BODY).bold()))
        .add_paragraph(centred(run(&doc.summary, BODY).bold()))
        .add_paragraph(rule())
        .add_paragraph(centred(run("", BODY)));
    for p in body(&doc.opening, None) {
        file = file.add_paragraph(p);
    }
    for section in &doc.sections {
        file = file.add_paragraph(
            body(&section.heading, None)
                .into_iter()
                .next()
                .unwrap_or_default()
                .bold()
                .keep_next(true),
        );
        for item in &section.items {
            let number = run(&format!("{}. ", item.number), BODY).bold();
            for p in body(&item.text, Some(number)) {
                file = file.add_paragraph(p);
            }
            let status = run("Tình trạng: ", BODY).italic();
            for p in body(&item.status, Some(status)) {
                file = file.add_paragraph(p);
            }
            if !item.notes.trim().is_empty() {
                for p in body(&item.notes, None) {
                    file = file.add_paragraph(p);
                }
            }
        }
        for text in section.texts.iter().filter(|t| !t.text.trim().is_empty()) {
            let label = run(&format!("{}: ", text.label), BODY).bold();
            for p in body(&text.text, Some(label)) {
                file = file.add_paragraph(p);
            }
        }
    }
    file = file.add_paragraph(centred(run("", BODY)));
    let mut recipients = vec![Paragraph::new().add_run(run("Nơi nhận:", SMALL).bold().italic())];
    recipients.extend(
        doc.recipients
            .iter()
            .map(|r| Paragraph::new().add_run(run(r, RECIPIENTS))),
    );
    let signer = vec![
        centred(run(&doc.signer_position.to_uppercase(), BODY).bold()),
        centred(run("", BODY)),
        centred(run("", BODY)),
        centred(run("", BODY)),
        centred(run(&doc.signer_name, BODY).bold()),
    ];
    file = file.add_table(layout(cell(left_w, recipients), cell(right_w, signer)));
    let mut bytes = std::io::Cursor::new(Vec::new());
    file.build()
        .pack(&mut bytes)
        .map_err(|e| WriteError(e.to_string()))?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Day, Item, Labelled, Section};

    fn sample() -> OfficialDocument {
        OfficialDocument {
            parent_issuer: "Ủy ban nhân dân tỉnh Sóc Trăng".into(),
            issuer: "Sở Tài chính".into(),
            number: "15".into(),
            symbol: "BC-STC".into(),
            place: "Sóc Trăng".into(),
            date: Day {
                day: 26,
                month: 11,
                year: 2026,
            },
            kind: "Báo cáo".into(),
            summary: "Kết quả thực hiện Kế hoạch PAPI năm 2026".into(),
            opening: "Thực hiện Kế hoạch…".into(),
            sections: vec![Section {
                heading: "1. Tham gia của người dân ở cấp cơ sở".into(),
                items: vec![Item {
                    number: "1.1".into(),
                    text: "Đẩy mạnh công tác thông tin".into(),
                    status: "Đang thực hiện".into(),
                    notes: "Đã tổ chức 3 hội nghị.".into(),
                }],
                texts: vec![Labelled {
                    label: "Kết quả đạt được".into(),
                    text: "Tốt.\tCó tab.\n😀 emoji\u{1}\u{b}".into(),
                }],
            }],
            recipients: vec!["- Như trên;".into(), "- Lưu: VT.".into()],
            signer_position: "Giám đốc".into(),
            signer_name: "Nguyễn Văn A".into(),
        }
    }

    #[test]
    fn a_report_becomes_a_zip_file_and_unfit_characters_are_left_out() {
        let doc = sample();
        assert_eq!(doc.unfit_characters(), 2);
        let bytes = docx(&doc).unwrap();
        assert!(bytes.starts_with(b"PK"), "a zip file");
        assert_eq!(clean("a\u{1}b\u{b}c\td"), "abc\td");
        assert_eq!(clean("e\u{323}\u{302}"), "ệ", "text is composed (NFC)");
    }

    #[test]
    fn an_empty_or_huge_report_still_writes() {
        assert!(docx(&OfficialDocument::default()).is_ok());
        let mut doc = sample();
        doc.sections[0].texts[0].text = "Rất dài. ".repeat(50_000);
        assert!(docx(&doc).unwrap().len() > 10_000);
    }
}

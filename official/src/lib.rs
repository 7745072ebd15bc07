//! A report as an official document: the parts an administrative document
//! has under Decree 30/2020/NĐ-CP (Appendix I) — the issuing agency under
//! its parent, the national title and motto, the number and symbol, place
//! and date, the document type and summary, the content, the recipients and
//! the signer — and, with the `writer` feature, the DOCX file of it.
//!
//! The app builds an `OfficialDocument` from a report on the device; the
//! export worker (`src/worker.rs`) writes the file; the print view lays out
//! the same parts in HTML. Texts are kept as people wrote them; what an XML
//! file cannot hold (control characters) is left out of the file, and
//! `unfit_characters` counts it so that the app can say so.

use serde::{Deserialize, Serialize};

#[cfg(feature = "writer")]
mod writer;
#[cfg(feature = "writer")]
pub use writer::{docx, WriteError};

/// The national title and motto every administrative document carries.
pub const NATIONAL_TITLE: &str = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM";
pub const MOTTO: &str = "Độc lập - Tự do - Hạnh phúc";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OfficialDocument {
    /// The agency above the issuer ("ỦY BAN NHÂN DÂN TỈNH SÓC TRĂNG").
    pub parent_issuer: String,
    /// The issuing agency or unit.
    pub issuer: String,
    /// The number, given when the document is registered; empty leaves
    /// room to write it in.
    pub number: String,
    /// The symbol after the number: the document type and the issuer's
    /// abbreviation (`BC-STC`).
    pub symbol: String,
    pub place: String,
    pub date: Day,
    /// The document type, `BÁO CÁO`.
    pub kind: String,
    /// What it is about, under the type.
    pub summary: String,
    /// The opening paragraph.
    pub opening: String,
    pub sections: Vec<Section>,
    pub recipients: Vec<String>,
    pub signer_position: String,
    pub signer_name: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    pub day: u32,
    pub month: u32,
    pub year: i32,
}

/// One dimension of the plan: its measures, then the texts written for it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub items: Vec<Item>,
    pub texts: Vec<Labelled>,
}

/// A measure (numbered as in the plan) or one of the unit's own items.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// `1.2`: the dimension's number and the measure's place in the plan.
    pub number: String,
    pub text: String,
    pub status: String,
    pub notes: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Labelled {
    pub label: String,
    pub text: String,
}

impl OfficialDocument {
    /// `Số: 15/BC-STC`, with room left when there is no number yet.
    pub fn number_line(&self) -> String {
        let number = if self.number.trim().is_empty() {
            "\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}"
        } else {
            self.number.trim()
        };
        format!("Số: {number}/{}", self.symbol.trim())
    }

    /// `Sóc Trăng, ngày 26 tháng 11 năm 2026`.
    pub fn place_and_date(&self) -> String {
        let Day { day, month, year } = self.date;
        // The Decree writes days below 10 and months below 3 with a zero.
        let day = if day < 10 {
            format!("0{day}")
        } else {
            day.to_string()
        };
        let month = if month < 3 {
            format!("0{month}")
        } else {
            month.to_string()
        };
        format!("{}, ngày {day} tháng {month} năm {year}", self.place.trim())
    }

    /// Every text of the document, for checks that look at all of them.
    pub fn texts(&self) -> Vec<&str> {
        let mut all = vec![
            self.parent_issuer.as_str(),
            &self.issuer,
            &self.number,
            &self.symbol,
            &self.place,
            &self.kind,
            &self.summary,
            &self.opening,
            &self.signer_position,
            &self.signer_name,
        ];
        for s in &self.sections {
            all.push(&s.heading);
            for i in &s.items {
                all.extend([i.number.as_str(), &i.text, &i.status, &i.notes]);
            }
            for t in &s.texts {
                all.extend([t.label.as_str(), &t.text]);
            }
        }
        all.extend(self.recipients.iter().map(String::as_str));
        all
    }

    /// How many characters the file leaves out because XML cannot hold
    /// them (control characters other than tab and line breaks).
    pub fn unfit_characters(&self) -> usize {
        self.texts()
            .iter()
            .map(|t| t.chars().filter(|c| !fits_xml(*c)).count())
            .sum()
    }
}

/// Whether XML 1.0 can hold the character.
pub fn fits_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_and_date_lines_follow_the_decree() {
        let mut doc = OfficialDocument {
            symbol: "BC-STC".into(),
            place: "Sóc Trăng".into(),
            date: Day {
                day: 5,
                month: 2,
                year: 2026,
            },
            ..OfficialDocument::default()
        };
        assert_eq!(doc.place_and_date(), "Sóc Trăng, ngày 05 tháng 02 năm 2026");
        assert!(doc.number_line().starts_with("Số: \u{a0}"));
        assert!(doc.number_line().ends_with("/BC-STC"));
        doc.number = "15".into();
        assert_eq!(doc.number_line(), "Số: 15/BC-STC");
        doc.date = Day {
            day: 26,
            month: 11,
            year: 2026,
        };
        assert_eq!(doc.place_and_date(), "Sóc Trăng, ngày 26 tháng 11 năm 2026");
    }

    #[test]
    fn control_characters_are_counted() {
        let doc = OfficialDocument {
            opening: "a\u{1}b\tc\u{b}\n😀\u{ffff}".into(),
            ..OfficialDocument::default()
        };
        assert_eq!(doc.unfit_characters(), 3);
    }
}

//! A report as an official document (`papi_official`): the fields a unit
//! fills in for it (number, symbol, signer…), kept in the report document
//! so that they sync like the rest, and the document built from the report
//! and the plan. The official document is in Vietnamese whatever language
//! the app shows.

use automerge::{Automerge, ReadDoc, ROOT};
use papi_official::{Day, Item, Labelled, OfficialDocument, Section};

use super::{ItemAt, Outline, TextAt, SECTION_TEXTS};
use crate::calendar::{Period, PeriodKind};
use crate::schema::Plan;

/// The fields a unit fills in, each a string at `official_<field>` of the
/// report's root: short values, where the last write wins.
pub const FIELDS: [&str; 6] = [
    "number",
    "symbol",
    "place",
    "signer_position",
    "signer_name",
    "recipients",
];

fn key(field: &str) -> String {
    format!("official_{field}")
}

/// A field's value, if it was filled in.
pub fn field<D: ReadDoc>(doc: &D, field: &str) -> Option<String> {
    match doc.get(ROOT, key(field)).ok()?? {
        (automerge::Value::Scalar(s), _) => s.as_str().map(str::to_string),
        _ => None,
    }
}

/// Sets a field; anything but one of `FIELDS` is refused.
pub fn set_field(doc: &mut Automerge, field: &str, value: &str) -> bool {
    if !FIELDS.contains(&field) {
        return false;
    }
    doc.transact(|tx| {
        use automerge::transaction::Transactable;
        tx.put(ROOT, key(field), value)
    })
    .is_ok()
}

/// The Vietnamese words of a measure status.
fn status_words(status: &str) -> &'static str {
    match status {
        "in_progress" => "Đang thực hiện",
        "done" => "Hoàn thành",
        "blocked" => "Vướng mắc",
        _ => "Chưa thực hiện",
    }
}

fn section_label(key: &str) -> &'static str {
    match key {
        "results" => "Kết quả thực hiện",
        "shortcomings" => "Tồn tại, hạn chế",
        "causes" => "Nguyên nhân",
        _ => "Đề xuất, kiến nghị",
    }
}

/// "6 tháng đầu năm 2026" or "năm 2026".
pub fn period_words(period: &str) -> String {
    match Period::parse_key(period) {
        Some(Period {
            year,
            kind: PeriodKind::HalfYear,
        }) => format!("6 tháng đầu năm {year}"),
        Some(Period {
            year,
            kind: PeriodKind::Annual,
        }) => format!("năm {year}"),
        None => period.to_string(),
    }
}

/// A measure's number as the plan shows it: its dimension's number and
/// its place among the dimension's measures in force (`3.2`).
fn plan_number(plan: &Plan, measure_id: &str) -> Option<String> {
    plan.dimensions.iter().find_map(|d| {
        let at = d
            .measures
            .iter()
            .filter(|m| !m.retired)
            .position(|m| m.id == measure_id)?;
        Some(format!("{}.{}", d.number, at + 1))
    })
}

/// The official document of a unit report or a consolidated report, as of
/// `today`. `unit_name` names a unit by id.
pub fn document(
    doc: &Automerge,
    plan: &Plan,
    unit_name: impl Fn(&str) -> String,
    today: Day,
) -> Option<OfficialDocument> {
    let outline = Outline::read(doc)?;
    let text = |at: TextAt| {
        at.locate(doc)
            .and_then(|t| doc.text(&t).ok())
            .unwrap_or_default()
    };
    let filled = |name: &str| field(doc, name).filter(|v| !v.trim().is_empty());
    let (issuer, parent_issuer, signer) = match &outline.unit {
        Some(unit) => (unit_name(unit), plan.agency.clone(), "Thủ trưởng đơn vị"),
        None => (plan.agency.clone(), plan.parent_agency.clone(), "Giám đốc"),
    };
    let period = period_words(&outline.period);
    let mut sections: Vec<Section> = outline
        .sections
        .iter()
        .enumerate()
        .map(|(si, s)| Section {
            heading: format!("{}. {}", s.number, s.name),
            items: s
                .measures
                .iter()
                .enumerate()
                .map(|(mi, m)| Item {
                    number: plan_number(plan, &m.id)
                        .unwrap_or_else(|| format!("{}.{}", s.number, mi + 1)),
                    text: m.text.clone(),
                    status: status_words(
                        &ItemAt::Measure {
                            section: si,
                            measure: mi,
                        }
                        .status(doc)
                        .unwrap_or_default(),
                    )
                    .into(),
                    notes: text(TextAt::Evidence {
                        section: si,
                        measure: mi,
                    }),
                })
                .collect(),
            texts: SECTION_TEXTS
                .iter()
                .map(|key| Labelled {
                    label: section_label(key).into(),
                    text: text(TextAt::Section { section: si, key }),
                })
                .collect(),
        })
        .collect();
    if !outline.extra_items.is_empty() {
        sections.push(Section {
            heading: format!("{}. Nhiệm vụ khác của đơn vị", sections.len() + 1),
            items: outline
                .extra_items
                .iter()
                .enumerate()
                .map(|(i, e)| Item {
                    number: (i + 1).to_string(),
                    text: e.text.clone(),
                    status: status_words(&ItemAt::Extra(i).status(doc).unwrap_or_default()).into(),
                    notes: text(TextAt::ExtraEvidence(i)),
                })
                .collect(),
            texts: Vec::new(),
        });
    }
    Some(OfficialDocument {
        opening: format!(
            "Thực hiện {}, {} báo cáo kết quả thực hiện {} như sau:",
            plan.title, issuer, period
        ),
        parent_issuer,
        number: filled("number").unwrap_or_default(),
        symbol: filled("symbol").unwrap_or_else(|| "BC".into()),
        place: filled("place").unwrap_or_else(|| plan.province.clone()),
        date: today,
        kind: "Báo cáo".into(),
        summary: format!(
            "Kết quả thực hiện Kế hoạch nâng cao Chỉ số hiệu quả quản trị và hành chính công (PAPI) {period}"
        ),
        sections,
        recipients: filled("recipients")
            .unwrap_or_else(|| "- Như trên;\n- Lưu: VT.".into())
            .lines()
            .map(str::to_string)
            .filter(|l| !l.trim().is_empty())
            .collect(),
        signer_position: filled("signer_position").unwrap_or_else(|| signer.into()),
        signer_name: filled("signer_name").unwrap_or_default(),
        issuer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::small_plan;

    #[test]
    fn a_unit_report_becomes_an_official_document_with_the_plans_numbers() {
        let plan = small_plan();
        let unit = "phong-ngan-sach";
        let mut doc = Automerge::new();
        crate::report::generate(&plan, unit, "2026-h1", &mut doc).unwrap();
        assert!(set_field(&mut doc, "number", "15"));
        assert!(set_field(&mut doc, "signer_name", "Nguyễn Văn An"));
        assert!(!set_field(&mut doc, "kind", "x"), "only the known fields");
        let today = Day {
            day: 26,
            month: 11,
            year: 2026,
        };
        let official = document(&doc, &plan, |u| format!("Đơn vị {u}"), today).unwrap();
        assert_eq!(official.issuer, "Đơn vị phong-ngan-sach");
        assert_eq!(official.parent_issuer, plan.agency);
        assert_eq!(official.number_line(), "Số: 15/BC");
        assert_eq!(official.signer_name, "Nguyễn Văn An");
        assert!(official.summary.ends_with("6 tháng đầu năm 2026"));
        assert_eq!(official.recipients, ["- Như trên;", "- Lưu: VT."]);
        // Every measure of the unit, numbered as the plan numbers it.
        let measures = official
            .sections
            .iter()
            .filter(|s| !s.heading.contains("Nhiệm vụ khác"));
        for item in measures.flat_map(|s| &s.items) {
            let (d, m) = item.number.split_once('.').unwrap();
            let dim = plan
                .dimensions
                .iter()
                .find(|x| x.number.to_string() == d)
                .unwrap();
            let m: usize = m.parse().unwrap();
            let in_force: Vec<_> = dim.measures.iter().filter(|x| !x.retired).collect();
            assert_eq!(in_force[m - 1].text, item.text);
        }
        assert!(!official.sections.is_empty());
    }

    #[test]
    fn a_consolidated_report_is_issued_by_the_agency() {
        let plan = small_plan();
        let mut doc = Automerge::new();
        crate::report::generate_consolidated(&plan, "2026-year", &mut doc).unwrap();
        let today = Day {
            day: 1,
            month: 12,
            year: 2026,
        };
        let official = document(&doc, &plan, |u| u.to_string(), today).unwrap();
        assert_eq!(official.issuer, plan.agency);
        assert_eq!(official.parent_issuer, plan.parent_agency);
        assert_eq!(official.signer_position, "Giám đốc");
        assert!(official.summary.ends_with("năm 2026"));
        assert_eq!(official.sections.len(), plan.dimensions.len());
        assert!(official.sections.iter().all(|s| s.items.is_empty()));
    }
}

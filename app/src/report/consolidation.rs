//! The consolidated report of a period, assembled from the units' accepted
//! reports.
//!
//! For each dimension, each of the four section texts (`results`,
//! `shortcomings`, `causes`, `proposals`) of the consolidated report gets,
//! from every accepted unit report, that unit's text of the same dimension as
//! a paragraph headed by the unit's name: `"<Unit name>:\n<text>\n\n"`.
//! Empty texts are skipped. The root list `included_units` names the units
//! already folded in, so that assembling again adds only units accepted
//! since, at the end of each text: what the Office wrote meanwhile stays.

use automerge::transaction::Transactable;
use automerge::{Automerge, AutomergeError, ObjId, ObjType, ReadDoc, Value, ROOT};

use super::{child, scalar_str, section_number, SECTION_TEXTS};

/// The four texts of one dimension's section of a unit's report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionTexts {
    pub number: i64,
    /// In the order of `SECTION_TEXTS`.
    pub texts: [String; 4],
}

/// What one unit's accepted report brings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub unit: String,
    pub name: String,
    pub sections: Vec<SectionTexts>,
}

/// The section texts of a unit's report, by dimension number.
pub fn unit_texts<D: ReadDoc>(doc: &D) -> Vec<SectionTexts> {
    let Some(sections) = child(doc, &ROOT, "sections") else {
        return Vec::new();
    };
    (0..doc.length(&sections))
        .filter_map(|i| {
            let s = child(doc, &sections, i)?;
            Some(SectionTexts {
                number: section_number(doc, &s)?,
                texts: SECTION_TEXTS.map(|key| scalar_str(doc, &s, key).unwrap_or_default()),
            })
        })
        .collect()
}

/// The units a consolidated report already includes.
pub fn included_units<D: ReadDoc>(doc: &D) -> Vec<String> {
    let Some(list) = child(doc, &ROOT, "included_units") else {
        return Vec::new();
    };
    (0..doc.length(&list))
        .filter_map(|i| match doc.get(&list, i).ok()?? {
            (Value::Scalar(s), _) => s.as_str().map(str::to_string),
            _ => None,
        })
        .collect()
}

/// Appends every contribution whose unit the consolidated report does not
/// yet include, in the order given, in one change. Returns the units added.
pub fn append_contributions(
    doc: &mut Automerge,
    contributions: &[Contribution],
) -> Result<Vec<String>, AutomergeError> {
    let already = included_units(doc);
    let new: Vec<&Contribution> = contributions
        .iter()
        .filter(|c| !already.contains(&c.unit))
        .collect();
    // The list exists from the start, so that nothing ever makes a second one.
    if new.is_empty() && child(doc, &ROOT, "included_units").is_some() {
        return Ok(Vec::new());
    }
    doc.transact(|tx| {
        let list = match child(&*tx, &ROOT, "included_units") {
            Some(list) => list,
            None => tx.put_object(ROOT, "included_units", ObjType::List)?,
        };
        let sections = child(&*tx, &ROOT, "sections");
        let targets: Vec<(i64, ObjId)> = match &sections {
            Some(sections) => (0..tx.length(sections))
                .filter_map(|i| {
                    let s = child(&*tx, sections, i)?;
                    Some((section_number(&*tx, &s)?, s))
                })
                .collect(),
            None => Vec::new(),
        };
        for c in &new {
            for section in &c.sections {
                let Some((_, target)) = targets.iter().find(|(n, _)| *n == section.number) else {
                    continue;
                };
                for (key, text) in SECTION_TEXTS.iter().zip(&section.texts) {
                    let text = text.trim();
                    if text.is_empty() {
                        continue;
                    }
                    let Some(t) = child(&*tx, target, *key) else {
                        continue;
                    };
                    if tx.object_type(&t)? != ObjType::Text {
                        continue;
                    }
                    let end = tx.length(&t);
                    tx.splice_text(&t, end, 0, &format!("{}:\n{text}\n\n", c.name))?;
                }
            }
            let at = tx.length(&list);
            tx.insert(&list, at, c.unit.as_str())?;
        }
        Ok::<_, AutomergeError>(())
    })
    .map_err(|f| f.error)?;
    Ok(new.into_iter().map(|c| c.unit.clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::plan_of_three;
    use crate::report::{generate, generate_consolidated, TextAt};

    /// A unit's report with `words` in the `key` text of its `section`-th section.
    fn unit_report(unit: &str, writes: &[(usize, &str, &str)]) -> Automerge {
        let mut doc = Automerge::new();
        generate(&plan_of_three(), unit, "2026-h1", &mut doc).unwrap();
        for (section, key, words) in writes {
            let at = TextAt::Section {
                section: *section,
                key: SECTION_TEXTS.iter().find(|k| *k == key).unwrap(),
            };
            let t = at.locate(&doc).unwrap();
            doc.transact(|tx| tx.splice_text(&t, 0, 0, words)).unwrap();
        }
        doc
    }

    fn section_text(doc: &Automerge, number: i64, key: &str) -> String {
        let sections = child(doc, &ROOT, "sections").unwrap();
        (0..doc.length(&sections))
            .map(|i| child(doc, &sections, i).unwrap())
            .find(|s| section_number(doc, s) == Some(number))
            .map(|s| scalar_str(doc, &s, key).unwrap_or_default())
            .unwrap()
    }

    fn contribution(unit: &str, name: &str, doc: &Automerge) -> Contribution {
        Contribution {
            unit: unit.into(),
            name: name.into(),
            sections: unit_texts(doc),
        }
    }

    #[test]
    fn accepted_texts_are_combined_per_dimension_under_the_units_name() {
        let office = unit_report(
            "van-phong",
            &[(0, "results", "Đã niêm yết"), (1, "causes", "Thiếu người")],
        );
        let budget = unit_report(
            "phong-ngan-sach",
            &[(0, "results", "  Công khai ngân sách \n")],
        );
        let texts = unit_texts(&office);
        assert_eq!(texts.len(), 3);
        assert_eq!(texts[0].number, 1);
        assert_eq!(texts[0].texts[0], "Đã niêm yết");

        let mut consolidated = Automerge::new();
        generate_consolidated(&plan_of_three(), "2026-h1", &mut consolidated).unwrap();
        let added = append_contributions(
            &mut consolidated,
            &[
                contribution("van-phong", "Văn phòng", &office),
                contribution("phong-ngan-sach", "Phòng Ngân sách", &budget),
            ],
        )
        .unwrap();
        assert_eq!(added, ["van-phong", "phong-ngan-sach"]);
        assert_eq!(
            section_text(&consolidated, 1, "results"),
            "Văn phòng:\nĐã niêm yết\n\nPhòng Ngân sách:\nCông khai ngân sách\n\n"
        );
        assert_eq!(
            section_text(&consolidated, 2, "causes"),
            "Văn phòng:\nThiếu người\n\n"
        );
        assert_eq!(
            section_text(&consolidated, 2, "results"),
            "",
            "empty texts are skipped"
        );
        assert_eq!(section_text(&consolidated, 3, "proposals"), "");
        assert_eq!(
            included_units(&consolidated),
            ["van-phong", "phong-ngan-sach"]
        );
    }

    #[test]
    fn assembling_again_adds_only_new_units_and_keeps_the_offices_edits() {
        let office = unit_report("van-phong", &[(0, "results", "A")]);
        let inspectorate = unit_report("thanh-tra", &[(0, "results", "B")]);
        let mut consolidated = Automerge::new();
        generate_consolidated(&plan_of_three(), "2026-h1", &mut consolidated).unwrap();
        // Nothing accepted yet: the list is made, empty.
        assert_eq!(
            append_contributions(&mut consolidated, &[]).unwrap(),
            Vec::<String>::new()
        );
        assert!(child(&consolidated, &ROOT, "included_units").is_some());
        append_contributions(
            &mut consolidated,
            &[contribution("van-phong", "Văn phòng", &office)],
        )
        .unwrap();

        // The Office edits the combined text.
        let t = TextAt::Section {
            section: 0,
            key: "results",
        }
        .locate(&consolidated)
        .unwrap();
        consolidated
            .transact(|tx| tx.splice_text(&t, 0, 0, "Tóm tắt. "))
            .unwrap();

        let heads = consolidated.get_heads();
        let added = append_contributions(
            &mut consolidated,
            &[
                contribution("van-phong", "Văn phòng", &office),
                contribution("thanh-tra", "Thanh tra", &inspectorate),
            ],
        )
        .unwrap();
        assert_eq!(added, ["thanh-tra"]);
        assert_eq!(
            section_text(&consolidated, 1, "results"),
            "Tóm tắt. Văn phòng:\nA\n\nThanh tra:\nB\n\n"
        );
        assert_ne!(consolidated.get_heads(), heads);

        // Again: nothing to add, and no change at all.
        let heads = consolidated.get_heads();
        let added = append_contributions(
            &mut consolidated,
            &[contribution("thanh-tra", "Thanh tra", &inspectorate)],
        )
        .unwrap();
        assert!(added.is_empty());
        assert_eq!(consolidated.get_heads(), heads);
        assert_eq!(included_units(&consolidated), ["van-phong", "thanh-tra"]);
    }

    #[test]
    fn odd_documents_do_not_break_it() {
        // No sections at all, and a report with a plain-string text.
        let mut empty = Automerge::new();
        assert!(unit_texts(&empty).is_empty());
        let mut odd = Automerge::new();
        odd.transact(|tx| {
            let list = tx.put_object(ROOT, "sections", ObjType::List)?;
            let s = tx.insert_object(&list, 0, ObjType::Map)?;
            tx.put(&s, "number", 2_u64)?;
            tx.put(&s, "results", "plain")?;
            tx.insert(&list, 1, "not a map")?;
            Ok::<_, AutomergeError>(())
        })
        .unwrap();
        let texts = unit_texts(&odd);
        assert_eq!(texts.len(), 1);
        assert_eq!(texts[0].number, 2);
        assert_eq!(texts[0].texts[0], "plain");
        let added = append_contributions(&mut empty, &[contribution("x", "X", &odd)]).unwrap();
        assert_eq!(added, ["x"], "included even with nowhere to write");
    }
}

//! A unit's report for one period, generated from the plan.
//!
//! Layout (keys of the automerge root map): `kind` = `"unit_report"`,
//! `schema`, `unit`, `period` (a `calendar::Period` key such as `2026-h1`),
//! `sections` (one per dimension that has measures for the unit: `number`,
//! `name`, `measures` — each `id`, `text`, `status`, `evidence` — and the
//! texts `results`, `shortcomings`, `causes`, `proposals`), and
//! `extra_items` (the unit's own items: `id`, `text`, `status`, `evidence`).
//! Every text a person writes is an automerge text object.

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ROOT};

use crate::schema::{Plan, SchemaError};

pub mod comments;
mod consolidation;
pub mod history;
pub mod official;

pub use consolidation::{
    append_contributions, included_units, unit_texts, Contribution, SectionTexts,
};

pub const REPORT_SCHEMA: i64 = 1;
/// The per-section texts, in the order the report shows them.
pub const SECTION_TEXTS: [&str; 4] = ["results", "shortcomings", "causes", "proposals"];

/// Whether a measure applies to a unit: `"*"` means every unit.
pub fn assigned(units: &[String], unit: &str) -> bool {
    units.iter().any(|u| u == "*" || u == unit)
}

/// Writes what every report starts with; returns its list of sections.
fn begin<T: Transactable>(tx: &mut T, kind: &str, period: &str) -> Result<ObjId, SchemaError> {
    tx.put(ROOT, "kind", kind)?;
    tx.put(ROOT, "schema", REPORT_SCHEMA)?;
    tx.put(ROOT, "period", period)?;
    tx.put_object(ROOT, comments::KEY, ObjType::Map)?;
    Ok(tx.put_object(ROOT, "sections", ObjType::List)?)
}

/// Writes a new report for `unit` and `period` into an empty document.
pub fn generate(
    plan: &Plan,
    unit: &str,
    period: &str,
    doc: &mut Automerge,
) -> Result<(), SchemaError> {
    doc.transact(|tx| {
        let sections = begin(tx, "unit_report", period)?;
        tx.put(ROOT, "unit", unit)?;
        let mut index = 0;
        for dim in &plan.dimensions {
            let measures: Vec<_> = dim
                .measures
                .iter()
                .filter(|m| !m.retired && assigned(&m.units, unit))
                .collect();
            if measures.is_empty() {
                continue;
            }
            let s = tx.insert_object(&sections, index, ObjType::Map)?;
            index += 1;
            tx.put(&s, "number", i64::from(dim.number))?;
            tx.put(&s, "name", dim.name.as_str())?;
            let list = tx.put_object(&s, "measures", ObjType::List)?;
            for (i, m) in measures.iter().enumerate() {
                let item = tx.insert_object(&list, i, ObjType::Map)?;
                tx.put(&item, "id", m.id.as_str())?;
                tx.put(&item, "text", m.text.as_str())?;
                tx.put(&item, "status", "not_started")?;
                tx.put_object(&item, "evidence", ObjType::Text)?;
            }
            for key in SECTION_TEXTS {
                tx.put_object(&s, key, ObjType::Text)?;
            }
        }
        let extras = tx.put_object(ROOT, "extra_items", ObjType::List)?;
        for (i, e) in plan
            .extra_items
            .iter()
            .filter(|e| e.unit == unit)
            .enumerate()
        {
            let item = tx.insert_object(&extras, i, ObjType::Map)?;
            tx.put(&item, "id", e.id.as_str())?;
            tx.put(&item, "text", e.text.as_str())?;
            tx.put(&item, "status", "not_started")?;
            tx.put_object(&item, "evidence", ObjType::Text)?;
        }
        Ok::<_, SchemaError>(())
    })
    .map(|_| ())
    .map_err(|f| f.error)
}

/// Writes a new consolidated report for `period` into an empty document:
/// one section per dimension, with the same four texts as a unit's report,
/// which the Office fills from the accepted unit reports.
pub fn generate_consolidated(
    plan: &Plan,
    period: &str,
    doc: &mut Automerge,
) -> Result<(), SchemaError> {
    doc.transact(|tx| {
        let sections = begin(tx, "consolidated", period)?;
        for (i, dim) in plan.dimensions.iter().enumerate() {
            let s = tx.insert_object(&sections, i, ObjType::Map)?;
            tx.put(&s, "number", i64::from(dim.number))?;
            tx.put(&s, "name", dim.name.as_str())?;
            for key in SECTION_TEXTS {
                tx.put_object(&s, key, ObjType::Text)?;
            }
        }
        Ok::<_, SchemaError>(())
    })
    .map(|_| ())
    .map_err(|f| f.error)
}

/// The unit and period a report document is for.
pub fn identity<D: ReadDoc>(doc: &D) -> Option<(String, String)> {
    let get = |key: &str| match doc.get(ROOT, key).ok()?? {
        (automerge::Value::Scalar(s), _) => s.as_str().map(str::to_string),
        _ => None,
    };
    (get("kind")? == "unit_report").then_some(())?;
    Some((get("unit")?, get("period")?))
}

/// What each measure of a report can be, in the order a form offers them.
pub const MEASURE_STATUSES: [&str; 4] = ["not_started", "in_progress", "done", "blocked"];

/// Where a person's text lives in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextAt {
    /// A measure's text in the plan, by measure id.
    PlanMeasure(String),
    /// One of `SECTION_TEXTS` in a report's section, by position.
    Section { section: usize, key: &'static str },
    /// The evidence notes of a measure in a report's section.
    Evidence { section: usize, measure: usize },
    /// The evidence notes of one of the unit's own items.
    ExtraEvidence(usize),
}

/// A report entry that carries a status: a measure or an extra item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemAt {
    Measure { section: usize, measure: usize },
    Extra(usize),
}

/// The object at `key` of `obj`, if there is an object there.
fn child<D: ReadDoc>(doc: &D, obj: &ObjId, key: impl Into<automerge::Prop>) -> Option<ObjId> {
    match doc.get(obj, key).ok()?? {
        (automerge::Value::Object(_), id) => Some(id),
        _ => None,
    }
}

fn section<D: ReadDoc>(doc: &D, index: usize) -> Option<ObjId> {
    let sections = child(doc, &ROOT, "sections")?;
    child(doc, &sections, index)
}

impl TextAt {
    /// A stable name for the field, for the page (`data-field`) and tests.
    pub fn key(&self) -> String {
        match self {
            TextAt::PlanMeasure(id) => format!("plan/{id}"),
            TextAt::Section { section, key } => format!("s{section}/{key}"),
            TextAt::Evidence { section, measure } => format!("s{section}/m{measure}/evidence"),
            TextAt::ExtraEvidence(i) => format!("extra{i}/evidence"),
        }
    }

    /// The text object, if the document has it.
    pub fn locate<D: ReadDoc>(&self, doc: &D) -> Option<ObjId> {
        let text = match self {
            TextAt::PlanMeasure(id) => return crate::schema::measure_text(doc, id),
            TextAt::Section { section: s, key } => child(doc, &section(doc, *s)?, *key)?,
            TextAt::Evidence { section, measure } => {
                let item = ItemAt::Measure {
                    section: *section,
                    measure: *measure,
                };
                child(doc, &item.locate(doc)?, "evidence")?
            }
            TextAt::ExtraEvidence(i) => child(doc, &ItemAt::Extra(*i).locate(doc)?, "evidence")?,
        };
        (doc.object_type(&text).ok()? == ObjType::Text).then_some(text)
    }
}

impl ItemAt {
    fn locate<D: ReadDoc>(&self, doc: &D) -> Option<ObjId> {
        match self {
            ItemAt::Measure {
                section: s,
                measure,
            } => {
                let measures = child(doc, &section(doc, *s)?, "measures")?;
                child(doc, &measures, *measure)
            }
            ItemAt::Extra(i) => child(doc, &child(doc, &ROOT, "extra_items")?, *i),
        }
    }

    /// The entry's status, one of `MEASURE_STATUSES`.
    pub fn status<D: ReadDoc>(&self, doc: &D) -> Option<String> {
        match doc.get(&self.locate(doc)?, "status").ok()?? {
            (automerge::Value::Scalar(s), _) => s.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// Sets the entry's status; anything but one of `MEASURE_STATUSES` is refused.
    pub fn set_status(&self, doc: &mut Automerge, status: &str) -> bool {
        if !MEASURE_STATUSES.contains(&status) {
            return false;
        }
        let Some(item) = self.locate(doc) else {
            return false;
        };
        doc.transact(|tx| tx.put(&item, "status", status)).is_ok()
    }
}

/// The fixed shape of a report, without what people write in it: enough to
/// lay out the form. Texts and statuses are read live by the fields.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Outline {
    /// `unit_report` or `consolidated`.
    pub kind: String,
    pub unit: Option<String>,
    pub period: String,
    pub sections: Vec<SectionOutline>,
    pub extra_items: Vec<ItemOutline>,
    /// For a consolidated report: the units whose reports it includes.
    pub included_units: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionOutline {
    pub number: i64,
    pub name: String,
    pub measures: Vec<ItemOutline>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemOutline {
    pub id: String,
    pub text: String,
}

/// A string field: a string scalar, or an automerge text object.
fn scalar_str<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok()?? {
        (automerge::Value::Scalar(s), _) => s.as_str().map(str::to_string),
        (automerge::Value::Object(ObjType::Text), id) => doc.text(&id).ok(),
        _ => None,
    }
}

fn items<D: ReadDoc>(doc: &D, list: Option<ObjId>) -> Vec<ItemOutline> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..doc.length(&list))
        .filter_map(|i| {
            let item = child(doc, &list, i)?;
            Some(ItemOutline {
                id: scalar_str(doc, &item, "id")?,
                text: scalar_str(doc, &item, "text").unwrap_or_default(),
            })
        })
        .collect()
}

/// A section's dimension number.
fn section_number<D: ReadDoc>(doc: &D, section: &ObjId) -> Option<i64> {
    match doc.get(section, "number").ok()?? {
        (automerge::Value::Scalar(v), _) => crate::schema::whole_number(&v),
        _ => None,
    }
}

impl Outline {
    /// The outline of a unit's or a consolidated report; `None` for any
    /// other document.
    pub fn read<D: ReadDoc>(doc: &D) -> Option<Outline> {
        let kind = scalar_str(doc, &ROOT, "kind")?;
        if kind != "unit_report" && kind != "consolidated" {
            return None;
        }
        let sections = child(doc, &ROOT, "sections")
            .map(|list| {
                (0..doc.length(&list))
                    .filter_map(|i| {
                        let s = child(doc, &list, i)?;
                        Some(SectionOutline {
                            number: section_number(doc, &s)?,
                            name: scalar_str(doc, &s, "name").unwrap_or_default(),
                            measures: items(doc, child(doc, &s, "measures")),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Outline {
            unit: scalar_str(doc, &ROOT, "unit"),
            period: scalar_str(doc, &ROOT, "period").unwrap_or_default(),
            sections,
            extra_items: items(doc, child(doc, &ROOT, "extra_items")),
            included_units: included_units(doc),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::small_plan;
    use crate::schema::ExtraItem;

    fn count<D: ReadDoc>(doc: &D, obj: &automerge::ObjId, key: &str) -> usize {
        let (_, list) = doc.get(obj, key).unwrap().unwrap();
        doc.length(&list)
    }

    #[test]
    fn a_report_holds_the_units_measures_per_dimension() {
        let mut plan = small_plan();
        plan.dimensions[0].measures[1].retired = false;
        plan.extra_items.push(ExtraItem {
            id: "x".into(),
            unit: "thanh-tra".into(),
            text: "riêng".into(),
        });

        let mut doc = Automerge::new();
        generate(&plan, "van-phong", "2026-h1", &mut doc).unwrap();
        assert_eq!(identity(&doc), Some(("van-phong".into(), "2026-h1".into())));
        let (_, sections) = doc.get(ROOT, "sections").unwrap().unwrap();
        assert_eq!(doc.length(&sections), 1);
        let (_, section) = doc.get(&sections, 0).unwrap().unwrap();
        // d1-m1 is for every unit, d1-m2 for the Office and the Inspectorate.
        assert_eq!(count(&doc, &section, "measures"), 2);
        for key in SECTION_TEXTS {
            let (value, _) = doc.get(&section, key).unwrap().unwrap();
            assert_eq!(value, automerge::Value::Object(ObjType::Text));
        }
        assert_eq!(
            count(&doc, &ROOT, "extra_items"),
            0,
            "another unit's items stay out"
        );

        let mut consolidated = Automerge::new();
        generate_consolidated(&plan, "2026-h1", &mut consolidated).unwrap();
        let (_, sections) = consolidated.get(ROOT, "sections").unwrap().unwrap();
        assert_eq!(consolidated.length(&sections), plan.dimensions.len());
        assert_eq!(identity(&consolidated), None, "not a unit's report");

        let mut budget = Automerge::new();
        generate(&plan, "phong-ngan-sach", "2026-year", &mut budget).unwrap();
        let (_, sections) = budget.get(ROOT, "sections").unwrap().unwrap();
        let (_, section) = budget.get(&sections, 0).unwrap().unwrap();
        assert_eq!(count(&budget, &section, "measures"), 1);
        assert_eq!(
            count(&budget, &ROOT, "extra_items"),
            1,
            "the Budget division's own item"
        );
    }

    #[test]
    fn fields_are_found_by_position_and_statuses_checked() {
        let plan = small_plan();
        let mut doc = Automerge::new();
        generate(&plan, "van-phong", "2026-h1", &mut doc).unwrap();
        let outline = Outline::read(&doc).unwrap();
        assert_eq!(outline.kind, "unit_report");
        assert_eq!(outline.unit.as_deref(), Some("van-phong"));
        assert_eq!(outline.sections.len(), 1);
        assert_eq!(outline.sections[0].measures[0].id, "d1-m1");

        let results = TextAt::Section {
            section: 0,
            key: "results",
        };
        let t = results.locate(&doc).expect("the results text");
        doc.transact(|tx| tx.splice_text(&t, 0, 0, "Đã làm"))
            .unwrap();
        let again = results.locate(&doc).unwrap();
        assert_eq!(doc.text(&again).unwrap(), "Đã làm");
        assert!(TextAt::Evidence {
            section: 0,
            measure: 0
        }
        .locate(&doc)
        .is_some());
        assert!(TextAt::Evidence {
            section: 0,
            measure: 9
        }
        .locate(&doc)
        .is_none());
        assert!(TextAt::Section {
            section: 3,
            key: "results"
        }
        .locate(&doc)
        .is_none());

        let item = ItemAt::Measure {
            section: 0,
            measure: 0,
        };
        assert_eq!(item.status(&doc).as_deref(), Some("not_started"));
        assert!(item.set_status(&mut doc, "done"));
        assert_eq!(item.status(&doc).as_deref(), Some("done"));
        assert!(!item.set_status(&mut doc, "finished"), "not a status");
        assert_eq!(item.status(&doc).as_deref(), Some("done"));
        assert!(
            !ItemAt::Extra(0).set_status(&mut doc, "done"),
            "no such item"
        );

        let plan_doc = {
            let mut d = Automerge::new();
            plan.write_new(&mut d).unwrap();
            d
        };
        assert!(TextAt::PlanMeasure("d1-m1".into())
            .locate(&plan_doc)
            .is_some());
        assert_eq!(Outline::read(&plan_doc), None, "a plan is not a report");
    }
}

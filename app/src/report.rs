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
use automerge::{Automerge, ObjType, ReadDoc, ROOT};

use crate::schema::{Plan, SchemaError};

pub const REPORT_SCHEMA: i64 = 1;
/// The per-section texts, in the order the report shows them.
pub const SECTION_TEXTS: [&str; 4] = ["results", "shortcomings", "causes", "proposals"];

/// Whether a measure applies to a unit: `"*"` means every unit.
pub fn assigned(units: &[String], unit: &str) -> bool {
    units.iter().any(|u| u == "*" || u == unit)
}

/// Writes a new report for `unit` and `period` into an empty document.
pub fn generate(
    plan: &Plan,
    unit: &str,
    period: &str,
    doc: &mut Automerge,
) -> Result<(), SchemaError> {
    doc.transact(|tx| {
        tx.put(ROOT, "kind", "unit_report")?;
        tx.put(ROOT, "schema", REPORT_SCHEMA)?;
        tx.put(ROOT, "unit", unit)?;
        tx.put(ROOT, "period", period)?;
        let sections = tx.put_object(ROOT, "sections", ObjType::List)?;
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
        tx.put(ROOT, "kind", "consolidated")?;
        tx.put(ROOT, "schema", REPORT_SCHEMA)?;
        tx.put(ROOT, "period", period)?;
        let sections = tx.put_object(ROOT, "sections", ObjType::List)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tests::small_plan;
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
}

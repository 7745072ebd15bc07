//! Typed access to the documents, shared by the app and the server.
//!
//! The plan document's layout (keys of the automerge root map):
//!
//! | key | value |
//! |---|---|
//! | `kind` | `"plan"` |
//! | `schema` | layout version, `1` |
//! | `title`, `agency`, `province`, `objective` | text |
//! | `start_year`, `end_year` | integers |
//! | `reporting` | map: `half_year_due`, `annual_due`, each a map of `month`, `day` |
//! | `legal_bases` | list of text |
//! | `targets` | list of maps: `id`, `text`, `kind`, `value`, `from_year`, `to_year` |
//! | `dimensions` | list of maps: `number`, `name`, `name_en`, `measures` |
//! | `measures` | list of maps: `id`, `text`, `group` (optional), `units` (list of unit ids; `"*"` means every unit), `retired` |
//! | `extra_items` | list of maps: `id`, `unit`, `text` |
//! | `papi_results` | map from year (`"2025"`) to a map: `rank`, `scores` (list of 8 numbers, one per dimension) |
//!
//! A measure may carry an `order` (a number): measures are shown by it, else
//! by their place in the list. Moving a measure changes only its `order`, so
//! that an edit made meanwhile to its text is never lost in the move.
//!
//! Human text is stored as automerge text objects so that several people can
//! edit it at once. Readers also accept plain strings, which other
//! automerge-repo clients may write.

use std::collections::HashMap;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use serde::{Deserialize, Serialize};

use crate::calendar::ReportingSettings;

pub const PLAN_SCHEMA: i64 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub title: String,
    pub agency: String,
    /// The agency the plan's agency answers to (for official documents).
    #[serde(default)]
    pub parent_agency: String,
    pub province: String,
    pub start_year: i32,
    pub end_year: i32,
    pub reporting: ReportingSettings,
    pub legal_bases: Vec<String>,
    pub objective: String,
    pub targets: Vec<Target>,
    pub dimensions: Vec<Dimension>,
    pub extra_items: Vec<ExtraItem>,
}

/// A numeric objective of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: String,
    pub text: String,
    /// `province_rank_at_most`, `province_rank_gain` or `department_rank_gain`.
    pub kind: String,
    pub value: i64,
    pub from_year: i32,
    pub to_year: i32,
}

/// One of the eight PAPI dimensions (lĩnh vực).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub number: u8,
    /// Left out of a plan file, the standard name (`plan_file::parse`).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub measures: Vec<Measure>,
}

/// A measure (nội dung, giải pháp) under a dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub id: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Unit ids that carry it out; `"*"` means every unit.
    pub units: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retired: bool,
}

/// An item one unit reports on besides the measures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraItem {
    pub id: String,
    pub unit: String,
    pub text: String,
}

/// What `Plan::adopt` did to the measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Adopted {
    pub added: usize,
    pub changed: usize,
    pub retired: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the document has no {0}")]
    Missing(String),
    #[error("{0} has the wrong type")]
    WrongType(String),
    #[error("this is a {found} document, not a {expected}")]
    WrongKind {
        expected: &'static str,
        found: String,
    },
    #[error(transparent)]
    Automerge(#[from] automerge::AutomergeError),
}

impl Plan {
    /// Writes the whole plan into an empty document.
    pub fn write_new(&self, doc: &mut Automerge) -> Result<(), SchemaError> {
        doc.transact(|tx| self.write(tx))
            .map(|_| ())
            .map_err(|failure| failure.error)
    }

    fn write<T: Transactable>(&self, tx: &mut T) -> Result<(), SchemaError> {
        tx.put(ROOT, "kind", "plan")?;
        tx.put(ROOT, "schema", PLAN_SCHEMA)?;
        for (key, value) in self.header_texts() {
            put_text(tx, &ROOT, key, value)?;
        }
        tx.put(ROOT, "start_year", i64::from(self.start_year))?;
        tx.put(ROOT, "end_year", i64::from(self.end_year))?;
        self.write_reporting(tx)?;
        self.write_legal_bases(tx)?;
        self.write_targets(tx)?;
        let dimensions = tx.put_object(ROOT, "dimensions", ObjType::List)?;
        for (i, dim) in self.dimensions.iter().enumerate() {
            write_dimension(tx, &dimensions, i, dim)?;
        }
        self.write_extra_items(tx)
    }

    /// The plan's texts kept at the top of its document, by key.
    fn header_texts(&self) -> [(&'static str, &str); 5] {
        [
            ("title", &self.title),
            ("agency", &self.agency),
            ("parent_agency", &self.parent_agency),
            ("province", &self.province),
            ("objective", &self.objective),
        ]
    }

    fn write_reporting<T: Transactable>(&self, tx: &mut T) -> Result<(), SchemaError> {
        let reporting = tx.put_object(ROOT, "reporting", ObjType::Map)?;
        for (key, due) in [
            ("half_year_due", self.reporting.half_year_due),
            ("annual_due", self.reporting.annual_due),
        ] {
            let m = tx.put_object(&reporting, key, ObjType::Map)?;
            tx.put(&m, "month", i64::from(due.month))?;
            tx.put(&m, "day", i64::from(due.day))?;
        }
        Ok(())
    }

    fn write_legal_bases<T: Transactable>(&self, tx: &mut T) -> Result<(), SchemaError> {
        let bases = tx.put_object(ROOT, "legal_bases", ObjType::List)?;
        for (i, basis) in self.legal_bases.iter().enumerate() {
            let t = tx.insert_object(&bases, i, ObjType::Text)?;
            tx.splice_text(&t, 0, 0, basis)?;
        }
        Ok(())
    }

    fn write_targets<T: Transactable>(&self, tx: &mut T) -> Result<(), SchemaError> {
        let targets = tx.put_object(ROOT, "targets", ObjType::List)?;
        for (i, target) in self.targets.iter().enumerate() {
            let m = tx.insert_object(&targets, i, ObjType::Map)?;
            tx.put(&m, "id", target.id.as_str())?;
            put_text(tx, &m, "text", &target.text)?;
            tx.put(&m, "kind", target.kind.as_str())?;
            tx.put(&m, "value", target.value)?;
            tx.put(&m, "from_year", i64::from(target.from_year))?;
            tx.put(&m, "to_year", i64::from(target.to_year))?;
        }
        Ok(())
    }

    fn write_extra_items<T: Transactable>(&self, tx: &mut T) -> Result<(), SchemaError> {
        let extras = tx.put_object(ROOT, "extra_items", ObjType::List)?;
        for (i, item) in self.extra_items.iter().enumerate() {
            let m = tx.insert_object(&extras, i, ObjType::Map)?;
            tx.put(&m, "id", item.id.as_str())?;
            tx.put(&m, "unit", item.unit.as_str())?;
            put_text(tx, &m, "text", &item.text)?;
        }
        Ok(())
    }

    /// A plan with nothing in it: what a production workspace holds until
    /// its plan is imported. The app shows it as "no plan yet".
    pub fn empty() -> Plan {
        Plan {
            title: String::new(),
            agency: String::new(),
            parent_agency: String::new(),
            province: String::new(),
            start_year: 0,
            end_year: 0,
            reporting: ReportingSettings {
                half_year_due: crate::calendar::DueDay { month: 6, day: 15 },
                annual_due: crate::calendar::DueDay { month: 12, day: 15 },
            },
            legal_bases: Vec::new(),
            objective: String::new(),
            targets: Vec::new(),
            dimensions: Vec::new(),
            extra_items: Vec::new(),
        }
    }

    /// Whether the plan has been set up (an empty one has no dimensions).
    pub fn is_empty(&self) -> bool {
        self.dimensions.is_empty()
    }

    /// Makes the plan document `doc` hold this plan, in one change that
    /// keeps what it can. Measures are matched by id. A measure that is no
    /// longer in this plan is retired, never deleted, so that reports that
    /// refer to it keep their text. Texts change by splices, so an edit made
    /// meanwhile on another device survives the merge.
    pub fn adopt(&self, doc: &mut Automerge) -> Result<Adopted, SchemaError> {
        let current = Plan::read(&*doc)?;
        let r = Reader { doc: &*doc };
        let dims_list = r.object(&ROOT, "dimensions", "dimensions")?;
        let mut dims: Vec<(u8, ObjId, ObjId)> = Vec::new();
        let mut measures: Vec<(String, ObjId, f64)> = Vec::new();
        for d in r.item_objects(&dims_list, "dimension")? {
            let number = r.int(&d, "number", "dimension number")? as u8;
            let list = r.object(&d, "measures", "measures")?;
            for (i, m) in r.item_objects(&list, "measure")?.into_iter().enumerate() {
                let id = r.string(&m, "id", "measure id")?;
                measures.push((id, m.clone(), order_of(&*doc, &m, i)));
            }
            dims.push((number, d, list));
        }
        let old_measures: Vec<&Measure> = current
            .dimensions
            .iter()
            .flat_map(|d| &d.measures)
            .collect();
        let mut adopted = Adopted::default();
        doc.transact(|tx| {
            for ((key, new), (_, old)) in
                self.header_texts().into_iter().zip(current.header_texts())
            {
                if new != old {
                    set_text(tx, &ROOT, key, new)?;
                }
            }
            if (self.start_year, self.end_year) != (current.start_year, current.end_year) {
                tx.put(ROOT, "start_year", i64::from(self.start_year))?;
                tx.put(ROOT, "end_year", i64::from(self.end_year))?;
            }
            if self.reporting != current.reporting {
                self.write_reporting(tx)?;
            }
            if self.legal_bases != current.legal_bases {
                self.write_legal_bases(tx)?;
            }
            if self.targets != current.targets {
                self.write_targets(tx)?;
            }
            if self.extra_items != current.extra_items {
                self.write_extra_items(tx)?;
            }
            for dim in &self.dimensions {
                let Some((_, d, list)) = dims.iter().find(|(n, _, _)| *n == dim.number) else {
                    let at = tx.length(&dims_list);
                    write_dimension(tx, &dims_list, at, dim)?;
                    adopted.added += dim.measures.len();
                    continue;
                };
                let old_dim = current.dimensions.iter().find(|o| o.number == dim.number);
                if old_dim.map(|o| &o.name) != Some(&dim.name) {
                    set_text(tx, d, "name", &dim.name)?;
                }
                if old_dim.map(|o| &o.name_en) != Some(&dim.name_en) {
                    set_text(tx, d, "name_en", &dim.name_en)?;
                }
                for (order, m) in dim.measures.iter().enumerate() {
                    let order = order as f64;
                    let found = measures.iter().find(|(id, _, _)| *id == m.id);
                    let old = old_measures.iter().find(|o| o.id == m.id);
                    let (Some((_, obj, old_order)), Some(old)) = (found, old) else {
                        let at = tx.length(list);
                        write_measure(tx, list, at, m, Some(order))?;
                        adopted.added += 1;
                        continue;
                    };
                    let moved = *old_order != order;
                    if moved {
                        tx.put(obj, "order", order)?;
                    }
                    if *old == m {
                        adopted.changed += usize::from(moved);
                        continue;
                    }
                    adopted.changed += 1;
                    if old.text != m.text {
                        set_text(tx, obj, "text", &m.text)?;
                    }
                    if old.group != m.group {
                        match &m.group {
                            Some(group) => set_text(tx, obj, "group", group)?,
                            None => tx.delete(obj, "group")?,
                        }
                    }
                    if old.units != m.units {
                        write_units(tx, obj, &m.units)?;
                    }
                    if old.retired != m.retired {
                        tx.put(obj, "retired", m.retired)?;
                    }
                }
            }
            let kept: Vec<&str> = self
                .dimensions
                .iter()
                .flat_map(|d| d.measures.iter().map(|m| m.id.as_str()))
                .collect();
            for old in old_measures
                .iter()
                .filter(|o| !o.retired && !kept.contains(&o.id.as_str()))
            {
                if let Some((_, obj, _)) = measures.iter().find(|(id, _, _)| *id == old.id) {
                    tx.put(obj, "retired", true)?;
                    adopted.retired += 1;
                }
            }
            Ok::<_, SchemaError>(())
        })
        .map_err(|failure| failure.error)?;
        Ok(adopted)
    }

    /// Reads the plan from a document, checking its shape as it goes.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Plan, SchemaError> {
        let r = Reader { doc };
        let kind = r.string(&ROOT, "kind", "kind")?;
        if kind != "plan" {
            return Err(SchemaError::WrongKind {
                expected: "plan",
                found: kind,
            });
        }
        let reporting = r.object(&ROOT, "reporting", "reporting")?;
        let due = |key: &str| -> Result<_, SchemaError> {
            let m = r.object(&reporting, key, key)?;
            Ok(crate::calendar::DueDay {
                month: r.int(&m, "month", key)? as u32,
                day: r.int(&m, "day", key)? as u32,
            })
        };
        let reporting = ReportingSettings {
            half_year_due: due("half_year_due")?,
            annual_due: due("annual_due")?,
        };

        let bases = r.object(&ROOT, "legal_bases", "legal_bases")?;
        let legal_bases = r
            .items(&bases)
            .into_iter()
            .map(|basis| r.text_value(&bases, basis, "legal basis"))
            .collect::<Result<_, _>>()?;

        let targets_obj = r.object(&ROOT, "targets", "targets")?;
        let mut targets = Vec::new();
        for t in r.item_objects(&targets_obj, "target")? {
            targets.push(Target {
                id: r.string(&t, "id", "target id")?,
                text: r.text(&t, "text", "target text")?,
                kind: r.string(&t, "kind", "target kind")?,
                value: r.int(&t, "value", "target value")?,
                from_year: r.int(&t, "from_year", "target year")? as i32,
                to_year: r.int(&t, "to_year", "target year")? as i32,
            });
        }

        let dims_obj = r.object(&ROOT, "dimensions", "dimensions")?;
        let mut dimensions = Vec::new();
        for d in r.item_objects(&dims_obj, "dimension")? {
            let measures_obj = r.object(&d, "measures", "measures")?;
            let mut measures = Vec::new();
            let mut orders = Vec::new();
            for (index, m) in r
                .item_objects(&measures_obj, "measure")?
                .into_iter()
                .enumerate()
            {
                orders.push(order_of(doc, &m, index));
                let units_obj = r.object(&m, "units", "measure units")?;
                let units = r
                    .items(&units_obj)
                    .into_iter()
                    .map(|u| r.scalar_string(u, "unit id"))
                    .collect::<Result<_, _>>()?;
                measures.push(Measure {
                    id: r.string(&m, "id", "measure id")?,
                    text: r.text(&m, "text", "measure text")?,
                    group: r.optional_text(&m, "group")?,
                    units,
                    retired: r.bool(&m, "retired")?,
                });
            }
            let mut ordered: Vec<_> = orders.into_iter().zip(measures).collect();
            ordered.sort_by(|a, b| a.0.total_cmp(&b.0));
            let measures = ordered.into_iter().map(|(_, m)| m).collect();
            dimensions.push(Dimension {
                number: r.int(&d, "number", "dimension number")? as u8,
                name: r.text(&d, "name", "dimension name")?,
                name_en: r.text(&d, "name_en", "dimension name")?,
                measures,
            });
        }

        let extras_obj = r.object(&ROOT, "extra_items", "extra_items")?;
        let mut extra_items = Vec::new();
        for e in r.item_objects(&extras_obj, "extra item")? {
            extra_items.push(ExtraItem {
                id: r.string(&e, "id", "extra item id")?,
                unit: r.string(&e, "unit", "extra item unit")?,
                text: r.text(&e, "text", "extra item text")?,
            });
        }

        Ok(Plan {
            title: r.text(&ROOT, "title", "title")?,
            agency: r.text(&ROOT, "agency", "agency")?,
            parent_agency: r.optional_text(&ROOT, "parent_agency")?.unwrap_or_default(),
            province: r.text(&ROOT, "province", "province")?,
            start_year: r.int(&ROOT, "start_year", "start_year")? as i32,
            end_year: r.int(&ROOT, "end_year", "end_year")? as i32,
            reporting,
            legal_bases,
            objective: r.text(&ROOT, "objective", "objective")?,
            targets,
            dimensions,
            extra_items,
        })
    }
}

/// The text object of the measure with id `measure_id`, for editing.
pub fn measure_text<D: ReadDoc>(doc: &D, measure_id: &str) -> Option<ObjId> {
    let (m, _) = find_measure(doc, measure_id)?;
    match doc.get(&m, "text").ok()?? {
        (Value::Object(ObjType::Text), id) => Some(id),
        _ => None,
    }
}

/// A number as any automerge client may store it: an int, a uint or a
/// float. The one reader of numbers in documents.
pub fn number(value: &ScalarValue) -> Option<f64> {
    match value {
        ScalarValue::F64(f) => Some(*f),
        ScalarValue::Int(n) => Some(*n as f64),
        ScalarValue::Uint(n) => Some(*n as f64),
        _ => None,
    }
}

/// A whole number stored in any of those ways (a JavaScript client writes
/// 3 as a float).
pub fn whole_number(value: &ScalarValue) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        ScalarValue::Int(n) => Some(*n),
        ScalarValue::Uint(n) => i64::try_from(*n).ok(),
        other => number(other)
            .filter(|f| f.fract() == 0.0 && f.abs() <= EXACT)
            .map(|f| f as i64),
    }
}

/// A measure's place: its `order` if it has one, else its place in the list.
fn order_of<D: ReadDoc>(doc: &D, measure: &ObjId, index: usize) -> f64 {
    match doc.get(measure, "order").ok().flatten() {
        Some((Value::Scalar(s), _)) => number(&s).unwrap_or(index as f64),
        _ => index as f64,
    }
}

/// The map of the measure `measure_id`, with its dimension's list.
fn find_measure<D: ReadDoc>(doc: &D, measure_id: &str) -> Option<(ObjId, ObjId)> {
    let mut found = None;
    each_measure(doc, |id, m, measures| {
        let this = id == measure_id;
        if this {
            found = Some((m.clone(), measures.clone()));
        }
        !this
    })?;
    found
}

/// Every measure's text object by measure id, in one pass over the plan
/// (`measure_text` searches the plan for one).
pub fn measure_texts<D: ReadDoc>(doc: &D) -> Option<HashMap<String, ObjId>> {
    let mut texts = HashMap::new();
    each_measure(doc, |id, m, _| {
        if let Ok(Some((Value::Object(ObjType::Text), text))) = doc.get(m, "text") {
            texts.insert(id.to_string(), text);
        }
        true
    })?;
    Some(texts)
}

/// Calls `f` with each measure's id, map and dimension's list, in order,
/// while it returns true; `None` if the plan is not as it should be.
fn each_measure<D: ReadDoc>(
    doc: &D,
    mut f: impl FnMut(&str, &ObjId, &ObjId) -> bool,
) -> Option<()> {
    let r = Reader { doc };
    let dims = r.object(&ROOT, "dimensions", "dimensions").ok()?;
    for d in r.item_objects(&dims, "dimension").ok()? {
        let measures = r.object(&d, "measures", "measures").ok()?;
        for m in r.item_objects(&measures, "measure").ok()? {
            if !f(&r.string(&m, "id", "measure id").ok()?, &m, &measures) {
                return Some(());
            }
        }
    }
    Some(())
}

/// Changes to the plan that coordinators make, offline as well as online.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanEdit {
    /// A new measure at the end of dimension `dimension`, with its id.
    Add {
        dimension: u8,
        id: String,
        text: String,
        units: Vec<String>,
    },
    /// Moves a measure one place up (towards the start) or down.
    Move { id: String, up: bool },
    /// Retires a measure (it leaves new reports), or brings it back.
    Retire { id: String, retired: bool },
    /// Sets the units that carry a measure out.
    Assign { id: String, units: Vec<String> },
    /// Replaces the whole text of a measure.
    SetText { id: String, text: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("there is no measure {0:?}")]
    NoMeasure(String),
    #[error("there is no dimension {0}")]
    NoDimension(u8),
    #[error("a measure needs a text")]
    EmptyText,
    #[error("a measure needs at least one unit")]
    NoUnits,
    #[error("the document refused the change: {0}")]
    Document(String),
}

impl PlanEdit {
    /// Applies the edit to a plan document in one change.
    pub fn apply(&self, doc: &mut Automerge) -> Result<(), EditError> {
        let failed = |e: automerge::AutomergeError| EditError::Document(e.to_string());
        match self {
            PlanEdit::Add {
                dimension,
                id,
                text,
                units,
            } => {
                if text.trim().is_empty() {
                    return Err(EditError::EmptyText);
                }
                if units.is_empty() {
                    return Err(EditError::NoUnits);
                }
                let r = Reader { doc: &*doc };
                let dims = r
                    .object(&ROOT, "dimensions", "dimensions")
                    .map_err(|_| EditError::NoDimension(*dimension))?;
                let list = r
                    .item_objects(&dims, "dimension")
                    .unwrap_or_default()
                    .into_iter()
                    .find(|d| r.int(d, "number", "number").ok() == Some(i64::from(*dimension)))
                    .and_then(|d| r.object(&d, "measures", "measures").ok())
                    .ok_or(EditError::NoDimension(*dimension))?;
                let count = doc.length(&list);
                let last = (0..count)
                    .filter_map(|i| match doc.get(&list, i).ok()?? {
                        (Value::Object(ObjType::Map), m) => Some(order_of(&*doc, &m, i)),
                        _ => None,
                    })
                    .fold(-1.0_f64, f64::max);
                doc.transact(|tx| {
                    let m = tx.insert_object(&list, count, ObjType::Map)?;
                    tx.put(&m, "id", id.as_str())?;
                    let t = tx.put_object(&m, "text", ObjType::Text)?;
                    tx.splice_text(&t, 0, 0, text.trim())?;
                    let u = tx.put_object(&m, "units", ObjType::List)?;
                    for (i, unit) in units.iter().enumerate() {
                        tx.insert(&u, i, unit.as_str())?;
                    }
                    tx.put(&m, "retired", false)?;
                    tx.put(&m, "order", last + 1.0)?;
                    Ok::<_, automerge::AutomergeError>(())
                })
                .map_err(|f| failed(f.error))?;
            }
            PlanEdit::Move { id, up } => {
                let (_, list) =
                    find_measure(&*doc, id).ok_or_else(|| EditError::NoMeasure(id.clone()))?;
                let mut placed: Vec<(f64, ObjId, String)> = (0..doc.length(&list))
                    .filter_map(|i| match doc.get(&list, i).ok()?? {
                        (Value::Object(ObjType::Map), m) => {
                            let mid = Reader { doc: &*doc }.string(&m, "id", "id").ok()?;
                            Some((order_of(&*doc, &m, i), m, mid))
                        }
                        _ => None,
                    })
                    .collect();
                placed.sort_by(|a, b| a.0.total_cmp(&b.0));
                let at = placed.iter().position(|p| &p.2 == id).unwrap_or(0);
                // The new order lies between the two neighbours it moves between.
                let new_order = if *up {
                    match at {
                        0 => return Ok(()),
                        1 => placed[0].0 - 1.0,
                        _ => (placed[at - 2].0 + placed[at - 1].0) / 2.0,
                    }
                } else if at + 1 >= placed.len() {
                    return Ok(());
                } else if at + 2 == placed.len() {
                    placed[at + 1].0 + 1.0
                } else {
                    (placed[at + 1].0 + placed[at + 2].0) / 2.0
                };
                let m = placed[at].1.clone();
                doc.transact(|tx| tx.put(&m, "order", new_order))
                    .map_err(|f| failed(f.error))?;
            }
            PlanEdit::Retire { id, retired } => {
                let (m, _) =
                    find_measure(&*doc, id).ok_or_else(|| EditError::NoMeasure(id.clone()))?;
                doc.transact(|tx| tx.put(&m, "retired", *retired))
                    .map_err(|f| failed(f.error))?;
            }
            PlanEdit::Assign { id, units } => {
                if units.is_empty() {
                    return Err(EditError::NoUnits);
                }
                let (m, _) =
                    find_measure(&*doc, id).ok_or_else(|| EditError::NoMeasure(id.clone()))?;
                doc.transact(|tx| {
                    let u = tx.put_object(&m, "units", ObjType::List)?;
                    for (i, unit) in units.iter().enumerate() {
                        tx.insert(&u, i, unit.as_str())?;
                    }
                    Ok::<_, automerge::AutomergeError>(())
                })
                .map_err(|f| failed(f.error))?;
            }
            PlanEdit::SetText { id, text } => {
                if text.trim().is_empty() {
                    return Err(EditError::EmptyText);
                }
                let t = measure_text(&*doc, id).ok_or_else(|| EditError::NoMeasure(id.clone()))?;
                let old = doc.text(&t).map_err(failed)?;
                let Some(splice) = crate::text::diff(&old, text.trim()) else {
                    return Ok(());
                };
                doc.transact(|tx| {
                    tx.splice_text(&t, splice.at, splice.delete as isize, &splice.insert)
                })
                .map_err(|f| failed(f.error))?;
            }
        }
        Ok(())
    }
}

/// The PAPI results the Office entered for one year.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PapiResult {
    pub year: i32,
    /// The province's rank among the 63 provinces and cities.
    pub rank: i64,
    /// One score per dimension, in dimension order.
    pub scores: Vec<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ResultError {
    #[error("the rank must be between 1 and 63, not {0}")]
    Rank(i64),
    #[error("a dimension score must be between 0 and 10, not {0}")]
    Score(f64),
    #[error("there must be one score per dimension ({expected}), not {found}")]
    Count { expected: usize, found: usize },
    #[error("the document refused the change: {0}")]
    Document(String),
}

impl PapiResult {
    /// The PAPI total: the sum of the dimension scores.
    pub fn total(&self) -> f64 {
        self.scores.iter().sum()
    }

    /// Every year's results in the plan, oldest first.
    pub fn read_all<D: ReadDoc>(doc: &D) -> Vec<PapiResult> {
        let Some((Value::Object(ObjType::Map), map)) = doc.get(ROOT, "papi_results").ok().flatten()
        else {
            return Vec::new();
        };
        let r = Reader { doc };
        let score = |v: Value<'_>| match v {
            Value::Scalar(s) => number(&s),
            _ => None,
        };
        let mut results: Vec<PapiResult> = doc
            .keys(&map)
            .filter_map(|year| {
                let entry = r.object(&map, &year, "result").ok()?;
                let scores = r.object(&entry, "scores", "scores").ok()?;
                Some(PapiResult {
                    year: year.parse().ok()?,
                    rank: r.int(&entry, "rank", "rank").ok()?,
                    scores: r
                        .items(&scores)
                        .into_iter()
                        .filter_map(|(v, _)| score(v))
                        .collect(),
                })
            })
            .collect();
        results.sort_by_key(|p| p.year);
        results
    }

    /// Stores (or replaces) this year's results, after checking them.
    pub fn write(&self, doc: &mut Automerge, dimensions: usize) -> Result<(), ResultError> {
        if !(1..=63).contains(&self.rank) {
            return Err(ResultError::Rank(self.rank));
        }
        if self.scores.len() != dimensions {
            return Err(ResultError::Count {
                expected: dimensions,
                found: self.scores.len(),
            });
        }
        if let Some(bad) = self.scores.iter().find(|s| !(0.0..=10.0).contains(*s)) {
            return Err(ResultError::Score(*bad));
        }
        doc.transact(|tx| {
            let map = match tx.get(ROOT, "papi_results")? {
                Some((Value::Object(ObjType::Map), id)) => id,
                _ => tx.put_object(ROOT, "papi_results", ObjType::Map)?,
            };
            let entry = tx.put_object(&map, self.year.to_string(), ObjType::Map)?;
            tx.put(&entry, "rank", self.rank)?;
            let list = tx.put_object(&entry, "scores", ObjType::List)?;
            for (i, score) in self.scores.iter().enumerate() {
                tx.insert(&list, i, *score)?;
            }
            Ok::<_, automerge::AutomergeError>(())
        })
        .map(|_| ())
        .map_err(|f| ResultError::Document(f.error.to_string()))
    }
}

fn put_text<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), SchemaError> {
    let t = tx.put_object(obj, key, ObjType::Text)?;
    tx.splice_text(&t, 0, 0, value)?;
    Ok(())
}

/// Sets the text at `key` by the smallest splice, or writes a new text
/// where there is none (or a plain string).
fn set_text<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), SchemaError> {
    let existing = match tx.get(obj, key)? {
        Some((Value::Object(ObjType::Text), id)) => Some(id),
        _ => None,
    };
    let Some(t) = existing else {
        return put_text(tx, obj, key, value);
    };
    let old = tx.text(&t)?;
    if let Some(splice) = crate::text::diff(&old, value) {
        tx.splice_text(&t, splice.at, splice.delete as isize, &splice.insert)?;
    }
    Ok(())
}

fn write_dimension<T: Transactable>(
    tx: &mut T,
    dimensions: &ObjId,
    at: usize,
    dim: &Dimension,
) -> Result<(), SchemaError> {
    let d = tx.insert_object(dimensions, at, ObjType::Map)?;
    tx.put(&d, "number", i64::from(dim.number))?;
    put_text(tx, &d, "name", &dim.name)?;
    put_text(tx, &d, "name_en", &dim.name_en)?;
    let measures = tx.put_object(&d, "measures", ObjType::List)?;
    for (j, measure) in dim.measures.iter().enumerate() {
        write_measure(tx, &measures, j, measure, None)?;
    }
    Ok(())
}

/// Writes a measure at `at` of a dimension's list, with an `order` when
/// its place in the list is not its place in the plan.
fn write_measure<T: Transactable>(
    tx: &mut T,
    list: &ObjId,
    at: usize,
    measure: &Measure,
    order: Option<f64>,
) -> Result<(), SchemaError> {
    let m = tx.insert_object(list, at, ObjType::Map)?;
    tx.put(&m, "id", measure.id.as_str())?;
    put_text(tx, &m, "text", &measure.text)?;
    if let Some(group) = &measure.group {
        put_text(tx, &m, "group", group)?;
    }
    write_units(tx, &m, &measure.units)?;
    tx.put(&m, "retired", measure.retired)?;
    if let Some(order) = order {
        tx.put(&m, "order", order)?;
    }
    Ok(())
}

fn write_units<T: Transactable>(
    tx: &mut T,
    measure: &ObjId,
    units: &[String],
) -> Result<(), SchemaError> {
    let list = tx.put_object(measure, "units", ObjType::List)?;
    for (k, unit) in units.iter().enumerate() {
        tx.insert(&list, k, unit.as_str())?;
    }
    Ok(())
}

/// Reads values by key and names the field in its errors.
struct Reader<'a, D> {
    doc: &'a D,
}

type Item<'a> = (Value<'a>, ObjId);

impl<D: ReadDoc> Reader<'_, D> {
    fn get(&self, obj: &ObjId, key: &str, what: &str) -> Result<Item<'_>, SchemaError> {
        self.doc
            .get(obj, key)?
            .ok_or_else(|| SchemaError::Missing(what.to_string()))
    }

    fn object(&self, obj: &ObjId, key: &str, what: &str) -> Result<ObjId, SchemaError> {
        match self.get(obj, key, what)? {
            (Value::Object(_), id) => Ok(id),
            _ => Err(SchemaError::WrongType(what.to_string())),
        }
    }

    fn items(&self, list: &ObjId) -> Vec<Item<'_>> {
        self.doc
            .list_range(list, ..)
            .map(|i| {
                let id = i.id();
                (i.value.into_value(), id)
            })
            .collect()
    }

    fn item_objects(&self, list: &ObjId, what: &str) -> Result<Vec<ObjId>, SchemaError> {
        self.items(list)
            .into_iter()
            .map(|item| match item {
                (Value::Object(ObjType::Map), id) => Ok(id),
                _ => Err(SchemaError::WrongType(what.to_string())),
            })
            .collect()
    }

    fn scalar_string(&self, item: Item<'_>, what: &str) -> Result<String, SchemaError> {
        match item.0 {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => Ok(s.to_string()),
                _ => Err(SchemaError::WrongType(what.to_string())),
            },
            _ => Err(SchemaError::WrongType(what.to_string())),
        }
    }

    fn text_value(
        &self,
        _parent: &ObjId,
        item: Item<'_>,
        what: &str,
    ) -> Result<String, SchemaError> {
        match item {
            (Value::Object(ObjType::Text), id) => Ok(self.doc.text(&id)?),
            other => self.scalar_string(other, what),
        }
    }

    fn string(&self, obj: &ObjId, key: &str, what: &str) -> Result<String, SchemaError> {
        let item = self.get(obj, key, what)?;
        self.scalar_string(item, what)
    }

    fn text(&self, obj: &ObjId, key: &str, what: &str) -> Result<String, SchemaError> {
        let item = self.get(obj, key, what)?;
        self.text_value(obj, item, what)
    }

    fn optional_text(&self, obj: &ObjId, key: &str) -> Result<Option<String>, SchemaError> {
        match self.doc.get(obj, key)? {
            None => Ok(None),
            Some(item) => self.text_value(obj, item, key).map(Some),
        }
    }

    fn int(&self, obj: &ObjId, key: &str, what: &str) -> Result<i64, SchemaError> {
        match self.get(obj, key, what)?.0 {
            Value::Scalar(s) => {
                whole_number(&s).ok_or_else(|| SchemaError::WrongType(what.to_string()))
            }
            _ => Err(SchemaError::WrongType(what.to_string())),
        }
    }

    fn bool(&self, obj: &ObjId, key: &str) -> Result<bool, SchemaError> {
        match self.doc.get(obj, key)? {
            None => Ok(false),
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Boolean(b) => Ok(*b),
                _ => Err(SchemaError::WrongType(key.to_string())),
            },
            Some(_) => Err(SchemaError::WrongType(key.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::small_plan;

    #[test]
    fn adopting_a_plan_fills_an_empty_one_and_then_changes_only_what_differs() {
        let mut doc = Automerge::new();
        Plan::empty().write_new(&mut doc).unwrap();
        assert!(Plan::read(&doc).unwrap().is_empty());
        let plan = small_plan();
        let all = plan.dimensions.iter().map(|d| d.measures.len()).sum();
        let first = plan.adopt(&mut doc).unwrap();
        assert_eq!((first.added, first.changed, first.retired), (all, 0, 0));
        assert_eq!(Plan::read(&doc).unwrap(), plan);
        let heads = doc.get_heads();
        assert_eq!(plan.adopt(&mut doc).unwrap(), Adopted::default());
        assert_eq!(
            doc.get_heads(),
            heads,
            "the same plan again changes nothing"
        );

        let mut next = plan.clone();
        let gone = next.dimensions[0].measures.remove(0);
        next.dimensions[0].measures[0].text.push_str(" (sửa)");
        next.dimensions[0].measures.push(Measure {
            id: "new-1".into(),
            text: "Giải pháp mới".into(),
            group: None,
            units: vec!["*".into()],
            retired: false,
        });
        next.title = "Kế hoạch mới".into();
        let done = next.adopt(&mut doc).unwrap();
        assert_eq!((done.added, done.changed, done.retired), (1, 1, 1));
        let read = Plan::read(&doc).unwrap();
        assert_eq!(read.title, "Kế hoạch mới");
        let first_dim: Vec<(&str, bool)> = read.dimensions[0]
            .measures
            .iter()
            .map(|m| (m.id.as_str(), m.retired))
            .collect();
        assert!(
            first_dim.contains(&(gone.id.as_str(), true)),
            "{first_dim:?}"
        );
        assert!(first_dim.contains(&("new-1", false)), "{first_dim:?}");
    }

    #[test]
    fn plan_round_trips_through_a_document() {
        let plan = small_plan();
        let mut doc = Automerge::new();
        plan.write_new(&mut doc).unwrap();
        assert_eq!(Plan::read(&doc).unwrap(), plan);
        // And through the bytes that are stored and synced.
        let loaded = Automerge::load(&doc.save()).unwrap();
        assert_eq!(Plan::read(&loaded).unwrap(), plan);
    }

    #[test]
    fn reading_names_what_is_missing_or_wrong() {
        let mut doc = Automerge::new();
        small_plan().write_new(&mut doc).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.delete(ROOT, "reporting")?;
            Ok(())
        })
        .unwrap();
        let err = Plan::read(&doc).unwrap_err();
        assert!(
            matches!(err, SchemaError::Missing(ref f) if f == "reporting"),
            "{err}"
        );

        let mut doc = Automerge::new();
        small_plan().write_new(&mut doc).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "dimensions", 5)?;
            Ok(())
        })
        .unwrap();
        assert!(matches!(Plan::read(&doc), Err(SchemaError::WrongType(_))));

        let empty = Automerge::new();
        assert!(matches!(Plan::read(&empty), Err(SchemaError::Missing(_))));
    }

    #[test]
    fn finds_a_measure_text_to_edit() {
        let mut doc = Automerge::new();
        small_plan().write_new(&mut doc).unwrap();
        let text = measure_text(&doc, "d1-m2").expect("measure d1-m2");
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.splice_text(&text, 0, 0, "Mới: ")?;
            Ok(())
        })
        .unwrap();
        let plan = Plan::read(&doc).unwrap();
        assert_eq!(
            plan.dimensions[0].measures[1].text,
            "Mới: Nâng cao chất lượng dịch vụ y tế"
        );
        assert!(measure_text(&doc, "nope").is_none());
        // The index of every measure's text finds the same objects.
        let texts = measure_texts(&doc).expect("a plan");
        let plan = Plan::read(&doc).unwrap();
        let ids: Vec<&String> = plan
            .dimensions
            .iter()
            .flat_map(|d| d.measures.iter().map(|m| &m.id))
            .collect();
        assert_eq!(texts.len(), ids.len());
        for id in ids {
            assert_eq!(texts.get(id), measure_text(&doc, id).as_ref(), "{id}");
        }
        assert!(measure_texts(&Automerge::new()).is_none());
    }

    #[test]
    fn refuses_a_document_of_another_kind() {
        let mut doc = Automerge::new();
        small_plan().write_new(&mut doc).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "kind", "report")?;
            Ok(())
        })
        .unwrap();
        assert!(matches!(
            Plan::read(&doc),
            Err(SchemaError::WrongKind { .. })
        ));
    }

    #[test]
    fn accepts_plain_strings_where_text_is_expected() {
        let mut doc = Automerge::new();
        small_plan().write_new(&mut doc).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "title", "Tiêu đề mới")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(Plan::read(&doc).unwrap().title, "Tiêu đề mới");
    }

    fn measure_ids(doc: &Automerge, dimension: usize) -> Vec<String> {
        Plan::read(doc).unwrap().dimensions[dimension]
            .measures
            .iter()
            .map(|m| m.id.clone())
            .collect()
    }

    #[test]
    fn coordinators_add_move_retire_and_assign_measures() {
        let mut doc = Automerge::new();
        small_plan().write_new(&mut doc).unwrap();
        let before = measure_ids(&doc, 0);
        let add = PlanEdit::Add {
            dimension: 1,
            id: "d1-new".into(),
            text: " Mới ".into(),
            units: vec!["thanh-tra".into()],
        };
        add.apply(&mut doc).unwrap();
        let mut expected = before.clone();
        expected.push("d1-new".into());
        assert_eq!(measure_ids(&doc, 0), expected);
        let plan = Plan::read(&doc).unwrap();
        let added = plan.dimensions[0].measures.last().unwrap();
        assert_eq!(added.text, "Mới");
        assert_eq!(added.units, vec!["thanh-tra".to_string()]);

        PlanEdit::Move {
            id: "d1-new".into(),
            up: true,
        }
        .apply(&mut doc)
        .unwrap();
        let ids = measure_ids(&doc, 0);
        assert_eq!(ids[ids.len() - 2], "d1-new", "one place up");
        for _ in 0..5 {
            PlanEdit::Move {
                id: "d1-new".into(),
                up: true,
            }
            .apply(&mut doc)
            .unwrap();
        }
        assert_eq!(measure_ids(&doc, 0)[0], "d1-new", "stops at the top");
        PlanEdit::Move {
            id: "d1-new".into(),
            up: false,
        }
        .apply(&mut doc)
        .unwrap();
        assert_eq!(measure_ids(&doc, 0)[1], "d1-new");

        PlanEdit::Retire {
            id: "d1-new".into(),
            retired: true,
        }
        .apply(&mut doc)
        .unwrap();
        let plan = Plan::read(&doc).unwrap();
        assert!(
            plan.dimensions[0]
                .measures
                .iter()
                .find(|m| m.id == "d1-new")
                .unwrap()
                .retired
        );

        PlanEdit::Assign {
            id: "d1-new".into(),
            units: vec!["*".into()],
        }
        .apply(&mut doc)
        .unwrap();
        let plan = Plan::read(&doc).unwrap();
        assert_eq!(
            plan.dimensions[0]
                .measures
                .iter()
                .find(|m| m.id == "d1-new")
                .unwrap()
                .units,
            vec!["*".to_string()]
        );

        PlanEdit::SetText {
            id: "d1-new".into(),
            text: "Mới hơn".into(),
        }
        .apply(&mut doc)
        .unwrap();
        assert_eq!(
            doc.text(&measure_text(&doc, "d1-new").unwrap()).unwrap(),
            "Mới hơn"
        );

        // Refused, and nothing changes.
        let heads = doc.get_heads();
        assert_eq!(
            PlanEdit::Retire {
                id: "nope".into(),
                retired: true
            }
            .apply(&mut doc),
            Err(EditError::NoMeasure("nope".into()))
        );
        assert_eq!(
            PlanEdit::Assign {
                id: "d1-new".into(),
                units: vec![]
            }
            .apply(&mut doc),
            Err(EditError::NoUnits)
        );
        assert_eq!(
            PlanEdit::Add {
                dimension: 9,
                id: "x".into(),
                text: "x".into(),
                units: vec!["*".into()]
            }
            .apply(&mut doc),
            Err(EditError::NoDimension(9))
        );
        assert_eq!(
            PlanEdit::SetText {
                id: "d1-new".into(),
                text: "  ".into()
            }
            .apply(&mut doc),
            Err(EditError::EmptyText)
        );
        assert_eq!(doc.get_heads(), heads);
    }

    #[test]
    fn a_move_keeps_a_concurrent_text_edit() {
        let mut a = Automerge::new();
        small_plan().write_new(&mut a).unwrap();
        let mut b = a.fork();
        let last = measure_ids(&a, 0).last().unwrap().clone();
        PlanEdit::Move {
            id: last.clone(),
            up: true,
        }
        .apply(&mut a)
        .unwrap();
        PlanEdit::SetText {
            id: last.clone(),
            text: "sửa trong lúc chuyển".into(),
        }
        .apply(&mut b)
        .unwrap();
        a.merge(&mut b).unwrap();
        let plan = Plan::read(&a).unwrap();
        let m = plan.dimensions[0]
            .measures
            .iter()
            .find(|m| m.id == last)
            .unwrap();
        assert_eq!(m.text, "sửa trong lúc chuyển");
        assert_eq!(measure_ids(&a, 0)[0], last);
    }

    #[test]
    fn papi_results_are_checked_and_kept_per_year() {
        let mut doc = Automerge::new();
        let plan = small_plan();
        plan.write_new(&mut doc).unwrap();
        let n = plan.dimensions.len();
        assert!(PapiResult::read_all(&doc).is_empty());
        let r2024 = PapiResult {
            year: 2024,
            rank: 41,
            scores: vec![5.0; n],
        };
        let r2023 = PapiResult {
            year: 2023,
            rank: 45,
            scores: vec![4.5; n],
        };
        r2024.write(&mut doc, n).unwrap();
        r2023.write(&mut doc, n).unwrap();
        assert_eq!(
            PapiResult::read_all(&doc),
            vec![r2023.clone(), r2024.clone()]
        );
        assert_eq!(r2024.total(), 5.0 * n as f64);
        let heads = doc.get_heads();
        assert_eq!(
            PapiResult {
                rank: 0,
                ..r2024.clone()
            }
            .write(&mut doc, n),
            Err(ResultError::Rank(0))
        );
        assert_eq!(
            PapiResult {
                scores: vec![11.0; n],
                ..r2024.clone()
            }
            .write(&mut doc, n),
            Err(ResultError::Score(11.0))
        );
        assert_eq!(
            PapiResult {
                scores: vec![1.0; n + 1],
                ..r2024.clone()
            }
            .write(&mut doc, n),
            Err(ResultError::Count {
                expected: n,
                found: n + 1
            })
        );
        assert_eq!(doc.get_heads(), heads);
        let again = PapiResult { rank: 38, ..r2024 };
        again.write(&mut doc, n).unwrap();
        assert_eq!(PapiResult::read_all(&doc)[1].rank, 38);
    }
}

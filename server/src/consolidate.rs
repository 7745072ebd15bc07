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
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use papi::access::Role;
use papi::report::SECTION_TEXTS;
use rusqlite::OptionalExtension;
use samod::DocumentId;
use serde::Deserialize;

use crate::auth::signed_in;
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/consolidated/assemble", post(assemble))
}

/// The document `doc_id` of the sync engine, if it has it.
pub(crate) async fn handle(state: &AppState, doc_id: &str) -> Result<samod::DocHandle, ApiError> {
    let id: DocumentId = doc_id
        .parse()
        .map_err(|_| ApiError::Internal(format!("a stored document id is malformed: {doc_id}")))?;
    state
        .repo
        .find(id)
        .await
        .map_err(|_| ApiError::Internal("sync engine stopped".into()))?
        .ok_or_else(|| ApiError::Internal(format!("document {doc_id} is missing")))
}

/// What every accepted unit report of `period` brings, in the units' order.
pub(crate) async fn accepted(
    state: &AppState,
    period: &str,
) -> Result<Vec<Contribution>, ApiError> {
    let p = period.to_string();
    let rows: Vec<(String, String, String)> = state
        .db
        .call(move |c| {
            let mut stmt = c.prepare(
                "SELECT d.doc_id, d.unit, u.name FROM documents d JOIN units u ON u.id = d.unit
                 WHERE d.kind = 'unit_report' AND d.period = ?1 AND d.status = 'accepted'
                 ORDER BY u.rowid",
            )?;
            let rows = stmt
                .query_map([&p], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (doc_id, unit, name) in rows {
        let sections = handle(state, &doc_id)
            .await?
            .with_document(|d| unit_texts(d));
        out.push(Contribution {
            unit,
            name,
            sections,
        });
    }
    Ok(out)
}

/// The consolidated reports, with the units each includes: for the Office
/// and the Director.
pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    if !matches!(user.role, Role::Coordinator | Role::Director) {
        return Err(ApiError::Forbidden);
    }
    let rows: Vec<(String, String, String)> = state
        .db
        .call(|c| {
            let mut stmt = c.prepare(
                "SELECT doc_id, period, status FROM documents WHERE kind = 'consolidated' ORDER BY period",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (doc_id, period, status) in rows {
        let units = handle(&state, &doc_id)
            .await?
            .with_document(|d| included_units(d));
        out.push(serde_json::json!({
            "url": format!("automerge:{doc_id}"),
            "period": period,
            "status": status,
            "included_units": units,
        }));
    }
    Ok(Json(serde_json::json!(out)))
}

#[derive(Deserialize)]
struct AssembleRequest {
    period: String,
}

/// Folds in the unit reports accepted since the consolidated report was made
/// or last assembled; the Office only, and only before the Director approves.
async fn assemble(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<AssembleRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    if user.role != Role::Coordinator {
        return Err(ApiError::Forbidden);
    }
    let Json(request) = body?;
    let period = crate::reports::requested_period(&request.period)?;
    // Approval waits for this lock too, so the report cannot be approved
    // halfway through.
    let _guard = state.report_lock.lock().await;
    let key = period.key();
    let row: Option<(String, String)> = state
        .db
        .call(move |c| {
            c.query_row(
                "SELECT doc_id, status FROM documents WHERE kind = 'consolidated' AND period = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .await?;
    let Some((doc_id, status)) = row else {
        return Err(ApiError::Conflict(format!(
            "there is no consolidated report for {} yet",
            period.key()
        )));
    };
    if status == "approved" {
        tracing::warn!(report = %doc_id, by = %user.username, "assembling refused: approved");
        return Err(ApiError::Conflict(
            "the consolidated report is approved and can no longer change".into(),
        ));
    }
    let contributions = accepted(&state, &period.key()).await?;
    let doc = handle(&state, &doc_id).await?;
    let (added, included) = doc
        .with_document(|d| append(d, &contributions).map(|added| (added, included_units(d))))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(report = %doc_id, by = %user.username, added = ?added, "consolidated report assembled");
    Ok(Json(serde_json::json!({
        "url": format!("automerge:{doc_id}"),
        "period": period.key(),
        "added": added,
        "included_units": included,
    })))
}

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

fn child<D: ReadDoc>(doc: &D, obj: &ObjId, key: impl Into<automerge::Prop>) -> Option<ObjId> {
    match doc.get(obj, key).ok()?? {
        (Value::Object(_), id) => Some(id),
        _ => None,
    }
}

fn number<D: ReadDoc>(doc: &D, section: &ObjId) -> Option<i64> {
    match doc.get(section, "number").ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            automerge::ScalarValue::Int(n) => Some(*n),
            automerge::ScalarValue::Uint(n) => i64::try_from(*n).ok(),
            automerge::ScalarValue::F64(f) if f.fract() == 0.0 => Some(*f as i64),
            _ => None,
        },
        _ => None,
    }
}

/// A text field: an automerge text object, or a plain string that another
/// automerge-repo client may have written.
fn text_of<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> String {
    match doc.get(obj, key).ok().flatten() {
        Some((Value::Object(ObjType::Text), id)) => doc.text(&id).unwrap_or_default(),
        Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    }
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
                number: number(doc, &s)?,
                texts: SECTION_TEXTS.map(|key| text_of(doc, &s, key)),
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
pub fn append(
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
                    Some((number(&*tx, &s)?, s))
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
    use papi::report::{generate, generate_consolidated};
    use papi::schema::{Dimension, Measure, Plan};

    fn plan() -> Plan {
        let measure = |id: &str| Measure {
            id: id.into(),
            text: format!("measure {id}"),
            group: None,
            units: vec!["*".into()],
            retired: false,
        };
        let dim = |number: u8| Dimension {
            number,
            name: format!("Dimension {number}"),
            name_en: format!("Dimension {number}"),
            measures: vec![measure(&format!("d{number}-m1"))],
        };
        Plan {
            title: "t".into(),
            agency: "a".into(),
            province: "p".into(),
            start_year: 2022,
            end_year: 2030,
            reporting: papi::calendar::ReportingSettings {
                half_year_due: papi::calendar::DueDay { month: 6, day: 15 },
                annual_due: papi::calendar::DueDay { month: 12, day: 15 },
            },
            legal_bases: vec![],
            objective: "o".into(),
            targets: vec![],
            dimensions: vec![dim(1), dim(2), dim(3)],
            extra_items: vec![],
        }
    }

    /// A unit's report with `words` in the `key` text of its `section`-th section.
    fn unit_report(unit: &str, writes: &[(usize, &str, &str)]) -> Automerge {
        let mut doc = Automerge::new();
        generate(&plan(), unit, "2026-h1", &mut doc).unwrap();
        for (section, key, words) in writes {
            let at = papi::report::TextAt::Section {
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
            .find(|s| super::number(doc, s) == Some(number))
            .map(|s| text_of(doc, &s, key))
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
        generate_consolidated(&plan(), "2026-h1", &mut consolidated).unwrap();
        let added = append(
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
        generate_consolidated(&plan(), "2026-h1", &mut consolidated).unwrap();
        // Nothing accepted yet: the list is made, empty.
        assert_eq!(
            append(&mut consolidated, &[]).unwrap(),
            Vec::<String>::new()
        );
        assert!(child(&consolidated, &ROOT, "included_units").is_some());
        append(
            &mut consolidated,
            &[contribution("van-phong", "Văn phòng", &office)],
        )
        .unwrap();

        // The Office edits the combined text.
        let t = papi::report::TextAt::Section {
            section: 0,
            key: "results",
        }
        .locate(&consolidated)
        .unwrap();
        consolidated
            .transact(|tx| tx.splice_text(&t, 0, 0, "Tóm tắt. "))
            .unwrap();

        let heads = consolidated.get_heads();
        let added = append(
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
        let added = append(
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
        let added = append(&mut empty, &[contribution("x", "X", &odd)]).unwrap();
        assert_eq!(added, ["x"], "included even with nowhere to write");
    }
}

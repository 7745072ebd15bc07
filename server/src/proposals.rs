//! Proposals to adjust the plan: a unit proposes a new text for a measure
//! that does not fit reality, or its retirement; the Office collects them and
//! the Director decides. An accepted proposal changes the plan document
//! through the sync engine, so that every client gets the change.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::Role;
use papi::schema::{EditError, Plan, PlanEdit};
use rusqlite::OptionalExtension;
use serde::Deserialize;

use crate::auth::signed_in;
use crate::error::ApiError;
use crate::AppState;

/// The longest proposed text or reason accepted, in characters.
const MAX_CHARS: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proposals", get(list).post(propose))
        .route("/api/proposals/decide", post(decide))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Edit,
    Retire,
}

impl Kind {
    fn parse(key: &str) -> Option<Kind> {
        match key {
            "edit" => Some(Kind::Edit),
            "retire" => Some(Kind::Retire),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Kind::Edit => "edit",
            Kind::Retire => "retire",
        }
    }
}

/// The current text of a measure of the plan, if it has one by that id.
fn measure_text(plan: &Plan, measure_id: &str) -> Option<String> {
    plan.dimensions
        .iter()
        .flat_map(|d| &d.measures)
        .find(|m| m.id == measure_id)
        .map(|m| m.text.clone())
}

fn too_long(what: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().count() > MAX_CHARS {
        return Err(ApiError::BadRequest(format!(
            "the {what} is longer than {MAX_CHARS} characters"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
struct NewProposal {
    measure_id: String,
    kind: String,
    #[serde(default)]
    text: String,
    reason: String,
}

/// A unit's lead or staff, or the Office, proposes a change to a measure.
async fn propose(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewProposal>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    if !matches!(user.role, Role::UnitLead | Role::Staff | Role::Coordinator) {
        return Err(ApiError::Forbidden);
    }
    let Json(new) = body?;
    let kind = Kind::parse(&new.kind).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "kind {:?} is neither \"edit\" nor \"retire\"",
            new.kind
        ))
    })?;
    let reason = new.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::BadRequest("a proposal needs a reason".into()));
    }
    too_long("reason", &reason)?;
    let text = match kind {
        Kind::Edit => new.text.trim().to_string(),
        Kind::Retire => String::new(),
    };
    if kind == Kind::Edit && text.is_empty() {
        return Err(ApiError::BadRequest(
            "a proposed change needs the new text of the measure".into(),
        ));
    }
    too_long("proposed text", &text)?;
    let plan = crate::reports::plan(&state).await?;
    if measure_text(&plan, &new.measure_id).is_none() {
        return Err(ApiError::BadRequest(format!(
            "the plan has no measure {:?}",
            new.measure_id
        )));
    }
    let now = crate::sessions::now_ms();
    let (measure_id, unit, username) = (
        new.measure_id.clone(),
        user.unit.clone(),
        user.username.clone(),
    );
    let id: i64 = state
        .db
        .call(move |c| {
            c.execute(
                "INSERT INTO proposals (measure_id, kind, proposed_text, reason, unit, username, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                (&measure_id, kind.key(), &text, &reason, &unit, &username, now),
            )?;
            Ok(c.last_insert_rowid())
        })
        .await?;
    tracing::info!(proposal = id, measure = %new.measure_id, kind = kind.key(), by = %user.username, "plan change proposed");
    Ok(Json(serde_json::json!({ "id": id })))
}

/// The proposals this user may see: all of them for the Office, the
/// Director and admins; their own unit's for everyone else.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    let all = matches!(user.role, Role::Coordinator | Role::Director | Role::Admin);
    let unit = (!all).then(|| user.unit.clone());
    let plan = crate::reports::plan(&state).await?;
    let rows: Vec<serde_json::Value> = state
        .db
        .call(move |c| {
            let mut stmt = c.prepare(
                "SELECT p.id, p.measure_id, p.kind, p.proposed_text, p.reason, p.unit,
                        COALESCE(u.name, p.unit), p.username, p.created_ms, p.status,
                        p.decided_by, p.decided_ms, p.note
                 FROM proposals p LEFT JOIN units u ON u.id = p.unit
                 WHERE ?1 IS NULL OR p.unit = ?1
                 ORDER BY p.created_ms DESC, p.id DESC",
            )?;
            let rows = stmt
                .query_map([&unit], |r| {
                    Ok(serde_json::json!({
                        "id": r.get::<_, i64>(0)?,
                        "measure_id": r.get::<_, String>(1)?,
                        "kind": r.get::<_, String>(2)?,
                        "proposed_text": r.get::<_, String>(3)?,
                        "reason": r.get::<_, String>(4)?,
                        "unit": r.get::<_, String>(5)?,
                        "unit_name": r.get::<_, String>(6)?,
                        "username": r.get::<_, String>(7)?,
                        "created_ms": r.get::<_, i64>(8)?,
                        "status": r.get::<_, String>(9)?,
                        "decided_by": r.get::<_, Option<String>>(10)?,
                        "decided_ms": r.get::<_, Option<i64>>(11)?,
                        "note": r.get::<_, String>(12)?,
                    }))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    let rows: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|mut row| {
            let text = row["measure_id"]
                .as_str()
                .and_then(|id| measure_text(&plan, id))
                .unwrap_or_default();
            row["measure_text"] = serde_json::json!(text);
            row
        })
        .collect();
    Ok(Json(serde_json::json!(rows)))
}

#[derive(Deserialize)]
struct Decision {
    id: i64,
    accept: bool,
    #[serde(default)]
    note: String,
}

/// The Director accepts or rejects a pending proposal; an accepted one
/// changes the plan.
async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Decision>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    if user.role != Role::Director {
        return Err(ApiError::Forbidden);
    }
    let Json(decision) = body?;
    let note = decision.note.trim().to_string();
    too_long("note", &note)?;
    // One decision at a time, so that a proposal is never applied twice.
    let _guard = state.report_lock.lock().await;
    let id = decision.id;
    let row: Option<(String, String, String, String)> = state
        .db
        .call(move |c| {
            c.query_row(
                "SELECT measure_id, kind, proposed_text, status FROM proposals WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
        })
        .await?;
    let (measure_id, kind, text, status) = row.ok_or(ApiError::NotFound)?;
    if status != "pending" {
        return Err(ApiError::Conflict(format!(
            "this proposal was already {status}"
        )));
    }
    if decision.accept {
        let edit = match Kind::parse(&kind) {
            Some(Kind::Edit) => PlanEdit::SetText {
                id: measure_id.clone(),
                text,
            },
            Some(Kind::Retire) => PlanEdit::Retire {
                id: measure_id.clone(),
                retired: true,
            },
            None => {
                return Err(ApiError::Internal(format!(
                    "proposal {id} has kind {kind:?}"
                )))
            }
        };
        let plan = state
            .repo
            .find(state.plan_id.clone())
            .await
            .map_err(|_| ApiError::Internal("sync engine stopped".into()))?
            .ok_or_else(|| ApiError::Internal("the plan is missing".into()))?;
        plan.with_document(|d| edit.apply(d)).map_err(|e| match e {
            EditError::Document(detail) => ApiError::Internal(detail),
            other => ApiError::Conflict(other.to_string()),
        })?;
        tracing::info!(proposal = id, measure = %measure_id, kind = %kind, "plan changed by an accepted proposal");
    }
    let verdict = if decision.accept {
        "accepted"
    } else {
        "rejected"
    };
    let (by, now) = (user.username.clone(), crate::sessions::now_ms());
    state
        .db
        .call(move |c| {
            c.execute(
                "UPDATE proposals SET status = ?1, decided_by = ?2, decided_ms = ?3, note = ?4 WHERE id = ?5",
                (verdict, &by, now, &note, id),
            )
        })
        .await?;
    tracing::info!(proposal = id, by = %user.username, verdict, "proposal decided");
    Ok(Json(serde_json::json!({ "status": verdict })))
}

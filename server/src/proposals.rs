//! Proposals to adjust the plan: a unit proposes a new text for a measure
//! that does not fit reality, or its retirement; the Office collects them and
//! the Director decides. An accepted proposal changes the plan document
//! through the sync engine, so that every client gets the change.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::Capability;
use papi::api::{
    Decided, Decision, NewProposal, Proposal, ProposalKind, ProposalMade, ProposalStatus,
};
use papi::schema::{EditError, Plan, PlanEdit};
use rusqlite::OptionalExtension;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Body;
use crate::AppState;

/// The longest proposed text or reason accepted, in characters.
const MAX_CHARS: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proposals", get(list).post(propose))
        .route("/api/proposals/decide", post(decide))
}

/// One decision at a time, so that a proposal is never applied twice.
static DECIDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// A unit's lead or staff, or the Office, proposes a change to a measure.
async fn propose(
    State(state): State<AppState>,
    user: AuthUser,
    Body(new): Body<NewProposal>,
) -> Result<Json<ProposalMade>, ApiError> {
    user.require(Capability::Propose)?;
    let kind = new.kind;
    let reason = new.reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::BadRequest("a proposal needs a reason".into()));
    }
    too_long("reason", &reason)?;
    let text = match kind {
        ProposalKind::Edit => new.text.trim().to_string(),
        ProposalKind::Retire => String::new(),
    };
    if kind == ProposalKind::Edit && text.is_empty() {
        return Err(ApiError::BadRequest(
            "a proposed change needs the new text of the measure".into(),
        ));
    }
    too_long("proposed text", &text)?;
    let plan = state.plan().await?;
    if measure_text(&plan, &new.measure_id).is_none() {
        return Err(ApiError::BadRequest(format!(
            "the plan has no measure {:?}",
            new.measure_id
        )));
    }
    let now = crate::sessions::now_ms();
    let (measure_id, unit, username) = (
        new.measure_id.clone(),
        user.0.unit.clone(),
        user.0.username.clone(),
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
    tracing::info!(proposal = id, measure = %new.measure_id, kind = kind.key(), by = %user.0.username, "plan change proposed");
    Ok(Json(ProposalMade { id }))
}

/// The proposals this user may see: all of them for the Office, the
/// Director and admins; their own unit's for everyone else.
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<Proposal>>, ApiError> {
    let unit = (!user.0.role.may(Capability::SeeAllProposals)).then(|| user.0.unit.clone());
    let plan = state.plan().await?;
    let rows: Vec<Proposal> = state
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
                    let kind: String = r.get(2)?;
                    let status: String = r.get(9)?;
                    let known = ProposalKind::parse(&kind).zip(ProposalStatus::parse(&status));
                    let Some((kind, status)) = known else {
                        return Ok(None);
                    };
                    Ok(Some(Proposal {
                        id: r.get(0)?,
                        measure_id: r.get(1)?,
                        measure_text: String::new(),
                        kind,
                        proposed_text: r.get(3)?,
                        reason: r.get(4)?,
                        unit: r.get(5)?,
                        unit_name: r.get(6)?,
                        username: r.get(7)?,
                        created_ms: r.get(8)?,
                        status,
                        decided_by: r.get(10)?,
                        decided_ms: r.get(11)?,
                        note: r.get(12)?,
                    }))
                })?
                .filter_map(|r| r.transpose())
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|mut p| {
                p.measure_text = measure_text(&plan, &p.measure_id).unwrap_or_default();
                p
            })
            .collect(),
    ))
}

/// The Director accepts or rejects a pending proposal; an accepted one
/// changes the plan.
async fn decide(
    State(state): State<AppState>,
    user: AuthUser,
    Body(decision): Body<Decision>,
) -> Result<Json<Decided>, ApiError> {
    user.require(Capability::DecideProposals)?;
    let note = decision.note.trim().to_string();
    too_long("note", &note)?;
    let _deciding = DECIDING.lock().await;
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
    if ProposalStatus::parse(&status) != Some(ProposalStatus::Pending) {
        return Err(ApiError::Conflict(format!(
            "this proposal was already {status}"
        )));
    }
    if decision.accept {
        let edit = match ProposalKind::parse(&kind) {
            Some(ProposalKind::Edit) => PlanEdit::SetText {
                id: measure_id.clone(),
                text,
            },
            Some(ProposalKind::Retire) => PlanEdit::Retire {
                id: measure_id.clone(),
                retired: true,
            },
            None => {
                return Err(ApiError::internal(format!(
                    "proposal {id} has kind {kind:?}"
                )))
            }
        };
        state
            .on_document(state.plan_id, "changing the plan", |d| edit.apply(d))
            .await?
            .map_err(|e| match e {
                EditError::Document(detail) => ApiError::internal(detail),
                other => ApiError::Conflict(other.to_string()),
            })?;
        tracing::info!(proposal = id, measure = %measure_id, kind = %kind, "plan changed by an accepted proposal");
    }
    let verdict = if decision.accept {
        ProposalStatus::Accepted
    } else {
        ProposalStatus::Rejected
    };
    let (by, now) = (user.0.username.clone(), crate::sessions::now_ms());
    state
        .db
        .call(move |c| {
            c.execute(
                "UPDATE proposals SET status = ?1, decided_by = ?2, decided_ms = ?3, note = ?4 WHERE id = ?5",
                (verdict.key(), &by, now, &note, id),
            )
        })
        .await?;
    tracing::info!(proposal = id, by = %user.0.username, verdict = verdict.key(), "proposal decided");
    Ok(Json(Decided { status: verdict }))
}

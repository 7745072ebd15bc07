//! Unit reports: made by the server from the plan, one per unit and period,
//! and registered so that access to them can be decided.

use automerge::Automerge;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::{access, Access, Actor, DocKind, ReportStatus, Role};
use papi::calendar::Period;
use papi::schema::Plan;
use papi::workflow::{self, Action};
use rusqlite::OptionalExtension;
use serde::Deserialize;

use crate::auth::signed_in;
use crate::db::{Db, DbError};
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/reports", get(list).post(create))
        .route("/api/reports/transition", post(transition))
        .route(
            "/api/consolidated",
            get(crate::consolidate::list).post(create_consolidated),
        )
        .route("/api/consolidated/approve", post(approve_consolidated))
}

fn status(text: &str) -> ReportStatus {
    match text {
        "submitted" => ReportStatus::Submitted,
        "returned" => ReportStatus::Returned,
        "accepted" => ReportStatus::Accepted,
        _ => ReportStatus::Draft,
    }
}

/// What kind of document `doc_id` is, if the server made it.
pub async fn kind_of(db: &Db, doc_id: String) -> Result<Option<DocKind>, DbError> {
    db.call(move |c| {
        c.query_row(
            "SELECT kind, unit, status FROM documents WHERE doc_id = ?1",
            [&doc_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()
    })
    .await
    .map(|row| {
        row.and_then(|(kind, unit, s)| match kind.as_str() {
            "unit_report" => Some(DocKind::UnitReport {
                unit: unit?,
                status: status(&s),
            }),
            "consolidated" => Some(DocKind::Consolidated {
                approved: s == "approved",
            }),
            _ => None,
        })
    })
}

/// The period a request names, such as `2026-h1`, or a clear refusal.
pub fn requested_period(key: &str) -> Result<Period, ApiError> {
    Period::parse_key(key)
        .ok_or_else(|| ApiError::BadRequest(format!("{key:?} is not a period such as 2026-h1")))
}

/// The document id in an `automerge:` URL (a bare id is taken as it is).
pub fn requested_doc(url: &str) -> String {
    url.strip_prefix("automerge:").unwrap_or(url).to_string()
}

#[derive(Deserialize)]
struct NewReport {
    unit: String,
    period: String,
}

/// Makes (or finds) the report of a unit for a period. Coordinators and
/// admins may start any unit's report; a unit's lead and staff their own.
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewReport>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    let Json(new) = body?;
    let allowed = match user.role {
        Role::Coordinator | Role::Admin => true,
        Role::UnitLead | Role::Staff => user.unit == new.unit,
        Role::Director | Role::Viewer => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden);
    }
    let period = requested_period(&new.period)?;
    let plan = plan(&state).await?;
    if period.year < plan.start_year || period.year > plan.end_year {
        return Err(ApiError::BadRequest(format!(
            "the plan runs from {} to {}",
            plan.start_year, plan.end_year
        )));
    }
    let unit = new.unit.clone();
    let unit_exists: Option<i64> = state
        .db
        .call(move |c| {
            c.query_row("SELECT 1 FROM units WHERE id = ?1", [&unit], |r| r.get(0))
                .optional()
        })
        .await?;
    if unit_exists.is_none() {
        return Err(ApiError::BadRequest(format!(
            "there is no unit {:?}",
            new.unit
        )));
    }

    // One creation at a time, so that two requests never make two reports.
    let doc_id = find_or_make(
        &state,
        "unit_report",
        Some(&new.unit),
        &period.key(),
        |doc| papi::report::generate(&plan, &new.unit, &period.key(), doc),
    )
    .await?;
    Ok(Json(
        serde_json::json!({ "url": format!("automerge:{doc_id}"), "unit": new.unit, "period": period.key() }),
    ))
}

/// The reports this user may read.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    let actor = Actor {
        role: user.role,
        unit: user.unit.clone(),
    };
    let rows = unit_reports(&state.db).await?;
    let settings = plan(&state).await?.reporting;
    let firsts = crate::dashboard::first_submissions(&state.db).await?;
    let visible: Vec<_> = rows
        .into_iter()
        .filter(|(_, unit, _, s)| {
            access(
                &actor,
                &DocKind::UnitReport {
                    unit: unit.clone(),
                    status: status(s),
                },
            ) != Access::None
        })
        .map(|(id, unit, period, s)| {
            let deadline = Period::parse_key(&period).map(|p| settings.deadline_ms(p));
            let timeliness = deadline.zip(firsts.get(&id)).map(|(deadline, first)| {
                papi::punctuality::judge(deadline, first.server_ms, first.device_ms).key()
            });
            serde_json::json!({
                "url": format!("automerge:{id}"),
                "unit": unit,
                "period": period,
                "status": s,
                "deadline_ms": deadline,
                "timeliness": timeliness,
            })
        })
        .collect();
    Ok(Json(serde_json::json!(visible)))
}

/// Every unit report: (document id, unit, period, status), by period and unit.
pub async fn unit_reports(db: &Db) -> Result<Vec<(String, String, String, String)>, DbError> {
    db.call(|c| {
        let mut stmt = c.prepare(
            "SELECT doc_id, unit, period, status FROM documents WHERE kind = 'unit_report' ORDER BY period, unit",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    })
    .await
}

fn status_key(s: ReportStatus) -> &'static str {
    match s {
        ReportStatus::Draft => "draft",
        ReportStatus::Submitted => "submitted",
        ReportStatus::Returned => "returned",
        ReportStatus::Accepted => "accepted",
    }
}

#[derive(Deserialize)]
struct Transition {
    url: String,
    action: String,
    #[serde(default)]
    reason: String,
    /// When the user acted, by the device's clock (it may have been offline).
    device_time_ms: Option<i64>,
}

/// Moves a report along its review, if the rules allow this user to.
async fn transition(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Transition>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    let Json(t) = body?;
    let action = Action::parse(&t.action)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown action {:?}", t.action)))?;
    let doc_id = requested_doc(&t.url);
    let actor = Actor {
        role: user.role,
        unit: user.unit.clone(),
    };
    let _guard = state.report_lock.lock().await;
    let id = doc_id.clone();
    let row: Option<(String, String)> = state
        .db
        .call(move |c| {
            c.query_row(
                "SELECT unit, status FROM documents WHERE doc_id = ?1 AND kind = 'unit_report'",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .await?;
    let (unit, from) = row.ok_or(ApiError::NotFound)?;
    // Someone who may not read the report learns nothing about it.
    if access(
        &actor,
        &DocKind::UnitReport {
            unit: unit.clone(),
            status: status(&from),
        },
    ) == Access::None
    {
        return Err(ApiError::NotFound);
    }
    let to = workflow::next(&actor, &unit, status(&from), action, &t.reason).map_err(|e| {
        tracing::warn!(username = %user.username, error = %e, "report transition refused");
        ApiError::Conflict(e.to_string())
    })?;
    let (id, username, reason, device) = (
        doc_id.clone(),
        user.username.clone(),
        t.reason.trim().to_string(),
        t.device_time_ms,
    );
    let now = crate::sessions::now_ms();
    state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            tx.execute("UPDATE documents SET status = ?1 WHERE doc_id = ?2", (status_key(to), &id))?;
            tx.execute(
                "INSERT INTO report_events (doc_id, action, status, username, server_ms, device_ms, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                (&id, &t.action, status_key(to), &username, now, device, &reason),
            )?;
            tx.commit()
        })
        .await?;
    state.policy.recheck();
    tracing::info!(report = %doc_id, by = %user.username, to = status_key(to), "report moved");
    Ok(Json(
        serde_json::json!({ "status": status_key(to), "server_time_ms": now }),
    ))
}

/// The plan, read from its document.
pub(crate) async fn plan(state: &AppState) -> Result<Plan, ApiError> {
    state
        .repo
        .find(state.plan_id.clone())
        .await
        .map_err(|_| ApiError::Internal("sync engine stopped".into()))?
        .ok_or_else(|| ApiError::Internal("the plan is missing".into()))?
        .with_document(|d| Plan::read(d))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(Deserialize)]
struct NewConsolidated {
    period: String,
}

/// Makes (or finds) the consolidated report of a period; coordinators only.
async fn create_consolidated(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<NewConsolidated>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    if user.role != Role::Coordinator {
        return Err(ApiError::Forbidden);
    }
    let Json(new) = body?;
    let period = requested_period(&new.period)?;
    let plan = plan(&state).await?;
    // A new consolidated report starts with the reports accepted so far.
    let contributions = crate::consolidate::accepted(&state, &period.key()).await?;
    let doc_id = find_or_make(&state, "consolidated", None, &period.key(), |doc| {
        papi::report::generate_consolidated(&plan, &period.key(), doc)?;
        let added = crate::consolidate::append(doc, &contributions)?;
        tracing::info!(period = %period.key(), included = ?added, "consolidated report filled");
        Ok(())
    })
    .await?;
    let included = crate::consolidate::handle(&state, &doc_id)
        .await?
        .with_document(|d| crate::consolidate::included_units(d));
    Ok(Json(serde_json::json!({
        "url": format!("automerge:{doc_id}"),
        "period": period.key(),
        "included_units": included,
    })))
}

#[derive(Deserialize)]
struct Approve {
    url: String,
}

/// The Director approves a consolidated report; it is then read-only.
async fn approve_consolidated(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<Approve>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    let Json(a) = body?;
    if user.role != Role::Director {
        return Err(ApiError::Forbidden);
    }
    let doc_id = requested_doc(&a.url);
    // Not while the report is being assembled.
    let _guard = state.report_lock.lock().await;
    let (id, username) = (doc_id.clone(), user.username.clone());
    let now = crate::sessions::now_ms();
    let changed = state
        .db
        .call(move |c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE documents SET status = 'approved' WHERE doc_id = ?1 AND kind = 'consolidated' AND status = 'draft'",
                [&id],
            )?;
            if n == 1 {
                tx.execute(
                    "INSERT INTO report_events (doc_id, action, status, username, server_ms) VALUES (?1, 'approve', 'approved', ?2, ?3)",
                    (&id, &username, now),
                )?;
            }
            tx.commit()?;
            Ok(n)
        })
        .await?;
    if changed == 0 {
        return Err(ApiError::Conflict(
            "no draft consolidated report with this id".into(),
        ));
    }
    state.policy.recheck();
    tracing::info!(report = %doc_id, by = %user.username, "consolidated report approved");
    Ok(Json(serde_json::json!({ "status": "approved" })))
}

/// The registered document of `kind` for `unit` (or none) and `period`,
/// made with `generate` and registered if there is none yet.
async fn find_or_make(
    state: &AppState,
    kind: &'static str,
    unit: Option<&str>,
    period: &str,
    generate: impl FnOnce(&mut Automerge) -> Result<(), papi::schema::SchemaError>,
) -> Result<String, ApiError> {
    // One at a time, so that two requests never make two documents.
    let _guard = state.report_lock.lock().await;
    let (u, p) = (unit.map(str::to_string), period.to_string());
    let existing: Option<String> = state
        .db
        .call(move |c| {
            c.query_row(
                "SELECT doc_id FROM documents WHERE kind = ?1 AND unit IS ?2 AND period = ?3",
                (kind, &u, &p),
                |r| r.get(0),
            )
            .optional()
        })
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let mut doc = Automerge::new();
    generate(&mut doc).map_err(|e| ApiError::Internal(e.to_string()))?;
    let handle = state
        .repo
        .create(doc)
        .await
        .map_err(|_| ApiError::Internal("sync engine stopped".into()))?;
    let id = handle.document_id().to_string();
    let (row_id, u, p) = (id.clone(), unit.map(str::to_string), period.to_string());
    state
        .db
        .call(move |c| {
            c.execute(
                "INSERT INTO documents (doc_id, kind, unit, period) VALUES (?1, ?2, ?3, ?4)",
                (&row_id, kind, &u, &p),
            )
        })
        .await?;
    // Connected peers were told about the new document before it was
    // registered, and refused it then; now it is known, decide again.
    state.policy.recheck();
    tracing::info!(kind, unit, period, "document made");
    Ok(id)
}

//! Unit reports: made by the server from the plan, one per unit and period;
//! listed for whoever may read them; moved through their review; and their
//! review history.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::{access, may_start_report, Access};
use papi::api::{
    Authorship, DocStatus, History, HistoryQuery, NewReport, ReportEntry, ReportMade,
    TransitionDone, TransitionRequest,
};
use papi::calendar::Period;
use papi::workflow;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{Body, Params};
use crate::registry::{step_by, Made, Registered};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/reports", get(list).post(create))
        .route("/api/reports/transition", post(transition))
        .route("/api/reports/history", get(history))
        .route("/api/reports/authors", get(authors))
}

/// The period a request names, such as `2026-h1`, or a clear refusal.
pub fn requested_period(key: &str) -> Result<Period, ApiError> {
    Period::parse_key(key)
        .ok_or_else(|| ApiError::BadRequest(format!("{key:?} is not a period such as 2026-h1")))
}

/// The document id in an `automerge:` URL (a bare id is taken as it is).
pub fn requested_doc(url: &str) -> &str {
    url.strip_prefix("automerge:").unwrap_or(url)
}

/// The registered report at `url`, if `user` may read it. Someone who may
/// not read it learns nothing about it: the answer is the same as for a
/// report that does not exist.
async fn readable(state: &AppState, user: &AuthUser, url: &str) -> Result<Registered, ApiError> {
    let doc = state
        .registry
        .get(requested_doc(url))
        .await?
        .ok_or(ApiError::NotFound)?;
    let kind = doc.kind().ok_or(ApiError::NotFound)?;
    if access(&user.actor(), &kind) == Access::None {
        return Err(ApiError::NotFound);
    }
    Ok(doc)
}

/// Makes (or finds) the report of a unit for a period. Coordinators and
/// admins may start any unit's report; a unit's lead and staff their own.
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Body(new): Body<NewReport>,
) -> Result<Json<ReportMade>, ApiError> {
    if !may_start_report(&user.actor(), &new.unit) {
        return Err(ApiError::Forbidden);
    }
    let period = requested_period(&new.period)?;
    let plan = state.plan().await?;
    if period.year < plan.start_year || period.year > plan.end_year {
        return Err(ApiError::BadRequest(format!(
            "the plan runs from {} to {}",
            plan.start_year, plan.end_year
        )));
    }
    let units = crate::directory::units(&state.db).await?;
    if !units.iter().any(|u| u.id == new.unit) {
        return Err(ApiError::BadRequest(format!(
            "there is no unit {:?}",
            new.unit
        )));
    }
    let held = state.registry.hold().await;
    let doc = state
        .registry
        .find_or_make(
            &held,
            &state.engine,
            Made::UnitReport,
            Some(&new.unit),
            &period.key(),
            |doc| papi::report::generate(&plan, &new.unit, &period.key(), doc),
        )
        .await?;
    Ok(Json(ReportMade {
        url: doc.url(),
        unit: new.unit,
        period: period.key(),
    }))
}

/// The reports this user may read.
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<ReportEntry>>, ApiError> {
    let actor = user.actor();
    let settings = state.plan().await?.reporting;
    let firsts = state.registry.first_submissions().await?;
    let visible = state
        .registry
        .all(Made::UnitReport)
        .await?
        .into_iter()
        .filter(|d| d.kind().is_some_and(|k| access(&actor, &k) != Access::None))
        .map(|d| {
            let deadline = Period::parse_key(&d.period).map(|p| settings.deadline_ms(p));
            let timeliness = deadline
                .zip(firsts.get(&d.doc_id))
                .map(|(deadline, first)| first.judged(deadline).timeliness);
            ReportEntry {
                url: d.url(),
                unit: d.unit.unwrap_or_default(),
                period: d.period,
                status: d.status,
                deadline_ms: deadline,
                timeliness,
            }
        })
        .collect();
    Ok(Json(visible))
}

/// Moves a report along its review, if the rules allow this user to.
async fn transition(
    State(state): State<AppState>,
    user: AuthUser,
    Body(step): Body<TransitionRequest>,
) -> Result<Json<TransitionDone>, ApiError> {
    let _held = state.registry.hold().await;
    let doc = readable(&state, &user, &step.url).await?;
    let (Made::UnitReport, Some(unit), Some(from)) = (doc.made, &doc.unit, doc.status.review())
    else {
        return Err(ApiError::NotFound);
    };
    let to = workflow::next(&user.actor(), unit, from, step.action, &step.reason).map_err(|e| {
        tracing::warn!(username = %user.0.username, error = %e, "report transition refused");
        ApiError::Conflict(e.to_string())
    })?;
    let status = DocStatus::from(to);
    let recorded = step_by(
        &user.0,
        step.action,
        status,
        step.device_time_ms,
        &step.reason,
    );
    let now = recorded.server_ms;
    state.registry.record(&doc.doc_id, recorded).await?;
    tracing::info!(report = %doc.doc_id, by = %user.0.username, to = status.key(), "report moved");
    Ok(Json(TransitionDone {
        status,
        server_time_ms: now,
    }))
}

/// A report's review history, for whoever may read the report.
async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    Params(q): Params<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    let doc = readable(&state, &user, &q.url).await?;
    let steps = state.registry.steps(&doc.doc_id).await?;
    let deadline = match Period::parse_key(&doc.period) {
        Some(p) => Some(state.plan().await?.reporting.deadline_ms(p)),
        None => None,
    };
    let first = steps
        .iter()
        .find(|s| s.action == workflow::Action::Submit)
        .map(|s| crate::registry::FirstSubmission {
            server_ms: s.server_ms,
            device_ms: s.device_ms,
        });
    Ok(Json(History {
        url: doc.url(),
        unit: doc.unit,
        period: doc.period,
        status: doc.status,
        deadline_ms: deadline,
        first_submission: first.zip(deadline).map(|(f, d)| f.judged(d)),
        events: steps,
    }))
}

/// Who wrote a report (unit or consolidated), as the server saw the changes
/// arrive; for whoever may read it.
async fn authors(
    State(state): State<AppState>,
    user: AuthUser,
    Params(query): Params<HistoryQuery>,
) -> Result<Json<Authorship>, ApiError> {
    let doc = readable(&state, &user, &query.url).await?;
    Ok(Json(state.authors.of(&doc.doc_id).await?))
}

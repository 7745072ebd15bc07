//! The consolidated report of a period: made by the Office from the units'
//! accepted reports (`papi::report::append_contributions` lays them out),
//! assembled again as more are accepted, and approved by the Director, after
//! which no one edits it.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::Capability;
use papi::api::{ApproveRequest, Assembled, Consolidated, DocStatus, PeriodRequest, StatusNow};
use papi::report::{append_contributions, included_units, unit_texts, Contribution};
use papi::workflow::Action;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Body;
use crate::registry::{step_by, Made, Registered};
use crate::reports::{requested_doc, requested_period};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/consolidated", get(list).post(create))
        .route("/api/consolidated/assemble", post(assemble))
        .route("/api/consolidated/approve", post(approve))
}

/// What every accepted unit report of `period` brings, in the units' order.
async fn accepted(state: &AppState, period: &str) -> Result<Vec<Contribution>, ApiError> {
    let mut out = Vec::new();
    for report in state.registry.accepted(period).await? {
        let sections = state
            .on_registered(&report.doc_id, "reading a unit report", |d| unit_texts(d))
            .await?;
        out.push(Contribution {
            unit: report.unit,
            name: report.unit_name,
            sections,
        });
    }
    Ok(out)
}

async fn describe(state: &AppState, doc: Registered) -> Result<Consolidated, ApiError> {
    let included = state
        .on_registered(&doc.doc_id, "reading a consolidated report", |d| {
            included_units(d)
        })
        .await?;
    Ok(Consolidated {
        url: doc.url(),
        period: doc.period,
        status: doc.status,
        included_units: included,
    })
}

/// The consolidated reports, with the units each includes: for the Office
/// and the Director.
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<Consolidated>>, ApiError> {
    user.require(Capability::OverseeReports)?;
    let mut out = Vec::new();
    for doc in state.registry.all(Made::Consolidated).await? {
        out.push(describe(&state, doc).await?);
    }
    Ok(Json(out))
}

/// Makes (or finds) the consolidated report of a period, filled with the
/// reports accepted so far; the Office only.
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Body(request): Body<PeriodRequest>,
) -> Result<Json<Consolidated>, ApiError> {
    user.require(Capability::Consolidate)?;
    let period = requested_period(&request.period)?.key();
    let plan = state.plan().await?;
    if plan.is_empty() {
        return Err(ApiError::Conflict(
            "there is no plan yet: import one first".into(),
        ));
    }
    let held = state.registry.hold().await;
    let contributions = accepted(&state, &period).await?;
    let doc = state
        .registry
        .find_or_make(
            &held,
            &state.engine,
            Made::Consolidated,
            None,
            &period,
            |doc| {
                papi::report::generate_consolidated(&plan, &period, doc)?;
                let added = append_contributions(doc, &contributions)?;
                tracing::info!(%period, included = ?added, "consolidated report filled");
                Ok::<_, papi::schema::SchemaError>(())
            },
        )
        .await?;
    Ok(Json(describe(&state, doc).await?))
}

/// Folds in the unit reports accepted since the consolidated report was made
/// or last assembled; the Office only, and only before the Director approves.
async fn assemble(
    State(state): State<AppState>,
    user: AuthUser,
    Body(request): Body<PeriodRequest>,
) -> Result<Json<Assembled>, ApiError> {
    user.require(Capability::Consolidate)?;
    let period = requested_period(&request.period)?.key();
    // Approval waits for the registry too, so the report cannot be approved
    // halfway through.
    let _held = state.registry.hold().await;
    let Some(doc) = state
        .registry
        .find(Made::Consolidated, None, &period)
        .await?
    else {
        return Err(ApiError::Conflict(format!(
            "there is no consolidated report for {period} yet"
        )));
    };
    if doc.status == DocStatus::Approved {
        tracing::warn!(report = %doc.doc_id, by = %user.0.username, "assembling refused: approved");
        return Err(ApiError::Conflict(
            "the consolidated report is approved and can no longer change".into(),
        ));
    }
    let contributions = accepted(&state, &period).await?;
    let (added, included) = state
        .on_registered(&doc.doc_id, "assembling a consolidated report", |d| {
            if crate::panics::fault("panic-assembling") {
                panic!("a fault for the tests, while assembling");
            }
            append_contributions(d, &contributions).map(|added| (added, included_units(d)))
        })
        .await?
        .map_err(|e| ApiError::Internal(e.into()))?;
    tracing::info!(report = %doc.doc_id, by = %user.0.username, added = ?added, "consolidated report assembled");
    Ok(Json(Assembled {
        url: doc.url(),
        period,
        added,
        included_units: included,
    }))
}

/// The Director approves a consolidated report; it is then read-only.
async fn approve(
    State(state): State<AppState>,
    user: AuthUser,
    Body(request): Body<ApproveRequest>,
) -> Result<Json<StatusNow>, ApiError> {
    user.require(Capability::ApproveConsolidated)?;
    let _held = state.registry.hold().await;
    let doc = state
        .registry
        .get(requested_doc(&request.url))
        .await?
        .filter(|d| d.made == Made::Consolidated && d.status == DocStatus::Draft)
        .ok_or_else(|| ApiError::Conflict("no draft consolidated report with this id".into()))?;
    let step = step_by(&user.0, Action::Approve, DocStatus::Approved, None, "");
    state.registry.record(&doc.doc_id, step).await?;
    tracing::info!(report = %doc.doc_id, by = %user.0.username, "consolidated report approved");
    Ok(Json(StatusNow {
        status: DocStatus::Approved,
    }))
}

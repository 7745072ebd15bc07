//! The general API: health, where the plan is, and the units.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use papi::api::{Health, PlanLocation, UnitInfo};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/plan", get(plan))
        .route("/api/units", get(units))
        .route("/api/{*rest}", any(|| async { ApiError::NotFound }))
}

/// Liveness and storage check, for probes and for the tests: 503 with
/// `"storage": "failing"` while document writes are failing (a full disk,
/// say); those writes are retried, and nothing they hold is acknowledged.
async fn health(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state
        .db
        .call(|c| c.query_row("SELECT 1", [], |_| Ok(())))
        .await?;
    let version = env!("CARGO_PKG_VERSION").to_string();
    let (code, body) = match state.storage_health.failing() {
        None => (
            StatusCode::OK,
            Health {
                status: "ok".into(),
                storage: "ok".into(),
                error: None,
                version,
            },
        ),
        Some(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Health {
                status: "degraded".into(),
                storage: "failing".into(),
                error: Some(error),
                version,
            },
        ),
    };
    Ok((code, Json(body)))
}

/// Where the plan document is: the app syncs it over `/sync`.
async fn plan(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(PlanLocation {
            url: format!("automerge:{}", state.plan_id),
        }),
    )
}

/// Every unit, and whether it is expected to report; any signed-in user.
async fn units(
    State(state): State<AppState>,
    _user: AuthUser,
) -> Result<Json<Vec<UnitInfo>>, ApiError> {
    let units = crate::directory::units(&state.db).await?;
    Ok(Json(
        units
            .into_iter()
            .map(|u| UnitInfo {
                reports: u.kind.reports(),
                id: u.id,
                name: u.name,
                kind: u.kind,
            })
            .collect(),
    ))
}

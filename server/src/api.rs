//! The HTTP API under `/api`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};

use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/plan", get(plan))
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
    let (code, body) = match state.storage_health.failing() {
        None => (
            StatusCode::OK,
            serde_json::json!({
                "status": "ok",
                "storage": "ok",
                "version": env!("CARGO_PKG_VERSION"),
            }),
        ),
        Some(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({
                "status": "degraded",
                "storage": "failing",
                "error": error,
                "version": env!("CARGO_PKG_VERSION"),
            }),
        ),
    };
    Ok((code, Json(body)))
}

/// Where the plan document is: the app syncs it over `/sync`.
async fn plan(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let url = format!("automerge:{}", state.plan_id);
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "url": url })),
    ))
}

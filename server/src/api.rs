//! The HTTP API under `/api`.

use axum::extract::State;
use axum::http::header;
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

/// Liveness and storage check, for probes and for the tests.
async fn health(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state
        .db
        .call(|c| c.query_row("SELECT 1", [], |_| Ok(())))
        .await?;
    Ok(Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

/// Where the plan document is: the app syncs it over `/sync`.
async fn plan(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let url = format!("automerge:{}", state.plan_id);
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "url": url })),
    ))
}

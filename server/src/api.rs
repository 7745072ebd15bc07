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

/// The plan document, as automerge bytes, with its URL in a header.
async fn plan(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let handle = state
        .repo
        .find(state.plan_id.clone())
        .await
        .map_err(|_| ApiError::Unavailable)?
        .ok_or(ApiError::NotFound)?;
    let bytes = handle.with_document(|doc| doc.save());
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-papi-doc"),
                handle.url().to_string(),
            ),
        ],
        bytes,
    ))
}

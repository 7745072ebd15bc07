//! The general API: health, where the plan is, and the units.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
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

/// Liveness and storage check, for probes and for the tests: 503 while the
/// database cannot be used or document writes are failing (a full disk, a
/// removed data directory, say) — those writes are retried, and nothing they
/// hold is acknowledged. A panic contained since the start makes the status
/// `degraded` and is named (`panics`, `last_panic`), but the server still
/// serves, so the answer stays 200; so does a failed scheduled backup
/// (`backup_error`). `offline_capable` says whether a browser keeps the app
/// for offline use on the address the request was sent to.
async fn health(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let database = state
        .db
        .call(|c| c.query_row("SELECT 1", [], |_| Ok(())))
        .await
        .err()
        .map(|e| e.to_string());
    let failing = database.or_else(|| state.storage_health.failing());
    let panics = state.panics.summary();
    let backup_error = state.backup_health.failing();
    let ok = failing.is_none() && panics.is_none() && backup_error.is_none();
    let offline_capable = crate::auth::over_tls(&state, &headers)
        || headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(crate::tls::is_loopback_host);
    let body = Health {
        status: if ok { "ok" } else { "degraded" }.into(),
        storage: if failing.is_none() { "ok" } else { "failing" }.into(),
        error: failing,
        panics: panics.as_ref().map_or(0, |(n, _)| *n),
        last_panic: panics.map(|(_, last)| last),
        version: env!("CARGO_PKG_VERSION").to_string(),
        backup_error,
        offline_capable,
        public_url: state.public_url.as_deref().map(str::to_string),
        notice: (!offline_capable).then(|| {
            "this address is plain HTTP: browsers keep the app for offline use only on HTTPS \
             pages, so it will not open here without a network. Serve HTTPS (--tls-cert and \
             --tls-key, or a proxy: docs/deploy.md)"
                .to_string()
        }),
    };
    let code = if body.storage == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
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

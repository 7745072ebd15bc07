//! The directory over HTTP, for the app's admin page. Admins only.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::Role;
use serde::Deserialize;

use crate::auth::signed_in;
use crate::directory::{self, DirectoryError, NewUser, Unit};
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/units", get(units).post(add_unit))
        .route("/api/admin/users", get(users).post(add_user))
        .route("/api/admin/users/{username}/password", post(reset_password))
}

async fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let user = signed_in(state, headers, None).await?;
    if user.role != Role::Admin {
        tracing::warn!(username = %user.username, "admin request refused");
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Db(e) => ApiError::Internal(e.to_string()),
            DirectoryError::Hash(e) => ApiError::Internal(e),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

async fn units(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Unit>>, ApiError> {
    admin(&state, &headers).await?;
    Ok(Json(directory::units(&state.db).await?))
}

async fn add_unit(
    State(state): State<AppState>,
    headers: HeaderMap,
    unit: Result<Json<Unit>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers).await?;
    let Json(unit) = unit?;
    directory::add_unit(&state.db, unit).await?;
    Ok(Json(serde_json::json!({ "ok": true })))
}

async fn users(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers).await?;
    let users = directory::users(&state.db).await?;
    Ok(Json(serde_json::json!(users
        .iter()
        .map(|u| serde_json::json!({
            "username": u.username,
            "display_name": u.display_name,
            "unit": u.unit,
            "role": u.role.key(),
        }))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
struct AddUser {
    username: String,
    display_name: String,
    unit: String,
    role: String,
}

/// Adds a user with a generated password, returned once.
async fn add_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    new: Result<Json<AddUser>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers).await?;
    let Json(new) = new?;
    let role = Role::parse(&new.role)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown role {:?}", new.role)))?;
    let password = directory::random_password();
    let user = directory::add_user(
        &state.db,
        NewUser {
            username: &new.username,
            display_name: &new.display_name,
            unit: &new.unit,
            role,
            password: &password,
        },
    )
    .await?;
    tracing::info!(username = %user.username, role = role.key(), "user added");
    Ok(Json(
        serde_json::json!({ "username": user.username, "password": password }),
    ))
}

/// Sets a generated password, returned once; the user is signed out everywhere.
async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    admin(&state, &headers).await?;
    let password = directory::random_password();
    directory::set_password(&state.db, &username, &password).await?;
    tracing::info!(%username, "password reset");
    Ok(Json(
        serde_json::json!({ "username": username, "password": password }),
    ))
}

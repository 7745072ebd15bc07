//! The directory over HTTP, for the app's admin page. Admins only.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::Capability;
use papi::api::{Done, IssuedPassword, NewUser, PlanImported, Unit, UserEntry, UsersImported};
use papi::api::{PLAN_FILE_TYPE, STAFF_FILE_TYPE};

use crate::auth::AuthUser;
use crate::directory;
use crate::error::ApiError;
use crate::extract::Body;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/units", get(units).post(add_unit))
        .route("/api/admin/users", get(users).post(add_user))
        .route("/api/admin/users/{username}/password", post(reset_password))
        .route("/api/admin/users/import", post(import_users))
        .route("/api/admin/plan", get(export_plan).post(import_plan))
}

/// An uploaded file's text, sent as `media_type`. A type other than the
/// three a form may send (`text/plain` among them) makes a browser ask
/// before sending it from another site, so a page elsewhere cannot make a
/// signed-in administrator's browser import a file.
fn text<'a>(headers: &HeaderMap, body: &'a Bytes, media_type: &str) -> Result<&'a str, ApiError> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if sent.as_deref() != Some(media_type) {
        return Err(ApiError::UnsupportedMediaType(media_type.to_string()));
    }
    std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("the file is not UTF-8 text".into()))
}

/// Imports a plan file (the request body): all of it or, with a 422 that
/// lists every problem, nothing.
async fn import_plan(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PlanImported>, ApiError> {
    user.require(Capability::Administer)?;
    let imported = state
        .import_plan(text(&headers, &body, PLAN_FILE_TYPE)?)
        .await?;
    tracing::info!(username = %user.0.username, "plan imported from the admin page");
    Ok(Json(imported))
}

/// The plan as a plan file, to download.
async fn export_plan(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<impl IntoResponse, ApiError> {
    user.require(Capability::Administer)?;
    let yaml = state.export_plan().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"papi-plan.yaml\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        yaml,
    ))
}

/// Imports users from a CSV file (the request body); the new users'
/// one-time passwords are in the answer, this once.
async fn import_users(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    user.require(Capability::Administer)?;
    let imported: UsersImported =
        directory::import_users(&state.db, text(&headers, &body, STAFF_FILE_TYPE)?).await?;
    tracing::info!(
        username = %user.0.username,
        created = imported.created.len(),
        updated = imported.updated.len(),
        unchanged = imported.unchanged,
        "users imported"
    );
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(imported)))
}

async fn units(State(state): State<AppState>, user: AuthUser) -> Result<Json<Vec<Unit>>, ApiError> {
    user.require(Capability::Administer)?;
    Ok(Json(directory::units(&state.db).await?))
}

async fn add_unit(
    State(state): State<AppState>,
    user: AuthUser,
    Body(unit): Body<Unit>,
) -> Result<Json<Done>, ApiError> {
    user.require(Capability::Administer)?;
    directory::add_unit(&state.db, unit).await?;
    Ok(Json(Done { ok: true }))
}

async fn users(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<UserEntry>>, ApiError> {
    user.require(Capability::Administer)?;
    let users = directory::users(&state.db).await?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserEntry {
                username: u.username,
                display_name: u.display_name,
                unit: u.unit,
                role: u.role,
            })
            .collect(),
    ))
}

/// Adds a user with a generated password, returned once.
async fn add_user(
    State(state): State<AppState>,
    user: AuthUser,
    Body(new): Body<NewUser>,
) -> Result<Json<IssuedPassword>, ApiError> {
    user.require(Capability::Administer)?;
    let password = directory::random_password();
    let added = directory::add_user(
        &state.db,
        directory::NewUser {
            username: &new.username,
            display_name: &new.display_name,
            unit: &new.unit,
            role: new.role,
            password: &password,
        },
    )
    .await?;
    tracing::info!(username = %added.username, role = new.role.key(), "user added");
    Ok(Json(IssuedPassword {
        username: added.username,
        password,
    }))
}

/// Sets a generated password, returned once; the user is signed out everywhere.
async fn reset_password(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<IssuedPassword>, ApiError> {
    user.require(Capability::Administer)?;
    let password = directory::random_password();
    directory::set_password(&state.db, &username, &password).await?;
    tracing::info!(%username, "password reset");
    Ok(Json(IssuedPassword { username, password }))
}

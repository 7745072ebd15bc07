//! The directory over HTTP, for the app's admin page. Admins only.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::Capability;
use papi::api::{Done, IssuedPassword, NewUser, Unit, UserEntry};

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

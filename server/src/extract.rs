//! What handlers take from a request — the signed-in user, a JSON body,
//! query parameters — each refusing with an `ApiError`, so that a handler's
//! first lines are its rules, not their plumbing.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::Json;
use papi::access::{Actor, Capability};
use serde::de::DeserializeOwned;

use crate::directory::User;
use crate::error::ApiError;
use crate::{auth, sessions, AppState};

/// The signed-in user (session cookie or `Authorization: Bearer`).
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = auth::token_from_headers(&parts.headers).ok_or(ApiError::Unauthorized)?;
        sessions::user(&state.db, &token)
            .await?
            .map(AuthUser)
            .ok_or(ApiError::Unauthorized)
    }
}

impl AuthUser {
    pub fn actor(&self) -> Actor {
        Actor {
            role: self.0.role,
            unit: self.0.unit.clone(),
        }
    }

    /// Refuses (and logs) a user whose role lacks `capability`.
    pub fn require(&self, capability: Capability) -> Result<(), ApiError> {
        if self.0.role.may(capability) {
            Ok(())
        } else {
            tracing::warn!(username = %self.0.username, ?capability, "refused: not allowed");
            Err(ApiError::Forbidden)
        }
    }
}

/// A JSON body of type `T`; anything else is a 400 (413 when too large).
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Body(value))
    }
}

/// Query parameters of type `T`; anything else is a 400.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(value))
    }
}

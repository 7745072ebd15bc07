//! Errors: why the server could not start, and what an API call answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("the sync engine stopped")]
    Stopped,
    #[error(
        "cannot use the data directory {}: {source}. Choose another with --data-dir, or make this one writable",
        path.display()
    )]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the address {0} is already in use (is the server already running?). Stop the other program or choose another address with --addr"
    )]
    AddressInUse(std::net::SocketAddr),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// An API error. Internal details are logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("not signed in")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too many failed attempts")]
    TooManyAttempts(u64),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A request body that is not the JSON expected is the client's mistake.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not found"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "not allowed for this account"),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "wrong username or password, or not signed in",
            ),
            ApiError::TooManyAttempts(secs) => {
                let body = Json(
                    serde_json::json!({ "error": "too many failed attempts; try again later", "retry_after_secs": secs }),
                );
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(axum::http::header::RETRY_AFTER, secs.to_string())],
                    body,
                )
                    .into_response();
            }
            ApiError::Conflict(detail) => {
                return (
                    StatusCode::CONFLICT,
                    Json(serde_json::json!({ "error": detail })),
                )
                    .into_response();
            }
            ApiError::BadRequest(detail) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({ "error": detail })),
                )
                    .into_response();
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

//! Errors: why the server could not start, and what an API call answers.
//! Every conversion into an API error lives here, so that a handler only
//! writes `?`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use papi::api::{ErrorBody, Problem};

use crate::db::DbError;
use crate::directory::DirectoryError;
use crate::registry::MakeError;

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
    #[error(
        "another papi-server is using the data directory {}; stop it first (a plan is imported into a running server from its admin page)",
        .0.display()
    )]
    InUse(std::path::PathBuf),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("cannot serve HTTPS: {0}. Check --tls-cert and --tls-key")]
    Tls(#[from] crate::tls::TlsError),
}

type Source = Box<dyn std::error::Error + Send + Sync>;

/// An API error. Internal details are logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("not signed in")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    /// The request is fine but the state of things refuses it.
    #[error("{0}")]
    Conflict(String),
    #[error("too many failed attempts")]
    TooManyAttempts(u64),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is too large")]
    TooLarge,
    #[error("send the file as {0}")]
    UnsupportedMediaType(String),
    /// An imported file with problems; nothing was imported.
    #[error("the file has {} problem(s); nothing was imported", .0.len())]
    Problems(Vec<Problem>),
    /// A user with a one-time password must choose their own first.
    #[error("choose a new password first")]
    PasswordChangeRequired,
    #[error("internal error")]
    Internal(#[source] Source),
}

impl ApiError {
    /// An internal error from something that is only a message.
    pub fn internal(what: impl Into<Source>) -> ApiError {
        ApiError::Internal(what.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Problems(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PasswordChangeRequired => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the person is told.
    fn message(&self) -> String {
        match self {
            ApiError::NotFound => "not found".into(),
            ApiError::Forbidden => "not allowed for this account".into(),
            ApiError::Unauthorized => "wrong username or password, or not signed in".into(),
            ApiError::TooManyAttempts(_) => "too many failed attempts; try again later".into(),
            ApiError::Conflict(detail) | ApiError::BadRequest(detail) => detail.clone(),
            ApiError::TooLarge => "the request body is too large".into(),
            ApiError::Problems(_)
            | ApiError::PasswordChangeRequired
            | ApiError::UnsupportedMediaType(_) => self.to_string(),
            ApiError::Internal(_) => "internal error".into(),
        }
    }
}

/// A request body that is not the JSON expected is the client's mistake.
impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadRequest(e.body_text())
        }
    }
}

/// A query or path that does not read as expected.
macro_rules! bad_request_from {
    ($($rejection:ty),+) => {$(
        impl From<$rejection> for ApiError {
            fn from(e: $rejection) -> Self {
                ApiError::BadRequest(e.body_text())
            }
        }
    )+};
}

bad_request_from!(QueryRejection, PathRejection);

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Internal(e.into())
    }
}

/// The directory's refusals are the client's mistakes; its failures are ours.
impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Db(e) => e.into(),
            DirectoryError::Hash(_) => ApiError::Internal(e.into()),
            DirectoryError::Problems(problems) => ApiError::Problems(problems),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<MakeError<E>> for ApiError {
    fn from(e: MakeError<E>) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ApiError {
    /// The error with the whole chain of its causes, for the log (never
    /// for the client).
    pub fn detail(&self) -> String {
        let ApiError::Internal(source) = self else {
            return self.to_string();
        };
        let mut chain = source.to_string();
        let mut cause = source.source();
        while let Some(c) = cause {
            chain.push_str(": ");
            chain.push_str(&c.to_string());
            cause = c.source();
        }
        chain
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(_) = &self {
            tracing::error!(error = %self.detail(), "request failed");
        }
        let body = Json(ErrorBody {
            error: self.message(),
            retry_after_secs: match self {
                ApiError::TooManyAttempts(secs) => Some(secs),
                _ => None,
            },
            problems: match &self {
                ApiError::Problems(problems) => problems.clone(),
                _ => Vec::new(),
            },
        });
        match self {
            ApiError::TooManyAttempts(secs) => (
                self.status(),
                [(axum::http::header::RETRY_AFTER, secs.to_string())],
                body,
            )
                .into_response(),
            _ => (self.status(), body).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status_and_internal_details_stay_inside() {
        let cases = [
            (ApiError::NotFound, 404),
            (ApiError::Unauthorized, 401),
            (ApiError::Forbidden, 403),
            (ApiError::Conflict("x".into()), 409),
            (ApiError::TooManyAttempts(5), 429),
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::TooLarge, 413),
            (ApiError::Problems(Vec::new()), 422),
            (ApiError::UnsupportedMediaType("text/csv".into()), 415),
            (ApiError::PasswordChangeRequired, 403),
            (ApiError::internal("the disk is on fire"), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
        }
        assert_eq!(
            ApiError::internal("the disk is on fire").message(),
            "internal error"
        );
        let from_db: ApiError = DbError::Task("panicked".into()).into();
        assert!(matches!(from_db, ApiError::Internal(_)));
        let refused: ApiError = DirectoryError::BadUsername.into();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
}

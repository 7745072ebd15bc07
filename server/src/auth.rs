//! Signing in and out over HTTP (`/api/login`, `/api/logout`, `/api/me`),
//! and who is signed in on a request (`AuthUser`).
//!
//! A session token travels in an HttpOnly, SameSite cookie (browsers), or as
//! a bearer token or the `/sync` URL's `token` parameter (other clients). It
//! is never logged. Failed sign-ins are limited per account and per address.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use papi::access::{Actor, Capability};
use papi::api::{LoginRequest, Me, Session, UserInfo};

use crate::directory::{self, User};
use crate::error::ApiError;
use crate::extract::Body;
use crate::sessions;
use crate::AppState;

pub const COOKIE: &str = "papi_session";
const ACCOUNT_FAILURES: usize = 5;
const ADDRESS_FAILURES: usize = 30;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
}

/// Recent failed sign-ins, per account and per address, in memory.
#[derive(Clone, Default)]
pub struct Limiter {
    failures: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl Limiter {
    /// How long until `key` may try again, if it is blocked now.
    fn blocked(&self, key: &str, limit: usize) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let times = map.get_mut(key)?;
        while times.front().is_some_and(|t| t.elapsed() > FAILURE_WINDOW) {
            times.pop_front();
        }
        (times.len() >= limit).then(|| FAILURE_WINDOW.saturating_sub(times[0].elapsed()))
    }

    fn fail(&self, key: String) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key).or_default().push_back(Instant::now());
    }

    fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

fn user_info(user: &User) -> UserInfo {
    UserInfo {
        id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        unit: user.unit.clone(),
        role: user.role,
    }
}

/// Whether the client reached us over TLS (directly or through a proxy that
/// says so), so that the cookie must be Secure.
fn over_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn cookie(value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(request): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let account = format!("user:{}", request.username.to_lowercase());
    let address = format!("addr:{}", address_key(peer.ip()));
    for (key, limit) in [(&account, ACCOUNT_FAILURES), (&address, ADDRESS_FAILURES)] {
        if let Some(wait) = state.limiter.blocked(key, limit) {
            tracing::warn!(key, "sign-in refused: too many failures");
            return Err(ApiError::TooManyAttempts(wait.as_secs().max(1)));
        }
    }
    let Some(user) =
        directory::check_password(&state.db, &request.username, &request.password).await?
    else {
        state.limiter.fail(account.clone());
        state.limiter.fail(address);
        tracing::info!(username = %request.username, "sign-in failed");
        return Err(ApiError::Unauthorized);
    };
    state.limiter.clear(&account);
    let (token, expires_ms) = sessions::create(&state.db, &user, state.session_lifetime).await?;
    tracing::info!(username = %user.username, "signed in");
    let max_age = state.session_lifetime.as_secs() as i64;
    let mut response = Json(Session {
        token: token.clone(),
        expires_ms,
        user: user_info(&user),
        peer_prefix: peer_prefix(&user),
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&token, max_age, over_tls(&state, &headers)),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = token_from_headers(&headers) {
        sessions::end(&state.db, &token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie("", 0, over_tls(&state, &headers)),
    );
    Ok(response)
}

async fn me(AuthUser(user): AuthUser) -> Json<Me> {
    Json(Me {
        user: user_info(&user),
        peer_prefix: peer_prefix(&user),
    })
}

/// The signed-in user (session cookie or `Authorization: Bearer`).
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = token_from_headers(&parts.headers).ok_or(ApiError::Unauthorized)?;
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

/// The prefix of every sync peer id this user may use: `user<id>.`.
pub fn peer_prefix(user: &User) -> String {
    format!("user{}.", user.id)
}

/// IPv6 clients are limited per /64, which one household or phone gets.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The session token from the cookie or an `Authorization: Bearer` header.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    let from_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty());
    from_cookie.or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
    })
}

/// The signed-in user of a `/sync` request: from the headers, or else a
/// token given in the URL (a WebSocket client may not set headers).
pub async fn sync_user(
    state: &AppState,
    headers: &HeaderMap,
    url_token: Option<&str>,
) -> Result<User, ApiError> {
    let token = token_from_headers(headers)
        .or_else(|| url_token.map(str::to_string))
        .ok_or(ApiError::Unauthorized)?;
    sessions::user(&state.db, &token)
        .await?
        .ok_or(ApiError::Unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_blocks_after_the_limit_and_forgets_on_success() {
        let l = Limiter::default();
        for _ in 0..3 {
            assert!(l.blocked("user:a", 3).is_none());
            l.fail("user:a".into());
        }
        let wait = l.blocked("user:a", 3).expect("blocked after 3 failures");
        assert!(wait <= FAILURE_WINDOW && wait > Duration::from_secs(60));
        assert!(
            l.blocked("user:b", 3).is_none(),
            "other accounts are not affected"
        );
        l.clear("user:a");
        assert!(l.blocked("user:a", 3).is_none());
    }

    #[test]
    fn tokens_come_from_the_cookie_or_a_bearer_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; papi_session=abc; x=y"),
        );
        assert_eq!(token_from_headers(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(token_from_headers(&h).as_deref(), Some("xyz"));
        assert_eq!(token_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn ipv6_addresses_are_grouped_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
    }
}

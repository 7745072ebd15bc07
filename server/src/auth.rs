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
use papi::api::{LoginRequest, Me, PasswordChange, Session, UserInfo};

use crate::directory::{self, User};
use crate::error::ApiError;
use crate::extract::Body;
use crate::logsafe::clean;
use crate::sessions;
use crate::AppState;

pub const COOKIE: &str = "papi_session";
const PAIR_FAILURES: usize = 5;
const ACCOUNT_SLOWDOWN_AFTER: usize = 10;
const ADDRESS_SLOWDOWN_AFTER: usize = 100;
const SLOWDOWN: Duration = Duration::from_secs(1);
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Usernames are at most 32 characters (`directory`); anything much longer
/// is refused before it is looked at or logged.
const MAX_USERNAME_BYTES: usize = 128;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/password", post(change_password))
}

/// Recent failed sign-ins, in memory, kept per (address, account), per
/// account and per address.
///
/// - The same account from the same address: after `PAIR_FAILURES` failures
///   in `FAILURE_WINDOW`, that pair is refused until the window passes.
/// - One account from anywhere, or anything from one address: past
///   `ACCOUNT_SLOWDOWN_AFTER` or `ADDRESS_SLOWDOWN_AFTER` failures, every
///   attempt waits `SLOWDOWN` before its password is checked. It is slowed,
///   never refused: colleagues behind one office address, and the owner of
///   an account someone else is guessing at, still sign in.
#[derive(Clone, Default)]
pub struct Limiter {
    failures: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

/// Keys kept before the expired ones are forgotten.
const MAX_KEYS: usize = 50_000;

impl Limiter {
    /// Failures of `key` within the window.
    fn count(&self, key: &str) -> usize {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = map.get_mut(key) else {
            return 0;
        };
        while times.front().is_some_and(|t| t.elapsed() > FAILURE_WINDOW) {
            times.pop_front();
        }
        times.len()
    }

    /// How long until `key` may try again, if it has had `limit` failures.
    fn blocked(&self, key: &str, limit: usize) -> Option<Duration> {
        if self.count(key) < limit {
            return None;
        }
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let first = map.get(key)?.front()?;
        Some(FAILURE_WINDOW.saturating_sub(first.elapsed()))
    }

    fn fail(&self, keys: &[&str]) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| times.back().is_some_and(|t| t.elapsed() <= FAILURE_WINDOW));
        }
        for key in keys {
            // Past the cap, new keys are not tracked: only their slowing
            // down is lost, never a refusal of someone innocent.
            if map.len() < MAX_KEYS || map.contains_key(*key) {
                map.entry(key.to_string())
                    .or_default()
                    .push_back(Instant::now());
            }
        }
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
        must_change_password: user.must_change_password,
    }
}

/// Whether the client reached us over TLS (directly or through a proxy that
/// says so), so that the cookie must be Secure.
pub(crate) fn over_tls(state: &AppState, headers: &HeaderMap) -> bool {
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
    if request.username.len() > MAX_USERNAME_BYTES {
        return Err(ApiError::BadRequest(format!(
            "a username has at most {MAX_USERNAME_BYTES} bytes"
        )));
    }
    let name = request.username.to_lowercase();
    let ip = client_address(peer.ip(), &headers, &state.trusted_proxies);
    let address = format!("addr:{}", address_key(ip));
    let account = format!("user:{name}");
    let pair = format!("pair:{}/{name}", address_key(ip));
    if let Some(wait) = state.limiter.blocked(&pair, PAIR_FAILURES) {
        if let Some(held_back) = state.refusals.allow(&pair) {
            tracing::warn!(username = %clean(&request.username), address = %ip, held_back, "sign-in refused: too many failures");
        }
        metrics::counter!(crate::metrics::SIGN_IN_FAILURES).increment(1);
        return Err(ApiError::TooManyAttempts(wait.as_secs().max(1)));
    }
    if state.limiter.count(&account) >= ACCOUNT_SLOWDOWN_AFTER
        || state.limiter.count(&address) >= ADDRESS_SLOWDOWN_AFTER
    {
        tokio::time::sleep(SLOWDOWN).await;
    }
    let Some(user) =
        directory::check_password(&state.db, &request.username, &request.password).await?
    else {
        state.limiter.fail(&[&pair, &account, &address]);
        metrics::counter!(crate::metrics::SIGN_IN_FAILURES).increment(1);
        if let Some(held_back) = state.refusals.allow(&format!("failed:{pair}")) {
            tracing::info!(username = %clean(&request.username), address = %ip, held_back, "sign-in failed");
        }
        return Err(ApiError::Unauthorized);
    };
    state.limiter.clear(&pair);
    tracing::info!(username = %user.username, "signed in");
    new_session(&state, &headers, &user).await
}

/// A new session for `user`: its token in the body and in the cookie.
async fn new_session(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
) -> Result<Response, ApiError> {
    let (token, expires_ms) = sessions::create(&state.db, user, state.session_lifetime).await?;
    let max_age = state.session_lifetime.as_secs() as i64;
    let mut response = Json(Session {
        token: token.clone(),
        expires_ms,
        user: user_info(user),
        peer_prefix: peer_prefix(user),
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&token, max_age, over_tls(state, headers)),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The signed-in user chooses a new password (and must, after signing in
/// with a one-time password). Every session of theirs ends; the answer is
/// a new one for this device.
async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(user): SignedIn,
    Body(change): Body<PasswordChange>,
) -> Result<Response, ApiError> {
    if change.new == change.current {
        return Err(ApiError::BadRequest(
            "the new password must differ from the current one".into(),
        ));
    }
    let key = format!("change:{}", user.username);
    if let Some(wait) = state.limiter.blocked(&key, PAIR_FAILURES) {
        return Err(ApiError::TooManyAttempts(wait.as_secs().max(1)));
    }
    if directory::check_password(&state.db, &user.username, &change.current)
        .await?
        .is_none()
    {
        state.limiter.fail(&[&key]);
        tracing::info!(username = %user.username, "password change refused: wrong current password");
        return Err(ApiError::BadRequest("the current password is wrong".into()));
    }
    state.limiter.clear(&key);
    directory::choose_password(&state.db, &user.username, &change.new).await?;
    tracing::info!(username = %user.username, "password changed");
    let user = User {
        must_change_password: false,
        ..user
    };
    new_session(&state, &headers, &user).await
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

async fn me(SignedIn(user): SignedIn) -> Json<Me> {
    Json(Me {
        user: user_info(&user),
        peer_prefix: peer_prefix(&user),
    })
}

/// The signed-in user (session cookie or `Authorization: Bearer`), who
/// has chosen their own password: a one-time password opens nothing but
/// `POST /api/password`.
pub struct AuthUser(pub User);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let SignedIn(user) = SignedIn::from_request_parts(parts, state).await?;
        if user.must_change_password {
            return Err(ApiError::PasswordChangeRequired);
        }
        Ok(AuthUser(user))
    }
}

/// Whoever a session signs in, one-time password or not.
pub struct SignedIn(pub User);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = token_from_headers(&parts.headers).ok_or(ApiError::Unauthorized)?;
        sessions::user(&state.db, &token)
            .await?
            .map(SignedIn)
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

/// The client's address: the peer's, or, when the peer is a trusted
/// reverse proxy, the last address in `X-Forwarded-For` that is not itself
/// a trusted proxy. Anyone else's `X-Forwarded-For` is ignored, so that a
/// client cannot choose the address it is counted under.
pub(crate) fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
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
    let user = sessions::user(&state.db, &token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if user.must_change_password {
        return Err(ApiError::PasswordChangeRequired);
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_blocks_after_the_limit_and_forgets_on_success() {
        let l = Limiter::default();
        for _ in 0..3 {
            assert!(l.blocked("pair:a", 3).is_none());
            l.fail(&["pair:a", "user:a"]);
        }
        let wait = l.blocked("pair:a", 3).expect("blocked after 3 failures");
        assert!(wait <= FAILURE_WINDOW && wait > Duration::from_secs(60));
        assert_eq!(l.count("user:a"), 3);
        assert!(
            l.blocked("pair:b", 3).is_none(),
            "other keys are not affected"
        );
        l.clear("pair:a");
        assert!(l.blocked("pair:a", 3).is_none());
        assert_eq!(l.count("user:a"), 3, "the account's count stays");
    }

    #[test]
    fn a_forwarded_address_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.9"),
        );
        assert_eq!(client_address(proxy, &h, &[proxy]), client);
        assert_eq!(
            client_address(client, &h, &[proxy]),
            client,
            "a client's own header is ignored"
        );
        assert_eq!(client_address(proxy, &HeaderMap::new(), &[proxy]), proxy);
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

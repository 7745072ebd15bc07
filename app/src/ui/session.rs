//! Who is signed in on this device. The identity is kept on the device so
//! that the app opens offline after one online sign-in; the server alone
//! decides what that identity may read and write.

use serde::{Deserialize, Serialize};

use super::http::{answer_to, get, post, Failure};
use super::i18n::t;
use super::settings;
use crate::access::{Actor, Role};
use crate::api::{LoginRequest, Me, PasswordChange, Session, UserInfo};

pub const KEY: &str = "identity";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit: String,
    pub role: Role,
    /// Every sync peer id of this user starts with it (`user<id>.`).
    pub peer_prefix: String,
    /// Signed in with a one-time password: the app asks for a new one
    /// before anything else.
    #[serde(default)]
    pub must_change_password: bool,
}

impl Identity {
    /// This user as a comment names them.
    pub fn writer(&self) -> crate::report::comments::Writer {
        crate::report::comments::Writer {
            user_id: self.id,
            name: self.display_name.clone(),
            unit: self.unit.clone(),
        }
    }

    fn new(user: UserInfo, peer_prefix: String) -> Identity {
        Identity {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            unit: user.unit,
            role: user.role,
            must_change_password: user.must_change_password,
            peer_prefix,
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            role: self.role,
            unit: self.unit.clone(),
        }
    }
}

pub fn cached() -> Option<Identity> {
    settings::get(KEY)
}

pub fn forget() {
    settings::remove(KEY);
}

/// Signs in with the server and keeps the identity on the device.
pub async fn sign_in(username: &str, password: &str) -> Result<Identity, String> {
    let request = LoginRequest {
        username: username.trim().to_string(),
        password: password.to_string(),
    };
    signed_in(post::<Session>("/api/login", &request).await)
}

/// Signs in with the answer to the sign-in the page's frame sent before the
/// app started (`early`).
pub async fn sent_sign_in(sent: js_sys::Promise) -> Result<Identity, String> {
    signed_in(answer_to::<Session>(sent).await)
}

/// The server's answer to a sign-in: the identity, kept on the device, or
/// why not, for the person.
fn signed_in(answer: Result<Session, Failure>) -> Result<Identity, String> {
    match answer {
        Ok(session) => keep(session),
        Err(Failure::Refused { status: 401, .. }) => {
            Err(t!("session.wrong_credentials").to_string())
        }
        Err(Failure::Refused { status: 429, body }) => Err(t!(
            "session.too_many_attempts",
            minutes = body
                .and_then(|b| b.retry_after_secs)
                .unwrap_or(60)
                .div_ceil(60)
        )
        .to_string()),
        Err(other) => Err(other.into()),
    }
}

/// Keeps a new session's identity on the device.
fn keep(session: Session) -> Result<Identity, String> {
    let identity = Identity::new(session.user, session.peer_prefix);
    // Without it the app would ask to sign in again on the next open.
    settings::set(KEY, &identity)?;
    Ok(identity)
}

/// Replaces the signed-in user's password; the server answers with a new
/// session (the others end).
pub async fn change_password(current: &str, new: &str) -> Result<Identity, String> {
    let change = PasswordChange {
        current: current.to_string(),
        new: new.to_string(),
    };
    match post::<Session>("/api/password", &change).await {
        Ok(session) => keep(session),
        Err(Failure::Refused { status: 401, .. }) => Err(t!("password.signed_out").to_string()),
        Err(other) => Err(other.into()),
    }
}

pub async fn sign_out() {
    let _ = post::<()>("/api/logout", &()).await;
    forget();
}

/// Whether the server still knows this device's session: Some(false) when
/// it says it does not, None when it cannot be asked.
pub async fn still_signed_in() -> Option<bool> {
    match get::<Me>("/api/me").await {
        Ok(_) => Some(true),
        Err(Failure::Refused { status: 401, .. }) => Some(false),
        _ => None,
    }
}

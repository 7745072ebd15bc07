//! Who is signed in on this device. The identity is cached in localStorage
//! so that the app opens offline after one online sign-in; the server alone
//! decides what that identity may read and write.

use rust_i18n::t;
use serde::{Deserialize, Serialize};

use super::http::{error_text, get_json, post_json};

const KEY: &str = "papi.identity";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit: String,
    pub role: String,
    /// Every sync peer id of this user starts with it (`user<id>.`).
    pub peer_prefix: String,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn cached() -> Option<Identity> {
    let text = storage()?.get_item(KEY).ok()??;
    serde_json::from_str(&text).ok()
}

fn remember(identity: &Identity) {
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(identity)) {
        let _ = s.set_item(KEY, &text);
    }
}

pub fn forget() {
    if let Some(s) = storage() {
        let _ = s.remove_item(KEY);
    }
}

/// Signs in with the server and caches the identity.
pub async fn sign_in(username: &str, password: &str) -> Result<Identity, String> {
    let body = serde_json::json!({ "username": username.trim(), "password": password });
    let (status, value) = post_json("/api/login", &body).await?;
    match status {
        200 => {
            let user = &value["user"];
            let identity = Identity {
                id: user["id"].as_i64().unwrap_or_default(),
                username: user["username"].as_str().unwrap_or_default().into(),
                display_name: user["display_name"].as_str().unwrap_or_default().into(),
                unit: user["unit"].as_str().unwrap_or_default().into(),
                role: user["role"].as_str().unwrap_or_default().into(),
                peer_prefix: value["peer_prefix"].as_str().unwrap_or_default().into(),
            };
            remember(&identity);
            Ok(identity)
        }
        401 => Err(t!("session.wrong_credentials").to_string()),
        429 => Err(t!(
            "session.too_many_attempts",
            minutes = value["retry_after_secs"]
                .as_u64()
                .unwrap_or(60)
                .div_ceil(60)
        )
        .to_string()),
        other => Err(error_text(other, &value)),
    }
}

pub async fn sign_out() {
    let _ = post_json("/api/logout", &serde_json::json!({})).await;
    forget();
}

/// Whether the server still knows this device's session: Some(false) when
/// it says it does not, None when it cannot be asked.
pub async fn still_signed_in() -> Option<bool> {
    match get_json("/api/me").await {
        Ok((200, _)) => Some(true),
        Ok((401, _)) => Some(false),
        _ => None,
    }
}

//! Who is signed in on this device. The identity is cached in localStorage
//! so that the app opens offline after one online sign-in; the server alone
//! decides what that identity may read and write.

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

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

async fn post_json(path: &str, body: &str) -> Result<(u16, serde_json::Value), String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&body.into());
    let headers = web_sys::Headers::new().map_err(|_| "headers")?;
    let _ = headers.set("content-type", "application/json");
    init.set_headers(&headers);
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| "Không kết nối được máy chủ. Hãy thử lại khi có mạng.".to_string())?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "bad response")?;
    let status = response.status();
    let json = match response.json() {
        Ok(p) => JsFuture::from(p).await.ok(),
        Err(_) => None,
    };
    let value = json
        .and_then(|j| js_sys::JSON::stringify(&j).ok())
        .and_then(|s| s.as_string())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok((status, value))
}

/// Signs in with the server and caches the identity.
pub async fn sign_in(username: &str, password: &str) -> Result<Identity, String> {
    let body = serde_json::json!({ "username": username.trim(), "password": password }).to_string();
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
        401 => Err("Sai tên đăng nhập hoặc mật khẩu.".into()),
        429 => Err(format!(
            "Đăng nhập sai quá nhiều lần. Hãy thử lại sau {} phút.",
            value["retry_after_secs"]
                .as_u64()
                .unwrap_or(60)
                .div_ceil(60)
        )),
        other => Err(format!("Máy chủ trả lời {other}.")),
    }
}

pub async fn sign_out() {
    let _ = post_json("/api/logout", "{}").await;
    forget();
}

/// Whether the server still knows this device's session: Some(false) when
/// it says it does not, None when it cannot be asked.
pub async fn still_signed_in() -> Option<bool> {
    let window = web_sys::window()?;
    let response = JsFuture::from(window.fetch_with_str("/api/me"))
        .await
        .ok()?;
    let response: web_sys::Response = response.dyn_into().ok()?;
    match response.status() {
        200 => Some(true),
        401 => Some(false),
        _ => None,
    }
}

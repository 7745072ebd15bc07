//! JSON requests to the server's API.

use rust_i18n::t;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Why a request got no answer from the server.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The server could not be reached.
    NoConnection,
    /// The browser could not make or read the request.
    Other(String),
}

impl From<&str> for Failure {
    fn from(text: &str) -> Self {
        Failure::Other(text.to_string())
    }
}

/// The failure as a text for the person, in the interface language.
impl From<Failure> for String {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NoConnection => t!("http.no_connection").to_string(),
            Failure::Other(text) => text,
        }
    }
}

async fn request(
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<(u16, serde_json::Value), Failure> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&body.to_string().into());
        let headers = web_sys::Headers::new().map_err(|_| "headers")?;
        let _ = headers.set("content-type", "application/json");
        init.set_headers(&headers);
    }
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| Failure::NoConnection)?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "bad response")?;
    let status = response.status();
    let text = match response.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    };
    let value = text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    Ok((status, value))
}

pub async fn get_json(path: &str) -> Result<(u16, serde_json::Value), String> {
    Ok(request("GET", path, None).await?)
}

pub async fn post_json(
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, serde_json::Value), String> {
    Ok(request("POST", path, Some(body)).await?)
}

/// Like `post_json`, but tells a missing connection apart from other failures.
pub async fn try_post_json(
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, serde_json::Value), Failure> {
    request("POST", path, Some(body)).await
}

/// The server's error message in an answer, or its status.
pub fn error_text(status: u16, value: &serde_json::Value) -> String {
    value["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| t!("http.server_answered", status = status).to_string())
}

/// A GET answer that stays usable offline: a successful answer is kept on
/// the device, and given back (marked as kept) when the server cannot be
/// reached.
pub async fn get_kept(path: &str) -> Result<Kept, String> {
    let key = format!("papi.kept:{path}");
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    match get_json(path).await {
        Ok((200, value)) => {
            if let Some(s) = &storage {
                let _ = s.set_item(&key, &value.to_string());
            }
            Ok(Kept {
                value,
                offline: false,
            })
        }
        Ok((status, value)) => Err(error_text(status, &value)),
        Err(no_connection) => storage
            .and_then(|s| s.get_item(&key).ok().flatten())
            .and_then(|text| serde_json::from_str(&text).ok())
            .map(|value| Kept {
                value,
                offline: true,
            })
            .ok_or(no_connection),
    }
}

/// An answer from the server, or the last one kept on the device.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept {
    pub value: serde_json::Value,
    /// True when the server could not be reached and this is the kept copy.
    pub offline: bool,
}

/// A string field of a JSON answer, or "" when it is missing.
pub fn text(v: &serde_json::Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

//! JSON requests to the server's API.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

pub const NO_CONNECTION: &str = "Không kết nối được máy chủ. Hãy thử lại khi có mạng.";

async fn request(
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<(u16, serde_json::Value), String> {
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
        .map_err(|_| NO_CONNECTION.to_string())?;
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
    request("GET", path, None).await
}

pub async fn post_json(
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, serde_json::Value), String> {
    request("POST", path, Some(body)).await
}

/// The server's error message in an answer, or its status.
pub fn error_text(status: u16, value: &serde_json::Value) -> String {
    value["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("Máy chủ trả lời {status}."))
}

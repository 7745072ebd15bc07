//! Requests to the server's API, decoded into the types of `papi::api`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::i18n::t;
use super::{device, settings};
use crate::api::ErrorBody;

/// Why a request got no answer the app can use.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The server could not be reached.
    NoConnection,
    /// The server answered with an error.
    Refused {
        status: u16,
        body: Option<ErrorBody>,
    },
    /// The browser could not make or read the request, or the answer was
    /// not what the API says.
    Other(String),
}

impl Failure {
    /// The HTTP status the server refused with, if it did.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The failure as a text for the person, in the interface language.
impl From<Failure> for String {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NoConnection => t!("http.no_connection").to_string(),
            Failure::Refused {
                body: Some(body), ..
            } => body.error,
            Failure::Refused { status, body: None } => {
                t!("http.server_answered", status = status).to_string()
            }
            Failure::Other(text) => text,
        }
    }
}

/// How long a request waits for the whole answer, in milliseconds. A weak
/// signal can leave a connection up that carries nothing; the screen that
/// waits then says so and offers to try again, instead of waiting for ever.
/// Generous, so that a file sent on a slow link still arrives.
const ANSWER_WITHIN_MS: i32 = 30_000;

/// Sends a request, with a body of the given content type; the answer's
/// status and text.
async fn send(
    method: &str,
    path: &str,
    body: Option<(String, &str)>,
) -> Result<(u16, String), Failure> {
    let other = |what: &str| Failure::Other(what.to_string());
    let window = web_sys::window().ok_or_else(|| other("no window"))?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some((body, content_type)) = body {
        init.set_body(&body.into());
        let headers = web_sys::Headers::new().map_err(|_| other("headers"))?;
        let _ = headers.set("content-type", content_type);
        init.set_headers(&headers);
    }
    // Aborting fails the request, or the reading of its answer, as if the
    // connection had dropped.
    let controller = web_sys::AbortController::new().map_err(|_| other("abort controller"))?;
    init.set_signal(Some(&controller.signal()));
    let _deadline = Deadline::arm(&window, controller).ok_or_else(|| other("timer"))?;
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| Failure::NoConnection)?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| other("bad response"))?;
    let status = response.status();
    let text = JsFuture::from(response.text().map_err(|_| other("answer"))?)
        .await
        .map_err(|_| Failure::NoConnection)?;
    Ok((status, text.as_string().unwrap_or_default()))
}

/// Aborts a request after `ANSWER_WITHIN_MS`. Dropped with the request
/// (answered, or no longer awaited by a screen that went away), it clears
/// its timer, so that no timer calls into a freed closure.
struct Deadline {
    timer: i32,
    _abort: Closure<dyn FnMut()>,
}

impl Deadline {
    fn arm(window: &web_sys::Window, controller: web_sys::AbortController) -> Option<Deadline> {
        let abort = Closure::once(move || controller.abort());
        let timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                abort.as_ref().unchecked_ref(),
                ANSWER_WITHIN_MS,
            )
            .ok()?;
        Some(Deadline {
            timer,
            _abort: abort,
        })
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        if let Some(window) = web_sys::window() {
            window.clear_timeout_with_handle(self.timer);
        }
    }
}

/// The answer to a request the page sent before the app started
/// (`early`): a promise of `[status, text]`, failed when the server could
/// not be reached.
pub async fn answer_to<T: DeserializeOwned>(sent: js_sys::Promise) -> Result<T, Failure> {
    let answer = JsFuture::from(sent)
        .await
        .map_err(|_| Failure::NoConnection)?;
    let answer = js_sys::Array::from(&answer);
    let status = answer.get(0).as_f64().map_or(0, |s| s as u16);
    decode(status, &answer.get(1).as_string().unwrap_or_default())
}

/// The answer decoded as `T`, or the server's refusal.
fn decode<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, Failure> {
    if !(200..300).contains(&status) {
        return Err(Failure::Refused {
            status,
            body: serde_json::from_str(text).ok(),
        });
    }
    // An empty answer (204) is JSON null, which `()` reads.
    let text = if text.is_empty() { "null" } else { text };
    serde_json::from_str(text).map_err(|e| Failure::Other(format!("unexpected answer: {e}")))
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    let (status, text) = send("GET", path, None).await?;
    decode(status, &text)
}

pub async fn post<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> Result<T, Failure> {
    let body = serde_json::to_string(body).map_err(|e| Failure::Other(e.to_string()))?;
    let (status, text) = send("POST", path, Some((body, "application/json"))).await?;
    decode(status, &text)
}

/// Posts a file's text as it is (a plan file, a CSV of users), as
/// `media_type`.
pub async fn post_text<T: DeserializeOwned>(
    path: &str,
    text: String,
    media_type: &str,
) -> Result<T, Failure> {
    let content_type = format!("{media_type}; charset=utf-8");
    let (status, text) = send("POST", path, Some((text, &content_type))).await?;
    decode(status, &text)
}

/// An answer from the server, or the last one kept on the device.
#[derive(Clone, Debug, PartialEq)]
pub struct Kept<T> {
    pub value: T,
    /// True when the server could not be reached and this is the kept copy.
    pub offline: bool,
}

/// A GET answer that stays usable offline: a successful answer is kept on
/// the device, and given back (marked as kept) when the server cannot be
/// reached.
pub async fn get_kept<T: DeserializeOwned + Serialize>(path: &str) -> Result<Kept<T>, String> {
    // Kept for the page's user: another user of the device never reads it.
    let key = device::page_key(&format!("kept:{path}"));
    match get::<T>(path).await {
        Ok(value) => {
            // Not kept means only that it cannot be read offline later;
            // `settings::set` has said so in the console.
            if let Some(key) = &key {
                let _ = settings::set(key, &value);
            }
            Ok(Kept {
                value,
                offline: false,
            })
        }
        Err(Failure::NoConnection) => key
            .and_then(|key| settings::get::<T>(&key))
            .map(|value| Kept {
                value,
                offline: true,
            })
            .ok_or_else(|| Failure::NoConnection.into()),
        Err(e) => Err(e.into()),
    }
}

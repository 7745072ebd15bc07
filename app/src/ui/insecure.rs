//! A page that is not a secure context (plain HTTP on a network address,
//! not localhost) gets no service worker from the browser, so the app
//! cannot open there without a network. The page says so, for as long as
//! it is open, with the address to use instead.

use leptos::prelude::*;

use super::http;
use super::i18n::t;
use crate::api::Health;

/// Whether the browser gives this page a service worker.
fn secure() -> bool {
    web_sys::window().is_none_or(|w| w.is_secure_context())
}

/// The HTTPS address of the same host: the best guess until the server
/// names its public address.
fn same_host_over_https() -> String {
    let host = web_sys::window()
        .and_then(|w| w.location().hostname().ok())
        .unwrap_or_default();
    format!("https://{host}/")
}

/// The notice; nothing on a secure page.
#[component]
pub fn InsecureNotice() -> impl IntoView {
    if secure() {
        return ().into_any();
    }
    // The server knows the address staff should open when its
    // administrator told it (`--public-url`).
    let known = RwSignal::new(None::<String>);
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(health) = http::get::<Health>("/api/health").await {
            known.set(health.public_url);
        }
    });
    let address = move || known.get().unwrap_or_else(same_host_over_https);
    view! {
        <div class="insecure-notice" role="alert">
            <strong>{t!("insecure.title").to_string()}</strong>
            <p>{t!("insecure.why").to_string()}</p>
            <p>
                {t!("insecure.use").to_string()}" "
                <a class="secure-address" href=address>{address}</a>
            </p>
            <p>{t!("insecure.admin").to_string()}</p>
        </div>
    }
    .into_any()
}

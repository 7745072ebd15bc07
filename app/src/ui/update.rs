//! Updates of the app itself. The service worker (`app/sw.js`) downloads a
//! new version in the background and waits; the page offers "reload to
//! update", and switches only when the person chooses to, after every write
//! to the device has finished. Nothing reloads under someone typing.

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorkerContainer, ServiceWorkerRegistration, ServiceWorkerState};

use super::i18n::t;

/// How often to look for a new version while the app stays open.
const CHECK_EVERY_MS: i32 = 30 * 60 * 1000;

fn container() -> Option<ServiceWorkerContainer> {
    let navigator = web_sys::window()?.navigator();
    // Browsers without service workers (or pages not served securely) run
    // the app online only.
    let has = js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false);
    has.then(|| navigator.service_worker())
}

/// Registers the service worker; the signal turns true when a new version
/// is ready.
pub fn start() -> RwSignal<bool> {
    let ready = RwSignal::new(false);
    let Some(container) = container() else {
        return ready;
    };
    let registering = container.register("/sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        match JsFuture::from(registering).await {
            Ok(reg) => watch(reg.unchecked_into(), ready),
            Err(e) => leptos::logging::warn!("the service worker did not register: {e:?}"),
        }
    });
    ready
}

/// A new version only matters to a page that an older one controls.
fn controlled() -> bool {
    container().is_some_and(|c| c.controller().is_some())
}

fn watch(reg: ServiceWorkerRegistration, ready: RwSignal<bool>) {
    if reg.waiting().is_some() && controlled() {
        ready.set(true);
    }
    let found = {
        let reg = reg.clone();
        Closure::<dyn FnMut()>::new(move || {
            let Some(worker) = reg.installing() else {
                return;
            };
            let w = worker.clone();
            let changed = Closure::<dyn FnMut()>::new(move || {
                if w.state() == ServiceWorkerState::Installed && controlled() {
                    ready.set(true);
                }
            });
            worker.set_onstatechange(Some(changed.as_ref().unchecked_ref()));
            changed.forget();
        })
    };
    reg.set_onupdatefound(Some(found.as_ref().unchecked_ref()));
    found.forget();

    let check = Closure::<dyn FnMut()>::new(move || {
        let _ = reg.update();
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
            check.as_ref().unchecked_ref(),
            CHECK_EVERY_MS,
        );
        let _ = window.add_event_listener_with_callback("online", check.as_ref().unchecked_ref());
    }
    check.forget();
}

/// Hands over to the waiting version once the device has every change; the
/// page reloads when the new version has taken over.
fn switch() {
    let writing = super::repo::try_repo().is_some_and(|r| r.status.get_untracked().writing);
    if writing {
        let again = Closure::once_into_js(switch);
        if let Some(w) = web_sys::window() {
            let _ =
                w.set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), 200);
        }
        return;
    }
    let Some(container) = container() else {
        return;
    };
    let reload = Closure::once_into_js(|| {
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    });
    container.set_oncontrollerchange(Some(reload.unchecked_ref()));
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(reg) = JsFuture::from(container.get_registration()).await else {
            return;
        };
        let reg: ServiceWorkerRegistration = reg.unchecked_into();
        if let Some(waiting) = reg.waiting() {
            let _ = waiting.post_message(&"skip-waiting".into());
        }
    });
}

/// The offer to reload, shown once a new version is ready.
#[component]
pub fn UpdateBanner(ready: RwSignal<bool>) -> impl IntoView {
    move || {
        ready.get().then(|| {
            view! {
                <div class="update-ready" role="status">
                    <span>{t!("update.ready").to_string()}</span>
                    <button type="button" class="reload-to-update" on:click=move |_| switch()>
                        {t!("update.reload").to_string()}
                    </button>
                </div>
            }
        })
    }
}

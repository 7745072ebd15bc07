//! Signing out, and with it the choice to remove one's data from a shared
//! device.
//!
//! Removal is offered only when the device's own count says that every
//! change is on the server: the same count as the status bar's, over every
//! document on the device, known for each of them. A user with changes only
//! here is told how many; they stay and are sent at the next sign-in.

use leptos::prelude::*;

use super::i18n::t;
use super::repo::{self, Status};
use super::{device, session};

/// Whether the device may forget this user's data: nothing is only here,
/// and nothing is still being written or counted.
fn may_remove(status: &Status) -> bool {
    status.device_only() == 0
        && !status.writing
        && !status.checking
        && status.storage_error.is_none()
}

/// The header's sign-out button and the panel it opens.
#[component]
pub fn SignOut(user: i64) -> impl IntoView {
    let open = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // Before the workspace has opened nothing is counted, so nothing may
    // be removed.
    let status = move || repo::try_repo().map(|r| r.status.get());
    let finish = move |remove: bool| {
        busy.set(true);
        error.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            session::sign_out().await;
            // Looked at again: something may have been typed meanwhile.
            let still = repo::try_repo().is_some_and(|r| may_remove(&r.status.get_untracked()));
            if remove && !still {
                error.set(Some(t!("sign_out.changed_meanwhile").to_string()));
                busy.set(false);
                return;
            }
            if remove {
                if let Err(e) = device::remove(user).await {
                    // Signed out all the same; the data stays until removed.
                    error.set(Some(
                        t!("sign_out.remove_failed", error = e.to_string()).to_string(),
                    ));
                    busy.set(false);
                    return;
                }
            }
            // A fresh page at the start: nothing of this user's stays in
            // memory, and the next one does not land on their last screen.
            if let Some(w) = web_sys::window() {
                let _ = w.location().replace("/");
            }
        });
    };
    view! {
        <button type="button" class="sign-out" aria-haspopup="dialog"
            on:click=move |_| open.update(|o| *o = !*o)>
            {t!("app.sign_out").to_string()}
        </button>
        {move || open.get().then(|| {
            let s = status();
            let unsynced = s.as_ref().map_or(0, Status::device_only);
            let removable = s.as_ref().is_some_and(may_remove);
            view! {
            <div class="sign-out-panel" role="dialog" aria-labelledby="sign-out-title">
                <h2 id="sign-out-title">{t!("sign_out.title").to_string()}</h2>
                {if unsynced > 0 {
                    view! { <p class="sign-out-unsynced" role="alert">{t!("sign_out.unsynced", n = unsynced).to_string()}</p> }.into_any()
                } else if removable {
                    view! { <p>{t!("sign_out.all_on_server").to_string()}</p> }.into_any()
                } else {
                    view! { <p>{t!("sign_out.not_counted").to_string()}</p> }.into_any()
                }}
                <div class="sign-out-actions">
                    <button type="button" class="sign-out-keep" disabled=move || busy.get()
                        on:click=move |_| finish(false)>
                        {if unsynced > 0 { t!("sign_out.keep_and_sign_out") } else { t!("app.sign_out") }.to_string()}
                    </button>
                    {removable.then(|| view! {
                        <button type="button" class="sign-out-remove" disabled=move || busy.get()
                            on:click=move |_| finish(true)>
                            {t!("sign_out.remove").to_string()}
                        </button>
                    })}
                    <button type="button" class="sign-out-cancel" on:click=move |_| open.set(false)>
                        {t!("sign_out.cancel").to_string()}
                    </button>
                </div>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </div>
            }
        })}
    }
}

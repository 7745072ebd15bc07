use leptos::prelude::*;

use super::format::clock;
use super::i18n::t;
use super::repo::repo;

/// Always on screen: whether the user's changes are only on this device.
#[component]
pub fn StatusBar() -> impl IntoView {
    let status = repo().status;
    let text = move || {
        let s = status.get();
        let main = if !s.connected {
            if s.device_only() > 0 {
                t!("sync.offline_unsynced", n = s.device_only()).to_string()
            } else if s.checking {
                t!("sync.offline_checking").to_string()
            } else if s.writing {
                t!("sync.offline_writing").to_string()
            } else {
                t!("sync.offline_saved").to_string()
            }
        } else if !s.all_saved() {
            t!("sync.syncing").to_string()
        } else {
            t!("sync.saved").to_string()
        };
        let when = s
            .last_sync_ms
            .map(|ms| format!(" · {}", t!("sync.synced_at", time = clock(ms))))
            .unwrap_or_default();
        format!("{main}{when}")
    };
    let state = move || {
        let s = status.get();
        if !s.connected {
            "offline"
        } else if !s.all_saved() {
            "syncing"
        } else {
            "saved"
        }
    };
    view! {
        <div class="sync-status" data-state=state data-unsynced=move || status.get().device_only().to_string()
            data-writing=move || (status.get().writing || status.get().checking).to_string()
            role="status" aria-live="polite">
            <span class="sync-text">{text}</span>
            {move || status.get().storage_error.map(|e| view! {
                <span class="sync-error" role="alert">{format!(" {}", t!("sync.storage_error", error = e))}</span>
            })}
        </div>
    }
}

/// Whether one document has changes that are only on this device.
#[component]
pub fn DocBadge(unsynced: RwSignal<usize>) -> impl IntoView {
    move || match unsynced.get() {
        0 => view! { <p class="doc-badge" data-unsynced="0">{t!("doc.all_saved").to_string()}</p> }
            .into_any(),
        n => view! {
            <p class="doc-badge pending" data-unsynced=n.to_string()>
                {t!("doc.unsynced", n = n).to_string()}
            </p>
        }
        .into_any(),
    }
}

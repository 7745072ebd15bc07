use leptos::prelude::*;

use super::repo::repo;
use crate::calendar::VIETNAM_OFFSET_MS;

/// Always on screen: whether the user's changes are only on this device.
#[component]
pub fn StatusBar() -> impl IntoView {
    let status = repo().status;
    let text = move || {
        let s = status.get();
        let main = if !s.connected {
            if s.unsynced == 0 {
                "Ngoại tuyến — mọi thay đổi đã lưu trên máy chủ".to_string()
            } else {
                format!(
                    "Ngoại tuyến — {} thay đổi chỉ có trên thiết bị này",
                    s.unsynced
                )
            }
        } else if s.unsynced > 0 || s.writing {
            "Đang đồng bộ…".to_string()
        } else {
            "Mọi thay đổi đã lưu lên máy chủ".to_string()
        };
        let when = s
            .last_sync_ms
            .map(|ms| format!(" · đồng bộ lúc {}", clock(ms)))
            .unwrap_or_default();
        format!("{main}{when}")
    };
    let state = move || {
        let s = status.get();
        if !s.connected {
            "offline"
        } else if s.unsynced > 0 || s.writing {
            "syncing"
        } else {
            "saved"
        }
    };
    view! {
        <div class="sync-status" data-state=state role="status" aria-live="polite">
            <span class="sync-text">{text}</span>
            {move || status.get().storage_error.map(|e| view! {
                <span class="sync-error" role="alert">" Không lưu được trên thiết bị: " {e}</span>
            })}
        </div>
    }
}

/// HH:MM in Vietnam time.
pub fn clock(ms: f64) -> String {
    let minutes = ((ms as i64 + VIETNAM_OFFSET_MS) / 60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

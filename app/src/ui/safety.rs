//! The data-safety panel: what is only on this device, when it last synced,
//! whether the browser may evict the data, and how much room it takes.

use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::format::document_label;
use super::i18n::t;
use super::repo::repo;

/// Asks the browser to keep this site's data even when the phone runs short
/// of space. Returns whether storage is persistent.
pub async fn request_persistence() -> Option<bool> {
    let storage = web_sys::window()?.navigator().storage();
    let answer = JsFuture::from(storage.persist().ok()?).await.ok()?;
    answer.as_bool()
}

async fn persisted() -> Option<bool> {
    let storage = web_sys::window()?.navigator().storage();
    JsFuture::from(storage.persisted().ok()?)
        .await
        .ok()?
        .as_bool()
}

/// (used, quota) in bytes.
async fn estimate() -> Option<(f64, f64)> {
    let storage = web_sys::window()?.navigator().storage();
    let e = JsFuture::from(storage.estimate().ok()?).await.ok()?;
    let get = |k: &str| js_sys::Reflect::get(&e, &k.into()).ok()?.as_f64();
    Some((get("usage")?, get("quota")?))
}

fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1_000_000.0)
}

#[component]
pub fn SafetyPanel() -> impl IntoView {
    let status = repo().status;
    let refresh = RwSignal::new(0u32);
    let facts = LocalResource::new(move || {
        refresh.track();
        async { (persisted().await, estimate().await) }
    });
    let ask = move |_| {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = request_persistence().await;
            refresh.update(|n| *n += 1);
        });
    };
    view! {
        <details class="data-safety" on:toggle=move |_| refresh.update(|n| *n += 1)>
            <summary>{t!("safety.title").to_string()}</summary>
            <dl>
                <dt>{t!("safety.unsynced").to_string()}</dt>
                <dd class="safety-unsynced">{move || {
                    let mut items: Vec<String> = repo()
                        .unsynced_by_document()
                        .into_iter()
                        .map(|(name, n)| format!("{}: {n}", document_label(&name)))
                        .collect();
                    let steps = status.get().pending_steps;
                    if steps > 0 {
                        items.push(t!("safety.pending_steps", n = steps).to_string());
                    }
                    if items.is_empty() {
                        t!("safety.none").to_string()
                    } else {
                        items.join("; ")
                    }
                }}</dd>
                <dt>{t!("safety.documents").to_string()}</dt>
                <dd class="safety-documents" data-loaded=move || repo().document_counts().1.to_string()>
                    {move || repo().document_counts().0.to_string()}
                </dd>
                <dt>{t!("safety.last_sync").to_string()}</dt>
                <dd>{move || status.get().last_sync_ms.map(super::format::clock).unwrap_or_else(|| t!("safety.never").to_string())}</dd>
                <dt>{t!("safety.persistent").to_string()}</dt>
                <dd class="safety-persisted">
                    {move || match facts.get().and_then(|(p, _)| p) {
                        Some(true) => view! { {t!("safety.yes").to_string()} }.into_any(),
                        Some(false) => view! {
                            {format!("{} ", t!("safety.not_yet"))}
                            <button type="button" on:click=ask>{t!("safety.ask_persistent").to_string()}</button>
                        }.into_any(),
                        None => view! { {t!("safety.unsupported").to_string()} }.into_any(),
                    }}
                </dd>
                <dt>{t!("safety.usage").to_string()}</dt>
                <dd class="safety-usage">{move || match facts.get().and_then(|(_, e)| e) {
                    Some((used, quota)) => format!("{} / {}", megabytes(used), megabytes(quota)),
                    None => t!("safety.unknown").to_string(),
                }}</dd>
            </dl>
        </details>
    }
}

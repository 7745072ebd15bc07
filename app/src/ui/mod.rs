//! The browser app.

mod plan_view;

pub use plan_view::PlanView;

use automerge::Automerge;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::schema::Plan;

/// The whole app, mounted on the page's body by `main`.
#[component]
pub fn App() -> impl IntoView {
    let plan = LocalResource::new(fetch_plan);
    view! {
        <header class="topbar">
            <h1>"Không gian làm việc PAPI"</h1>
        </header>
        <main class="content">
            <Suspense fallback=|| view! { <p class="status" role="status">"Đang tải kế hoạch…"</p> }>
                {move || plan.get().map(|loaded| match loaded {
                    Ok(plan) => view! { <PlanView plan/> }.into_any(),
                    Err(message) => view! {
                        <p class="error" role="alert">"Không tải được kế hoạch: " {message}</p>
                    }.into_any(),
                })}
            </Suspense>
        </main>
    }
}

/// Loads the plan document's bytes from the server and reads it.
async fn fetch_plan() -> Result<Plan, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_str("/api/plan"))
        .await
        .map_err(|_| "không kết nối được máy chủ".to_string())?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| "bad response")?;
    if !response.ok() {
        return Err(format!("máy chủ trả lời {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|_| "no body")?)
        .await
        .map_err(|_| "tải dữ liệu bị gián đoạn".to_string())?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    let doc = Automerge::load(&bytes).map_err(|e| e.to_string())?;
    Plan::read(&doc).map_err(|e| e.to_string())
}

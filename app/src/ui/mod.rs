//! The browser app.

mod admin;
mod http;
mod plan_view;
pub mod repo;
mod safety;
pub mod session;
mod status;
pub mod store;
mod text_field;

pub use plan_view::PlanView;

use leptos::prelude::*;

use crate::ids::DocId;
use repo::{Phase, Repo};

const PLAN_URL_KEY: &str = "papi.plan_url";

/// The whole app, mounted on the page's body by `main`.
#[component]
pub fn App() -> impl IntoView {
    let identity = RwSignal::new(session::cached());
    view! {
        <header class="topbar">
            <h1>"Không gian làm việc PAPI"</h1>
            {move || identity.get().map(|who| view! {
                <span class="who">{who.display_name}</span>
                <button class="sign-out" on:click=move |_| {
                    if !confirm_sign_out() {
                        return;
                    }
                    wasm_bindgen_futures::spawn_local(async {
                        session::sign_out().await;
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().reload();
                        }
                    });
                }>"Đăng xuất"</button>
            })}
        </header>
        {move || match identity.get() {
            None => view! {
                <main class="content">
                    <SignIn on_done=Callback::new(move |who| {
                        // A sensible moment to ask the browser to keep the data.
                        wasm_bindgen_futures::spawn_local(async {
                            let _ = safety::request_persistence().await;
                        });
                        identity.set(Some(who));
                    })/>
                </main>
            }.into_any(),
            Some(who) => view! { <Workspace identity=who/> }.into_any(),
        }}
    }
}

/// With changes only on this device, signing out needs a second thought:
/// they stay on the device, but nothing sends them until someone signs in.
fn confirm_sign_out() -> bool {
    let unsynced = repo::try_repo()
        .map(|r| r.status.get_untracked().unsynced)
        .unwrap_or(0);
    if unsynced == 0 {
        return true;
    }
    web_sys::window()
        .and_then(|w| {
            w.confirm_with_message(&format!(
                "Còn {unsynced} thay đổi chưa gửi lên máy chủ. Hãy kết nối mạng để đồng bộ trước. Vẫn đăng xuất?"
            ))
            .ok()
        })
        .unwrap_or(false)
}

/// The signed-in app: opens device storage, starts syncing, shows the plan.
#[component]
fn Workspace(identity: session::Identity) -> impl IntoView {
    let editable = plan_editable(&identity);
    let is_admin = identity.role == "admin";
    let admin_page = RwSignal::new(false);
    let started = LocalResource::new(move || {
        let identity = identity.clone();
        async move {
            let repo = Repo::start(&identity).await.map_err(|e| e.to_string())?;
            let plan = plan_id().await?;
            Ok::<_, String>((repo, plan))
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="status-line" role="status">"Đang mở…"</p> }>
            {move || started.get().map(|r| match r {
                Ok((repo, plan)) => {
                    let status = repo.status;
                    view! {
                    <status::StatusBar/>
                    <safety::SafetyPanel/>
                    {move || status.get().signed_out.then(|| view! {
                        <div class="expired" role="alert">
                            <p>"Phiên đăng nhập đã hết hạn. Các thay đổi của bạn vẫn được giữ trên thiết bị này; hãy đăng nhập lại để gửi lên máy chủ."</p>
                            <SignIn on_done=Callback::new(move |_| repo::repo().resume())/>
                        </div>
                    })}
                    {is_admin.then(|| view! {
                        <nav class="tabs">
                            <button type="button" class:active=move || !admin_page.get() on:click=move |_| admin_page.set(false)>"Kế hoạch"</button>
                            <button type="button" class:active=move || admin_page.get() on:click=move |_| admin_page.set(true)>"Quản trị"</button>
                        </nav>
                    })}
                    <main class="content">
                        <div class:hidden=move || admin_page.get()><PlanPage id=plan editable/></div>
                        {move || admin_page.get().then(|| view! { <admin::AdminPage/> })}
                    </main>
                }.into_any()
                }
                Err(message) => view! {
                    <main class="content"><p class="error" role="alert">{message}</p></main>
                }.into_any(),
            })}
        </Suspense>
    }
}

/// Whether this user may edit the plan. Only a convenience for the screen:
/// the server refuses edits from anyone else whatever the screen shows.
fn plan_editable(identity: &session::Identity) -> bool {
    use crate::access::{access, Access, Actor, DocKind, Role};
    Role::parse(&identity.role).is_some_and(|role| {
        let actor = Actor {
            role,
            unit: identity.unit.clone(),
        };
        access(&actor, &DocKind::Plan) == Access::Write
    })
}

/// The sign-in form.
#[component]
fn SignIn(on_done: Callback<session::Identity>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (u, p) = (username.get_untracked(), password.get_untracked());
        wasm_bindgen_futures::spawn_local(async move {
            match session::sign_in(&u, &p).await {
                Ok(who) => {
                    password.set(String::new());
                    on_done.run(who);
                }
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="sign-in" on:submit=submit>
            <h2>"Đăng nhập"</h2>
            <label for="username">"Tên đăng nhập"</label>
            <input id="username" name="username" autocomplete="username" required
                prop:value=username on:input=move |ev| username.set(event_target_value(&ev))/>
            <label for="password">"Mật khẩu"</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required
                prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" disabled=move || busy.get()>
                {move || if busy.get() { "Đang đăng nhập…" } else { "Đăng nhập" }}
            </button>
        </form>
    }
}

/// Lets the app open with no network (see `app/sw.js`).
pub fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    // Browsers without service workers still run the app online.
    if container.is_undefined() {
        return;
    }
    let _ = container.register("/sw.js");
}

/// The plan document: the cached id, refreshed from the server when online.
async fn plan_id() -> Result<DocId, String> {
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    let cached = storage
        .as_ref()
        .and_then(|s| s.get_item(PLAN_URL_KEY).ok().flatten())
        .and_then(|url| DocId::parse(&url).ok());
    if let Some(id) = cached {
        return Ok(id);
    }
    let url = fetch_plan_url().await.map_err(|e| {
        format!("Chưa có kế hoạch trên thiết bị này và không kết nối được máy chủ ({e}). Hãy kết nối mạng để mở lần đầu.")
    })?;
    let id = DocId::parse(&url).map_err(|e| e.to_string())?;
    if let Some(s) = storage {
        let _ = s.set_item(PLAN_URL_KEY, &id.url());
    }
    Ok(id)
}

async fn fetch_plan_url() -> Result<String, String> {
    match http::get_json("/api/plan").await? {
        (200, value) => value["url"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "câu trả lời thiếu url".to_string()),
        (status, value) => Err(http::error_text(status, &value)),
    }
}

/// The plan, live from its document.
#[component]
fn PlanPage(id: DocId, editable: bool) -> impl IntoView {
    let repo = repo::repo();
    let signals = repo.open(id);
    // The plan's outline only: measure texts are left out, so that typing in
    // a measure does not rebuild the page (the text boxes follow the document
    // themselves).
    let plan = Memo::new(move |_| {
        signals.version.track();
        repo::repo().read(id, |doc| {
            crate::schema::Plan::read(doc)
                .map(|mut plan| {
                    for m in plan
                        .dimensions
                        .iter_mut()
                        .flat_map(|d| d.measures.iter_mut())
                    {
                        m.text.clear();
                    }
                    plan
                })
                .map_err(|e| e.to_string())
        })
    });
    move || {
        match signals.phase.get() {
        Phase::Loading => view! { <p class="status-line" role="status">"Đang mở kế hoạch trên thiết bị…"</p> }.into_any(),
        Phase::Fetching => view! {
            <p class="status-line" role="status">
                "Kế hoạch chưa có trên thiết bị này. Đang chờ tải từ máy chủ — cần kết nối mạng."
            </p>
        }.into_any(),
        Phase::Unavailable => view! {
            <p class="error" role="alert">"Máy chủ không có tài liệu này, hoặc bạn không có quyền xem."</p>
        }.into_any(),
        Phase::Ready => match plan.get() {
            Some(Ok(plan)) => view! {
                <DocBadge unsynced=signals.unsynced/>
                <PlanView plan doc=id editable/>
            }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">"Tài liệu kế hoạch bị lỗi: " {e}</p> }.into_any(),
            None => view! { <p class="status-line">"…"</p> }.into_any(),
        },
    }
    }
}

/// Whether one document has changes that are only on this device.
#[component]
fn DocBadge(unsynced: RwSignal<usize>) -> impl IntoView {
    move || {
        match unsynced.get() {
        0 => view! { <p class="doc-badge" data-unsynced="0">"Tài liệu này đã lưu đủ lên máy chủ."</p> }.into_any(),
        n => view! {
            <p class="doc-badge pending" data-unsynced=n.to_string()>
                {format!("Tài liệu này có {n} thay đổi chỉ có trên thiết bị này.")}
            </p>
        }.into_any(),
    }
    }
}

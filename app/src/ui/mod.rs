//! The browser app.

mod admin;
mod dashboard;
mod http;
mod i18n;
pub mod link;
mod outbox;
mod plan_view;
mod proposals;
pub mod repo;
mod reports;
mod safety;
pub mod session;
mod status;
pub mod store;
mod text_field;
mod update;

pub use plan_view::PlanView;

use leptos::prelude::*;
use rust_i18n::t;

use crate::ids::DocId;
use repo::{Phase, Repo};

const PLAN_URL_KEY: &str = "papi.plan_url";

/// The pages of the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    Plan,
    Reports,
    Dashboard,
    Proposals,
    Admin,
}

impl Page {
    /// The pages a role has.
    fn for_role(role: &str) -> Vec<Page> {
        match role {
            "admin" => vec![Page::Plan, Page::Dashboard, Page::Admin],
            "coordinator" | "director" => {
                vec![Page::Plan, Page::Reports, Page::Dashboard, Page::Proposals]
            }
            _ => vec![Page::Plan, Page::Reports, Page::Proposals],
        }
    }

    fn key(self) -> &'static str {
        match self {
            Page::Plan => "plan",
            Page::Reports => "reports",
            Page::Dashboard => "dashboard",
            Page::Proposals => "proposals",
            Page::Admin => "admin",
        }
    }
}

/// The whole app, mounted on the page's body by `main`.
#[component]
pub fn App() -> impl IntoView {
    let identity = RwSignal::new(session::cached());
    let lang = RwSignal::new(i18n::saved());
    i18n::apply(&lang.get_untracked());
    let page = RwSignal::new(Page::Plan);
    let update_ready = update::start();
    // Everything is drawn again in a newly chosen language.
    move || {
        lang.track();
        view! {
        <header class="topbar">
            <h1>{t!("app.title").to_string()}</h1>
            <i18n::LanguagePicker lang/>
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
                }>{t!("app.sign_out").to_string()}</button>
            })}
        </header>
        <update::UpdateBanner ready=update_ready/>
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
            Some(who) => view! { <Workspace identity=who page/> }.into_any(),
        }}
        }
    }
}

/// With changes only on this device, signing out needs a second thought:
/// they stay on the device, but nothing sends them until someone signs in.
fn confirm_sign_out() -> bool {
    let unsynced = repo::try_repo()
        .map(|r| r.status.get_untracked().device_only())
        .unwrap_or(0);
    if unsynced == 0 {
        return true;
    }
    web_sys::window()
        .and_then(|w| {
            w.confirm_with_message(&t!("app.confirm_sign_out", n = unsynced))
                .ok()
        })
        .unwrap_or(false)
}

/// The signed-in app: opens device storage, starts syncing, shows the pages.
#[component]
fn Workspace(identity: session::Identity, page: RwSignal<Page>) -> impl IntoView {
    let editable = plan_editable(&identity);
    let pages = Page::for_role(&identity.role);
    let who = StoredValue::new(identity.clone());
    let started = LocalResource::new(move || {
        let identity = identity.clone();
        async move {
            let repo = Repo::start(&identity).await.map_err(|e| e.to_string())?;
            let plan = plan_id().await?;
            Ok::<_, String>((repo, plan))
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="status-line" role="status">{t!("app.opening").to_string()}</p> }>
            {move || started.get().map(|r| match r {
                Ok((repo, plan)) => {
                    let status = repo.status;
                    outbox::Outbox::start();
                    let pages = pages.clone();
                    view! {
                    <status::StatusBar/>
                    <safety::SafetyPanel/>
                    {move || status.get().signed_out.then(|| view! {
                        <div class="expired" role="alert">
                            <p>{t!("app.session_expired").to_string()}</p>
                            <SignIn on_done=Callback::new(move |_| repo::repo().resume())/>
                        </div>
                    })}
                    <nav class="tabs">
                        {pages.into_iter().map(|p| view! {
                            <button type="button" data-page=p.key() class:active=move || page.get() == p
                                on:click=move |_| page.set(p)>
                                {t!(format!("page.{}", p.key())).to_string()}
                            </button>
                        }).collect_view()}
                    </nav>
                    <main class="content">
                        // The plan stays drawn while hidden, so that its text
                        // boxes keep their place and caret.
                        <div class:hidden=move || page.get() != Page::Plan><PlanPage id=plan editable/></div>
                        {move || match page.get() {
                            Page::Plan => ().into_any(),
                            Page::Reports => view! { <reports::ReportsPage identity=who.get_value() plan/> }.into_any(),
                            Page::Dashboard => view! { <dashboard::DashboardPage identity=who.get_value() plan/> }.into_any(),
                            Page::Proposals => view! { <proposals::ProposalsPage identity=who.get_value() plan/> }.into_any(),
                            Page::Admin => view! { <admin::AdminPage/> }.into_any(),
                        }}
                    </main>
                }.into_any()
                }
                Err(message) => view! {
                    <main class="content">
                        <p class="error" role="alert">{message}</p>
                        <button type="button" class="retry" on:click=move |_| started.refetch()>
                            {t!("app.retry").to_string()}
                        </button>
                    </main>
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
            <h2>{t!("sign_in.title").to_string()}</h2>
            <label for="username">{t!("sign_in.username").to_string()}</label>
            <input id="username" name="username" autocomplete="username" required
                prop:value=username on:input=move |ev| username.set(event_target_value(&ev))/>
            <label for="password">{t!("sign_in.password").to_string()}</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required
                prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" disabled=move || busy.get()>
                {move || if busy.get() { t!("sign_in.busy").to_string() } else { t!("sign_in.submit").to_string() }}
            </button>
        </form>
    }
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
    let url = fetch_plan_url()
        .await
        .map_err(|e| t!("plan.first_open_offline", error = e).to_string())?;
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
            .ok_or_else(|| t!("app.answer_without_url").to_string()),
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
    move || match signals.phase.get() {
        Phase::Loading => {
            view! { <p class="status-line" role="status">{t!("plan.loading").to_string()}</p> }
                .into_any()
        }
        Phase::Fetching => view! {
            <p class="status-line" role="status">{t!("plan.fetching").to_string()}</p>
        }
        .into_any(),
        Phase::Unavailable => view! {
            <p class="error" role="alert">{t!("doc.unavailable").to_string()}</p>
        }
        .into_any(),
        Phase::Ready => match plan.get() {
            Some(Ok(plan)) => view! {
                <DocBadge unsynced=signals.unsynced/>
                <PlanView plan doc=id editable/>
            }
            .into_any(),
            Some(Err(e)) => {
                view! { <p class="error" role="alert">{t!("plan.broken").to_string()} " " {e}</p> }
                    .into_any()
            }
            None => view! { <p class="status-line">"…"</p> }.into_any(),
        },
    }
}

/// Whether one document has changes that are only on this device.
#[component]
pub(crate) fn DocBadge(unsynced: RwSignal<usize>) -> impl IntoView {
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

//! The frame of the app: the header, sign-in or the signed-in workspace
//! with its pages, and the sync status.

use leptos::prelude::*;
use leptos_router::components::{Route as Screen, Router, Routes};
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::path;
use leptos_router::NavigateOptions;

use super::i18n::t;
use super::plan_page::PlanPage;
use super::repo::{self, Repo};
use super::sign_in::{ChoosePassword, SignIn};
use super::sign_out::SignOut;
use super::{
    admin, dashboard, early, http, i18n, insecure, outbox, proposals, reports, safety, scroll,
    session, settings, status, update,
};
use crate::access::{access, Access, Capability, DocKind, Role};
use crate::api::PlanLocation;
use crate::ids::DocId;
use crate::route::Route;

const PLAN_URL_KEY: &str = "plan_url";

/// Moves to a screen. With `true` in place: the history keeps its length
/// and the page its scroll (a dimension opened on the plan).
pub type Go = Callback<(Route, bool)>;

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
    fn for_role(role: Role) -> Vec<Page> {
        let pages = [
            (Page::Reports, Capability::SeeReports),
            (Page::Dashboard, Capability::SeeDashboard),
            (Page::Proposals, Capability::FollowProposals),
            (Page::Admin, Capability::Administer),
        ];
        std::iter::once(Page::Plan)
            .chain(
                pages
                    .into_iter()
                    .filter(|(_, c)| role.may(*c))
                    .map(|(p, _)| p),
            )
            .collect()
    }

    /// The page a screen belongs to; None for an address that is no screen.
    fn of(route: &Route) -> Option<Page> {
        Some(match route {
            Route::Plan { .. } => Page::Plan,
            Route::Reports | Route::Report { .. } | Route::Consolidated { .. } => Page::Reports,
            Route::Dashboard => Page::Dashboard,
            Route::Proposals => Page::Proposals,
            Route::Admin => Page::Admin,
            Route::Unknown => return None,
        })
    }

    /// Where its tab leads.
    fn home(self) -> Route {
        match self {
            Page::Plan => Route::Plan { dimension: None },
            Page::Reports => Route::Reports,
            Page::Dashboard => Route::Dashboard,
            Page::Proposals => Route::Proposals,
            Page::Admin => Route::Admin,
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
    early::take_over();
    scroll::keep_and_restore();
    let identity = RwSignal::new(session::cached());
    let lang = RwSignal::new(i18n::saved());
    i18n::apply(&lang.get_untracked());
    let update_ready = update::start();
    // Everything is drawn again in a newly chosen language.
    view! { <Router>{move || {
        lang.track();
        view! {
        <header class="topbar">
            <h1>{t!("app.title").to_string()}</h1>
            {move || match identity.get() {
                None => view! { <i18n::LanguagePicker lang/> }.into_any(),
                Some(who) => view! { <AccountMenu who lang/> }.into_any(),
            }}
        </header>
        <insecure::InsecureNotice/>
        <update::UpdateBanner ready=update_ready/>
        // The workspace draws its screens from the address (`Route::parse`),
        // keeping the plan drawn under the others so that its text boxes
        // keep their caret. The router's one route draws nothing: it
        // completes each move, so that the address bar and the history
        // follow.
        <Routes fallback=|| ()>
            <Screen path=path!("/*screen") view=|| ()/>
        </Routes>
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
            Some(who) if who.must_change_password => view! {
                <main class="content">
                    <ChoosePassword on_done=Callback::new(move |who| identity.set(Some(who)))/>
                </main>
            }.into_any(),
            Some(who) => view! { <Workspace identity=who/> }.into_any(),
        }}
        }
    }}</Router> }
}

/// Who is signed in, the language and signing out. On a phone the header
/// is one line, the title and the user's name: a shared phone shows whose
/// workspace it is, and the name opens the rest.
#[component]
fn AccountMenu(who: session::Identity, lang: RwSignal<String>) -> impl IntoView {
    let open = RwSignal::new(false);
    let toggle = NodeRef::<leptos::html::Button>::new();
    let close_on_escape = move |ev: web_sys::KeyboardEvent| {
        if ev.key() == "Escape" && open.get_untracked() {
            open.set(false);
            if let Some(button) = toggle.get_untracked() {
                let _ = button.focus();
            }
        }
    };
    view! {
        <button type="button" class="menu-toggle" node_ref=toggle aria-controls="account-menu"
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)>
            <span class="menu-name">{who.display_name.clone()}</span>
            <span aria-hidden="true">" ▾"</span>
        </button>
        <div id="account-menu" class="account-menu" class:open=move || open.get() on:keydown=close_on_escape>
            <span class="who">{who.display_name}</span>
            <i18n::LanguagePicker lang/>
            <SignOut user=who.id/>
        </div>
    }
}

/// The signed-in app: opens device storage, starts syncing, shows the pages.
#[component]
fn Workspace(identity: session::Identity) -> impl IntoView {
    // The address is the screen: the back button, a reload and a copied
    // link all lead to it.
    let location = use_location();
    let route = Memo::new(move |_| Route::parse(&location.pathname.get()));
    let page = Memo::new(move |_| Page::of(&route.get()));
    // Contexts are not found from every view under the suspense below, so
    // the pages are handed the way to move on.
    let navigate = use_navigate();
    let go = Go::new(move |(to, in_place): (Route, bool)| {
        let options = NavigateOptions {
            replace: in_place,
            scroll: !in_place,
            ..Default::default()
        };
        navigate(&to.path(), options);
    });
    let dimension = Memo::new(move |_| match route.get() {
        Route::Plan { dimension } => dimension,
        _ => None,
    });
    let editable = plan_editable(&identity);
    let administrator = identity.role.may(Capability::Administer);
    let pages = Page::for_role(identity.role);
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
        <Suspense fallback=|| view! { <Opening/> }>
            {move || started.get().map(|r| match r {
                Ok((repo, plan)) => {
                    let status = repo.status;
                    // The form below is drawn again only when this changes,
                    // not on every change of the status: a form drawn again
                    // while its sign-in is under way loses it.
                    let signed_out = Memo::new(move |_| status.get().signed_out);
                    outbox::Outbox::start();
                    let pages = pages.clone();
                    let tabs = pages.clone();
                    view! {
                    <status::StatusBar/>
                    <safety::SafetyPanel/>
                    {move || signed_out.get().then(|| view! {
                        <div class="expired" role="alert">
                            <p>{t!("app.session_expired").to_string()}</p>
                            <SignIn on_done=Callback::new(move |again: session::Identity| {
                                if again.id == who.get_value().id {
                                    // Not from inside the form's own handler:
                                    // resuming takes the form away.
                                    wasm_bindgen_futures::spawn_local(async {
                                        repo::repo().resume();
                                    });
                                } else if let Some(w) = web_sys::window() {
                                    // Another user: their own workspace, and
                                    // nothing of this one's.
                                    let _ = w.location().reload();
                                }
                            })/>
                        </div>
                    })}
                    <nav class="tabs">
                        {tabs.iter().map(|&p| view! {
                            <a href=p.home().path() data-page=p.key() class:active=move || page.get() == Some(p)
                                aria-current=move || (page.get() == Some(p)).then_some("page")>
                                {t!(format!("page.{}", p.key())).to_string()}
                            </a>
                        }).collect_view()}
                    </nav>
                    <main class="content">
                        // The plan stays drawn while hidden, so that its text
                        // boxes keep their place and caret.
                        <div class:hidden=move || page.get() != Some(Page::Plan)><PlanPage id=plan editable administrator dimension go/></div>
                        {move || match page.get().filter(|p| pages.contains(p)) {
                            Some(Page::Plan) => ().into_any(),
                            Some(Page::Reports) => view! { <reports::ReportsPage identity=who.get_value() plan route go/> }.into_any(),
                            Some(Page::Dashboard) => view! { <dashboard::DashboardPage identity=who.get_value() plan/> }.into_any(),
                            Some(Page::Proposals) => view! { <proposals::ProposalsPage identity=who.get_value() plan/> }.into_any(),
                            Some(Page::Admin) => view! { <admin::AdminPage/> }.into_any(),
                            // No such screen, or not one of this user's: the
                            // same words either way, so a link tells nothing.
                            None => view! { <NotFound/> }.into_any(),
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

/// After this long, the opening screen offers to load the page again, in
/// milliseconds. Opening reads the device and, the first time, asks the
/// server (which fails with a message after `http`'s own time-out); should
/// anything else never finish, the person is not left waiting without a way
/// on.
const SLOW_OPEN_MS: u64 = 10_000;

/// "Opening…", and after a while a way to load the page again.
#[component]
fn Opening() -> impl IntoView {
    let slow = RwSignal::new(false);
    let timer = set_timeout_with_handle(
        move || slow.set(true),
        std::time::Duration::from_millis(SLOW_OPEN_MS),
    )
    .ok();
    on_cleanup(move || {
        if let Some(timer) = timer {
            timer.clear();
        }
    });
    let reload = |_| {
        if let Some(w) = web_sys::window() {
            let _ = w.location().reload();
        }
    };
    view! {
        <p class="status-line" role="status">{t!("app.opening").to_string()}</p>
        {move || slow.get().then(|| view! {
            <p class="slow-open">
                {t!("app.slow_open").to_string()}" "
                <button type="button" class="reload" on:click=reload>{t!("app.reload").to_string()}</button>
            </p>
        })}
    }
}

/// What a link to no screen, or to one this user may not see, shows.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="not-found" role="alert">
            <h2>{t!("route.not_found_title").to_string()}</h2>
            <p>{t!("route.not_found").to_string()}</p>
            <a href="/plan">{t!("route.to_plan").to_string()}</a>
        </section>
    }
}

/// Whether this user may edit the plan. Only a convenience for the screen:
/// the server refuses edits from anyone else whatever the screen shows.
fn plan_editable(identity: &session::Identity) -> bool {
    access(&identity.actor(), &DocKind::Plan) == Access::Write
}

/// The plan document: the cached id, refreshed from the server when online.
async fn plan_id() -> Result<DocId, String> {
    if let Some(id) = settings::get_text(PLAN_URL_KEY).and_then(|url| DocId::parse(&url).ok()) {
        return Ok(id);
    }
    let location = http::get::<PlanLocation>("/api/plan")
        .await
        .map_err(|e| t!("plan.first_open_offline", error = String::from(e)).to_string())?;
    let id = DocId::parse(&location.url).map_err(|e| e.to_string())?;
    // Without it the plan cannot be found offline; the next open asks again.
    let _ = settings::set(PLAN_URL_KEY, &id.url());
    Ok(id)
}

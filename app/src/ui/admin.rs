//! The admin page: users and units. The server checks that the caller is an
//! admin on every request; this page only makes the work easy.

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::controls::{Choice, TextInput};
use super::format::{role_label, unit_kind_label};
use super::http::{get, post, Failure};
use super::i18n::t;
use crate::access::Role;
use crate::api::{Done, IssuedPassword, NewUser, Unit, UnitKind, UserEntry};

#[derive(Clone, Default)]
struct Directory {
    units: Vec<Unit>,
    users: Vec<UserEntry>,
}

async fn load() -> Result<Directory, Failure> {
    Ok(Directory {
        units: get("/api/admin/units").await?,
        users: get("/api/admin/users").await?,
    })
}

/// What the page says after a request, and the version of the lists that
/// a successful request bumps.
#[derive(Clone, Copy)]
struct Feedback {
    notice: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    version: RwSignal<u32>,
}

impl Feedback {
    /// Posts `body` to `path`; on success shows `done(answer)` and reloads
    /// the lists.
    fn post<B, T>(self, path: String, body: B, done: impl FnOnce(T) -> String + 'static)
    where
        B: Serialize + 'static,
        T: DeserializeOwned + 'static,
    {
        self.error.set(None);
        self.notice.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            match post::<T>(&path, &body).await {
                Ok(answer) => {
                    self.notice.set(Some(done(answer)));
                    self.version.update(|v| *v += 1);
                }
                Err(e) => self.error.set(Some(e.into())),
            }
        });
    }
}

fn issued(key: &'static str) -> impl FnOnce(IssuedPassword) -> String {
    move |a| t!(key, username = a.username, password = a.password).to_string()
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let feedback = Feedback {
        notice: RwSignal::new(None),
        error: RwSignal::new(None),
        version: RwSignal::new(0),
    };
    let directory = LocalResource::new(move || {
        feedback.version.track();
        async { load().await.map_err(String::from) }
    });
    let Feedback { notice, error, .. } = feedback;

    let (username, name, unit, role) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(Role::Staff),
    );
    let add_user = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewUser {
            username: username.get_untracked().trim().to_string(),
            display_name: name.get_untracked(),
            unit: unit.get_untracked(),
            role: role.get_untracked(),
        };
        feedback.post("/api/admin/users".into(), new, issued("admin.user_added"));
    };

    let (unit_id, unit_name, unit_kind, unit_parent) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(UnitKind::Division),
        RwSignal::new(String::new()),
    );
    let add_unit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parent = unit_parent.get_untracked();
        let new = Unit {
            id: unit_id.get_untracked().trim().to_string(),
            name: unit_name.get_untracked(),
            kind: unit_kind.get_untracked(),
            parent: (!parent.is_empty()).then_some(parent),
        };
        feedback.post("/api/admin/units".into(), new, |_: Done| {
            t!("admin.unit_added").to_string()
        });
    };

    let unit_options = move |with_none: bool| {
        directory.get().and_then(|d| d.ok()).map(|d| {
            let none = with_none.then(|| view! { <option value="">{t!("admin.top_level").to_string()}</option> });
            view! {
                {none}
                {d.units.iter().map(|u| view! { <option value=u.id.clone()>{u.name.clone()}</option> }).collect_view()}
            }
        })
    };

    let reload = Callback::new(move |()| feedback.version.update(|v| *v += 1));
    view! {
        <section class="admin">
            <h2>{t!("admin.title").to_string()}</h2>
            <super::imports::PlanFile on_imported=reload/>
            <super::imports::StaffFile on_imported=reload/>
            {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Suspense fallback=|| view! { <p class="status-line">{t!("admin.loading").to_string()}</p> }>
                {move || directory.get().map(|d| match d {
                    Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Ok(d) => view! {
                        <h3>{t!("admin.users").to_string()}</h3>
                        <ul class="cards users">
                            {d.users.into_iter().map(|u| {
                                let path = format!("/api/admin/users/{}/password", u.username);
                                view! {
                                    <li class="card" data-username=u.username.clone()>
                                        <strong>{u.username.clone()}</strong> " — " {u.display_name.clone()}
                                        <br/>{role_label(u.role)} " · " {u.unit.clone()}
                                        <br/><button type="button" on:click=move |_| {
                                            feedback.post(path.clone(), (), issued("admin.password_reset"))
                                        }>
                                            {t!("admin.reset_password").to_string()}
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        <h3>{t!("admin.units").to_string()}</h3>
                        <ul class="cards units">
                            {d.units.into_iter().map(|u| view! {
                                <li class="card">
                                    <strong>{u.name.clone()}</strong>
                                    <br/>{u.id.clone()} {u.parent.map(|p| format!(" · {}", t!("admin.part_of", parent = p)))}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Suspense>

            <form class="admin-form add-user" on:submit=add_user>
                <h3>{t!("admin.add_user").to_string()}</h3>
                <TextInput id="new-username" label=t!("admin.username").to_string() value=username/>
                <TextInput id="new-name" label=t!("admin.full_name").to_string() value=name/>
                <label for="new-unit">{t!("admin.unit").to_string()}</label>
                <select id="new-unit" required on:change=move |ev| unit.set(event_target_value(&ev))>
                    <option value="">{t!("admin.choose_unit").to_string()}</option>
                    {move || unit_options(false)}
                </select>
                <Choice id="new-role" label=t!("admin.role").to_string() value=role
                    choices=Role::ALL.into_iter().map(|r| (r, r.key(), role_label(r))).collect()/>
                <button type="submit">{t!("admin.add_user").to_string()}</button>
            </form>

            <form class="admin-form add-unit" on:submit=add_unit>
                <h3>{t!("admin.add_unit").to_string()}</h3>
                <TextInput id="unit-id" label=t!("admin.unit_id").to_string() value=unit_id/>
                <TextInput id="unit-name" label=t!("admin.unit_name").to_string() value=unit_name/>
                <Choice id="unit-kind" label=t!("admin.unit_kind").to_string() value=unit_kind
                    choices=UnitKind::ALL.into_iter()
                        // The agency is the top of the tree, one only.
                        .filter(|k| *k != UnitKind::Agency)
                        .map(|k| (k, k.key(), unit_kind_label(k))).collect()/>
                <label for="unit-parent">{t!("admin.parent").to_string()}</label>
                <select id="unit-parent" on:change=move |ev| unit_parent.set(event_target_value(&ev))>
                    {move || unit_options(true)}
                </select>
                <button type="submit">{t!("admin.add_unit").to_string()}</button>
            </form>
        </section>
    }
}

//! The admin page: users and units. The server checks that the caller is an
//! admin on every request; this page only makes the work easy.

use leptos::prelude::*;
use rust_i18n::t;
use serde_json::{json, Value};

use super::http::{error_text, get_json, post_json, text};

/// Roles, named by `role.<key>` in the catalogue.
const ROLES: [&str; 6] = [
    "admin",
    "director",
    "coordinator",
    "unit_lead",
    "staff",
    "viewer",
];

/// Kinds of unit, named by `unit_kind.<key>` in the catalogue.
const UNIT_KINDS: [&str; 8] = [
    "division",
    "office",
    "inspectorate",
    "board",
    "agency",
    "province",
    "district",
    "commune",
];

fn role_label(key: &str) -> String {
    if ROLES.contains(&key) {
        t!(format!("role.{key}")).to_string()
    } else {
        key.to_string()
    }
}

fn unit_kind_label(key: &str) -> String {
    t!(format!("unit_kind.{key}")).to_string()
}

#[derive(Clone, Default)]
struct Directory {
    units: Vec<Value>,
    users: Vec<Value>,
}

async fn load() -> Result<Directory, String> {
    let (s1, units) = get_json("/api/admin/units").await?;
    if s1 != 200 {
        return Err(error_text(s1, &units));
    }
    let (s2, users) = get_json("/api/admin/users").await?;
    if s2 != 200 {
        return Err(error_text(s2, &users));
    }
    Ok(Directory {
        units: units.as_array().cloned().unwrap_or_default(),
        users: users.as_array().cloned().unwrap_or_default(),
    })
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let directory = LocalResource::new(move || {
        version.track();
        load()
    });
    let notice = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);

    // Runs a request; on success shows `done(answer)` and reloads the lists.
    let act = move |path: String, body: Value, done: fn(&Value) -> String| {
        error.set(None);
        notice.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            match post_json(&path, &body).await {
                Ok((200, answer)) => {
                    notice.set(Some(done(&answer)));
                    version.update(|v| *v += 1);
                }
                Ok((status, answer)) => error.set(Some(error_text(status, &answer))),
                Err(e) => error.set(Some(e)),
            }
        });
    };

    let (username, name, unit, role) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("staff".to_string()),
    );
    let add_user = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        act(
            "/api/admin/users".into(),
            json!({
                "username": username.get_untracked().trim(),
                "display_name": name.get_untracked(),
                "unit": unit.get_untracked(),
                "role": role.get_untracked(),
            }),
            |a| {
                t!(
                    "admin.user_added",
                    username = text(a, "username"),
                    password = text(a, "password")
                )
                .to_string()
            },
        );
    };

    let (unit_id, unit_name, unit_kind, unit_parent) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new("division".to_string()),
        RwSignal::new(String::new()),
    );
    let add_unit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parent = unit_parent.get_untracked();
        act(
            "/api/admin/units".into(),
            json!({
                "id": unit_id.get_untracked().trim(),
                "name": unit_name.get_untracked(),
                "kind": unit_kind.get_untracked(),
                "parent": if parent.is_empty() { Value::Null } else { Value::String(parent) },
            }),
            |_| t!("admin.unit_added").to_string(),
        );
    };

    let unit_options = move |with_none: bool| {
        directory.get().and_then(|d| d.ok()).map(|d| {
            let none = with_none.then(|| view! { <option value="">{t!("admin.top_level").to_string()}</option> });
            view! {
                {none}
                {d.units.iter().map(|u| view! { <option value=text(u, "id")>{text(u, "name")}</option> }).collect_view()}
            }
        })
    };

    view! {
        <section class="admin">
            <h2>{t!("admin.title").to_string()}</h2>
            {move || notice.get().map(|n| view! { <p class="notice" role="status">{n}</p> })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Suspense fallback=|| view! { <p class="status-line">{t!("admin.loading").to_string()}</p> }>
                {move || directory.get().map(|d| match d {
                    Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Ok(d) => view! {
                        <h3>{t!("admin.users").to_string()}</h3>
                        <ul class="cards users">
                            {d.users.into_iter().map(|u| {
                                let who = text(&u, "username");
                                let path = format!("/api/admin/users/{who}/password");
                                view! {
                                    <li class="card" data-username=who.clone()>
                                        <strong>{who.clone()}</strong> " — " {text(&u, "display_name")}
                                        <br/>{role_label(&text(&u, "role"))} " · " {text(&u, "unit")}
                                        <br/><button type="button" on:click=move |_| act(path.clone(), json!({}),
                                            |a| t!("admin.password_reset", username = text(a, "username"), password = text(a, "password")).to_string())>
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
                                    <strong>{text(&u, "name")}</strong>
                                    <br/>{text(&u, "id")} {u["parent"].as_str().map(|p| format!(" · {}", t!("admin.part_of", parent = p)))}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Suspense>

            <form class="admin-form add-user" on:submit=add_user>
                <h3>{t!("admin.add_user").to_string()}</h3>
                <label for="new-username">{t!("admin.username").to_string()}</label>
                <input id="new-username" required prop:value=username on:input=move |ev| username.set(event_target_value(&ev))/>
                <label for="new-name">{t!("admin.full_name").to_string()}</label>
                <input id="new-name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                <label for="new-unit">{t!("admin.unit").to_string()}</label>
                <select id="new-unit" required on:change=move |ev| unit.set(event_target_value(&ev))>
                    <option value="">{t!("admin.choose_unit").to_string()}</option>
                    {move || unit_options(false)}
                </select>
                <label for="new-role">{t!("admin.role").to_string()}</label>
                <select id="new-role" on:change=move |ev| role.set(event_target_value(&ev))>
                    {ROLES.iter().map(|k| view! { <option value=*k selected=*k == "staff">{role_label(k)}</option> }).collect_view()}
                </select>
                <button type="submit">{t!("admin.add_user").to_string()}</button>
            </form>

            <form class="admin-form add-unit" on:submit=add_unit>
                <h3>{t!("admin.add_unit").to_string()}</h3>
                <label for="unit-id">{t!("admin.unit_id").to_string()}</label>
                <input id="unit-id" required prop:value=unit_id on:input=move |ev| unit_id.set(event_target_value(&ev))/>
                <label for="unit-name">{t!("admin.unit_name").to_string()}</label>
                <input id="unit-name" required prop:value=unit_name on:input=move |ev| unit_name.set(event_target_value(&ev))/>
                <label for="unit-kind">{t!("admin.unit_kind").to_string()}</label>
                <select id="unit-kind" on:change=move |ev| unit_kind.set(event_target_value(&ev))>
                    {UNIT_KINDS.iter().map(|k| view! { <option value=*k>{unit_kind_label(k)}</option> }).collect_view()}
                </select>
                <label for="unit-parent">{t!("admin.parent").to_string()}</label>
                <select id="unit-parent" on:change=move |ev| unit_parent.set(event_target_value(&ev))>
                    {move || unit_options(true)}
                </select>
                <button type="submit">{t!("admin.add_unit").to_string()}</button>
            </form>
        </section>
    }
}

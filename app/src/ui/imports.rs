//! The admin page's files: the agency's plan file (YAML) in and out, and
//! its staff list (CSV) in. The server checks each file whole and imports
//! all of it or nothing; this page shows what it did, or every problem with
//! its place.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::http::{post_text, Failure};
use super::i18n::t;
use crate::api::{PlanImported, Problem, UsersImported, PLAN_FILE_TYPE, STAFF_FILE_TYPE};

/// What came of sending a file.
#[derive(Clone)]
enum Outcome<T> {
    Done(T),
    Problems(Vec<Problem>),
    Failed(String),
}

impl<T> From<Failure> for Outcome<T> {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused {
                status: 422,
                body: Some(body),
            } => Outcome::Problems(body.problems),
            other => Outcome::Failed(other.into()),
        }
    }
}

/// The text of the file chosen in the input `id`.
async fn chosen_file(id: &str) -> Result<String, String> {
    let input = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        .ok_or("no file input")?;
    let file = input
        .files()
        .and_then(|files| files.get(0))
        .ok_or_else(|| t!("imports.choose_first").to_string())?;
    JsFuture::from(file.text())
        .await
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(|| t!("imports.unreadable").to_string())
}

/// Reads the file chosen in `input` and posts it to `path` as `media_type`.
fn send<T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static>(
    input: &'static str,
    path: &'static str,
    media_type: &'static str,
    busy: RwSignal<bool>,
    outcome: RwSignal<Option<Outcome<T>>>,
    done: impl Fn() + 'static,
) {
    if busy.get_untracked() {
        return;
    }
    busy.set(true);
    outcome.set(None);
    wasm_bindgen_futures::spawn_local(async move {
        let result = match chosen_file(input).await {
            Err(message) => Outcome::Failed(message),
            Ok(text) => match post_text::<T>(path, text, media_type).await {
                Ok(answer) => {
                    done();
                    Outcome::Done(answer)
                }
                Err(failure) => failure.into(),
            },
        };
        outcome.set(Some(result));
        busy.set(false);
    });
}

/// Every problem of a refused file, in the interface language.
#[component]
fn ProblemList(problems: Vec<Problem>) -> impl IntoView {
    let english = super::i18n::english();
    view! {
        <div class="problems" role="alert">
            <p class="error">{t!("imports.refused", n = problems.len()).to_string()}</p>
            <ul>
                {problems.into_iter().map(|p| {
                    let place = match (p.line, p.place.is_empty()) {
                        (Some(line), true) => t!("imports.line", line = line).to_string(),
                        (Some(line), false) => format!("{} · {}", t!("imports.line", line = line), p.place),
                        (None, _) => p.place.clone(),
                    };
                    let message = if english { p.en } else { p.vi };
                    view! { <li><span class="place">{place}</span> " " {message}</li> }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// The plan file: import (all or nothing) and export.
#[component]
pub fn PlanFile(on_imported: Callback<()>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome<PlanImported>>);
    view! {
        <section class="admin-form plan-file">
            <h3>{t!("imports.plan_title").to_string()}</h3>
            <p>{t!("imports.plan_help").to_string()}</p>
            <label for="plan-file">{t!("imports.plan_choose").to_string()}</label>
            <input id="plan-file" type="file" accept=".yaml,.yml,text/yaml,application/yaml"/>
            <button type="button" class="import-plan" disabled=move || busy.get()
                on:click=move |_| send("plan-file", "/api/admin/plan", PLAN_FILE_TYPE, busy, outcome, move || on_imported.run(()))>
                {move || if busy.get() { t!("imports.sending").to_string() } else { t!("imports.plan_import").to_string() }}
            </button>
            " "
            <a class="export-plan" href="/api/admin/plan" download="papi-plan.yaml">{t!("imports.plan_export").to_string()}</a>
            {move || outcome.get().map(|o| match o {
                Outcome::Done(d) => view! {
                    <p class="notice" role="status">{t!("imports.plan_done",
                        added = d.measures_added, changed = d.measures_changed, retired = d.measures_retired,
                        units_added = d.units_added, units_changed = d.units_changed).to_string()}</p>
                }.into_any(),
                Outcome::Problems(problems) => view! { <ProblemList problems/> }.into_any(),
                Outcome::Failed(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
        </section>
    }
}

/// The staff list: new users get one-time passwords, shown and offered
/// for download this once.
#[component]
pub fn StaffFile(on_imported: Callback<()>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome<UsersImported>>);
    view! {
        <section class="admin-form staff-file">
            <h3>{t!("imports.staff_title").to_string()}</h3>
            <p>{t!("imports.staff_help").to_string()}</p>
            <pre class="example">"username,full_name,unit,role\nnv.an,Nguyễn Văn An,van-phong,staff"</pre>
            <label for="staff-file">{t!("imports.staff_choose").to_string()}</label>
            <input id="staff-file" type="file" accept=".csv,text/csv"/>
            <button type="button" class="import-staff" disabled=move || busy.get()
                on:click=move |_| send("staff-file", "/api/admin/users/import", STAFF_FILE_TYPE, busy, outcome, move || on_imported.run(()))>
                {move || if busy.get() { t!("imports.sending").to_string() } else { t!("imports.staff_import").to_string() }}
            </button>
            {move || outcome.get().map(|o| match o {
                Outcome::Done(d) => {
                    let csv: String = std::iter::once("username,password\n".to_string())
                        .chain(d.created.iter().map(|p| format!("{},{}\n", p.username, p.password)))
                        .collect();
                    let href = format!(
                        "data:text/csv;charset=utf-8,{}",
                        String::from(js_sys::encode_uri_component(&csv))
                    );
                    let any = !d.created.is_empty();
                    view! {
                        <p class="notice" role="status">{t!("imports.staff_done",
                            created = d.created.len(), updated = d.updated.len(), unchanged = d.unchanged).to_string()}</p>
                        {any.then(|| view! {
                            <p>{t!("imports.passwords_once").to_string()}</p>
                            <table class="passwords">
                                <thead><tr><th>{t!("admin.username").to_string()}</th><th>{t!("imports.one_time").to_string()}</th></tr></thead>
                                <tbody>
                                    {d.created.iter().map(|p| view! {
                                        <tr><td>{p.username.clone()}</td><td class="password"><code>{p.password.clone()}</code></td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <a class="download-passwords" href=href download="mat-khau-mot-lan.csv">{t!("imports.download").to_string()}</a>
                        })}
                    }.into_any()
                }
                Outcome::Problems(problems) => view! { <ProblemList problems/> }.into_any(),
                Outcome::Failed(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
        </section>
    }
}

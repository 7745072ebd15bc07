//! Plan adjustment proposals: any unit proposes changing or retiring a
//! measure with a reason; the Director accepts or rejects each with a note,
//! and the server changes the plan when one is accepted.

use leptos::prelude::*;
use rust_i18n::t;
use serde_json::{json, Value};

use super::http::{error_text, get_kept, post_json, text};
use super::repo::repo;
use super::reports::date_time;
use super::session::Identity;
use crate::ids::DocId;
use crate::schema::Plan;

#[component]
pub fn ProposalsPage(identity: Identity, plan: DocId) -> impl IntoView {
    let refresh = RwSignal::new(0u64);
    let list = LocalResource::new(move || {
        refresh.track();
        get_kept("/api/proposals")
    });
    let proposes = matches!(
        identity.role.as_str(),
        "unit_lead" | "staff" | "coordinator"
    );
    let decides = identity.role == "director";
    view! {
        <section class="proposals">
            <h2>{t!("proposals.title").to_string()}</h2>
            {proposes.then(|| view! { <ProposalForm plan refresh/> })}
            <Suspense fallback=|| view! { <p class="status-line">"…"</p> }>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Ok(kept) => {
                        let items = kept.value.as_array().cloned().unwrap_or_default();
                        view! {
                            {kept.offline.then(|| view! { <p class="status-line">{t!("reports.kept_copy").to_string()}</p> })}
                            {items.is_empty().then(|| view! { <p class="status-line">{t!("proposals.none").to_string()}</p> })}
                            <ul class="cards">
                                {items.into_iter().map(|p| view! { <ProposalCard p decides refresh/> }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ProposalCard(p: Value, decides: bool, refresh: RwSignal<u64>) -> impl IntoView {
    let id = p["id"].as_i64().unwrap_or_default();
    let status = text(&p, "status");
    let pending = status == "pending";
    let kind = text(&p, "kind");
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let decide = move |accept: bool| {
        let body = json!({ "id": id, "accept": accept, "note": note.get_untracked() });
        wasm_bindgen_futures::spawn_local(async move {
            match post_json("/api/proposals/decide", &body).await {
                Ok((200, _)) => refresh.update(|n| *n += 1),
                Ok((code, v)) => error.set(Some(error_text(code, &v))),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <li class="card proposal" data-status=status.clone() data-id=id.to_string()>
            <p class="measure-name">{text(&p, "measure_text")}</p>
            <p><strong>{t!(format!("proposals.kind_{kind}")).to_string()}</strong>
                {(kind == "edit").then(|| view! { ": " <span class="proposed-text">{text(&p, "proposed_text")}</span> })}</p>
            <p>{t!("proposals.reason").to_string()} ": " {text(&p, "reason")}</p>
            <p class="status-line">
                {text(&p, "unit_name")} " · " {text(&p, "username")} " · "
                {p["created_ms"].as_i64().map(date_time).unwrap_or_default()}
            </p>
            <p class="proposal-status"><strong>{t!(format!("proposals.status_{status}")).to_string()}</strong>
                {p["decided_ms"].as_i64().map(|ms| view! { " · " {text(&p, "decided_by")} " · " {date_time(ms)} })}
                {(!text(&p, "note").is_empty()).then(|| view! { " — " {text(&p, "note")} })}
            </p>
            {(decides && pending).then(|| view! {
                <label class="field">
                    <span class="field-label">{t!("proposals.note").to_string()}</span>
                    <textarea class="decision-note" rows="2" prop:value=move || note.get()
                        on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                </label>
                <div class="actions">
                    <button type="button" class="accept-proposal" on:click=move |_| decide(true)>{t!("proposals.accept").to_string()}</button>
                    <button type="button" class="reject-proposal" on:click=move |_| decide(false)>{t!("proposals.reject").to_string()}</button>
                </div>
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </li>
    }
}

/// Proposing needs a connection: the Director decides on the server.
#[component]
fn ProposalForm(plan: DocId, refresh: RwSignal<u64>) -> impl IntoView {
    let signals = repo().open(plan);
    let measures = Memo::new(move |_| {
        signals.version.track();
        repo()
            .read(plan, |d| Plan::read(d).ok())
            .flatten()
            .map(|p| {
                p.dimensions
                    .into_iter()
                    .flat_map(|d| {
                        let n = d.number;
                        d.measures
                            .into_iter()
                            .filter(|m| !m.retired)
                            .map(move |m| (m.id, format!("{n}. {}", m.text)))
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    });
    let measure = RwSignal::new(String::new());
    let kind = RwSignal::new("edit".to_string());
    let proposed = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = json!({
            "measure_id": measure.get_untracked(),
            "kind": kind.get_untracked(),
            "text": proposed.get_untracked(),
            "reason": reason.get_untracked(),
        });
        wasm_bindgen_futures::spawn_local(async move {
            message.set(Some(match post_json("/api/proposals", &body).await {
                Ok((200, _)) => {
                    proposed.set(String::new());
                    reason.set(String::new());
                    refresh.update(|n| *n += 1);
                    Ok(t!("proposals.sent").to_string())
                }
                Ok((code, v)) => Err(error_text(code, &v)),
                Err(e) => Err(e),
            }));
        });
    };
    view! {
        <form class="admin-form proposal-form" on:submit=submit>
            <h3>{t!("proposals.new").to_string()}</h3>
            <label for="proposal-measure">{t!("proposals.measure").to_string()}</label>
            <select id="proposal-measure" required on:change=move |ev| measure.set(event_target_value(&ev))>
                <option value="" prop:selected=move || measure.get().is_empty()>{t!("proposals.choose").to_string()}</option>
                {move || measures.get().into_iter().map(|(id, label)| {
                    let key = id.clone();
                    view! { <option value=id prop:selected=move || measure.get() == key>{label}</option> }
                }).collect_view()}
            </select>
            <label for="proposal-kind">{t!("proposals.kind").to_string()}</label>
            <select id="proposal-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                <option value="edit">{t!("proposals.kind_edit").to_string()}</option>
                <option value="retire">{t!("proposals.kind_retire").to_string()}</option>
            </select>
            {move || (kind.get() == "edit").then(|| view! {
                <label for="proposal-text">{t!("proposals.proposed_text").to_string()}</label>
                <textarea id="proposal-text" class="collab-text" rows="3" prop:value=move || proposed.get()
                    on:input=move |ev| proposed.set(event_target_value(&ev))></textarea>
            })}
            <label for="proposal-reason">{t!("proposals.reason").to_string()}</label>
            <textarea id="proposal-reason" class="collab-text" rows="2" required prop:value=move || reason.get()
                on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
            {move || message.get().map(|m| match m {
                Ok(done) => view! { <p class="notice" role="status">{done}</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
            <button type="submit">{t!("proposals.send").to_string()}</button>
        </form>
    }
}

//! Plan adjustment proposals: any unit proposes changing or retiring a
//! measure with a reason; the Director accepts or rejects each with a note,
//! and the server changes the plan when one is accepted.

use leptos::prelude::*;

use super::controls::NoteField;
use super::format::date_time;
use super::http::{get_kept, post};
use super::i18n::t;
use super::repo::follow;
use super::session::Identity;
use crate::access::Capability;
use crate::api::{
    Decided, Decision, NewProposal, Proposal, ProposalKind, ProposalMade, ProposalStatus,
};
use crate::ids::DocId;
use crate::schema::Plan;

#[component]
pub fn ProposalsPage(identity: Identity, plan: DocId) -> impl IntoView {
    let refresh = RwSignal::new(0u64);
    let list = LocalResource::new(move || {
        refresh.track();
        get_kept::<Vec<Proposal>>("/api/proposals")
    });
    let proposes = identity.role.may(Capability::Propose);
    let decides = identity.role.may(Capability::DecideProposals);
    view! {
        <section class="proposals">
            <h2>{t!("proposals.title").to_string()}</h2>
            {proposes.then(|| view! { <ProposalForm plan refresh/> })}
            <Suspense fallback=|| view! { <p class="status-line">"…"</p> }>
                {move || list.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Ok(kept) => {
                        let items = kept.value;
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
fn ProposalCard(p: Proposal, decides: bool, refresh: RwSignal<u64>) -> impl IntoView {
    let id = p.id;
    let pending = p.status == ProposalStatus::Pending;
    let note = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let decide = move |accept: bool| {
        let decision = Decision {
            id,
            accept,
            note: note.get_untracked(),
        };
        wasm_bindgen_futures::spawn_local(async move {
            match post::<Decided>("/api/proposals/decide", &decision).await {
                Ok(_) => refresh.update(|n| *n += 1),
                Err(e) => error.set(Some(e.into())),
            }
        });
    };
    view! {
        <li class="card proposal" data-status=p.status.key() data-id=id.to_string()>
            <p class="measure-name">{p.measure_text.clone()}</p>
            <p><strong>{t!(format!("proposals.kind_{}", p.kind.key())).to_string()}</strong>
                {(p.kind == ProposalKind::Edit).then(|| view! { ": " <span class="proposed-text">{p.proposed_text.clone()}</span> })}</p>
            <p>{t!("proposals.reason").to_string()} ": " {p.reason.clone()}</p>
            <p class="status-line">
                {p.unit_name.clone()} " · " {p.username.clone()} " · " {date_time(p.created_ms)}
            </p>
            <p class="proposal-status"><strong>{t!(format!("proposals.status_{}", p.status.key())).to_string()}</strong>
                {p.decided_ms.map(|ms| view! { " · " {p.decided_by.clone().unwrap_or_default()} " · " {date_time(ms)} })}
                {(!p.note.is_empty()).then(|| view! { " — " {p.note.clone()} })}
            </p>
            {(decides && pending).then(|| view! {
                <NoteField class="decision-note" label=t!("proposals.note").to_string() value=note/>
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
    let measures = follow(plan, |d| {
        let plan = Plan::read(d).ok()?;
        Some(
            plan.dimensions
                .into_iter()
                .flat_map(|d| {
                    let n = d.number;
                    d.measures
                        .into_iter()
                        .filter(|m| !m.retired)
                        .map(move |m| (m.id, format!("{n}. {}", m.text)))
                })
                .collect::<Vec<_>>(),
        )
    });
    let measure = RwSignal::new(String::new());
    let kind = RwSignal::new(ProposalKind::Edit);
    let proposed = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let proposal = NewProposal {
            measure_id: measure.get_untracked(),
            kind: kind.get_untracked(),
            text: proposed.get_untracked(),
            reason: reason.get_untracked(),
        };
        wasm_bindgen_futures::spawn_local(async move {
            message.set(Some(
                match post::<ProposalMade>("/api/proposals", &proposal).await {
                    Ok(_) => {
                        proposed.set(String::new());
                        reason.set(String::new());
                        refresh.update(|n| *n += 1);
                        Ok(t!("proposals.sent").to_string())
                    }
                    Err(e) => Err(e.into()),
                },
            ));
        });
    };
    view! {
        <form class="admin-form proposal-form" on:submit=submit>
            <h3>{t!("proposals.new").to_string()}</h3>
            <label for="proposal-measure">{t!("proposals.measure").to_string()}</label>
            <select id="proposal-measure" required on:change=move |ev| measure.set(event_target_value(&ev))>
                <option value="" prop:selected=move || measure.get().is_empty()>{t!("proposals.choose").to_string()}</option>
                {move || measures.get().unwrap_or_default().into_iter().map(|(id, label)| {
                    let key = id.clone();
                    view! { <option value=id prop:selected=move || measure.get() == key>{label}</option> }
                }).collect_view()}
            </select>
            <label for="proposal-kind">{t!("proposals.kind").to_string()}</label>
            <select id="proposal-kind" on:change=move |ev| {
                kind.set(ProposalKind::parse(&event_target_value(&ev)).unwrap_or(ProposalKind::Edit))
            }>
                <option value="edit">{t!("proposals.kind_edit").to_string()}</option>
                <option value="retire">{t!("proposals.kind_retire").to_string()}</option>
            </select>
            {move || (kind.get() == ProposalKind::Edit).then(|| view! {
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

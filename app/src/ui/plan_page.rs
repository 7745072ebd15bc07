//! The plan page: the plan document, live.

use leptos::prelude::*;

use super::i18n::t;
use super::repo::{self, Phase};
use super::shell::Go;
use super::status::DocBadge;
use super::PlanView;
use crate::ids::DocId;
use crate::route::Route;

/// The plan, live from its document, with the dimension in the address
/// open. Until a plan is imported the page says what to do: an
/// administrator imports the agency's plan file.
#[component]
pub fn PlanPage(
    id: DocId,
    editable: bool,
    administrator: bool,
    dimension: Memo<Option<u8>>,
    go: Go,
) -> impl IntoView {
    // Opening a dimension puts it in the address (in place: the back button
    // leaves the plan rather than stepping through its dimensions), so that
    // a reload or a copied link opens it again.
    let follow = Callback::new(move |(number, open): (u8, bool)| {
        let target = if open {
            Some(number)
        } else if dimension.get_untracked() == Some(number) {
            None
        } else {
            return;
        };
        if target != dimension.get_untracked() {
            go.run((Route::Plan { dimension: target }, true));
        }
    });
    let repo = repo::repo();
    let signals = repo.open(id);
    // The plan's outline only: measure texts are left out, so that typing in
    // a measure does not rebuild the page (the text boxes follow the document
    // themselves).
    let plan = Memo::new(move |_| {
        signals.shape.track();
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
            Some(Ok(plan)) if plan.is_empty() => {
                let next = if administrator {
                    "plan.none_admin"
                } else {
                    "plan.none"
                };
                view! {
                    <section class="no-plan" role="status">
                        <h2>{t!("plan.none_title").to_string()}</h2>
                        <p>{t!(next).to_string()}</p>
                    </section>
                }
                .into_any()
            }
            Some(Ok(plan)) => view! {
                <DocBadge unsynced=signals.unsynced/>
                <PlanView plan doc=id editable dimension on_dimension=follow/>
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

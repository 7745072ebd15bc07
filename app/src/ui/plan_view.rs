use leptos::prelude::*;

use super::http::get_kept;
use super::i18n::t;
use super::repo::repo;
use super::text_field::CollabText;
use crate::api::UnitInfo;
use crate::ids::DocId;
use crate::report::TextAt;
use crate::schema::{Measure, Plan, PlanEdit};

thread_local! {
    /// The dimension the page was last brought to: a plan drawn again (its
    /// outline changed, someone else's edit perhaps) opens it again without
    /// pulling the page back to it.
    static SCROLLED_TO: std::cell::Cell<Option<u8>> = const { std::cell::Cell::new(None) };
}

/// The plan: its title and the eight PAPI dimensions with their measures.
/// With `doc`, measures follow that document live, and are edited in place
/// when `editable`: texts, order, retirement, the units that own them, and
/// new measures.
#[component]
pub fn PlanView(
    plan: Plan,
    #[prop(optional)] doc: Option<DocId>,
    #[prop(optional)] editable: bool,
    /// The dimension to open and show (from the address).
    #[prop(optional, into)]
    dimension: Option<Signal<Option<u8>>>,
    /// Told (number, open) when the user opens or closes a dimension.
    #[prop(optional)]
    on_dimension: Option<Callback<(u8, bool)>>,
) -> impl IntoView {
    let Plan {
        title,
        agency,
        start_year,
        end_year,
        dimensions,
        legal_bases,
        objective,
        targets,
        ..
    } = plan;
    let units = editable.then(unit_choices);
    let open_at = dimension;
    let error = RwSignal::new(None::<String>);
    view! {
        <section class="plan">
            <h2 class="plan-title">{title}</h2>
            <p class="plan-meta">{agency} " · " {start_year} "–" {end_year}</p>
            <details class="plan-basis">
                <summary>{t!("plan.basis").to_string()}</summary>
                <h3>{t!("plan.legal_bases").to_string()}</h3>
                <ul>{legal_bases.into_iter().map(|b| view! { <li>{b}</li> }).collect_view()}</ul>
                <h3>{t!("plan.objective").to_string()}</h3>
                <p>{objective}</p>
                <h3>{t!("plan.targets").to_string()}</h3>
                <ul class="targets">{targets.into_iter().map(|t| view! { <li data-target=t.id>{t.text}</li> }).collect_view()}</ul>
            </details>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <ol class="dimensions">
                {dimensions.into_iter().map(|d| {
                    let shown: Vec<Measure> = d.measures.into_iter().filter(|m| editable || !m.retired).collect();
                    let count = shown.iter().filter(|m| !m.retired).count();
                    let dimension = d.name.clone();
                    let number = d.number;
                    let details = NodeRef::<leptos::html::Details>::new();
                    Effect::new(move |_| {
                        let wanted = open_at.map(|d| d.get());
                        if wanted == Some(None) {
                            SCROLLED_TO.set(None);
                        }
                        if let (true, Some(el)) = (wanted == Some(Some(number)), details.get()) {
                            el.set_open(true);
                            if SCROLLED_TO.replace(Some(number)) != Some(number) {
                                el.scroll_into_view();
                            }
                        }
                    });
                    let toggled = move |_| {
                        if let (Some(tell), Some(el)) = (on_dimension, details.get_untracked()) {
                            tell.run((number, el.open()));
                        }
                    };
                    view! {
                        <li class="dimension" data-dimension=number.to_string()>
                            <details node_ref=details on:toggle=toggled>
                                <summary>
                                    <span class="dimension-name">{d.name}</span>
                                    <span class="dimension-count">{t!("plan.measure_count", n = count).to_string()}</span>
                                </summary>
                                <ol class="measures">
                                    {shown.into_iter().enumerate().map(|(i, m)| {
                                        let label = t!("plan.measure_label", dimension = dimension, n = i + 1).to_string();
                                        let retired = m.retired;
                                        let measure_id = m.id.clone();
                                        view! {
                                            <li class="measure" class:retired=retired data-measure=measure_id>
                                                {m.group.clone().map(|g| view! { <p class="measure-group">{g}</p> })}
                                                {match doc {
                                                    Some(doc) => view! { <CollabText doc at=TextAt::PlanMeasure(m.id.clone()) label readonly=Signal::stored(!editable || retired)/> }.into_any(),
                                                    None => view! { <p class="collab-text">{m.text.clone()}</p> }.into_any(),
                                                }}
                                                {doc.filter(|_| editable).map(|doc| view! { <MeasureTools doc measure=m units=units.unwrap() error/> })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                                {doc.filter(|_| editable).map(|doc| view! { <AddMeasure doc dimension=number error/> })}
                            </details>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

/// The units a measure can be given to: everyone, or named units.
fn unit_choices() -> LocalResource<Vec<(String, String)>> {
    LocalResource::new(|| async {
        let mut units = vec![("*".to_string(), t!("plan.all_units").to_string())];
        if let Ok(kept) = get_kept::<Vec<UnitInfo>>("/api/units").await {
            units.extend(
                kept.value
                    .into_iter()
                    .filter(|u| u.reports)
                    .map(|u| (u.id, u.name)),
            );
        }
        units
    })
}

fn edit(doc: DocId, change: PlanEdit, error: RwSignal<Option<String>>) {
    let mut outcome = Ok(());
    repo().change(doc, |d| outcome = change.apply(d));
    error.set(outcome.err().map(|e| e.to_string()));
}

/// Order, retirement and owners of one measure.
#[component]
fn MeasureTools(
    doc: DocId,
    measure: Measure,
    units: LocalResource<Vec<(String, String)>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = StoredValue::new(measure.id.clone());
    let owners = RwSignal::new(measure.units.clone());
    let retired = measure.retired;
    view! {
        <div class="measure-tools">
            <button type="button" class="move-up" aria-label=t!("plan.move_up").to_string()
                on:click=move |_| edit(doc, PlanEdit::Move { id: id.get_value(), up: true }, error)>"↑"</button>
            <button type="button" class="move-down" aria-label=t!("plan.move_down").to_string()
                on:click=move |_| edit(doc, PlanEdit::Move { id: id.get_value(), up: false }, error)>"↓"</button>
            <button type="button" class="retire"
                on:click=move |_| edit(doc, PlanEdit::Retire { id: id.get_value(), retired: !retired }, error)>
                {if retired { t!("plan.restore").to_string() } else { t!("plan.retire").to_string() }}
            </button>
            <details class="owners">
                <summary>{t!("plan.owners").to_string()}</summary>
                {move || units.get().map(|all| all.into_iter().map(|(unit, name)| {
                    let key = unit.clone();
                    view! {
                        <label class="check">
                            <input type="checkbox" prop:checked=move || owners.get().contains(&key)
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    let mut next = owners.get_untracked();
                                    next.retain(|u| u != &unit);
                                    if on { next.push(unit.clone()); }
                                    owners.set(next.clone());
                                    edit(doc, PlanEdit::Assign { id: id.get_value(), units: next }, error);
                                }/>
                            {name}
                        </label>
                    }
                }).collect_view())}
            </details>
        </div>
    }
}

/// A new measure at the end of a dimension, for every unit at first.
#[component]
fn AddMeasure(doc: DocId, dimension: u8, error: RwSignal<Option<String>>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = format!(
            "d{dimension}-{}",
            &automerge::ActorId::random().to_hex_string()[..8]
        );
        edit(
            doc,
            PlanEdit::Add {
                dimension,
                id,
                text: text.get_untracked(),
                units: vec!["*".into()],
            },
            error,
        );
        if error.get_untracked().is_none() {
            text.set(String::new());
        }
    };
    view! {
        <form class="add-measure" on:submit=add>
            <label>
                <span class="field-label">{t!("plan.new_measure").to_string()}</span>
                <textarea class="collab-text new-measure" rows="2" prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            </label>
            <button type="submit">{t!("plan.add").to_string()}</button>
        </form>
    }
}

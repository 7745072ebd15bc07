use leptos::prelude::*;

use super::text_field::MeasureText;
use crate::ids::DocId;
use crate::schema::Plan;

/// The plan: its title and the eight PAPI dimensions with their measures.
/// With `doc`, measures follow that document live, and are edited in place
/// when `editable`.
#[component]
pub fn PlanView(
    plan: Plan,
    #[prop(optional)] doc: Option<DocId>,
    #[prop(optional)] editable: bool,
) -> impl IntoView {
    let Plan {
        title,
        agency,
        start_year,
        end_year,
        dimensions,
        ..
    } = plan;
    view! {
        <section class="plan">
            <h2 class="plan-title">{title}</h2>
            <p class="plan-meta">{agency} " · " {start_year} "–" {end_year}</p>
            <ol class="dimensions">
                {dimensions.into_iter().map(|d| {
                    let active: Vec<_> = d.measures.into_iter().filter(|m| !m.retired).collect();
                    let count = active.len();
                    let dimension = d.name.clone();
                    view! {
                        <li class="dimension">
                            <details>
                                <summary>
                                    <span class="dimension-name">{d.name}</span>
                                    <span class="dimension-count">{count} " nội dung"</span>
                                </summary>
                                <ol class="measures">
                                    {active.into_iter().enumerate().map(|(i, m)| {
                                        let label = format!("{dimension}, nội dung {}", i + 1);
                                        view! {
                                            <li class="measure">
                                                {m.group.map(|g| view! { <p class="measure-group">{g}</p> })}
                                                {match doc {
                                                    Some(doc) => view! { <MeasureText doc measure=m.id label readonly=!editable/> }.into_any(),
                                                    None => view! { <p class="measure-text">{m.text}</p> }.into_any(),
                                                }}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            </details>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

use leptos::prelude::*;

use crate::schema::Plan;

/// The plan: its title and the eight PAPI dimensions with their measures.
#[component]
pub fn PlanView(plan: Plan) -> impl IntoView {
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
                    let active = d.measures.iter().filter(|m| !m.retired).count();
                    view! {
                        <li class="dimension">
                            <span class="dimension-name">{d.name}</span>
                            <span class="dimension-count">{active} " nội dung"</span>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

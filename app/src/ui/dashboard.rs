//! The dashboard: who has reported for each period and whether on time,
//! each unit's record, and the province's PAPI results against the targets.

use leptos::prelude::*;

use super::format::{date, period_name, status_label, timeliness_label};
use super::http::get_kept;
use super::i18n::t;
use super::repo::{follow, repo};
use super::session::Identity;
use crate::access::{access, Access, DocKind};
use crate::api::{Dashboard, PeriodSummary};
use crate::ids::DocId;
use crate::schema::{PapiResult, Plan, ResultError};

#[component]
pub fn DashboardPage(identity: Identity, plan: DocId) -> impl IntoView {
    let data = LocalResource::new(|| get_kept::<Dashboard>("/api/dashboard"));
    // The results live in the plan: whoever keeps the plan enters them.
    let editable = access(&identity.actor(), &DocKind::Plan) == Access::Write;
    view! {
        <section class="dashboard">
            <h2>{t!("dashboard.title").to_string()}</h2>
            <Suspense fallback=|| view! { <p class="status-line">"…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Ok(kept) => {
                        let periods = kept.value.periods;
                        view! {
                            {kept.offline.then(|| view! { <p class="status-line">{t!("reports.kept_copy").to_string()}</p> })}
                            <ul class="cards">
                                {periods.iter().cloned().map(period_card).collect_view()}
                            </ul>
                            <UnitRecords periods/>
                        }.into_any()
                    }
                })}
            </Suspense>
            <Results plan editable/>
        </section>
    }
}

/// One period: how many units reported, on time or late, and who is overdue.
fn period_card(p: PeriodSummary) -> impl IntoView {
    let overdue = p.overdue.clone();
    view! {
        <li class="card period-summary" data-period=p.period.clone()>
            <h3>{period_name(&p.period)}</h3>
            <p class="due">{t!("reports.due", date = date(p.deadline_ms)).to_string()}</p>
            <p class="counts">
                <span class="reported" data-n=p.reported.to_string()>
                    {t!("dashboard.reported", n = p.reported, of = p.expected).to_string()}
                </span>
                " · " <span class="on-time" data-n=p.on_time.to_string()>{t!("dashboard.on_time", n = p.on_time).to_string()}</span>
                " · " <span class="late" data-n=p.late.to_string()>{t!("dashboard.late", n = p.late).to_string()}</span>
                " · " <span class="missing" data-n=p.missing.to_string()>{t!("dashboard.missing", n = p.missing).to_string()}</span>
            </p>
            {(!overdue.is_empty()).then(|| view! {
                <details class="overdue">
                    <summary>{t!("dashboard.overdue", n = overdue.len()).to_string()}</summary>
                    <ul>
                        {overdue.into_iter().map(|o| view! {
                            <li data-unit=o.unit.clone()>
                                {o.name.clone()} " — " {t!("dashboard.days_overdue", n = o.days_overdue).to_string()}
                            </li>
                        }).collect_view()}
                    </ul>
                </details>
            })}
        </li>
    }
}

/// Each unit's reports across the periods.
#[component]
fn UnitRecords(periods: Vec<PeriodSummary>) -> impl IntoView {
    // Units in the order of the newest period.
    let units: Vec<(String, String)> = periods
        .first()
        .map(|p| {
            p.units
                .iter()
                .map(|u| (u.unit.clone(), u.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    view! {
        <h3>{t!("dashboard.by_unit").to_string()}</h3>
        <ul class="cards unit-records">
            {units.into_iter().map(|(unit, name)| {
                let rows: Vec<_> = periods.iter().filter_map(|p| {
                    let row = p.units.iter().find(|u| u.unit == unit)?.clone();
                    Some((p.period.clone(), row))
                }).collect();
                view! {
                    <li class="card unit-record" data-unit=unit.clone()>
                        <details>
                            <summary>{name}</summary>
                            <ul>
                                {rows.into_iter().map(|(period, row)| view! {
                                    <li data-period=period.clone() data-status=row.status.key()>
                                        {period_name(&period)} ": " {status_label(row.status)}
                                        {row.timeliness.map(|t| view! { " · " {timeliness_label(t)} })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        </details>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// The PAPI results by year, against the plan's targets, and a form for
/// the Office to enter a year's results.
#[component]
fn Results(plan: DocId, editable: bool) -> impl IntoView {
    let read = follow(plan, |d| {
        Some((Plan::read(d).ok()?, PapiResult::read_all(d)))
    });
    view! {
        <section class="papi-results">
            <h3>{t!("results.title").to_string()}</h3>
            {move || read.get().map(|(plan, results)| {
                if results.is_empty() {
                    return view! { <p class="status-line">{t!("results.none").to_string()}</p> }.into_any();
                }
                view! {
                    <Chart plan=plan.clone() results=results.clone()/>
                    <table class="results-table">
                        <thead><tr><th>{t!("results.year").to_string()}</th><th>{t!("results.total").to_string()}</th><th>{t!("results.rank").to_string()}</th></tr></thead>
                        <tbody>
                            {results.into_iter().map(|r| view! {
                                <tr data-year=r.year.to_string()><td>{r.year}</td><td>{format!("{:.2}", r.total())}</td><td>{r.rank}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
            {editable.then(|| view! { <ResultForm plan/> })}
        </section>
    }
}

/// The rank each year should reach by the plan's targets, where one applies.
fn target_rank(plan: &Plan, results: &[PapiResult], year: i32) -> Option<i64> {
    plan.targets.iter().find_map(|t| match t.kind.as_str() {
        "province_rank_at_most" if year == t.to_year => Some(t.value),
        "province_rank_gain" if (t.from_year..=t.to_year).contains(&year) => results
            .iter()
            .find(|r| r.year == year - 1)
            .map(|r| (r.rank - t.value).max(1)),
        _ => None,
    })
}

/// Two small SVG charts, total score and rank by year, sized to the screen.
#[component]
fn Chart(plan: Plan, results: Vec<PapiResult>) -> impl IntoView {
    const W: f64 = 320.0;
    const H: f64 = 160.0;
    const PAD: f64 = 32.0;
    let years: Vec<i32> =
        (results[0].year..=results[results.len() - 1].year.max(results[0].year + 1)).collect();
    let x = {
        let (first, last) = (years[0] as f64, *years.last().unwrap() as f64);
        move |year: i32| PAD + (year as f64 - first) / (last - first) * (W - 2.0 * PAD)
    };
    let max_total = 10.0 * plan.dimensions.len().max(1) as f64;
    let y_total = move |v: f64| H - PAD / 2.0 - v / max_total * (H - PAD);
    // Rank 1 at the top.
    let y_rank = move |rank: f64| PAD / 2.0 + (rank - 1.0) / 62.0 * (H - PAD);
    let line = |points: Vec<(f64, f64)>| {
        points
            .iter()
            .map(|(a, b)| format!("{a:.1},{b:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let totals = line(
        results
            .iter()
            .map(|r| (x(r.year), y_total(r.total())))
            .collect(),
    );
    let ranks = line(
        results
            .iter()
            .map(|r| (x(r.year), y_rank(r.rank as f64)))
            .collect(),
    );
    let targets: Vec<(i32, i64)> = years
        .iter()
        .filter_map(|y| target_rank(&plan, &results, *y).map(|t| (*y, t)))
        .collect();
    let axis = years
        .iter()
        .map(|y| view! { <text x=format!("{:.1}", x(*y)) y=format!("{:.1}", H - 2.0) text-anchor="middle" class="axis">{*y}</text> })
        .collect_view();
    let axis2 = years
        .iter()
        .map(|y| view! { <text x=format!("{:.1}", x(*y)) y=format!("{:.1}", H - 2.0) text-anchor="middle" class="axis">{*y}</text> })
        .collect_view();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=t!("results.total_chart").to_string()>
                <title>{t!("results.total_chart").to_string()}</title>
                <line x1=PAD y1=y_total(0.0) x2=W - PAD y2=y_total(0.0) class="grid"/>
                <line x1=PAD y1=y_total(max_total) x2=W - PAD y2=y_total(max_total) class="grid"/>
                <text x="2" y=y_total(max_total) + 4.0 class="axis">{max_total}</text>
                <text x="2" y=y_total(0.0) class="axis">"0"</text>
                <polyline points=totals class="series total"/>
                {results.iter().map(|r| view! {
                    <circle cx=x(r.year) cy=y_total(r.total()) r="3" class="point total"><title>{format!("{}: {:.2}", r.year, r.total())}</title></circle>
                }).collect_view()}
                {axis}
            </svg>
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=t!("results.rank_chart").to_string()>
                <title>{t!("results.rank_chart").to_string()}</title>
                <line x1=PAD y1=y_rank(1.0) x2=W - PAD y2=y_rank(1.0) class="grid"/>
                <line x1=PAD y1=y_rank(63.0) x2=W - PAD y2=y_rank(63.0) class="grid"/>
                <text x="2" y=y_rank(1.0) + 4.0 class="axis">"1"</text>
                <text x="2" y=y_rank(63.0) class="axis">"63"</text>
                <polyline points=ranks class="series rank"/>
                {results.iter().map(|r| view! {
                    <circle cx=x(r.year) cy=y_rank(r.rank as f64) r="3" class="point rank"><title>{format!("{}: {}", r.year, r.rank)}</title></circle>
                }).collect_view()}
                {targets.iter().map(|(year, rank)| view! {
                    <g class="target" data-year=year.to_string()>
                        <line x1=x(*year) - 8.0 x2=x(*year) + 8.0 y1=y_rank(*rank as f64) y2=y_rank(*rank as f64)/>
                        <title>{t!("results.target", year = year, rank = rank).to_string()}</title>
                    </g>
                }).collect_view()}
                {axis2}
            </svg>
            <figcaption>{t!("results.legend").to_string()}</figcaption>
        </figure>
    }
}

/// The Office enters a year's results; they go into the plan document, so
/// this works offline too.
#[component]
fn ResultForm(plan: DocId) -> impl IntoView {
    let dims = follow(plan, |d| {
        Plan::read(d).ok().map(|p| {
            (
                p.start_year,
                p.end_year,
                p.dimensions.into_iter().map(|d| d.name).collect::<Vec<_>>(),
            )
        })
    });
    let year = RwSignal::new(String::new());
    let rank = RwSignal::new(String::new());
    let scores = RwSignal::new(vec![String::new(); 8]);
    let message = RwSignal::new(None::<Result<String, String>>);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some((start, end, names)) = dims.get_untracked() else {
            return;
        };
        let parsed = (|| {
            let y: i32 = year
                .get_untracked()
                .trim()
                .parse()
                .map_err(|_| t!("results.bad_year").to_string())?;
            if y < start - 5 || y > end {
                return Err(t!("results.bad_year").to_string());
            }
            let r: i64 = rank
                .get_untracked()
                .trim()
                .parse()
                .map_err(|_| t!("results.bad_rank").to_string())?;
            let s = scores.get_untracked();
            let values = (0..names.len())
                .map(|i| {
                    s.get(i)
                        .map(|v| v.trim().replace(',', "."))
                        .and_then(|v| v.parse::<f64>().ok())
                        .ok_or_else(|| t!("results.bad_score", n = i + 1).to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(PapiResult {
                year: y,
                rank: r,
                scores: values,
            })
        })();
        let result = match parsed {
            Err(e) => Err(e),
            Ok(r) => {
                let mut outcome = Ok(());
                repo().change(plan, |d| outcome = r.write(d, names.len()));
                outcome
                    .map(|_| t!("results.saved", year = r.year).to_string())
                    .map_err(|e| match e {
                        ResultError::Rank(_) => t!("results.bad_rank").to_string(),
                        ResultError::Score(_) | ResultError::Count { .. } => {
                            t!("results.bad_scores").to_string()
                        }
                        ResultError::Document(e) => e,
                    })
            }
        };
        message.set(Some(result));
    };
    view! {
        <form class="admin-form result-form" on:submit=save>
            <h4>{t!("results.enter").to_string()}</h4>
            <label for="result-year">{t!("results.year").to_string()}</label>
            <input id="result-year" inputmode="numeric" prop:value=year on:input=move |ev| year.set(event_target_value(&ev))/>
            <label for="result-rank">{t!("results.rank").to_string()}</label>
            <input id="result-rank" inputmode="numeric" prop:value=rank on:input=move |ev| rank.set(event_target_value(&ev))/>
            {move || dims.get().map(|(_, _, names)| names.into_iter().enumerate().map(|(i, name)| {
                let id = format!("result-score-{i}");
                view! {
                    <label for=id.clone()>{format!("{}. {}", i + 1, name)}</label>
                    <input id=id inputmode="decimal" class="score"
                        prop:value=move || scores.get().get(i).cloned().unwrap_or_default()
                        on:input=move |ev| { let v = event_target_value(&ev); scores.update(|s| { if s.len() <= i { s.resize(i + 1, String::new()); } s[i] = v; }); }/>
                }
            }).collect_view())}
            {move || message.get().map(|m| match m {
                Ok(done) => view! { <p class="notice" role="status">{done}</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
            <button type="submit">{t!("results.save").to_string()}</button>
        </form>
    }
}

//! Reports: the list per period, a unit's report form with its review, and
//! the consolidated report of a period.

use leptos::prelude::*;
use rust_i18n::t;
use serde_json::{json, Value};

use super::http::{error_text, get_kept, post_json, text, Kept};
use super::outbox::outbox;
use super::repo::{repo, Phase};
use super::session::Identity;
use super::status::clock;
use super::text_field::CollabText;
use super::DocBadge;
use crate::access::Role;
use crate::calendar::{LocalDate, Period, PeriodKind};
use crate::ids::DocId;
use crate::report::{ItemAt, Outline, TextAt, MEASURE_STATUSES, SECTION_TEXTS};
use crate::schema::Plan;

/// "Half-year 2026" and the like.
pub fn period_name(key: &str) -> String {
    match Period::parse_key(key) {
        Some(Period {
            year,
            kind: PeriodKind::HalfYear,
        }) => t!("period.half_year", year = year).to_string(),
        Some(Period {
            year,
            kind: PeriodKind::Annual,
        }) => t!("period.annual", year = year).to_string(),
        None => key.to_string(),
    }
}

/// dd/mm/yyyy in Vietnam time.
pub fn date(ms: i64) -> String {
    LocalDate::from_ms(ms).to_vn_string()
}

/// HH:MM dd/mm/yyyy in Vietnam time.
pub fn date_time(ms: i64) -> String {
    format!("{} {}", clock(ms as f64), date(ms))
}

/// A report status (draft, submitted, …) in words.
pub fn status_label(key: &str) -> String {
    t!(format!("status.{key}")).to_string()
}

/// Whether a submission was on time, in words.
pub fn timeliness_label(key: &str) -> String {
    t!(format!("timeliness.{key}")).to_string()
}

/// The periods worth showing: every one from the plan's start up to the next
/// one due, newest first, each with its deadline.
pub fn shown_periods(plan: &Plan, now_ms: i64) -> Vec<(Period, i64)> {
    let all = plan
        .reporting
        .periods(plan.start_year, plan.end_year)
        .unwrap_or_default();
    let mut shown: Vec<_> = all
        .iter()
        .map(|p| (*p, plan.reporting.deadline_ms(*p)))
        .take_while(|(_, deadline)| *deadline <= now_ms)
        .collect();
    if let Some(next) = all.get(shown.len()) {
        shown.push((*next, plan.reporting.deadline_ms(*next)));
    }
    shown.reverse();
    shown
}

/// A report chosen from the list.
#[derive(Clone, Debug, PartialEq)]
struct Opened {
    id: DocId,
    consolidated: bool,
    unit: String,
    period: String,
    status: String,
}

fn opened(v: &Value, consolidated: bool) -> Option<Opened> {
    Some(Opened {
        id: DocId::parse(v["url"].as_str()?).ok()?,
        consolidated,
        unit: text(v, "unit"),
        period: text(v, "period"),
        status: text(v, "status"),
    })
}

/// Unit names by id, from the server (or the copy kept on the device).
fn unit_names() -> LocalResource<Vec<(String, String)>> {
    LocalResource::new(|| async {
        get_kept("/api/units")
            .await
            .map(|k| {
                k.value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| (text(u, "id"), text(u, "name")))
                    .collect()
            })
            .unwrap_or_default()
    })
}

fn name_of(names: &[(String, String)], unit: &str) -> String {
    names
        .iter()
        .find(|(id, _)| id == unit)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| unit.to_string())
}

/// The reports page: periods with their reports, or one report.
#[component]
pub fn ReportsPage(identity: Identity, plan: DocId) -> impl IntoView {
    let role = Role::parse(&identity.role);
    let oversees = matches!(role, Some(Role::Coordinator | Role::Director));
    let drafts = matches!(role, Some(Role::UnitLead | Role::Staff));
    let landed = outbox().landed;
    let refresh = RwSignal::new(0u64);
    let reports = LocalResource::new(move || {
        refresh.track();
        landed.track();
        get_kept("/api/reports")
    });
    let consolidated = LocalResource::new(move || {
        refresh.track();
        async move {
            if oversees {
                get_kept("/api/consolidated").await
            } else {
                Ok(Kept {
                    value: json!([]),
                    offline: false,
                })
            }
        }
    });
    let names = unit_names();
    let open = RwSignal::new(None::<Opened>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let plan_signals = repo().open(plan);
    let periods = Memo::new(move |_| {
        plan_signals.version.track();
        repo()
            .read(plan, |d| Plan::read(d).ok())
            .flatten()
            .map(|p| shown_periods(&p, js_sys::Date::now() as i64))
            .unwrap_or_default()
    });

    // Asks the server to make (or find) a report, then opens it.
    let start = move |path: &'static str, body: Value, consolidated: bool| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            match post_json(path, &body).await {
                Ok((200, v)) => {
                    let mut o = opened(&v, consolidated);
                    if let Some(o) = o.as_mut() {
                        o.status = "draft".into();
                    }
                    open.set(o);
                    refresh.update(|n| *n += 1);
                }
                Ok((status, v)) => error.set(Some(error_text(status, &v))),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };

    let own_unit = identity.unit.clone();
    let list = move || {
        let rows: Vec<Value> = reports
            .get()
            .and_then(|r| r.ok())
            .and_then(|k| k.value.as_array().cloned())
            .unwrap_or_default();
        let sums: Vec<Value> = consolidated
            .get()
            .and_then(|r| r.ok())
            .and_then(|k| k.value.as_array().cloned())
            .unwrap_or_default();
        let offline = reports
            .get()
            .and_then(|r| r.ok())
            .is_some_and(|k| k.offline);
        let failed = reports.get().and_then(|r| r.err());
        let names = names.get().unwrap_or_default();
        let own_unit = own_unit.clone();
        view! {
            {offline.then(|| view! { <p class="status-line">{t!("reports.kept_copy").to_string()}</p> })}
            {failed.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <ul class="cards periods">
                {periods.get().into_iter().map(|(period, deadline)| {
                    let key = period.key();
                    let in_period: Vec<Value> = rows.iter().filter(|r| text(r, "period") == key).cloned().collect();
                    let mine = in_period.iter().find(|r| text(r, "unit") == own_unit).cloned();
                    let sum = sums.iter().find(|r| text(r, "period") == key).cloned();
                    let key2 = key.clone();
                    let unit = own_unit.clone();
                    view! {
                        <li class="card period" data-period=key.clone()>
                            <h3>{period_name(&key)}</h3>
                            <p class="due">{t!("reports.due", date = date(deadline)).to_string()}</p>
                            {(!oversees).then(|| match mine {
                                Some(r) => {
                                    let status = text(&r, "status");
                                    view! {
                                        <p class="report-status" data-status=status.clone()>{status_label(&status)}</p>
                                        <button type="button" class="open-report" on:click=move |_| open.set(opened(&r, false))>
                                            {t!("reports.open").to_string()}
                                        </button>
                                    }.into_any()
                                }
                                None if drafts => view! {
                                    <button type="button" class="start-report" disabled=move || busy.get()
                                        on:click=move |_| start("/api/reports", json!({ "unit": unit.clone(), "period": key2.clone() }), false)>
                                        {t!("reports.start").to_string()}
                                    </button>
                                }.into_any(),
                                None => view! { <p class="report-status">{status_label("missing")}</p> }.into_any(),
                            })}
                            {oversees.then(|| {
                                let names = names.clone();
                                view! {
                                    <ul class="unit-reports">
                                        {in_period.into_iter().map(|r| {
                                            let status = text(&r, "status");
                                            let timeliness = r["timeliness"].as_str().map(timeliness_label);
                                            let unit = text(&r, "unit");
                                            let unit_name = name_of(&names, &unit);
                                            view! {
                                                <li class="unit-report" data-unit=unit>
                                                    <span class="unit-name">{unit_name}</span>
                                                    " · " <span class="report-status" data-status=status.clone()>{status_label(&status)}</span>
                                                    {timeliness.map(|t| view! { " · " <span class="timeliness">{t}</span> })}
                                                    <button type="button" class="open-report" on:click=move |_| open.set(opened(&r, false))>
                                                        {t!("reports.open").to_string()}
                                                    </button>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                    {match sum {
                                        Some(c) => view! {
                                            <button type="button" class="open-consolidated" on:click=move |_| open.set(opened(&c, true))>
                                                {t!("reports.open_consolidated").to_string()}
                                            </button>
                                        }.into_any(),
                                        None if role == Some(Role::Coordinator) => {
                                            let key = key.clone();
                                            view! {
                                                <button type="button" class="start-consolidated" disabled=move || busy.get()
                                                    on:click=move |_| start("/api/consolidated", json!({ "period": key.clone() }), true)>
                                                    {t!("reports.start_consolidated").to_string()}
                                                </button>
                                            }.into_any()
                                        }
                                        None => ().into_any(),
                                    }}
                                }
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
    };

    let identity = StoredValue::new(identity);
    view! {
        <section class="reports">
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || match open.get() {
                None => {
                    let list = list.clone();
                    view! {
                        <h2>{t!("reports.title").to_string()}</h2>
                        <Suspense fallback=|| view! { <p class="status-line">"…"</p> }>{list.clone()}</Suspense>
                    }.into_any()
                }
                Some(o) => view! {
                    <button type="button" class="back" on:click=move |_| {
                        open.set(None);
                        refresh.update(|n| *n += 1);
                    }>{t!("reports.back").to_string()}</button>
                    {if o.consolidated {
                        view! { <ConsolidatedView id=o.id identity=identity.get_value() period=o.period status=o.status names/> }.into_any()
                    } else {
                        view! { <ReportView id=o.id identity=identity.get_value() unit=o.unit period=o.period listed_status=o.status names/> }.into_any()
                    }}
                }.into_any(),
            }}
        </section>
    }
}

/// Waits for a document on the device, then shows it with `form`.
fn when_ready(
    id: DocId,
    form: impl Fn(Outline) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    let signals = repo().open(id);
    let outline = Memo::new(move |_| {
        signals.version.track();
        repo().read(id, |d| Outline::read(d)).flatten()
    });
    move || match signals.phase.get() {
        Phase::Loading => {
            view! { <p class="status-line" role="status">{t!("doc.loading").to_string()}</p> }
                .into_any()
        }
        Phase::Fetching => {
            view! { <p class="status-line" role="status">{t!("doc.fetching").to_string()}</p> }
                .into_any()
        }
        Phase::Unavailable => {
            view! { <p class="error" role="alert">{t!("doc.unavailable").to_string()}</p> }
                .into_any()
        }
        Phase::Ready => match outline.get() {
            Some(o) => form(o),
            None => {
                view! { <p class="error" role="alert">{t!("doc.not_a_report").to_string()}</p> }
                    .into_any()
            }
        },
    }
}

/// One unit's report: its review, and the form its staff fill in together.
#[component]
fn ReportView(
    id: DocId,
    identity: Identity,
    unit: String,
    period: String,
    listed_status: String,
    names: LocalResource<Vec<(String, String)>>,
) -> impl IntoView {
    let outbox = outbox();
    let url = id.url();
    let history = {
        let url = url.clone();
        LocalResource::new(move || {
            outbox.landed.track();
            let url = url.clone();
            async move { get_kept(&format!("/api/reports/history?url={url}")).await }
        })
    };
    // Others review the report meanwhile: look again now and then.
    if let Ok(every) = set_interval_with_handle(
        move || history.refetch(),
        std::time::Duration::from_secs(20),
    ) {
        on_cleanup(move || every.clear());
    }
    let status = Signal::derive(move || {
        history
            .get()
            .and_then(|r| r.ok())
            .and_then(|k| k.value["status"].as_str().map(str::to_string))
            .unwrap_or_else(|| listed_status.clone())
    });
    let role = Role::parse(&identity.role);
    let own = identity.unit == unit;
    let pending = {
        let url = url.clone();
        Signal::derive(move || outbox.pending_for(&url))
    };
    let readonly = Signal::derive(move || {
        let drafting = matches!(status.get().as_str(), "draft" | "returned");
        !(own
            && matches!(role, Some(Role::UnitLead | Role::Staff))
            && drafting
            && pending.get().is_none())
    });
    let unsynced = repo().open(id).unsynced;
    let unit_name = {
        let unit = unit.clone();
        move || name_of(&names.get().unwrap_or_default(), &unit)
    };
    view! {
        <article class="report" data-doc=url.clone()>
            <h2>{unit_name} " — " {period_name(&period)}</h2>
            <DocBadge unsynced/>
            <Review url=url.clone() unit identity history status pending/>
            {when_ready(id, move |outline| report_form(id, outline, readonly))}
        </article>
    }
}

fn report_form(id: DocId, outline: Outline, readonly: Signal<bool>) -> AnyView {
    let extras = outline.extra_items.clone();
    view! {
        {outline.sections.into_iter().enumerate().map(|(si, s)| view! {
            <section class="report-section" data-section=s.number.to_string()>
                <h3>{s.number} ". " {s.name.clone()}</h3>
                <ol class="report-measures">
                    {s.measures.into_iter().enumerate().map(|(mi, m)| view! {
                        <li class="report-measure">
                            <p class="measure-name">{m.text.clone()}</p>
                            <StatusSelect doc=id at=ItemAt::Measure { section: si, measure: mi }
                                label=t!("report.status_of", n = mi + 1).to_string() readonly/>
                            <CollabText doc=id at=TextAt::Evidence { section: si, measure: mi }
                                label=t!("report.evidence").to_string() readonly rows=2/>
                        </li>
                    }).collect_view()}
                </ol>
                {SECTION_TEXTS.into_iter().map(|key| view! {
                    <div class="field">
                        <p class="field-label">{t!(format!("section.{key}")).to_string()}</p>
                        <CollabText doc=id at=TextAt::Section { section: si, key }
                            label=format!("{} — {}", s.name, t!(format!("section.{key}"))) readonly/>
                    </div>
                }).collect_view()}
            </section>
        }).collect_view()}
        {(!extras.is_empty()).then(|| view! {
            <section class="report-section extra-items">
                <h3>{t!("report.extra_items").to_string()}</h3>
                <ol class="report-measures">
                    {extras.into_iter().enumerate().map(|(i, e)| view! {
                        <li class="report-measure">
                            <p class="measure-name">{e.text.clone()}</p>
                            <StatusSelect doc=id at=ItemAt::Extra(i) label=e.text.clone() readonly/>
                            <CollabText doc=id at=TextAt::ExtraEvidence(i)
                                label=t!("report.evidence").to_string() readonly rows=2/>
                        </li>
                    }).collect_view()}
                </ol>
            </section>
        })}
    }
    .into_any()
}

/// The status of a measure or item, following the document live.
#[component]
fn StatusSelect(doc: DocId, at: ItemAt, label: String, readonly: Signal<bool>) -> impl IntoView {
    let signals = repo().open(doc);
    let value = Memo::new(move |_| {
        signals.version.track();
        repo()
            .read(doc, |d| at.status(d))
            .flatten()
            .unwrap_or_else(|| MEASURE_STATUSES[0].to_string())
    });
    view! {
        <select class="measure-status" aria-label=label disabled=move || readonly.get()
            on:change=move |ev| {
                let chosen = event_target_value(&ev);
                repo().change(doc, |d| {
                    at.set_status(d, &chosen);
                });
            }>
            {MEASURE_STATUSES.into_iter().map(|s| view! {
                <option value=s prop:selected=move || value.get() == s>
                    {t!(format!("measure_status.{s}")).to_string()}
                </option>
            }).collect_view()}
        </select>
    }
}

/// Where the report stands, what this person may do with it, and its history.
#[component]
fn Review(
    url: String,
    unit: String,
    identity: Identity,
    history: LocalResource<Result<Kept, String>>,
    status: Signal<String>,
    pending: Signal<Option<super::outbox::Step>>,
) -> impl IntoView {
    let outbox = outbox();
    let role = Role::parse(&identity.role);
    let may_submit = role == Some(Role::UnitLead) && identity.unit == unit;
    let reviews = role == Some(Role::Coordinator);
    let reason = RwSignal::new(String::new());
    let note = RwSignal::new(None::<String>);
    let url = StoredValue::new(url);
    let act = move |action: &'static str| {
        let why = reason.get_untracked();
        if action == "return" && why.trim().is_empty() {
            note.set(Some(t!("review.reason_needed").to_string()));
            return;
        }
        note.set(None);
        outbox.take(&url.get_value(), action, &why);
        reason.set(String::new());
    };
    let refused = move || {
        outbox
            .refused
            .get()
            .into_iter()
            .find(|(u, _)| *u == url.get_value())
            .map(|(_, r)| r)
    };
    let kept = move || history.get().and_then(|r| r.ok());
    view! {
        <section class="review" aria-label=t!("review.title").to_string()>
            <p class="report-status" data-status=move || status.get()>
                {t!("review.status").to_string()} ": " <strong>{move || status_label(&status.get())}</strong>
                {move || kept().and_then(|k| k.value["deadline_ms"].as_i64())
                    .map(|d| view! { " · " {t!("reports.due", date = date(d)).to_string()} })}
            </p>
            {move || kept().filter(|k| k.offline).map(|_| view! {
                <p class="status-line">{t!("reports.kept_copy").to_string()}</p>
            })}
            {move || kept().and_then(|k| {
                let first = k.value["first_submission"].clone();
                let server = first["server_ms"].as_i64()?;
                let timeliness = first["timeliness"].as_str().unwrap_or_default().to_string();
                Some(view! {
                    <p class="first-submission" data-timeliness=timeliness.clone()>
                        {t!("review.submitted_times",
                            device = first["device_ms"].as_i64().map(date_time).unwrap_or_else(|| "—".into()),
                            server = date_time(server)).to_string()}
                        " · " <strong class="timeliness">{timeliness_label(&timeliness)}</strong>
                    </p>
                })
            })}
            {move || (status.get() == "returned").then(|| kept()).flatten().and_then(|k| {
                let events = k.value["events"].as_array()?.clone();
                let last = events.iter().rev().find(|e| e["action"] == "return")?.clone();
                Some(view! {
                    <p class="return-note" role="alert">
                        {t!("review.returned_because", who = text(&last, "display_name")).to_string()} " "
                        <strong>{text(&last, "reason")}</strong>
                    </p>
                })
            })}
            {move || pending.get().map(|p| view! {
                <p class="pending-step" role="status">
                    {t!("review.pending", action = t!(format!("action.{}", p.action)), when = date_time(p.device_time_ms)).to_string()}
                </p>
            })}
            {move || refused().map(|r| view! { <p class="error" role="alert">{t!("review.refused").to_string()} " " {r}</p> })}
            {move || note.get().map(|r| view! { <p class="error" role="alert">{r}</p> })}
            {move || {
                let s = status.get();
                let waiting = pending.get().is_some();
                view! {
                    {(may_submit && !waiting && matches!(s.as_str(), "draft" | "returned")).then(|| view! {
                        <button type="button" class="submit-report" on:click=move |_| act("submit")>
                            {t!("action.submit").to_string()}
                        </button>
                    })}
                    {(reviews && !waiting && s == "submitted").then(|| view! {
                        <label class="field">
                            <span class="field-label">{t!("review.reason").to_string()}</span>
                            <textarea class="return-reason" rows="2" prop:value=move || reason.get()
                                on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                        </label>
                        <div class="actions">
                            <button type="button" class="return-report" on:click=move |_| act("return")>
                                {t!("action.return").to_string()}
                            </button>
                            <button type="button" class="accept-report" on:click=move |_| act("accept")>
                                {t!("action.accept").to_string()}
                            </button>
                        </div>
                    })}
                }
            }}
            <details class="history">
                <summary>{t!("review.history").to_string()}</summary>
                <ol>
                    {move || kept().map(|k| k.value["events"].as_array().cloned().unwrap_or_default().into_iter().map(|e| {
                        let reason = text(&e, "reason");
                        let device = e["device_ms"].as_i64();
                        view! {
                            <li class="event" data-action=text(&e, "action")>
                                <span class="when">{e["server_ms"].as_i64().map(date_time).unwrap_or_default()}</span>
                                " · " <span class="who">{text(&e, "display_name")}</span>
                                " · " <span class="what">{t!(format!("action.{}", text(&e, "action"))).to_string()}</span>
                                {device.map(|d| view! { " " <span class="device-time">{t!("review.device_time", when = date_time(d)).to_string()}</span> })}
                                {(!reason.is_empty()).then(|| view! { <p class="reason">{reason.clone()}</p> })}
                            </li>
                        }
                    }).collect_view())}
                </ol>
            </details>
        </section>
    }
}

/// The Office's consolidated report of a period, made from the accepted unit
/// reports; the Director approves it.
#[component]
fn ConsolidatedView(
    id: DocId,
    identity: Identity,
    period: String,
    status: String,
    names: LocalResource<Vec<(String, String)>>,
) -> impl IntoView {
    let role = Role::parse(&identity.role);
    let status = RwSignal::new(status);
    let message = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let readonly =
        Signal::derive(move || !(role == Some(Role::Coordinator) && status.get() != "approved"));
    let url = id.url();
    let unsynced = repo().open(id).unsynced;
    let call = move |path: &'static str, body: Value, done: String| {
        busy.set(true);
        wasm_bindgen_futures::spawn_local(async move {
            let answer = post_json(path, &body).await;
            busy.set(false);
            message.set(Some(match answer {
                Ok((200, v)) => {
                    if let Some(s) = v["status"].as_str() {
                        status.set(s.to_string());
                    }
                    Ok(done)
                }
                Ok((code, v)) => Err(error_text(code, &v)),
                Err(e) => Err(e),
            }));
        });
    };
    let assemble_body = json!({ "period": period.clone() });
    let approve_body = json!({ "url": url.clone() });
    view! {
        <article class="report consolidated" data-doc=url>
            <h2>{t!("consolidated.title", period = period_name(&period)).to_string()}</h2>
            <DocBadge unsynced/>
            <p class="report-status" data-status=move || status.get()>
                {t!("review.status").to_string()} ": " <strong>{move || status_label(&status.get())}</strong>
            </p>
            {move || message.get().map(|m| match m {
                Ok(done) => view! { <p class="notice" role="status">{done}</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
            <div class="actions">
                {move || (role == Some(Role::Coordinator) && status.get() != "approved").then(|| {
                    let body = assemble_body.clone();
                    view! {
                        <button type="button" class="assemble" disabled=move || busy.get()
                            on:click=move |_| call("/api/consolidated/assemble", body.clone(), t!("consolidated.assembled").to_string())>
                            {t!("consolidated.assemble").to_string()}
                        </button>
                    }
                })}
                {move || (role == Some(Role::Director) && status.get() != "approved").then(|| {
                    let body = approve_body.clone();
                    view! {
                        <button type="button" class="approve" disabled=move || busy.get()
                            on:click=move |_| call("/api/consolidated/approve", body.clone(), t!("consolidated.approved").to_string())>
                            {t!("consolidated.approve").to_string()}
                        </button>
                    }
                })}
            </div>
            {when_ready(id, move |outline| {
                let names = names.get().unwrap_or_default();
                let included: Vec<String> = outline.included_units.iter().map(|u| name_of(&names, u)).collect();
                view! {
                    <p class="included">
                        {t!("consolidated.included").to_string()} ": "
                        {if included.is_empty() { t!("consolidated.none_included").to_string() } else { included.join(", ") }}
                    </p>
                    {outline.sections.into_iter().enumerate().map(|(si, s)| view! {
                        <section class="report-section" data-section=s.number.to_string()>
                            <h3>{s.number} ". " {s.name.clone()}</h3>
                            {SECTION_TEXTS.into_iter().map(|key| view! {
                                <div class="field">
                                    <p class="field-label">{t!(format!("section.{key}")).to_string()}</p>
                                    <CollabText doc=id at=TextAt::Section { section: si, key }
                                        label=format!("{} — {}", s.name, t!(format!("section.{key}"))) readonly rows=6/>
                                </div>
                            }).collect_view()}
                        </section>
                    }).collect_view()}
                }.into_any()
            })}
        </article>
    }
}

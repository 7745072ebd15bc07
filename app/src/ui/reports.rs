//! Reports: the list per period, a unit's report form with its review, and
//! the consolidated report of a period.

use std::sync::Arc;

use automerge::{Automerge, ReadDoc};
use leptos::prelude::*;

use super::comments::Comments;
use super::controls::{BusyButton, NoteField};
use super::format::{action_label, date, date_time, period_name, status_label, timeliness_label};
use super::history::HistoryPanel;
use super::http::{get_kept, post, Failure, Kept};
use super::i18n::t;
use super::official::OfficialPanel;
use super::outbox::outbox;
use super::presence::{Presence, PresenceList};
use super::repo::{follow, follow_on, repo, Phase};
use super::session::Identity;
use super::shell::{Go, NotFound};
use super::status::DocBadge;
use super::text_field::CollabText;
use crate::access::{access, Access, Capability, DocKind, Role};
use crate::api::{
    Assembled, Consolidated, DocStatus, History, NewReport, PeriodRequest, ReportEntry, ReportMade,
    StatusNow, UnitInfo,
};
use crate::ids::DocId;
use crate::report::{
    ItemAt, ItemOutline, Outline, SectionOutline, TextAt, MEASURE_STATUSES, SECTION_TEXTS,
};
use crate::route::{Route, OTHER_ITEMS};
use crate::schema::Plan;
use crate::workflow::{may_take, Action};

/// A report chosen from the list.
#[derive(Clone, Debug, PartialEq)]
struct Opened {
    id: DocId,
    consolidated: bool,
    unit: String,
    period: String,
    status: DocStatus,
}

impl Opened {
    fn report(r: &ReportEntry) -> Option<Opened> {
        Some(Opened {
            id: DocId::parse(&r.url).ok()?,
            consolidated: false,
            unit: r.unit.clone(),
            period: r.period.clone(),
            status: r.status,
        })
    }

    /// Its address.
    fn route(&self) -> Route {
        if self.consolidated {
            Route::Consolidated {
                period: self.period.clone(),
                part: None,
            }
        } else {
            Route::Report {
                period: self.period.clone(),
                unit: self.unit.clone(),
                part: None,
            }
        }
    }

    fn consolidated(c: &Consolidated) -> Option<Opened> {
        Some(Opened {
            id: DocId::parse(&c.url).ok()?,
            consolidated: true,
            unit: String::new(),
            period: c.period.clone(),
            status: c.status,
        })
    }
}

/// The reports page's own state.
#[derive(Clone, Copy)]
struct Page {
    /// A report just made, until the list has it.
    made: RwSignal<Option<Opened>>,
    /// Where the next screen is.
    go: Callback<Route>,
    error: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    refresh: RwSignal<u64>,
}

impl Page {
    /// Runs `make`, which asks the server to make (or find) a report, then
    /// opens what it made.
    fn make_and_open(
        self,
        make: impl std::future::Future<Output = Result<Option<Opened>, Failure>> + 'static,
    ) {
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        self.error.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            match make.await {
                Ok(opened) => {
                    self.refresh.update(|n| *n += 1);
                    if let Some(o) = opened {
                        let route = o.route();
                        self.made.set(Some(o));
                        self.go.run(route);
                    }
                }
                Err(e) => self.error.set(Some(e.into())),
            }
            self.busy.set(false);
        });
    }
}

/// Unit names by id, from the server (or the copy kept on the device).
fn unit_names() -> LocalResource<Vec<(String, String)>> {
    LocalResource::new(|| async {
        get_kept::<Vec<UnitInfo>>("/api/units")
            .await
            .map(|k| k.value.into_iter().map(|u| (u.id, u.name)).collect())
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

/// What the address asks the reports page to show.
#[derive(Clone, Debug)]
enum Shown {
    List,
    /// The lists it is looked up in have not come yet.
    Looking,
    /// Not in this user's lists: it does not exist, or is not theirs to see.
    Missing,
    /// The lists could not be had (offline before any was kept).
    Failed(String),
    Open(Opened),
}

/// The same screen: an open report stays drawn while its entry in the
/// list changes (a review step lands); only another report, or none,
/// redraws it.
impl PartialEq for Shown {
    fn eq(&self, other: &Shown) -> bool {
        match (self, other) {
            (Shown::Open(a), Shown::Open(b)) => a.id == b.id,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

/// The report at `route`, looked up in the lists this user may see; None
/// when a list could not be read this time (the screen stays as it was).
fn look_up(
    route: &Route,
    made: Option<Opened>,
    reports: Option<Result<Kept<Vec<ReportEntry>>, String>>,
    consolidated: Option<Result<Kept<Vec<Consolidated>>, String>>,
) -> Result<Shown, String> {
    if let Some(m) = made.filter(|m| m.route() == route.with_part(None)) {
        return Ok(Shown::Open(m));
    }
    let found = match route {
        Route::Report { period, unit, .. } => reports.map(|r| {
            r.map(|k| {
                k.value
                    .iter()
                    .find(|e| e.period == *period && e.unit == *unit)
                    .and_then(Opened::report)
            })
        }),
        Route::Consolidated { period, .. } => consolidated.map(|c| {
            c.map(|k| {
                k.value
                    .iter()
                    .find(|e| e.period == *period)
                    .and_then(Opened::consolidated)
            })
        }),
        _ => return Ok(Shown::List),
    };
    match found {
        None => Ok(Shown::Looking),
        Some(Err(e)) => Err(e),
        Some(Ok(None)) => Ok(Shown::Missing),
        Some(Ok(Some(o))) => Ok(Shown::Open(o)),
    }
}

/// The reports page: periods with their reports, or the one report in the
/// address.
#[component]
pub fn ReportsPage(identity: Identity, plan: DocId, route: Memo<Route>, go: Go) -> impl IntoView {
    let role = identity.role;
    let oversees = role.may(Capability::OverseeReports);
    let drafts = role.may(Capability::DraftReports);
    let consolidates = role.may(Capability::Consolidate);
    let landed = outbox().landed;
    let refresh = RwSignal::new(0u64);
    let reports = LocalResource::new(move || {
        refresh.track();
        landed.track();
        get_kept::<Vec<ReportEntry>>("/api/reports")
    });
    let consolidated = LocalResource::new(move || {
        refresh.track();
        async move {
            if oversees {
                get_kept::<Vec<Consolidated>>("/api/consolidated").await
            } else {
                Ok(Kept {
                    value: Vec::new(),
                    offline: false,
                })
            }
        }
    });
    let names = unit_names();
    let go = Callback::new(move |to: Route| go.run((to, false)));
    let made = RwSignal::new(None::<Opened>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let periods = follow(plan, |d| {
        // No plan yet (a new workspace): no periods to report on.
        let p = Plan::read(d).ok().filter(|p| !p.is_empty())?;
        let all = p.reporting.periods(p.start_year, p.end_year).ok()?;
        Some(
            p.reporting
                .shown_periods(&all, js_sys::Date::now() as i64)
                .into_iter()
                .map(|period| (period, p.reporting.deadline_ms(period)))
                .collect::<Vec<_>>(),
        )
    });

    let page = Page {
        made,
        go,
        error,
        busy,
        refresh,
    };
    let start_report = move |unit: String, period: String| {
        page.make_and_open(async move {
            let made: ReportMade = post("/api/reports", &NewReport { unit, period }).await?;
            Ok(DocId::parse(&made.url).ok().map(|id| Opened {
                id,
                consolidated: false,
                unit: made.unit,
                period: made.period,
                status: DocStatus::Draft,
            }))
        })
    };
    let start_consolidated = move |period: String| {
        page.make_and_open(async move {
            let made: Consolidated = post("/api/consolidated", &PeriodRequest { period }).await?;
            Ok(Opened::consolidated(&made))
        })
    };

    let own_unit = identity.unit.clone();
    let list = move || {
        let rows: Vec<ReportEntry> = reports
            .get()
            .and_then(|r| r.ok())
            .map(|k| k.value)
            .unwrap_or_default();
        let sums: Vec<Consolidated> = consolidated
            .get()
            .and_then(|r| r.ok())
            .map(|k| k.value)
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
                {periods.get().unwrap_or_default().into_iter().map(|(period, deadline)| {
                    let key = period.key();
                    let in_period: Vec<ReportEntry> = rows.iter().filter(|r| r.period == key).cloned().collect();
                    let mine = in_period.iter().find(|r| r.unit == own_unit).cloned();
                    let sum = sums.iter().find(|c| c.period == key).cloned();
                    let key2 = key.clone();
                    let unit = own_unit.clone();
                    view! {
                        <li class="card period" data-period=key.clone()>
                            <h3>{period_name(&key)}</h3>
                            <p class="due">{t!("reports.due", date = date(deadline)).to_string()}</p>
                            {(!oversees).then(|| match mine {
                                Some(r) => view! {
                                    <p class="report-status" data-status=r.status.key()>{status_label(r.status)}</p>
                                    <button type="button" class="open-report" on:click=move |_| go.run(Opened::report(&r).map_or(Route::Reports, |o| o.route()))>
                                        {t!("reports.open").to_string()}
                                    </button>
                                }.into_any(),
                                None if drafts => view! {
                                    <button type="button" class="start-report" disabled=move || busy.get()
                                        on:click=move |_| start_report(unit.clone(), key2.clone())>
                                        {t!("reports.start").to_string()}
                                    </button>
                                }.into_any(),
                                None => view! { <p class="report-status">{status_label(DocStatus::Missing)}</p> }.into_any(),
                            })}
                            {oversees.then(|| {
                                let names = names.clone();
                                view! {
                                    <ul class="unit-reports">
                                        {in_period.into_iter().map(|r| {
                                            let unit_name = name_of(&names, &r.unit);
                                            let (unit, status, timeliness) = (r.unit.clone(), r.status, r.timeliness);
                                            view! {
                                                <li class="unit-report" data-unit=unit>
                                                    <span class="unit-name">{unit_name}</span>
                                                    " · " <span class="report-status" data-status=status.key()>{status_label(status)}</span>
                                                    {timeliness.map(|t| view! { " · " <span class="timeliness">{timeliness_label(t)}</span> })}
                                                    <button type="button" class="open-report" on:click=move |_| go.run(Opened::report(&r).map_or(Route::Reports, |o| o.route()))>
                                                        {t!("reports.open").to_string()}
                                                    </button>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                    {match sum {
                                        Some(c) => view! {
                                            <button type="button" class="open-consolidated" on:click=move |_| go.run(Opened::consolidated(&c).map_or(Route::Reports, |o| o.route()))>
                                                {t!("reports.open_consolidated").to_string()}
                                            </button>
                                        }.into_any(),
                                        None if consolidates => {
                                            let key = key.clone();
                                            view! {
                                                <button type="button" class="start-consolidated" disabled=move || busy.get()
                                                    on:click=move |_| start_consolidated(key.clone())>
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
    // A list that fails to come this time (a refresh while the server
    // restarts) leaves the screen as it was.
    let shown = Memo::new(move |before: Option<&Shown>| {
        match look_up(&route.get(), made.get(), reports.get(), consolidated.get()) {
            Ok(now) => now,
            Err(e) => before
                .filter(|b| !matches!(b, Shown::Looking))
                .cloned()
                .unwrap_or(Shown::Failed(e)),
        }
    });
    let part = Signal::derive(move || match route.get() {
        Route::Report { part, .. } | Route::Consolidated { part, .. } => part,
        _ => None,
    });
    view! {
        <section class="reports">
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || {
                match shown.get() {
                    Shown::List => {
                        let list = list.clone();
                        view! {
                            <h2>{t!("reports.title").to_string()}</h2>
                            <Suspense fallback=|| view! { <p class="status-line">"…"</p> }>{list.clone()}</Suspense>
                        }.into_any()
                    }
                    Shown::Looking => view! { <p class="status-line" role="status">"…"</p> }.into_any(),
                    Shown::Missing => view! { <NotFound/> }.into_any(),
                    Shown::Failed(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
                    Shown::Open(o) => view! {
                        <button type="button" class="back" on:click=move |_| {
                            refresh.update(|n| *n += 1);
                            go.run(Route::Reports);
                        }>{t!("reports.back").to_string()}</button>
                        {if o.consolidated {
                            view! { <ConsolidatedView id=o.id plan identity=identity.get_value() period=o.period status=o.status names part/> }.into_any()
                        } else {
                            view! { <ReportView id=o.id plan identity=identity.get_value() unit=o.unit period=o.period listed_status=o.status names part/> }.into_any()
                        }}
                    }.into_any(),
                }
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
    let outline = follow_on(id, signals.shape, Outline::read);
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
    plan: DocId,
    identity: Identity,
    unit: String,
    period: String,
    listed_status: DocStatus,
    names: LocalResource<Vec<(String, String)>>,
    part: Signal<Option<u8>>,
) -> impl IntoView {
    let base = Route::Report {
        period: period.clone(),
        unit: unit.clone(),
        part: None,
    };
    let outbox = outbox();
    let url = id.url();
    let history = {
        let url = url.clone();
        LocalResource::new(move || {
            outbox.landed.track();
            let url = url.clone();
            async move { get_kept::<History>(&format!("/api/reports/history?url={url}")).await }
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
            .map(|k| k.value.status)
            .unwrap_or(listed_status)
    });
    let actor = identity.actor();
    let pending = {
        let url = url.clone();
        Signal::derive(move || outbox.pending_for(&url))
    };
    // What this user may do with the report now: nothing but read while a
    // review step of theirs waits to be sent.
    let may = {
        let unit = unit.clone();
        Signal::derive(move || {
            if pending.get().is_some() {
                return Access::Read;
            }
            status.get().review().map_or(Access::None, |status| {
                let report = DocKind::UnitReport {
                    unit: unit.clone(),
                    status,
                };
                access(&actor, &report)
            })
        })
    };
    let readonly = Signal::derive(move || may.get() != Access::Write);
    let unsynced = repo().open(id).unsynced;
    let presence = draft_together(id, &identity, names, may, Role::Coordinator);
    let unit_name = {
        let unit = unit.clone();
        move || name_of(&names.get().unwrap_or_default(), &unit)
    };
    view! {
        <article class="report" data-doc=url.clone()>
            <h2>{unit_name} " — " {period_name(&period)}</h2>
            <DocBadge unsynced/>
            <PresenceList presence/>
            <Review url=url.clone() unit=unit.clone() identity history status pending/>
            <OfficialPanel doc=id plan file_name=format!("bao-cao-{unit}-{period}") names readonly/>
            <HistoryPanel doc=id readonly/>
            {when_ready(id, move |outline| report_form(id, outline, readonly, base.clone(), part))}
        </article>
    }
}

/// Shares who is in the report and its comments with its text boxes, for
/// as long as the calling view lives; `reviewer` may resolve any thread.
fn draft_together(
    id: DocId,
    identity: &Identity,
    names: LocalResource<Vec<(String, String)>>,
    may: Signal<Access>,
    reviewer: Role,
) -> Presence {
    let presence = Presence::start(
        id,
        identity.display_name.clone(),
        identity.unit.clone(),
        names,
    );
    provide_context(presence);
    let may_comment = Signal::derive(move || may.get() >= Access::Comment);
    provide_context(Comments::start(
        id,
        identity.writer(),
        may_comment,
        identity.role == reviewer,
    ));
    presence
}

/// A part of a report: one dimension (its index among the sections), or the
/// unit's own items.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    Dimension(usize),
    Other,
}

/// The parts of a report in order: their numbers in the address, names and
/// places.
fn parts_of(outline: &Outline) -> Vec<(u8, String, Part)> {
    let mut parts: Vec<(u8, String, Part)> = outline
        .sections
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let number = u8::try_from(s.number).unwrap_or(0);
            (
                number,
                format!("{}. {}", s.number, s.name),
                Part::Dimension(si),
            )
        })
        .collect();
    if !outline.extra_items.is_empty() {
        parts.push((
            OTHER_ITEMS,
            t!("report.extra_items").to_string(),
            Part::Other,
        ));
    }
    parts
}

/// How far each part is, as (filled, all): a measure counts once its status
/// has moved past "not started", a text once it is not empty.
fn progress(d: &Automerge, outline: &Outline, parts: &[(u8, String, Part)]) -> Vec<(usize, usize)> {
    let moved = |at: ItemAt| at.status(d).is_some_and(|s| s != MEASURE_STATUSES[0]);
    parts
        .iter()
        .map(|(_, _, part)| match *part {
            Part::Dimension(si) => {
                let measures = outline.sections[si].measures.len();
                let statuses = (0..measures)
                    .filter(|&mi| {
                        moved(ItemAt::Measure {
                            section: si,
                            measure: mi,
                        })
                    })
                    .count();
                let texts = SECTION_TEXTS
                    .iter()
                    .filter(|&&key| {
                        TextAt::Section { section: si, key }
                            .locate(d)
                            .is_some_and(|t| d.length(&t) > 0)
                    })
                    .count();
                (statuses + texts, measures + SECTION_TEXTS.len())
            }
            Part::Other => {
                let items = outline.extra_items.len();
                (
                    (0..items).filter(|&i| moved(ItemAt::Extra(i))).count(),
                    items,
                )
            }
        })
        .collect()
}

/// A report's contents (each part with how far it is), then either every
/// part or the one in the address, with the way to the parts before and
/// after: on a phone, one dimension at a time.
fn report_parts(
    id: DocId,
    outline: Outline,
    base: Route,
    chosen: Signal<Option<u8>>,
    draw: Arc<dyn Fn(Part) -> AnyView + Send + Sync>,
) -> AnyView {
    let parts = parts_of(&outline);
    let done = {
        let parts = parts.clone();
        follow_on(id, repo().open(id).shape, move |d| {
            Some(progress(d, &outline, &parts))
        })
    };
    let contents = parts
        .iter()
        .enumerate()
        .map(|(i, (n, name, _))| {
            let n = *n;
            let here = move || chosen.get() == Some(n);
            view! {
                <li data-part=n.to_string()>
                    <a href=base.with_part(Some(n)).path() aria-current=move || here().then_some("page")>{name.clone()}</a>
                    " "
                    <span class="part-progress">{move || {
                        done.get().and_then(|p| p.get(i).copied()).map(|(filled, all)| {
                            t!("report.part_progress", filled = filled, all = all).to_string()
                        })
                    }}</span>
                </li>
            }
        })
        .collect_view();
    let shown = move || {
        let Some(n) = chosen.get() else {
            return parts
                .iter()
                .map(|(_, _, p)| draw(*p))
                .collect_view()
                .into_any();
        };
        let Some(i) = parts.iter().position(|(m, _, _)| *m == n) else {
            return view! { <NotFound/> }.into_any();
        };
        let step = |j: Option<usize>, class: &'static str, key: &'static str| {
            j.and_then(|j| parts.get(j)).map(|(m, name, _)| {
                view! {
                    <a class=class href=base.with_part(Some(*m)).path()>
                        {t!(key, name = name.clone()).to_string()}
                    </a>
                }
            })
        };
        view! {
            {draw(parts[i].2)}
            <nav class="part-steps" aria-label=t!("report.steps").to_string()>
                {step(i.checked_sub(1), "part-previous", "report.previous")}
                <a class="part-all" href=base.path()>{t!("report.whole").to_string()}</a>
                {step(Some(i + 1), "part-next", "report.next")}
            </nav>
        }
        .into_any()
    };
    view! {
        <nav class="report-contents" aria-label=t!("report.contents").to_string()>
            <ol>{contents}</ol>
        </nav>
        {shown}
    }
    .into_any()
}

fn report_form(
    id: DocId,
    outline: Outline,
    readonly: Signal<bool>,
    base: Route,
    chosen: Signal<Option<u8>>,
) -> AnyView {
    let sections = outline.sections.clone();
    let extras = outline.extra_items.clone();
    let draw = Arc::new(move |part: Part| match part {
        Part::Dimension(si) => unit_section(id, si, sections[si].clone(), readonly),
        Part::Other => unit_items(id, extras.clone(), readonly),
    });
    report_parts(id, outline, base, chosen, draw)
}

/// One dimension of a unit's report: its measures and its four texts.
fn unit_section(id: DocId, si: usize, s: SectionOutline, readonly: Signal<bool>) -> AnyView {
    view! {
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
            {section_texts(id, si, &s.name, readonly, 4)}
        </section>
    }
    .into_any()
}

/// The four texts of a dimension (results, shortcomings, causes,
/// proposals), in a unit's report and in the consolidated one alike.
fn section_texts(
    id: DocId,
    si: usize,
    name: &str,
    readonly: Signal<bool>,
    rows: u32,
) -> impl IntoView {
    SECTION_TEXTS
        .into_iter()
        .map(|key| {
            let label = t!(format!("section.{key}")).to_string();
            view! {
                <div class="field">
                    <p class="field-label">{label.clone()}</p>
                    <CollabText doc=id at=TextAt::Section { section: si, key }
                        label=format!("{name} — {label}") readonly rows/>
                </div>
            }
        })
        .collect_view()
}

/// The unit's own items, beside the plan's measures.
fn unit_items(id: DocId, extras: Vec<ItemOutline>, readonly: Signal<bool>) -> AnyView {
    view! {
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
    }
    .into_any()
}

fn consolidated_form(
    id: DocId,
    outline: Outline,
    readonly: Signal<bool>,
    base: Route,
    chosen: Signal<Option<u8>>,
) -> AnyView {
    let sections = outline.sections.clone();
    let draw = Arc::new(move |part: Part| match part {
        Part::Dimension(si) => {
            let s = sections[si].clone();
            view! {
                <section class="report-section" data-section=s.number.to_string()>
                    <h3>{s.number} ". " {s.name.clone()}</h3>
                    {section_texts(id, si, &s.name, readonly, 6)}
                </section>
            }
            .into_any()
        }
        // A consolidated report has no items of its own.
        Part::Other => ().into_any(),
    });
    report_parts(id, outline, base, chosen, draw)
}

/// The status of a measure or item, following the document live.
#[component]
fn StatusSelect(doc: DocId, at: ItemAt, label: String, readonly: Signal<bool>) -> impl IntoView {
    let status = follow_on(doc, repo().open(doc).shape, move |d| at.status(d));
    let value = move || {
        status
            .get()
            .unwrap_or_else(|| MEASURE_STATUSES[0].to_string())
    };
    view! {
        <select class="measure-status" aria-label=label disabled=move || readonly.get()
            on:change=move |ev| {
                let chosen = event_target_value(&ev);
                repo().change(doc, |d| {
                    at.set_status(d, &chosen);
                });
            }>
            {MEASURE_STATUSES.into_iter().map(|s| view! {
                <option value=s prop:selected=move || value() == s>
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
    history: LocalResource<Result<Kept<History>, String>>,
    status: Signal<DocStatus>,
    pending: Signal<Option<super::outbox::Step>>,
) -> impl IntoView {
    let outbox = outbox();
    let actor = identity.actor();
    let may_submit = may_take(&actor, &unit, Action::Submit);
    let reviews = may_take(&actor, &unit, Action::Accept);
    let reason = RwSignal::new(String::new());
    let note = RwSignal::new(None::<String>);
    let url = StoredValue::new(url);
    let act = move |action: Action| {
        let why = reason.get_untracked();
        if action == Action::Return && why.trim().is_empty() {
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
            <p class="report-status" data-status=move || status.get().key()>
                {t!("review.status").to_string()} ": " <strong>{move || status_label(status.get())}</strong>
                {move || kept().and_then(|k| k.value.deadline_ms)
                    .map(|d| view! { " · " {t!("reports.due", date = date(d)).to_string()} })}
            </p>
            {move || kept().filter(|k| k.offline).map(|_| view! {
                <p class="status-line">{t!("reports.kept_copy").to_string()}</p>
            })}
            {move || kept().and_then(|k| k.value.first_submission).map(|first| view! {
                <p class="first-submission" data-timeliness=first.timeliness.key()>
                    {t!("review.submitted_times",
                        device = first.device_ms.map(date_time).unwrap_or_else(|| "—".into()),
                        server = date_time(first.server_ms)).to_string()}
                    " · " <strong class="timeliness">{timeliness_label(first.timeliness)}</strong>
                </p>
            })}
            {move || (status.get() == DocStatus::Returned).then(kept).flatten().and_then(|k| {
                let last = k.value.events.into_iter().rev().find(|e| e.action == Action::Return)?;
                Some(view! {
                    <p class="return-note" role="alert">
                        {t!("review.returned_because", who = last.display_name).to_string()} " "
                        <strong>{last.reason}</strong>
                    </p>
                })
            })}
            {move || pending.get().map(|p| view! {
                <p class="pending-step" role="status">
                    {t!("review.pending", action = action_label(p.action), when = date_time(p.device_time_ms)).to_string()}
                </p>
            })}
            {move || refused().map(|r| view! { <p class="error" role="alert">{t!("review.refused").to_string()} " " {r}</p> })}
            {move || note.get().map(|r| view! { <p class="error" role="alert">{r}</p> })}
            {move || {
                let s = status.get();
                let waiting = pending.get().is_some();
                view! {
                    {(may_submit && !waiting && matches!(s, DocStatus::Draft | DocStatus::Returned)).then(|| view! {
                        <button type="button" class="submit-report" on:click=move |_| act(Action::Submit)>
                            {action_label(Action::Submit)}
                        </button>
                    })}
                    {(reviews && !waiting && s == DocStatus::Submitted).then(|| view! {
                        <NoteField class="return-reason" label=t!("review.reason").to_string() value=reason/>
                        <div class="actions">
                            <button type="button" class="return-report" on:click=move |_| act(Action::Return)>
                                {action_label(Action::Return)}
                            </button>
                            <button type="button" class="accept-report" on:click=move |_| act(Action::Accept)>
                                {action_label(Action::Accept)}
                            </button>
                        </div>
                    })}
                }
            }}
            <details class="history">
                <summary>{t!("review.history").to_string()}</summary>
                <ol>
                    {move || kept().map(|k| k.value.events.into_iter().map(|e| view! {
                        <li class="event" data-action=e.action.key()>
                            <span class="when">{date_time(e.server_ms)}</span>
                            " · " <span class="who">{e.display_name.clone()}</span>
                            " · " <span class="what">{action_label(e.action)}</span>
                            {e.device_ms.map(|d| view! { " " <span class="device-time">{t!("review.device_time", when = date_time(d)).to_string()}</span> })}
                            {(!e.reason.is_empty()).then(|| view! { <p class="reason">{e.reason.clone()}</p> })}
                        </li>
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
    plan: DocId,
    identity: Identity,
    period: String,
    status: DocStatus,
    names: LocalResource<Vec<(String, String)>>,
    part: Signal<Option<u8>>,
) -> impl IntoView {
    let base = Route::Consolidated {
        period: period.clone(),
        part: None,
    };
    let role = identity.role;
    let status = RwSignal::new(status);
    let message = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let actor = identity.actor();
    let may = Signal::derive(move || {
        let report = DocKind::Consolidated {
            approved: status.get() == DocStatus::Approved,
        };
        access(&actor, &report)
    });
    let readonly = Signal::derive(move || may.get() != Access::Write);
    let url = id.url();
    let unsynced = repo().open(id).unsynced;
    let presence = draft_together(id, &identity, names, may, Role::Director);
    let assemble = {
        let period = period.clone();
        Callback::new(move |()| {
            let request = PeriodRequest {
                period: period.clone(),
            };
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let answer = post::<Assembled>("/api/consolidated/assemble", &request).await;
                busy.set(false);
                message.set(Some(match answer {
                    Ok(_) => Ok(t!("consolidated.assembled").to_string()),
                    Err(e) => Err(e.into()),
                }));
            });
        })
    };
    let approve = {
        let url = url.clone();
        Callback::new(move |()| {
            let request = crate::api::ApproveRequest { url: url.clone() };
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let answer = post::<StatusNow>("/api/consolidated/approve", &request).await;
                busy.set(false);
                message.set(Some(match answer {
                    Ok(now) => {
                        status.set(now.status);
                        Ok(t!("consolidated.approved").to_string())
                    }
                    Err(e) => Err(e.into()),
                }));
            });
        })
    };
    view! {
        <article class="report consolidated" data-doc=url>
            <h2>{t!("consolidated.title", period = period_name(&period)).to_string()}</h2>
            <DocBadge unsynced/>
            <PresenceList presence/>
            <p class="report-status" data-status=move || status.get().key()>
                {t!("review.status").to_string()} ": " <strong>{move || status_label(status.get())}</strong>
            </p>
            {move || message.get().map(|m| match m {
                Ok(done) => view! { <p class="notice" role="status">{done}</p> }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
            <div class="actions">
                {move || (role.may(Capability::Consolidate) && status.get() != DocStatus::Approved).then(|| view! {
                    <BusyButton class="assemble" label=t!("consolidated.assemble").to_string() busy on_press=assemble/>
                })}
                {move || (role.may(Capability::ApproveConsolidated) && status.get() != DocStatus::Approved).then(|| view! {
                    <BusyButton class="approve" label=t!("consolidated.approve").to_string() busy on_press=approve/>
                })}
            </div>
            <OfficialPanel doc=id plan file_name=format!("bao-cao-tong-hop-{period}") names readonly/>
            <HistoryPanel doc=id readonly/>
            {when_ready(id, move |outline| {
                let names = names.get().unwrap_or_default();
                let included: Vec<String> = outline.included_units.iter().map(|u| name_of(&names, u)).collect();
                view! {
                    <p class="included">
                        {t!("consolidated.included").to_string()} ": "
                        {if included.is_empty() { t!("consolidated.none_included").to_string() } else { included.join(", ") }}
                    </p>
                    {consolidated_form(id, outline.clone(), readonly, base.clone(), part)}
                }.into_any()
            })}
        </article>
    }
}

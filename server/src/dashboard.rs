//! Where things stand: the units, each report's history, and which units
//! have reported for each period, on time or late, and who is overdue.
//!
//! Whether a report was on time is decided by `papi::punctuality` from its
//! first submission only.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use papi::access::{access, Access, Actor, DocKind, Role};
use papi::calendar::{LocalDate, Period};
use papi::punctuality::{self, Timeliness};
use rusqlite::OptionalExtension;
use serde::Deserialize;

use crate::auth::signed_in;
use crate::db::{Db, DbError};
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/units", get(units))
        .route("/api/reports/history", get(history))
        .route("/api/dashboard", get(dashboard))
}

/// Whether units of this kind report: every unit but the agency itself and
/// its board of directors.
pub fn reports(kind: &str) -> bool {
    kind != "agency" && kind != "board"
}

/// The first submission of a report: when the server received it, and when
/// the device said its user pressed submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstSubmission {
    pub server_ms: i64,
    pub device_ms: Option<i64>,
}

impl FirstSubmission {
    pub fn judge(&self, deadline_ms: i64) -> Timeliness {
        punctuality::judge(deadline_ms, self.server_ms, self.device_ms)
    }

    fn json(&self, deadline_ms: i64) -> serde_json::Value {
        serde_json::json!({
            "server_ms": self.server_ms,
            "device_ms": self.device_ms,
            "timeliness": self.judge(deadline_ms).key(),
        })
    }
}

/// The first submission of every report that has one, by document id.
pub async fn first_submissions(db: &Db) -> Result<HashMap<String, FirstSubmission>, DbError> {
    db.call(|c| {
        let mut stmt = c.prepare(
            "SELECT doc_id, server_ms, device_ms FROM report_events
             WHERE id IN (SELECT MIN(id) FROM report_events WHERE action = 'submit' GROUP BY doc_id)",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    FirstSubmission {
                        server_ms: r.get(1)?,
                        device_ms: r.get(2)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        Ok(rows)
    })
    .await
}

/// Every unit, and whether it is expected to report; any signed-in user.
async fn units(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    signed_in(&state, &headers, None).await?;
    let units = crate::directory::units(&state.db)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(serde_json::json!(units
        .iter()
        .map(|u| serde_json::json!({
            "id": u.id,
            "name": u.name,
            "kind": u.kind,
            "reports": reports(&u.kind),
        }))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize)]
struct HistoryQuery {
    url: String,
}

/// A report's review history, for whoever may read the report.
async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let doc_id = crate::reports::requested_doc(&q.url);
    let id = doc_id.clone();
    let row: Option<(Option<String>, Option<String>)> = state
        .db
        .call(move |c| {
            c.query_row(
                "SELECT unit, period FROM documents WHERE doc_id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .await?;
    let Some((unit, period)) = row else {
        return Err(ApiError::NotFound);
    };
    let Some(kind) = crate::reports::kind_of(&state.db, doc_id.clone()).await? else {
        return Err(ApiError::NotFound);
    };
    let actor = Actor {
        role: user.role,
        unit: user.unit.clone(),
    };
    // Someone who may not read the report learns nothing about it.
    if access(&actor, &kind) == Access::None {
        return Err(ApiError::NotFound);
    }
    let status = match &kind {
        DocKind::UnitReport { status, .. } => serde_json::json!(status),
        DocKind::Consolidated { approved: true } => serde_json::json!("approved"),
        DocKind::Consolidated { approved: false } => serde_json::json!("draft"),
        DocKind::Plan => serde_json::Value::Null,
    };
    let id = doc_id.clone();
    type Event = (String, String, String, String, i64, Option<i64>, String);
    let events: Vec<Event> = state
        .db
        .call(move |c| {
            let mut stmt = c.prepare(
                "SELECT e.action, e.status, e.username, COALESCE(u.display_name, e.username),
                        e.server_ms, e.device_ms, e.reason
                 FROM report_events e LEFT JOIN users u ON u.username = e.username
                 WHERE e.doc_id = ?1 ORDER BY e.id",
            )?;
            let rows = stmt
                .query_map([&id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    let deadline = match period.as_deref().and_then(Period::parse_key) {
        Some(p) => Some(crate::reports::plan(&state).await?.reporting.deadline_ms(p)),
        None => None,
    };
    let first = events
        .iter()
        .find(|e| e.0 == "submit")
        .map(|e| FirstSubmission {
            server_ms: e.4,
            device_ms: e.5,
        });
    let first_json = match (first, deadline) {
        (Some(first), Some(deadline)) => first.json(deadline),
        _ => serde_json::Value::Null,
    };
    Ok(Json(serde_json::json!({
        "url": format!("automerge:{doc_id}"),
        "unit": unit,
        "period": period,
        "status": status,
        "deadline_ms": deadline,
        "first_submission": first_json,
        "events": events
            .into_iter()
            .map(|(action, status, username, display_name, server_ms, device_ms, reason)| {
                serde_json::json!({
                    "action": action,
                    "status": status,
                    "username": username,
                    "display_name": display_name,
                    "server_ms": server_ms,
                    "device_ms": device_ms,
                    "reason": reason,
                })
            })
            .collect::<Vec<_>>(),
    })))
}

/// Which periods the dashboard shows at `now_ms`: every period up to and
/// including the first one still to fall due, newest first.
pub fn shown_periods(
    settings: &papi::calendar::ReportingSettings,
    periods: &[Period],
    now_ms: i64,
) -> Vec<Period> {
    let mut shown = Vec::new();
    for p in periods {
        shown.push(*p);
        if settings.deadline_ms(*p) > now_ms {
            break;
        }
    }
    shown.reverse();
    shown
}

/// Every unit's reporting, period by period; for the Office, the Director
/// and admins.
async fn dashboard(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = signed_in(&state, &headers, None).await?;
    if !matches!(user.role, Role::Coordinator | Role::Director | Role::Admin) {
        return Err(ApiError::Forbidden);
    }
    let now = crate::sessions::now_ms();
    let plan = crate::reports::plan(&state).await?;
    let periods = plan
        .reporting
        .periods(plan.start_year, plan.end_year)
        .map_err(|e| ApiError::Internal(format!("the plan's calendar: {e}")))?;
    let expected: Vec<(String, String)> = crate::directory::units(&state.db)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .into_iter()
        .filter(|u| reports(&u.kind))
        .map(|u| (u.id, u.name))
        .collect();
    let docs = crate::reports::unit_reports(&state.db).await?;
    let by_unit_period: HashMap<(&str, &str), (&str, &str)> = docs
        .iter()
        .map(|(id, unit, period, status)| {
            (
                (unit.as_str(), period.as_str()),
                (id.as_str(), status.as_str()),
            )
        })
        .collect();
    let firsts = first_submissions(&state.db).await?;

    let mut out = Vec::new();
    for period in shown_periods(&plan.reporting, &periods, now) {
        let key = period.key();
        let deadline = plan.reporting.deadline_ms(period);
        let (mut reported, mut on_time, mut late) = (0, 0, 0);
        let mut overdue = Vec::new();
        let mut rows = Vec::new();
        for (unit, name) in &expected {
            let doc = by_unit_period.get(&(unit.as_str(), key.as_str()));
            let first = doc.and_then(|(id, _)| firsts.get(*id));
            let timeliness = first.map(|f| f.judge(deadline));
            match timeliness {
                Some(t) => {
                    reported += 1;
                    if t.is_on_time() {
                        on_time += 1;
                    } else {
                        late += 1;
                    }
                }
                None if now > deadline => overdue.push(serde_json::json!({
                    "unit": unit,
                    "name": name,
                    "days_overdue": punctuality::days_overdue(deadline, now),
                })),
                None => {}
            }
            rows.push(serde_json::json!({
                "unit": unit,
                "name": name,
                "status": doc.map(|(_, s)| *s).unwrap_or("missing"),
                "submitted_server_ms": first.map(|f| f.server_ms),
                "submitted_device_ms": first.and_then(|f| f.device_ms),
                "timeliness": timeliness.map(|t| t.key()),
            }));
        }
        out.push(serde_json::json!({
            "period": key,
            "deadline_ms": deadline,
            "due": LocalDate::from_ms(deadline).to_vn_string(),
            "expected": expected.len(),
            "reported": reported,
            "on_time": on_time,
            "late": late,
            "missing": expected.len() - reported,
            "overdue": overdue,
            "units": rows,
        }));
    }
    Ok(Json(serde_json::json!({ "now_ms": now, "periods": out })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use papi::calendar::{DueDay, PeriodKind, ReportingSettings};

    #[test]
    fn the_dashboard_shows_past_periods_and_the_next_one_due() {
        let s = ReportingSettings {
            half_year_due: DueDay { month: 6, day: 15 },
            annual_due: DueDay { month: 12, day: 15 },
        };
        let periods = s.periods(2022, 2030).unwrap();
        let h1_2026 = Period {
            year: 2026,
            kind: PeriodKind::HalfYear,
        };
        let shown = shown_periods(&s, &periods, s.deadline_ms(h1_2026) - 1);
        assert_eq!(shown.len(), 9, "2022-h1 … 2026-h1");
        assert_eq!(shown[0], h1_2026, "newest first");
        assert_eq!(shown[8].key(), "2022-h1");
        // At the deadline, the next period is shown too.
        let shown = shown_periods(&s, &periods, s.deadline_ms(h1_2026));
        assert_eq!(shown[0].key(), "2026-year");
        // Before the plan starts, only its first period; after it, all.
        assert_eq!(shown_periods(&s, &periods, 0).len(), 1);
        assert_eq!(shown_periods(&s, &periods, i64::MAX).len(), 18);
    }

    #[test]
    fn the_agency_and_its_board_do_not_report() {
        assert!(!reports("agency"));
        assert!(!reports("board"));
        assert!(reports("division"));
        assert!(reports("office"));
        assert!(reports("commune"));
    }
}

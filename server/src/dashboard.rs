//! Where things stand: which units have reported for each period, on time
//! or late, and who is overdue.
//!
//! Whether a report was on time is decided by `papi::punctuality` from its
//! first submission only.

use std::collections::HashMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use papi::access::Capability;
use papi::api::{Dashboard, DocStatus, Overdue, PeriodSummary, UnitReporting};
use papi::calendar::LocalDate;
use papi::punctuality;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::registry::Made;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/dashboard", get(dashboard))
}

/// Every unit's reporting, period by period; for the Office, the Director
/// and admins.
async fn dashboard(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Dashboard>, ApiError> {
    user.require(Capability::SeeDashboard)?;
    let now = crate::sessions::now_ms();
    let plan = state.plan().await?;
    // No plan yet (a new workspace): nothing is due.
    let periods = if plan.is_empty() {
        Vec::new()
    } else {
        plan.reporting
            .periods(plan.start_year, plan.end_year)
            .map_err(|e| ApiError::Internal(e.into()))?
    };
    let expected: Vec<(String, String)> = crate::directory::units(&state.db)
        .await?
        .into_iter()
        .filter(|u| u.kind.reports())
        .map(|u| (u.id, u.name))
        .collect();
    let docs = state.registry.all(Made::UnitReport).await?;
    let by_unit_period: HashMap<(&str, &str), (&str, DocStatus)> = docs
        .iter()
        .filter_map(|d| {
            Some((
                (d.unit.as_deref()?, d.period.as_str()),
                (d.doc_id.as_str(), d.status),
            ))
        })
        .collect();
    let firsts = state.registry.first_submissions().await?;

    let mut out = Vec::new();
    for period in plan.reporting.shown_periods(&periods, now) {
        let key = period.key();
        let deadline = plan.reporting.deadline_ms(period);
        let (mut reported, mut on_time, mut late) = (0, 0, 0);
        let mut overdue = Vec::new();
        let mut units = Vec::new();
        for (unit, name) in &expected {
            let doc = by_unit_period.get(&(unit.as_str(), key.as_str()));
            let first = doc.and_then(|(id, _)| firsts.get(*id));
            let timeliness = first.map(|f| f.judged(deadline).timeliness);
            match timeliness {
                Some(t) => {
                    reported += 1;
                    if t.is_on_time() {
                        on_time += 1;
                    } else {
                        late += 1;
                    }
                }
                None if now > deadline => overdue.push(Overdue {
                    unit: unit.clone(),
                    name: name.clone(),
                    days_overdue: punctuality::days_overdue(deadline, now),
                }),
                None => {}
            }
            units.push(UnitReporting {
                unit: unit.clone(),
                name: name.clone(),
                status: doc.map_or(DocStatus::Missing, |(_, s)| *s),
                submitted_server_ms: first.map(|f| f.server_ms),
                submitted_device_ms: first.and_then(|f| f.device_ms),
                timeliness,
            });
        }
        out.push(PeriodSummary {
            period: key,
            deadline_ms: deadline,
            due: LocalDate::from_ms(deadline).to_vn_string(),
            expected: expected.len(),
            reported,
            on_time,
            late,
            missing: expected.len() - reported,
            overdue,
            units,
        });
    }
    Ok(Json(Dashboard {
        now_ms: now,
        periods: out,
    }))
}

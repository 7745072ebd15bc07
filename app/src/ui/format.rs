//! How values read in the interface: periods, dates and times in Vietnam
//! time, and the names of statuses, roles and kinds in the interface
//! language.

use super::i18n::t;
use crate::access::Role;
use crate::api::{DocStatus, UnitKind};
use crate::calendar::{LocalDate, Period, PeriodKind, VIETNAM_OFFSET_MS};
use crate::punctuality::Timeliness;
use crate::workflow::Action;

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

/// HH:MM in Vietnam time.
pub fn clock(ms: f64) -> String {
    let minutes = ((ms as i64 + VIETNAM_OFFSET_MS) / 60_000).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// HH:MM dd/mm/yyyy in Vietnam time.
pub fn date_time(ms: i64) -> String {
    format!("{} {}", clock(ms as f64), date(ms))
}

/// A report status (draft, submitted, …) in words.
pub fn status_label(status: DocStatus) -> String {
    t!(format!("status.{}", status.key())).to_string()
}

/// Whether a submission was on time, in words.
pub fn timeliness_label(timeliness: Timeliness) -> String {
    t!(format!("timeliness.{}", timeliness.key())).to_string()
}

/// A review step (submit, return, …) in words.
pub fn action_label(action: Action) -> String {
    t!(format!("action.{}", action.key())).to_string()
}

pub fn role_label(role: Role) -> String {
    t!(format!("role.{}", role.key())).to_string()
}

pub fn unit_kind_label(kind: UnitKind) -> String {
    t!(format!("unit_kind.{}", kind.key())).to_string()
}

/// A document of the device in words, from what the repository says it is
/// (`plan`, `consolidated/<period>`, `unit_report/<unit>/<period>`).
pub fn document_label(name: &str) -> String {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["plan"] => t!("doc.plan").to_string(),
        ["consolidated", period] => {
            t!("doc.consolidated", period = period_name(period)).to_string()
        }
        ["unit_report", unit, period] => {
            t!("doc.unit_report", period = period_name(period), unit = unit).to_string()
        }
        _ => t!("doc.other").to_string(),
    }
}

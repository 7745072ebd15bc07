//! The reporting calendar: which reports are due when.
//!
//! Periods are computed from the plan's settings (its years and due days),
//! never listed by hand. Deadlines are in Vietnam time (Asia/Ho_Chi_Minh),
//! which has been UTC+7 all year, without daylight saving, since 1975; a fixed
//! offset is therefore exact and needs no time-zone database in the browser.
//!
//! The seed plan says reports are due "before 15 June" and "before 15
//! December" (trước ngày 15/6, 15/12). A report is due at the start of the
//! due day, 00:00 Vietnam time: one received at 23:59 on 14 June is on time,
//! one received at 00:00 on 15 June is late.

use serde::{Deserialize, Serialize};

/// Vietnam's offset from UTC, in milliseconds.
pub const VIETNAM_OFFSET_MS: i64 = 7 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// A day of the year on which a report falls due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueDay {
    pub month: u32,
    pub day: u32,
}

/// The calendar settings held in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportingSettings {
    pub half_year_due: DueDay,
    pub annual_due: DueDay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    HalfYear,
    Annual,
}

/// One reporting period: a kind of report for a year.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Period {
    pub year: i32,
    pub kind: PeriodKind,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error("{month}/{day} is not a day of the year")]
    NoSuchDay { month: u32, day: u32 },
    #[error("the plan ends ({end}) before it starts ({start})")]
    YearsReversed { start: i32, end: i32 },
    #[error("the half-year report must fall due before the annual report")]
    DueDaysOutOfOrder,
}

impl Period {
    pub fn new(year: i32, kind: PeriodKind) -> Period {
        Period { year, kind }
    }

    /// A stable key for the period, such as `2026-h1` or `2026-year`.
    pub fn key(&self) -> String {
        match self.kind {
            PeriodKind::HalfYear => format!("{}-h1", self.year),
            PeriodKind::Annual => format!("{}-year", self.year),
        }
    }

    pub fn parse_key(key: &str) -> Option<Period> {
        let (year, kind) = key.split_once('-')?;
        let year = year.parse().ok()?;
        let kind = match kind {
            "h1" => PeriodKind::HalfYear,
            "year" => PeriodKind::Annual,
            _ => return None,
        };
        Some(Period { year, kind })
    }
}

/// The days the PAPI plans fix: the half-year report before 15 June, the
/// annual report before 15 December.
impl Default for ReportingSettings {
    fn default() -> Self {
        ReportingSettings {
            half_year_due: DueDay { month: 6, day: 15 },
            annual_due: DueDay { month: 12, day: 15 },
        }
    }
}

impl ReportingSettings {
    pub fn validate(&self) -> Result<(), CalendarError> {
        for due in [self.half_year_due, self.annual_due] {
            // 29 February is refused: it would vanish three years in four.
            if days_in_month(2001, due.month).is_none_or(|n| due.day == 0 || due.day > n) {
                return Err(CalendarError::NoSuchDay {
                    month: due.month,
                    day: due.day,
                });
            }
        }
        let h = (self.half_year_due.month, self.half_year_due.day);
        let a = (self.annual_due.month, self.annual_due.day);
        if h >= a {
            return Err(CalendarError::DueDaysOutOfOrder);
        }
        Ok(())
    }

    fn due_day(&self, kind: PeriodKind) -> DueDay {
        match kind {
            PeriodKind::HalfYear => self.half_year_due,
            PeriodKind::Annual => self.annual_due,
        }
    }

    /// Every period from `start_year` to `end_year` inclusive, in date order.
    pub fn periods(&self, start_year: i32, end_year: i32) -> Result<Vec<Period>, CalendarError> {
        self.validate()?;
        if end_year < start_year {
            return Err(CalendarError::YearsReversed {
                start: start_year,
                end: end_year,
            });
        }
        Ok((start_year..=end_year)
            .flat_map(|year| {
                [PeriodKind::HalfYear, PeriodKind::Annual].map(|kind| Period { year, kind })
            })
            .collect())
    }

    /// The instant (ms since the Unix epoch) from which a report for `period`
    /// is late: 00:00 Vietnam time on the due day.
    pub fn deadline_ms(&self, period: Period) -> i64 {
        let due = self.due_day(period.kind);
        days_from_civil(period.year, due.month, due.day) * DAY_MS - VIETNAM_OFFSET_MS
    }

    /// The periods worth showing at `now_ms`: every one already due and the
    /// next one still to fall due, newest first.
    pub fn shown_periods(&self, periods: &[Period], now_ms: i64) -> Vec<Period> {
        let mut shown = Vec::new();
        for p in periods {
            shown.push(*p);
            if self.deadline_ms(*p) > now_ms {
                break;
            }
        }
        shown.reverse();
        shown
    }

    /// The first period whose deadline is after `now_ms`, if any remains.
    pub fn next_due(&self, periods: &[Period], now_ms: i64) -> Option<Period> {
        periods
            .iter()
            .copied()
            .find(|p| self.deadline_ms(*p) > now_ms)
    }
}

/// A calendar date in Vietnam time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl LocalDate {
    /// The Vietnam date of an instant.
    pub fn from_ms(ms: i64) -> LocalDate {
        let days = (ms + VIETNAM_OFFSET_MS).div_euclid(DAY_MS);
        let (year, month, day) = civil_from_days(days);
        LocalDate { year, month, day }
    }

    /// dd/mm/yyyy, as dates are written in Vietnam.
    pub fn to_vn_string(&self) -> String {
        format!("{:02}/{:02}/{:04}", self.day, self.month, self.year)
    }
}

/// `yyyymmdd-hhmmss` in Vietnam time: the name of a file made at an
/// instant (a backup), so that names sort as the files were made.
pub fn file_stamp(ms: i64) -> String {
    let date = LocalDate::from_ms(ms);
    let secs = (ms + VIETNAM_OFFSET_MS).rem_euclid(DAY_MS) / 1000;
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        date.year,
        date.month,
        date.day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> Option<u32> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stamps_are_vietnam_time_and_sort_as_made() {
        // 2026-12-07 17:05:09 UTC is 2026-12-08 00:05:09 in Vietnam.
        let ms = (days_from_civil(2026, 12, 7) * DAY_MS) + ((17 * 3600 + 5 * 60 + 9) * 1000);
        assert_eq!(file_stamp(ms), "20261208-000509");
        assert!(file_stamp(ms) < file_stamp(ms + 1000));
    }

    #[test]
    fn shows_past_periods_and_the_next_one_due() {
        let s = ReportingSettings::default();
        let periods = s.periods(2022, 2030).unwrap();
        let h1_2026 = Period::new(2026, PeriodKind::HalfYear);
        let shown = s.shown_periods(&periods, s.deadline_ms(h1_2026) - 1);
        assert_eq!(shown.len(), 9, "2022-h1 … 2026-h1");
        assert_eq!(shown[0], h1_2026, "newest first");
        assert_eq!(shown[8].key(), "2022-h1");
        // At the deadline, the next period is shown too.
        let shown = s.shown_periods(&periods, s.deadline_ms(h1_2026));
        assert_eq!(shown[0].key(), "2026-year");
        // Before the plan starts, only its first period; after it, all.
        assert_eq!(s.shown_periods(&periods, 0).len(), 1);
        assert_eq!(s.shown_periods(&periods, i64::MAX).len(), 18);
    }

    /// ms since the epoch of a UTC wall-clock time.
    fn utc(year: i32, month: u32, day: u32, hour: i64, minute: i64) -> i64 {
        days_from_civil(year, month, day) * DAY_MS + (hour * 60 + minute) * 60_000
    }

    #[test]
    fn civil_conversion_round_trips_across_eras() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn two_periods_a_year_for_the_seed_plan() {
        let periods = ReportingSettings::default().periods(2022, 2030).unwrap();
        assert_eq!(periods.len(), 18);
        assert_eq!(periods[0], Period::new(2022, PeriodKind::HalfYear));
        assert_eq!(periods[17], Period::new(2030, PeriodKind::Annual));
        let deadlines: Vec<i64> = periods
            .iter()
            .map(|p| ReportingSettings::default().deadline_ms(*p))
            .collect();
        assert!(
            deadlines.windows(2).all(|w| w[0] < w[1]),
            "periods are in date order"
        );
    }

    #[test]
    fn deadline_is_midnight_vietnam_time_on_the_due_day() {
        let s = ReportingSettings::default();
        let h1 = Period::new(2026, PeriodKind::HalfYear);
        // 00:00 on 15 June in Vietnam is 17:00 on 14 June in UTC.
        assert_eq!(s.deadline_ms(h1), utc(2026, 6, 14, 17, 0));
        assert_eq!(
            LocalDate::from_ms(s.deadline_ms(h1)).to_vn_string(),
            "15/06/2026"
        );
        assert_eq!(
            LocalDate::from_ms(s.deadline_ms(h1) - 1).to_vn_string(),
            "14/06/2026"
        );
        let year = Period::new(2026, PeriodKind::Annual);
        assert_eq!(s.deadline_ms(year), utc(2026, 12, 14, 17, 0));
    }

    #[test]
    fn vietnam_date_crosses_the_year_before_utc_does() {
        // 17:00 UTC on 31 December is already 1 January in Vietnam.
        assert_eq!(
            LocalDate::from_ms(utc(2025, 12, 31, 16, 59)).to_vn_string(),
            "31/12/2025"
        );
        assert_eq!(
            LocalDate::from_ms(utc(2025, 12, 31, 17, 0)).to_vn_string(),
            "01/01/2026"
        );
        // Before the epoch, too.
        assert_eq!(
            LocalDate::from_ms(utc(1969, 12, 31, 17, 0)).to_vn_string(),
            "01/01/1970"
        );
    }

    #[test]
    fn next_due_moves_on_at_the_deadline() {
        let s = ReportingSettings::default();
        let periods = s.periods(2022, 2030).unwrap();
        let h1 = Period::new(2026, PeriodKind::HalfYear);
        let year = Period::new(2026, PeriodKind::Annual);
        assert_eq!(s.next_due(&periods, s.deadline_ms(h1) - 1), Some(h1));
        assert_eq!(s.next_due(&periods, s.deadline_ms(h1)), Some(year));
        let after_all = s.deadline_ms(*periods.last().unwrap());
        assert_eq!(s.next_due(&periods, after_all), None);
    }

    #[test]
    fn settings_are_computed_not_fixed() {
        let s = ReportingSettings {
            half_year_due: DueDay { month: 7, day: 1 },
            annual_due: DueDay { month: 12, day: 31 },
        };
        let p = Period::new(2027, PeriodKind::HalfYear);
        assert_eq!(s.deadline_ms(p), utc(2027, 6, 30, 17, 0));
        assert_eq!(s.periods(2027, 2027).unwrap().len(), 2);
    }

    #[test]
    fn refuses_impossible_settings() {
        let mut s = ReportingSettings::default();
        s.half_year_due = DueDay { month: 2, day: 29 };
        assert_eq!(
            s.validate(),
            Err(CalendarError::NoSuchDay { month: 2, day: 29 })
        );
        s.half_year_due = DueDay { month: 13, day: 1 };
        assert!(s.validate().is_err());
        s.half_year_due = DueDay { month: 6, day: 0 };
        assert!(s.validate().is_err());
        s.half_year_due = DueDay { month: 12, day: 20 };
        assert_eq!(s.validate(), Err(CalendarError::DueDaysOutOfOrder));
        assert_eq!(
            ReportingSettings::default().periods(2030, 2022),
            Err(CalendarError::YearsReversed {
                start: 2030,
                end: 2022
            })
        );
    }

    #[test]
    fn period_keys_round_trip() {
        for p in ReportingSettings::default().periods(2022, 2030).unwrap() {
            assert_eq!(Period::parse_key(&p.key()), Some(p));
        }
        assert_eq!(Period::parse_key("2026-h2"), None);
        assert_eq!(Period::parse_key("x-h1"), None);
    }
}

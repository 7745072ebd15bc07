//! Whether a report came in on time.
//!
//! A report is due at its period's deadline (`calendar::ReportingSettings::
//! deadline_ms`, 00:00 Vietnam time on the due day). Only the report's
//! **first** submission counts: a resubmission after the Office returned it
//! does not change whether it was on time.
//!
//! The rule, with the server's receipt time and the device's own time of the
//! submission (a phone may have been offline when its user pressed submit):
//!
//! - **On time** ([`Timeliness::OnTime`]): the server received it before the
//!   deadline.
//! - **On time, sent later** ([`Timeliness::OnTimeOffline`]): the device
//!   recorded it before the deadline, the server received it less than
//!   [`GRACE_MS`] (3 days) after the deadline, and the device's time is not
//!   later than the server's receipt plus [`CLOCK_SKEW_MS`] (10 minutes).
//!   It was made offline and sent when a connection returned. The grace
//!   bounds how far a device's word is taken; the skew check refuses a
//!   device clock that claims a time that had not yet come when the server
//!   received the submission.
//! - **Late** ([`Timeliness::Late`]): anything else, including a submission
//!   received at or after the deadline with no device time.
//!
//! A submission received exactly at the deadline is late, as the calendar
//! says: the deadline is the first instant at which a report is late.

const DAY_MS: i64 = 24 * 3600 * 1000;

/// How long after the deadline a submission made offline before it may still
/// reach the server and count as on time.
pub const GRACE_MS: i64 = 3 * DAY_MS;

/// How far ahead of the server's clock a device's clock may run and still be
/// believed.
pub const CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

keyed! {
    pub enum Timeliness {
        /// Received by the server before the deadline.
        OnTime = "on_time",
        /// Made on the device before the deadline, received within the grace.
        OnTimeOffline = "on_time_offline",
        Late = "late",
    }
}

impl Timeliness {
    /// Whether the report counts as on time, whichever way.
    pub fn is_on_time(self) -> bool {
        self != Timeliness::Late
    }
}

/// Judges a first submission received by the server at `server_ms`, which
/// the device recorded at `device_ms` (if it said), against `deadline_ms`.
pub fn judge(deadline_ms: i64, server_ms: i64, device_ms: Option<i64>) -> Timeliness {
    if server_ms < deadline_ms {
        return Timeliness::OnTime;
    }
    match device_ms {
        Some(device)
            if device < deadline_ms
                && server_ms.saturating_sub(deadline_ms) < GRACE_MS
                && device <= server_ms.saturating_add(CLOCK_SKEW_MS) =>
        {
            Timeliness::OnTimeOffline
        }
        _ => Timeliness::Late,
    }
}

/// How many days a report is overdue at `now_ms`: 0 until the deadline has
/// passed, then the number of days begun since it (one millisecond past the
/// deadline is one day overdue).
pub fn days_overdue(deadline_ms: i64, now_ms: i64) -> i64 {
    let past = now_ms.saturating_sub(deadline_ms);
    if past <= 0 {
        0
    } else {
        past / DAY_MS + i64::from(past % DAY_MS != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{DueDay, LocalDate, Period, PeriodKind, ReportingSettings};

    fn deadline_2026_h1() -> i64 {
        ReportingSettings::default().deadline_ms(Period {
            year: 2026,
            kind: PeriodKind::HalfYear,
        })
    }

    const HOUR: i64 = 3600 * 1000;

    #[test]
    fn received_before_the_deadline_is_on_time_whatever_the_device_says() {
        let d = deadline_2026_h1();
        assert_eq!(judge(d, d - 1, None), Timeliness::OnTime, "1 ms before");
        assert_eq!(judge(d, d - 30 * DAY_MS, None), Timeliness::OnTime);
        // A device clock far off does not make an on-time receipt late.
        assert_eq!(judge(d, d - 1, Some(d + 365 * DAY_MS)), Timeliness::OnTime);
        assert_eq!(judge(d, d - 1, Some(0)), Timeliness::OnTime);
    }

    #[test]
    fn received_exactly_at_the_deadline_is_late() {
        let d = deadline_2026_h1();
        assert_eq!(judge(d, d, None), Timeliness::Late);
        assert_eq!(judge(d, d, Some(d)), Timeliness::Late, "the device too");
        // …unless the device made it before.
        assert_eq!(judge(d, d, Some(d - 1)), Timeliness::OnTimeOffline);
    }

    #[test]
    fn made_offline_before_the_deadline_and_received_within_the_grace() {
        let d = deadline_2026_h1();
        let device = d - 2 * HOUR;
        assert_eq!(judge(d, d + HOUR, Some(device)), Timeliness::OnTimeOffline);
        assert_eq!(
            judge(d, d + GRACE_MS - 1, Some(device)),
            Timeliness::OnTimeOffline,
            "1 ms inside the grace"
        );
        assert_eq!(
            judge(d, d + GRACE_MS, Some(device)),
            Timeliness::Late,
            "at the end of the grace"
        );
        assert_eq!(judge(d, d + 10 * DAY_MS, Some(device)), Timeliness::Late);
    }

    #[test]
    fn no_device_time_after_the_deadline_is_late() {
        let d = deadline_2026_h1();
        assert_eq!(judge(d, d + 1, None), Timeliness::Late);
        assert_eq!(judge(d, d + HOUR, None), Timeliness::Late);
    }

    #[test]
    fn a_device_time_after_the_deadline_is_late() {
        let d = deadline_2026_h1();
        assert_eq!(judge(d, d + HOUR, Some(d)), Timeliness::Late);
        assert_eq!(judge(d, d + HOUR, Some(d + 1)), Timeliness::Late);
    }

    #[test]
    fn a_device_clock_far_ahead_gains_nothing() {
        let d = deadline_2026_h1();
        // A phone whose clock runs days ahead says it acted after the
        // deadline: late, even though the server got it only an hour late.
        assert_eq!(judge(d, d + HOUR, Some(d + 5 * DAY_MS)), Timeliness::Late);
        // Years ahead, the same.
        assert_eq!(
            judge(d, d + HOUR, Some(d + 3 * 365 * DAY_MS)),
            Timeliness::Late
        );
        // A device time later than the server's receipt by more than the
        // skew is never believed, even within the grace.
        let server = d + HOUR;
        assert_eq!(
            judge(d, server, Some(server + CLOCK_SKEW_MS + 1)),
            Timeliness::Late
        );
        // A device time that is not believable cannot rescue a receipt
        // before the deadline either way: the server's time decides.
        assert_eq!(judge(d, d - HOUR, Some(d + 5 * DAY_MS)), Timeliness::OnTime);
    }

    #[test]
    fn days_overdue_counts_days_begun() {
        let d = deadline_2026_h1();
        assert_eq!(days_overdue(d, d - DAY_MS), 0, "not yet due");
        assert_eq!(days_overdue(d, d - 1), 0);
        assert_eq!(days_overdue(d, d), 0, "at the deadline itself");
        assert_eq!(days_overdue(d, d + 1), 1, "1 ms past is the first day");
        assert_eq!(days_overdue(d, d + DAY_MS), 1);
        assert_eq!(days_overdue(d, d + DAY_MS + 1), 2);
        assert_eq!(days_overdue(d, d + 3 * DAY_MS - 1), 3);
        assert!(days_overdue(i64::MIN, i64::MAX) > 0, "no overflow");
    }

    #[test]
    fn the_annual_report_across_the_year_end() {
        // A plan whose annual report is due on 31 December: a report made
        // offline on the 30th and sent on 2 January of the next year is on
        // time; one first sent on 4 January is late.
        let s = ReportingSettings {
            half_year_due: DueDay { month: 6, day: 30 },
            annual_due: DueDay { month: 12, day: 31 },
        };
        let d = s.deadline_ms(Period {
            year: 2026,
            kind: PeriodKind::Annual,
        });
        assert_eq!(LocalDate::from_ms(d).to_vn_string(), "31/12/2026");
        let device = d - 10 * HOUR;
        let jan2 = d + 2 * DAY_MS;
        assert_eq!(LocalDate::from_ms(jan2).year, 2027);
        assert_eq!(judge(d, jan2, Some(device)), Timeliness::OnTimeOffline);
        assert_eq!(judge(d, d + 4 * DAY_MS, Some(device)), Timeliness::Late);
        assert_eq!(days_overdue(d, d + 4 * DAY_MS), 4);
        // The seed plan's annual deadline, 15 December, and a check in the
        // new year: 17 days and a bit past is 18 days begun.
        let seed = ReportingSettings::default().deadline_ms(Period {
            year: 2026,
            kind: PeriodKind::Annual,
        });
        let new_year = seed + 17 * DAY_MS + HOUR;
        assert_eq!(LocalDate::from_ms(new_year).to_vn_string(), "01/01/2027");
        assert_eq!(days_overdue(seed, new_year), 18);
    }

    #[test]
    fn keys_match_the_api() {
        assert_eq!(
            serde_json::to_value(Timeliness::OnTimeOffline).unwrap(),
            serde_json::json!("on_time_offline")
        );
        for t in [
            Timeliness::OnTime,
            Timeliness::OnTimeOffline,
            Timeliness::Late,
        ] {
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(t.key()));
        }
        assert!(Timeliness::OnTimeOffline.is_on_time());
        assert!(!Timeliness::Late.is_on_time());
    }
}

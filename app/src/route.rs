//! The address of every screen. A link copied from the address bar and sent
//! to a colleague opens the same screen for them, if they may see it.
//!
//! | path | screen |
//! |---|---|
//! | `/`, `/plan` | the plan |
//! | `/plan/3` | the plan, with its third dimension open |
//! | `/reports` | reports by period |
//! | `/reports/2026-h1/van-phong` | one unit's report of a period |
//! | `/reports/2026-h1/van-phong/3` | its third dimension alone (9: the other items) |
//! | `/consolidated/2026-h1` | the consolidated report of a period |
//! | `/consolidated/2026-h1/3` | its third dimension alone |
//! | `/dashboard`, `/proposals`, `/admin` | those pages |
//!
//! Periods and unit ids are the keys the server uses (`2026-h1`,
//! `2026-year`); anything else is `Unknown`, which the app shows as a page
//! that reveals nothing about what was asked for.

use crate::api::valid_unit_id;
use crate::calendar::Period;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Plan {
        dimension: Option<u8>,
    },
    Reports,
    Report {
        period: String,
        unit: String,
        part: Option<u8>,
    },
    Consolidated {
        period: String,
        part: Option<u8>,
    },
    Dashboard,
    Proposals,
    Admin,
    Unknown,
}

/// A report's parts: its dimensions 1 to 8, and 9 for the other items.
pub const OTHER_ITEMS: u8 = 9;

fn part(s: &str) -> Option<u8> {
    match s.parse::<u8>() {
        Ok(n @ 1..=OTHER_ITEMS) if s.len() == 1 => Some(n),
        _ => None,
    }
}

fn is_period(s: &str) -> bool {
    Period::parse_key(s).is_some_and(|p| p.key() == s)
}

impl Route {
    /// The screen at `path` (the URL's path, without query or fragment).
    pub fn parse(path: &str) -> Route {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        // A report's address, and maybe the number of one of its parts.
        let report_part = |rest: &[&str]| match rest {
            [] => Some(None),
            [n] => part(n).map(Some),
            _ => None,
        };
        match parts.as_slice() {
            [] | ["plan"] => Route::Plan { dimension: None },
            ["plan", n] => match part(n) {
                Some(d) if d < OTHER_ITEMS => Route::Plan { dimension: Some(d) },
                _ => Route::Unknown,
            },
            ["reports"] => Route::Reports,
            ["reports", period, unit, rest @ ..] if is_period(period) && valid_unit_id(unit) => {
                match report_part(rest) {
                    Some(part) => Route::Report {
                        period: period.to_string(),
                        unit: unit.to_string(),
                        part,
                    },
                    None => Route::Unknown,
                }
            }
            ["consolidated", period, rest @ ..] if is_period(period) => match report_part(rest) {
                Some(part) => Route::Consolidated {
                    period: period.to_string(),
                    part,
                },
                None => Route::Unknown,
            },
            ["dashboard"] => Route::Dashboard,
            ["proposals"] => Route::Proposals,
            ["admin"] => Route::Admin,
            _ => Route::Unknown,
        }
    }

    /// The same report with `part` alone, or all of it; other screens stay.
    pub fn with_part(&self, part: Option<u8>) -> Route {
        match self.clone() {
            Route::Report { period, unit, .. } => Route::Report { period, unit, part },
            Route::Consolidated { period, .. } => Route::Consolidated { period, part },
            other => other,
        }
    }

    /// The path of this screen; `parse` reads it back.
    pub fn path(&self) -> String {
        match self {
            Route::Plan { dimension: None } => "/plan".into(),
            Route::Plan { dimension: Some(d) } => format!("/plan/{d}"),
            Route::Reports => "/reports".into(),
            Route::Report {
                period,
                unit,
                part: None,
            } => format!("/reports/{period}/{unit}"),
            Route::Report {
                period,
                unit,
                part: Some(n),
            } => format!("/reports/{period}/{unit}/{n}"),
            Route::Consolidated { period, part: None } => format!("/consolidated/{period}"),
            Route::Consolidated {
                period,
                part: Some(n),
            } => format!("/consolidated/{period}/{n}"),
            Route::Dashboard => "/dashboard".into(),
            Route::Proposals => "/proposals".into(),
            Route::Admin => "/admin".into(),
            Route::Unknown => "/".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_screen_reads_back_from_its_path() {
        let screens = [
            Route::Plan { dimension: None },
            Route::Plan { dimension: Some(8) },
            Route::Reports,
            Route::Report {
                period: "2026-h1".into(),
                unit: "phong-ngan-sach".into(),
                part: None,
            },
            Route::Report {
                period: "2026-h1".into(),
                unit: "phong-ngan-sach".into(),
                part: Some(9),
            },
            Route::Consolidated {
                period: "2025-year".into(),
                part: None,
            },
            Route::Consolidated {
                period: "2025-year".into(),
                part: Some(1),
            },
            Route::Dashboard,
            Route::Proposals,
            Route::Admin,
        ];
        for screen in screens {
            assert_eq!(Route::parse(&screen.path()), screen);
        }
        assert_eq!(Route::parse("/"), Route::Plan { dimension: None });
        assert_eq!(Route::parse("/reports/"), Route::Reports);
    }

    #[test]
    fn anything_else_is_unknown() {
        for path in [
            "/plan/0",
            "/plan/9",
            "/plan/03",
            "/plan/x",
            "/reports/2026-h2/van-phong",
            "/reports/2026-h1",
            "/reports/2026-h1/van phong",
            "/reports/2026-h1/a.b",
            "/reports/2026-h1/van-phong/more",
            "/reports/2026-h1/van-phong/0",
            "/reports/2026-h1/van-phong/10",
            "/reports/2026-h1/van-phong/3/4",
            "/consolidated/2026-h1/x",
            "/consolidated/soon",
            "/settings",
            "/../etc/passwd",
        ] {
            assert_eq!(Route::parse(path), Route::Unknown, "{path}");
        }
    }
}

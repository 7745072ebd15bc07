//! The address of every screen. A link copied from the address bar and sent
//! to a colleague opens the same screen for them, if they may see it.
//!
//! | path | screen |
//! |---|---|
//! | `/`, `/plan` | the plan |
//! | `/plan/3` | the plan, with its third dimension open |
//! | `/reports` | reports by period |
//! | `/reports/2026-h1/van-phong` | one unit's report of a period |
//! | `/consolidated/2026-h1` | the consolidated report of a period |
//! | `/dashboard`, `/proposals`, `/admin` | those pages |
//!
//! Periods and unit ids are the keys the server uses (`2026-h1`,
//! `2026-year`); anything else is `Unknown`, which the app shows as a page
//! that reveals nothing about what was asked for.

use crate::api::valid_unit_id;
use crate::calendar::Period;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Plan { dimension: Option<u8> },
    Reports,
    Report { period: String, unit: String },
    Consolidated { period: String },
    Dashboard,
    Proposals,
    Admin,
    Unknown,
}

fn is_period(s: &str) -> bool {
    Period::parse_key(s).is_some_and(|p| p.key() == s)
}

impl Route {
    /// The screen at `path` (the URL's path, without query or fragment).
    pub fn parse(path: &str) -> Route {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            [] | ["plan"] => Route::Plan { dimension: None },
            ["plan", n] => match n.parse::<u8>() {
                Ok(d @ 1..=8) if n.len() == 1 => Route::Plan { dimension: Some(d) },
                _ => Route::Unknown,
            },
            ["reports"] => Route::Reports,
            ["reports", period, unit] if is_period(period) && valid_unit_id(unit) => {
                Route::Report {
                    period: period.to_string(),
                    unit: unit.to_string(),
                }
            }
            ["consolidated", period] if is_period(period) => Route::Consolidated {
                period: period.to_string(),
            },
            ["dashboard"] => Route::Dashboard,
            ["proposals"] => Route::Proposals,
            ["admin"] => Route::Admin,
            _ => Route::Unknown,
        }
    }

    /// The path of this screen; `parse` reads it back.
    pub fn path(&self) -> String {
        match self {
            Route::Plan { dimension: None } => "/plan".into(),
            Route::Plan { dimension: Some(d) } => format!("/plan/{d}"),
            Route::Reports => "/reports".into(),
            Route::Report { period, unit } => format!("/reports/{period}/{unit}"),
            Route::Consolidated { period } => format!("/consolidated/{period}"),
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
            },
            Route::Consolidated {
                period: "2025-year".into(),
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
            "/consolidated/soon",
            "/settings",
            "/../etc/passwd",
        ] {
            assert_eq!(Route::parse(path), Route::Unknown, "{path}");
        }
    }
}

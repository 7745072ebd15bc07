//! The HTTP API between the app and the server: one request type and one
//! answer type per endpoint. The server answers `Json<T>` of these types and
//! the app decodes the same `T`, so that a renamed field is a compile error on
//! both sides, not a blank screen. Roles, statuses, actions and kinds travel
//! as the model's enums.
//!
//! A new endpoint gets its types here, next to its neighbours, with the path
//! in its doc comment.

use serde::{Deserialize, Serialize};

use crate::access::{ReportStatus, Role};
use crate::punctuality::Timeliness;
use crate::workflow::Action;

/// Every error answer: a message for the person, for `429` how long to
/// wait, and for `422` (an imported file refused) every problem found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

// ---- health and the plan ----------------------------------------------------

/// `GET /api/health`: 503 while storage is failing; `status` is `degraded`
/// then, and also once a panic in document work has been contained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// `ok` or `failing`.
    pub storage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Panics contained since the server started.
    #[serde(default)]
    pub panics: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_panic: Option<String>,
    pub version: String,
    /// Whether a browser may keep the app for offline use on the address
    /// this request was sent to: HTTPS (the server's own, or a proxy's that
    /// says so), or a loopback name.
    #[serde(default)]
    pub offline_capable: bool,
    /// The address staff should open, when the server was told it
    /// (`--public-url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// The last scheduled backup's failure, until one succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_error: Option<String>,
    /// Why offline use is not possible on this address, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// `GET /api/plan`: where the plan document is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanLocation {
    /// `automerge:…`
    pub url: String,
}

// ---- signing in ------------------------------------------------------------

/// `POST /api/login`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Who is signed in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit: String,
    pub role: Role,
    /// Signed in with a one-time password: nothing but choosing a new
    /// password (`POST /api/password`) is allowed until then.
    #[serde(default)]
    pub must_change_password: bool,
}

/// `POST /api/password`: a signed-in user chooses a new password. The
/// answer is a new `Session`; the user's other sessions end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// The answer to `POST /api/login`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// For clients that cannot keep the cookie: `Authorization: Bearer`, or
    /// `token=` in the `/sync` URL.
    pub token: String,
    pub expires_ms: i64,
    pub user: UserInfo,
    /// Every sync peer id of this user starts with it (`user<id>.`).
    pub peer_prefix: String,
}

/// `GET /api/me`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub user: UserInfo,
    pub peer_prefix: String,
}

// ---- units -------------------------------------------------------------------

keyed! {
    /// What a unit is: the agency and its parts, or a province and its
    /// districts and communes.
    pub enum UnitKind {
        Division = "division",
        Office = "office",
        Inspectorate = "inspectorate",
        Board = "board",
        Agency = "agency",
        Province = "province",
        District = "district",
        Commune = "commune",
    }
}

impl UnitKind {
    /// Whether units of this kind report: every unit but the agency itself
    /// and its board of directors.
    pub fn reports(self) -> bool {
        !matches!(self, UnitKind::Agency | UnitKind::Board)
    }
}

/// A unit of the directory (`GET`/`POST /api/admin/units`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<String>,
}

/// Whether `id` can be a unit's id: 2 to 64 lowercase letters, digits or
/// '-'. Ids appear in addresses and in plan files, so they stay plain.
pub fn valid_unit_id(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `GET /api/units`: every unit, for any signed-in user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitInfo {
    pub id: String,
    pub name: String,
    pub kind: UnitKind,
    /// Whether the unit is expected to report.
    pub reports: bool,
}

// ---- reports -----------------------------------------------------------------

keyed! {
    /// Where a report stands, as lists and histories show it: a unit report's
    /// review status, a consolidated report's approval, or no report yet.
    pub enum DocStatus {
        Missing = "missing",
        Draft = "draft",
        Submitted = "submitted",
        Returned = "returned",
        Accepted = "accepted",
        Approved = "approved",
    }
}

impl DocStatus {
    /// The review status of a unit report in this state, if it is one.
    pub fn review(self) -> Option<ReportStatus> {
        match self {
            DocStatus::Draft => Some(ReportStatus::Draft),
            DocStatus::Submitted => Some(ReportStatus::Submitted),
            DocStatus::Returned => Some(ReportStatus::Returned),
            DocStatus::Accepted => Some(ReportStatus::Accepted),
            DocStatus::Missing | DocStatus::Approved => None,
        }
    }
}

impl From<ReportStatus> for DocStatus {
    fn from(s: ReportStatus) -> Self {
        match s {
            ReportStatus::Draft => DocStatus::Draft,
            ReportStatus::Submitted => DocStatus::Submitted,
            ReportStatus::Returned => DocStatus::Returned,
            ReportStatus::Accepted => DocStatus::Accepted,
        }
    }
}

/// `POST /api/reports`: make (or find) a unit's report for a period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewReport {
    pub unit: String,
    /// `2026-h1`, `2026-year`.
    pub period: String,
}

/// The answer to `POST /api/reports`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportMade {
    pub url: String,
    pub unit: String,
    pub period: String,
}

/// One report of `GET /api/reports` (the ones the caller may read).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    pub url: String,
    pub unit: String,
    pub period: String,
    pub status: DocStatus,
    pub deadline_ms: Option<i64>,
    /// Whether its first submission was on time, once it has one.
    pub timeliness: Option<Timeliness>,
}

/// `POST /api/reports/transition`: a review step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionRequest {
    pub url: String,
    pub action: Action,
    #[serde(default)]
    pub reason: String,
    /// When the user acted, by the device's clock (it may have been offline).
    pub device_time_ms: Option<i64>,
}

/// The answer to a review step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionDone {
    pub status: DocStatus,
    pub server_time_ms: i64,
}

/// The query of `GET /api/reports/history`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryQuery {
    pub url: String,
}

/// A report's first submission, judged against its deadline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FirstSubmission {
    pub server_ms: i64,
    pub device_ms: Option<i64>,
    pub timeliness: Timeliness,
}

/// One review step of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReviewEvent {
    pub action: Action,
    /// The status the step led to.
    pub status: DocStatus,
    pub username: String,
    pub display_name: String,
    pub server_ms: i64,
    pub device_ms: Option<i64>,
    pub reason: String,
}

/// `GET /api/reports/history`: a report's review, for whoever may read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub url: String,
    pub unit: Option<String>,
    pub period: String,
    pub status: DocStatus,
    pub deadline_ms: Option<i64>,
    pub first_submission: Option<FirstSubmission>,
    pub events: Vec<ReviewEvent>,
}

/// `GET /api/reports/authors?url=…` (the query is a `HistoryQuery`): who
/// the server saw deliver each actor's changes to a report, for whoever
/// may read it. A change's author is its deliverer, whatever it claims.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Authorship {
    pub actors: Vec<ActorAuthor>,
    /// Changes first delivered by someone other than their actor's user.
    pub borrowed: Vec<Borrowed>,
}

/// The user who first delivered changes of an actor (hex) to a document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorAuthor {
    pub actor: String,
    pub user_id: i64,
    pub name: String,
    pub unit: String,
    pub first_seen_ms: i64,
}

/// A change of `actor`, its operations `start_op..end_op`, first delivered
/// by this user rather than the actor's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Borrowed {
    pub actor: String,
    pub start_op: u64,
    pub end_op: u64,
    pub user_id: i64,
    pub name: String,
    pub unit: String,
}

impl Authorship {
    /// The author of the operation `counter` of `actor` (hex): its change's
    /// deliverer, as (user id, name, unit).
    pub fn author_of(&self, actor: &str, counter: u64) -> Option<(i64, &str, &str)> {
        if let Some(b) = self
            .borrowed
            .iter()
            .find(|b| b.actor == actor && (b.start_op..b.end_op).contains(&counter))
        {
            return Some((b.user_id, &b.name, &b.unit));
        }
        self.actors
            .iter()
            .find(|a| a.actor == actor)
            .map(|a| (a.user_id, a.name.as_str(), a.unit.as_str()))
    }
}

// ---- consolidated reports ------------------------------------------------------

/// `POST /api/consolidated` (make or find) and `POST
/// /api/consolidated/assemble` (fold in newly accepted reports): a period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodRequest {
    pub period: String,
}

/// A consolidated report: `GET /api/consolidated` lists them, `POST
/// /api/consolidated` answers with one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consolidated {
    pub url: String,
    pub period: String,
    pub status: DocStatus,
    /// The units whose accepted reports it includes.
    pub included_units: Vec<String>,
}

/// The answer to `POST /api/consolidated/assemble`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assembled {
    pub url: String,
    pub period: String,
    /// The units folded in now.
    pub added: Vec<String>,
    pub included_units: Vec<String>,
}

/// `POST /api/consolidated/approve`: the Director approves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApproveRequest {
    pub url: String,
}

/// A document's new status, after a step that has nothing else to say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusNow {
    pub status: DocStatus,
}

// ---- the dashboard -------------------------------------------------------------

/// `GET /api/dashboard`: every unit's reporting, period by period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub now_ms: i64,
    /// Newest first: every period due so far and the next one.
    pub periods: Vec<PeriodSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeriodSummary {
    pub period: String,
    pub deadline_ms: i64,
    /// The due day, dd/mm/yyyy.
    pub due: String,
    pub expected: usize,
    pub reported: usize,
    pub on_time: usize,
    pub late: usize,
    pub missing: usize,
    pub overdue: Vec<Overdue>,
    pub units: Vec<UnitReporting>,
}

/// A unit that has not reported although the deadline has passed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overdue {
    pub unit: String,
    pub name: String,
    pub days_overdue: i64,
}

/// One unit's report of one period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitReporting {
    pub unit: String,
    pub name: String,
    pub status: DocStatus,
    pub submitted_server_ms: Option<i64>,
    pub submitted_device_ms: Option<i64>,
    pub timeliness: Option<Timeliness>,
}

// ---- proposals -------------------------------------------------------------------

keyed! {
    /// What a proposal asks for a measure.
    pub enum ProposalKind {
        /// A new text.
        Edit = "edit",
        /// Taking the measure out of the plan.
        Retire = "retire",
    }
}

keyed! {
    pub enum ProposalStatus {
        Pending = "pending",
        Accepted = "accepted",
        Rejected = "rejected",
    }
}

/// `POST /api/proposals`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewProposal {
    pub measure_id: String,
    pub kind: ProposalKind,
    /// The new text, for an edit.
    #[serde(default)]
    pub text: String,
    pub reason: String,
}

/// The answer to `POST /api/proposals`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProposalMade {
    pub id: i64,
}

/// One proposal of `GET /api/proposals`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: i64,
    pub measure_id: String,
    /// The measure's text in the plan now.
    pub measure_text: String,
    pub kind: ProposalKind,
    pub proposed_text: String,
    pub reason: String,
    pub unit: String,
    pub unit_name: String,
    pub username: String,
    pub created_ms: i64,
    pub status: ProposalStatus,
    pub decided_by: Option<String>,
    pub decided_ms: Option<i64>,
    pub note: String,
}

/// `POST /api/proposals/decide`: the Director's decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: i64,
    pub accept: bool,
    #[serde(default)]
    pub note: String,
}

/// The answer to a decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub status: ProposalStatus,
}

// ---- administration --------------------------------------------------------------

/// A user as the admin page lists them (`GET /api/admin/users`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserEntry {
    pub username: String,
    pub display_name: String,
    pub unit: String,
    pub role: Role,
}

/// `POST /api/admin/users`: a new user, who gets a generated password.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub unit: String,
    pub role: Role,
}

/// A generated password, shown once (`POST /api/admin/users`, `POST
/// /api/admin/users/{username}/password`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IssuedPassword {
    pub username: String,
    pub password: String,
}

/// One problem found in an imported file, with its place and a message in
/// both languages. Imports are all or nothing: a file with problems changes
/// nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The line in the file, when it is known.
    pub line: Option<usize>,
    /// Where in the file, as a path (`dimensions[2].measures[0]`), or the
    /// column of a CSV row.
    pub place: String,
    pub vi: String,
    pub en: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if !self.place.is_empty() {
            write!(f, "{}: ", self.place)?;
        }
        write!(f, "{} / {}", self.vi, self.en)
    }
}

/// The media types of the files the admin page sends (`POST
/// /api/admin/plan`, `POST /api/admin/users/import`); others are refused.
pub const PLAN_FILE_TYPE: &str = "application/yaml";
pub const STAFF_FILE_TYPE: &str = "text/csv";

/// What a plan import changed (`POST /api/admin/plan`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanImported {
    pub measures_added: usize,
    pub measures_changed: usize,
    /// Measures no longer in the file: retired, never deleted, so that the
    /// reports that refer to them keep their text.
    pub measures_retired: usize,
    pub units_added: usize,
    pub units_changed: usize,
}

/// What a users import did (`POST /api/admin/users/import`). The
/// passwords are shown this once; each must be changed at first sign-in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsersImported {
    pub created: Vec<IssuedPassword>,
    /// Existing users whose name, unit or role the file changed.
    pub updated: Vec<String>,
    pub unchanged: usize,
}

/// The answer to a request that has nothing to return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub ok: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_travel_as_their_keys() {
        for kind in UnitKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.key())
            );
            assert_eq!(UnitKind::parse(kind.key()), Some(kind));
        }
        for status in DocStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.key())
            );
            assert_eq!(DocStatus::parse(status.key()), Some(status));
        }
        assert_eq!(DocStatus::parse("nonsense"), None);
        for s in [
            ReportStatus::Draft,
            ReportStatus::Submitted,
            ReportStatus::Returned,
            ReportStatus::Accepted,
        ] {
            assert_eq!(DocStatus::from(s).review(), Some(s));
        }
        assert_eq!(
            serde_json::to_value(ProposalKind::Retire).unwrap(),
            serde_json::json!("retire")
        );
    }

    #[test]
    fn a_step_request_refuses_an_unknown_action() {
        let ok: Result<TransitionRequest, _> = serde_json::from_value(serde_json::json!({
            "url": "automerge:x", "action": "submit", "device_time_ms": null
        }));
        assert_eq!(ok.unwrap().action, Action::Submit);
        let bad: Result<TransitionRequest, _> = serde_json::from_value(serde_json::json!({
            "url": "automerge:x", "action": "approve-everything", "device_time_ms": null
        }));
        assert!(bad.is_err());
    }

    #[test]
    fn only_the_agency_and_its_board_do_not_report() {
        assert!(!UnitKind::Agency.reports());
        assert!(!UnitKind::Board.reports());
        for kind in UnitKind::ALL {
            if !matches!(kind, UnitKind::Agency | UnitKind::Board) {
                assert!(kind.reports(), "{kind:?}");
            }
        }
    }
}

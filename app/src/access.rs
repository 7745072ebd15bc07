//! Who may read and write which document: the rules the sync server enforces.
//! The browser uses them only to decide what to show; it is never trusted.

use serde::{Deserialize, Serialize};

keyed! {
    pub enum Role {
        /// Manages users and units.
        Admin = "admin",
        /// The Director (Giám đốc): reads reports, approves the consolidated one.
        Director = "director",
        /// Office staff who keep the plan and consolidate the reports.
        Coordinator = "coordinator",
        /// Submits the unit's report.
        UnitLead = "unit_lead",
        /// Drafts the unit's report.
        Staff = "staff",
        /// Reads the plan and the unit's report.
        Viewer = "viewer",
    }
}

/// Where a report stands in its review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Draft,
    Submitted,
    Returned,
    Accepted,
}

/// What a document is, as far as access goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DocKind {
    Plan,
    UnitReport { unit: String, status: ReportStatus },
    Consolidated { approved: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    Read,
    /// Read, and write the document's comments only (`report::comments`):
    /// a reviewer of a report, or its unit while it is under review.
    Comment,
    Write,
}

/// The signed-in person, as the server knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    pub unit: String,
}

impl Actor {
    pub fn new(role: Role, unit: &str) -> Actor {
        Actor {
            role,
            unit: unit.to_string(),
        }
    }
}

/// The access `actor` has to a document of kind `doc`.
pub fn access(actor: &Actor, doc: &DocKind) -> Access {
    use Role::*;
    match doc {
        DocKind::Plan => match actor.role {
            Coordinator | Admin => Access::Write,
            Director | UnitLead | Staff | Viewer => Access::Read,
        },
        DocKind::UnitReport { unit, status } => {
            let own = &actor.unit == unit;
            let editable = matches!(status, ReportStatus::Draft | ReportStatus::Returned);
            match actor.role {
                // The Office reviews: it points at the text, it does not
                // write it.
                Coordinator => Access::Comment,
                Director => Access::Read,
                UnitLead | Staff if own && editable => Access::Write,
                // Under review, the unit answers the Office's comments.
                UnitLead | Staff if own => Access::Comment,
                Viewer if own => Access::Read,
                Admin | UnitLead | Staff | Viewer => Access::None,
            }
        }
        DocKind::Consolidated { approved } => match actor.role {
            Coordinator if !approved => Access::Write,
            // The Director reviews the consolidated report.
            Director => Access::Comment,
            Coordinator => Access::Read,
            Admin | UnitLead | Staff | Viewer => Access::None,
        },
    }
}

/// What a role may do besides reading and writing documents. The server
/// checks these on every request; the app uses them only to decide which
/// pages and buttons to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Follow reports: their own unit's, or every unit's for those who
    /// oversee them.
    SeeReports,
    /// Draft the own unit's reports (and start them; see `may_start_report`).
    DraftReports,
    /// See every unit's reports and the consolidated reports.
    OverseeReports,
    /// Make and assemble the consolidated report.
    Consolidate,
    /// Approve the consolidated report.
    ApproveConsolidated,
    /// See who has reported, on time or late.
    SeeDashboard,
    /// Propose a change to a measure of the plan.
    Propose,
    /// Follow proposals: the own unit's, or all of them for those who see all.
    FollowProposals,
    /// See every unit's proposals.
    SeeAllProposals,
    /// Accept or reject proposals.
    DecideProposals,
    /// Manage units and users.
    Administer,
}

impl Capability {
    pub const ALL: [Capability; 11] = [
        Capability::SeeReports,
        Capability::DraftReports,
        Capability::OverseeReports,
        Capability::Consolidate,
        Capability::ApproveConsolidated,
        Capability::SeeDashboard,
        Capability::Propose,
        Capability::FollowProposals,
        Capability::SeeAllProposals,
        Capability::DecideProposals,
        Capability::Administer,
    ];
}

impl Role {
    /// Whether this role has `capability`.
    pub fn may(self, capability: Capability) -> bool {
        use Capability::*;
        use Role::*;
        match capability {
            SeeReports | FollowProposals => self != Admin,
            DraftReports => matches!(self, UnitLead | Staff),
            OverseeReports => matches!(self, Coordinator | Director),
            Consolidate => self == Coordinator,
            ApproveConsolidated | DecideProposals => self == Director,
            SeeDashboard | SeeAllProposals => matches!(self, Coordinator | Director | Admin),
            Propose => matches!(self, UnitLead | Staff | Coordinator),
            Administer => self == Admin,
        }
    }
}

/// Whether `actor` may start the report of `unit`: the Office and admins
/// any unit's, a unit's lead and staff their own.
pub fn may_start_report(actor: &Actor, unit: &str) -> bool {
    match actor.role {
        Role::Coordinator | Role::Admin => true,
        Role::UnitLead | Role::Staff => actor.unit == unit,
        Role::Director | Role::Viewer => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Access::{Comment as C, None as N, Read as R, Write as W};
    use ReportStatus::*;

    fn report(unit: &str, status: ReportStatus) -> DocKind {
        DocKind::UnitReport {
            unit: unit.into(),
            status,
        }
    }

    /// Every role × document kind × state, written out as the docs give it.
    #[test]
    fn the_whole_matrix() {
        // role, the plan, own report (draft, submitted, returned, accepted),
        // another unit's draft, consolidated (draft, approved)
        let rows: [(Role, [Access; 8]); 6] = [
            (Role::Admin, [W, N, N, N, N, N, N, N]),
            (Role::Director, [R, R, R, R, R, R, C, C]),
            (Role::Coordinator, [W, C, C, C, C, C, W, R]),
            (Role::UnitLead, [R, W, C, W, C, N, N, N]),
            (Role::Staff, [R, W, C, W, C, N, N, N]),
            (Role::Viewer, [R, R, R, R, R, N, N, N]),
        ];
        for (role, expected) in rows {
            let a = Actor::new(role, "van-phong");
            let docs = [
                DocKind::Plan,
                report("van-phong", Draft),
                report("van-phong", Submitted),
                report("van-phong", Returned),
                report("van-phong", Accepted),
                report("thanh-tra", Draft),
                DocKind::Consolidated { approved: false },
                DocKind::Consolidated { approved: true },
            ];
            for (doc, want) in docs.iter().zip(expected) {
                assert_eq!(access(&a, doc), want, "{role:?} on {doc:?}");
            }
        }
    }

    /// Every role × capability, written out.
    #[test]
    fn the_whole_capability_matrix() {
        // In the order of `Capability::ALL`: see reports, draft, oversee,
        // consolidate, approve, dashboard, propose, follow proposals, see
        // all proposals, decide, administer.
        let yes = true;
        let no = false;
        let rows: [(Role, [bool; 11]); 6] = [
            (Role::Admin, [no, no, no, no, no, yes, no, no, yes, no, yes]),
            (
                Role::Director,
                [yes, no, yes, no, yes, yes, no, yes, yes, yes, no],
            ),
            (
                Role::Coordinator,
                [yes, no, yes, yes, no, yes, yes, yes, yes, no, no],
            ),
            (
                Role::UnitLead,
                [yes, yes, no, no, no, no, yes, yes, no, no, no],
            ),
            (
                Role::Staff,
                [yes, yes, no, no, no, no, yes, yes, no, no, no],
            ),
            (Role::Viewer, [yes, no, no, no, no, no, no, yes, no, no, no]),
        ];
        for (role, expected) in rows {
            for (capability, want) in Capability::ALL.into_iter().zip(expected) {
                assert_eq!(role.may(capability), want, "{role:?} {capability:?}");
            }
        }
    }

    #[test]
    fn who_may_start_which_report() {
        let unit = "phong-ngan-sach";
        let rows = [
            (Role::Admin, true, true),
            (Role::Coordinator, true, true),
            (Role::UnitLead, true, false),
            (Role::Staff, true, false),
            (Role::Director, false, false),
            (Role::Viewer, false, false),
        ];
        for (role, own, other) in rows {
            let a = Actor::new(role, unit);
            assert_eq!(may_start_report(&a, unit), own, "{role:?} own");
            assert_eq!(may_start_report(&a, "thanh-tra"), other, "{role:?} other");
        }
    }

    #[test]
    fn roles_have_stable_keys() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.key()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}

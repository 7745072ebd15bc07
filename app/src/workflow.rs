//! The review of a unit's report: draft → submitted (by the unit's lead) →
//! returned with a reason (by a coordinator) → submitted again → accepted.
//! The server applies these rules; the browser only offers what they allow.

use crate::access::{Actor, ReportStatus, Role};

keyed! {
    /// A step of a report's review.
    pub enum Action {
        Submit = "submit",
        Return = "return",
        Accept = "accept",
        /// The Director's approval of a consolidated report; not a step of a
        /// unit report's review.
        Approve = "approve",
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkflowError {
    #[error("this role may not {0:?} this report")]
    NotAllowed(Action),
    #[error("a {0:?} report cannot be {1:?}ed")]
    WrongState(ReportStatus, Action),
    #[error("returning a report needs a reason")]
    NoReason,
}

/// Whether `actor` may take `action` on a report of `unit` at all (the
/// report's status decides the rest): the unit's own lead submits, the
/// Office returns and accepts.
pub fn may_take(actor: &Actor, unit: &str, action: Action) -> bool {
    match action {
        Action::Submit => actor.role == Role::UnitLead && actor.unit == unit,
        Action::Return | Action::Accept => actor.role == Role::Coordinator,
        Action::Approve => false,
    }
}

/// The status a report of `unit` moves to when `actor` takes `action`.
pub fn next(
    actor: &Actor,
    unit: &str,
    from: ReportStatus,
    action: Action,
    reason: &str,
) -> Result<ReportStatus, WorkflowError> {
    use ReportStatus::*;
    if !may_take(actor, unit, action) {
        return Err(WorkflowError::NotAllowed(action));
    }
    match (from, action) {
        (Draft | Returned, Action::Submit) => Ok(Submitted),
        (Submitted, Action::Return) if reason.trim().is_empty() => Err(WorkflowError::NoReason),
        (Submitted, Action::Return) => Ok(Returned),
        (Submitted, Action::Accept) => Ok(Accepted),
        (from, action) => Err(WorkflowError::WrongState(from, action)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReportStatus::*;

    #[test]
    fn the_whole_cycle_is_allowed_to_the_right_people() {
        let lead = Actor::new(Role::UnitLead, "phong-ngan-sach");
        let office = Actor::new(Role::Coordinator, "van-phong");
        let unit = "phong-ngan-sach";
        assert_eq!(next(&lead, unit, Draft, Action::Submit, ""), Ok(Submitted));
        assert_eq!(
            next(&office, unit, Submitted, Action::Return, "Thiếu số liệu"),
            Ok(Returned)
        );
        assert_eq!(
            next(&lead, unit, Returned, Action::Submit, ""),
            Ok(Submitted)
        );
        assert_eq!(
            next(&office, unit, Submitted, Action::Accept, ""),
            Ok(Accepted)
        );
    }

    #[test]
    fn forbidden_transitions_are_refused() {
        let unit = "phong-ngan-sach";
        let lead = Actor::new(Role::UnitLead, unit);
        let office = Actor::new(Role::Coordinator, "van-phong");
        // Only the unit's own lead submits.
        for role in [
            Role::Staff,
            Role::Viewer,
            Role::Coordinator,
            Role::Director,
            Role::Admin,
        ] {
            assert_eq!(
                next(&Actor::new(role, unit), unit, Draft, Action::Submit, ""),
                Err(WorkflowError::NotAllowed(Action::Submit))
            );
        }
        assert!(next(
            &Actor::new(Role::UnitLead, "thanh-tra"),
            unit,
            Draft,
            Action::Submit,
            ""
        )
        .is_err());
        // Only coordinators return or accept.
        for role in [Role::UnitLead, Role::Director, Role::Admin, Role::Staff] {
            assert!(next(
                &Actor::new(role, "van-phong"),
                unit,
                Submitted,
                Action::Accept,
                ""
            )
            .is_err());
            assert!(next(
                &Actor::new(role, "van-phong"),
                unit,
                Submitted,
                Action::Return,
                "x"
            )
            .is_err());
        }
        // And only from the right state.
        assert_eq!(
            next(&lead, unit, Submitted, Action::Submit, ""),
            Err(WorkflowError::WrongState(Submitted, Action::Submit))
        );
        assert_eq!(
            next(&lead, unit, Accepted, Action::Submit, ""),
            Err(WorkflowError::WrongState(Accepted, Action::Submit))
        );
        assert!(next(&office, unit, Draft, Action::Accept, "").is_err());
        assert!(next(&office, unit, Returned, Action::Return, "x").is_err());
        assert_eq!(
            next(&office, unit, Submitted, Action::Return, "  "),
            Err(WorkflowError::NoReason)
        );
    }
}

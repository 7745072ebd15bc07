//! The documents the server made, and their review: the one owner of the
//! `documents` and `report_events` tables.
//!
//! Every report is made here from the plan (`find_or_make`), registered with
//! its kind, unit, period and status, and moved along its review here. Access
//! to documents (`policy`) is decided from what this registry says, and every
//! change to it is announced (`changed`), so that open connections are
//! decided again at once.

use std::collections::HashMap;
use std::sync::Arc;

use automerge::Automerge;
use papi::access::DocKind;
use papi::api::DocStatus;
use papi::workflow::Action;
use rusqlite::{OptionalExtension, Row};
use tokio::sync::{watch, Mutex, MutexGuard};

use crate::db::{Db, DbError};

/// What the server made a document as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Made {
    UnitReport,
    Consolidated,
}

impl Made {
    fn key(self) -> &'static str {
        match self {
            Made::UnitReport => "unit_report",
            Made::Consolidated => "consolidated",
        }
    }

    fn parse(key: &str) -> Option<Made> {
        match key {
            "unit_report" => Some(Made::UnitReport),
            "consolidated" => Some(Made::Consolidated),
            _ => None,
        }
    }
}

/// A registered document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// The bare automerge-repo id.
    pub doc_id: String,
    pub made: Made,
    /// The unit of a unit report.
    pub unit: Option<String>,
    /// The period key, such as `2026-h1`.
    pub period: String,
    pub status: DocStatus,
}

impl Registered {
    pub fn url(&self) -> String {
        format!("automerge:{}", self.doc_id)
    }

    /// What the document is, as far as access goes.
    pub fn kind(&self) -> Option<DocKind> {
        match self.made {
            Made::UnitReport => Some(DocKind::UnitReport {
                unit: self.unit.clone()?,
                status: self.status.review()?,
            }),
            Made::Consolidated => Some(DocKind::Consolidated {
                approved: self.status == DocStatus::Approved,
            }),
        }
    }
}

const DOC_COLUMNS: &str = "doc_id, kind, unit, period, status";

/// A row of `documents`; `None` for a kind or status this version does not
/// know, which is then left out.
fn registered(r: &Row<'_>) -> rusqlite::Result<Option<Registered>> {
    let kind: String = r.get(1)?;
    let status: String = r.get(4)?;
    let (doc_id, unit, period): (String, Option<String>, Option<String>) =
        (r.get(0)?, r.get(2)?, r.get(3)?);
    Ok(Made::parse(&kind)
        .zip(DocStatus::parse(&status))
        .map(|(made, status)| Registered {
            doc_id,
            made,
            unit,
            period: period.unwrap_or_default(),
            status,
        }))
}

/// One review step, as recorded: the API's own type.
pub use papi::api::ReviewEvent as Step;

/// A step that `user` takes now.
pub fn step_by(
    user: &crate::directory::User,
    action: Action,
    status: DocStatus,
    device_ms: Option<i64>,
    reason: &str,
) -> Step {
    Step {
        action,
        status,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        server_ms: crate::sessions::now_ms(),
        device_ms,
        reason: reason.trim().to_string(),
    }
}

/// The first submission of a report: when the server received it, and when
/// the device said its user pressed submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstSubmission {
    pub server_ms: i64,
    pub device_ms: Option<i64>,
}

impl FirstSubmission {
    /// Judged against the report's deadline, for the API.
    pub fn judged(&self, deadline_ms: i64) -> papi::api::FirstSubmission {
        papi::api::FirstSubmission {
            server_ms: self.server_ms,
            device_ms: self.device_ms,
            timeliness: papi::punctuality::judge(deadline_ms, self.server_ms, self.device_ms),
        }
    }
}

/// A unit's accepted report of a period, with the unit's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub doc_id: String,
    pub unit: String,
    pub unit_name: String,
}

#[derive(Clone)]
pub struct Registry {
    db: Db,
    /// One change to the registry at a time: two requests never make two
    /// reports, and a report is never approved halfway through assembling.
    lock: Arc<Mutex<()>>,
    /// Bumped after every change, so that access is decided again.
    changed: Arc<watch::Sender<u64>>,
}

impl Registry {
    pub fn new(db: Db) -> Registry {
        Registry {
            db,
            lock: Arc::default(),
            changed: Arc::new(watch::channel(0).0),
        }
    }

    /// Holds the registry for a read-then-write that must not interleave.
    pub async fn hold(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// The version of the registry now; bumped by every change.
    pub fn version(&self) -> u64 {
        *self.changed.borrow()
    }

    fn announce(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// The registered document `doc_id`, if there is one.
    pub async fn get(&self, doc_id: &str) -> Result<Option<Registered>, DbError> {
        let id = doc_id.to_string();
        self.db
            .call(move |c| {
                c.query_row(
                    &format!("SELECT {DOC_COLUMNS} FROM documents WHERE doc_id = ?1"),
                    [&id],
                    registered,
                )
                .optional()
                .map(Option::flatten)
            })
            .await
    }

    /// Every document made as `made`, by period and unit.
    pub async fn all(&self, made: Made) -> Result<Vec<Registered>, DbError> {
        self.db
            .call(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {DOC_COLUMNS} FROM documents WHERE kind = ?1 ORDER BY period, unit"
                ))?;
                let rows = stmt
                    .query_map([made.key()], registered)?
                    .filter_map(|r| r.transpose())
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    /// The document made as `made` for `unit` (none for a consolidated
    /// report) and `period`, if there is one.
    pub async fn find(
        &self,
        made: Made,
        unit: Option<&str>,
        period: &str,
    ) -> Result<Option<Registered>, DbError> {
        let (unit, period) = (unit.map(str::to_string), period.to_string());
        self.db
            .call(move |c| {
                c.query_row(
                    &format!(
                        "SELECT {DOC_COLUMNS} FROM documents WHERE kind = ?1 AND unit IS ?2 AND period = ?3"
                    ),
                    (made.key(), &unit, &period),
                    registered,
                )
                .optional()
                .map(Option::flatten)
            })
            .await
    }

    /// The document made as `made` for `unit` and `period`, made with
    /// `generate` through the sync engine and registered if there is none
    /// yet. The caller holds the registry (`hold`).
    pub async fn find_or_make<E>(
        &self,
        _held: &MutexGuard<'_, ()>,
        engine: &crate::engine::Engine,
        made: Made,
        unit: Option<&str>,
        period: &str,
        generate: impl FnOnce(&mut Automerge) -> Result<(), E>,
    ) -> Result<Registered, MakeError<E>> {
        if let Some(found) = self.find(made, unit, period).await? {
            return Ok(found);
        }
        let mut doc = Automerge::new();
        generate(&mut doc).map_err(MakeError::Generate)?;
        // `create` returns once the document is stored.
        let id = engine.create(doc).await;
        let doc = Registered {
            doc_id: id.to_string(),
            made,
            unit: unit.map(str::to_string),
            period: period.to_string(),
            status: DocStatus::Draft,
        };
        let row = doc.clone();
        self.db
            .call(move |c| {
                c.execute(
                    "INSERT INTO documents (doc_id, kind, unit, period, status) VALUES (?1, ?2, ?3, ?4, ?5)",
                    (&row.doc_id, made.key(), &row.unit, &row.period, row.status.key()),
                )
            })
            .await?;
        // Connected peers may have asked for the new document before it
        // was registered, and been refused; now it is known, decide again.
        self.announce();
        tracing::info!(kind = made.key(), unit, period, "document made");
        Ok(doc)
    }

    /// Records a review step of `doc_id`, which leads to `to`, and the
    /// document's new status, in one transaction.
    pub async fn record(&self, doc_id: &str, step: Step) -> Result<(), DbError> {
        let id = doc_id.to_string();
        self.db
            .call(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "UPDATE documents SET status = ?1 WHERE doc_id = ?2",
                    (step.status.key(), &id),
                )?;
                tx.execute(
                    "INSERT INTO report_events (doc_id, action, status, username, server_ms, device_ms, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    (
                        &id,
                        step.action.key(),
                        step.status.key(),
                        &step.username,
                        step.server_ms,
                        step.device_ms,
                        &step.reason,
                    ),
                )?;
                tx.commit()
            })
            .await?;
        self.announce();
        Ok(())
    }

    /// Every review step of a document, in order, with the names of the
    /// people who took them.
    pub async fn steps(&self, doc_id: &str) -> Result<Vec<Step>, DbError> {
        let id = doc_id.to_string();
        self.db
            .call(move |c| {
                let mut stmt = c.prepare(
                    "SELECT e.action, e.status, e.username, COALESCE(u.display_name, e.username),
                            e.server_ms, e.device_ms, e.reason
                     FROM report_events e LEFT JOIN users u ON u.username = e.username
                     WHERE e.doc_id = ?1 ORDER BY e.id",
                )?;
                let rows = stmt
                    .query_map([&id], |r| {
                        let action: String = r.get(0)?;
                        let status: String = r.get(1)?;
                        let step = |action, status| -> rusqlite::Result<Step> {
                            Ok(Step {
                                action,
                                status,
                                username: r.get(2)?,
                                display_name: r.get(3)?,
                                server_ms: r.get(4)?,
                                device_ms: r.get(5)?,
                                reason: r.get(6)?,
                            })
                        };
                        Action::parse(&action)
                            .zip(DocStatus::parse(&status))
                            .map(|(a, s)| step(a, s))
                            .transpose()
                    })?
                    .filter_map(|r| r.transpose())
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }

    /// The first submission of every report that has one, by document id.
    pub async fn first_submissions(&self) -> Result<HashMap<String, FirstSubmission>, DbError> {
        self.db
            .call(|c| {
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

    /// Every accepted unit report of `period`, in the units' order.
    pub async fn accepted(&self, period: &str) -> Result<Vec<Accepted>, DbError> {
        let p = period.to_string();
        self.db
            .call(move |c| {
                let mut stmt = c.prepare(
                    "SELECT d.doc_id, d.unit, u.name FROM documents d JOIN units u ON u.id = d.unit
                     WHERE d.kind = 'unit_report' AND d.period = ?1 AND d.status = 'accepted'
                     ORDER BY u.rowid",
                )?;
                let rows = stmt
                    .query_map([&p], |r| {
                        Ok(Accepted {
                            doc_id: r.get(0)?,
                            unit: r.get(1)?,
                            unit_name: r.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await
    }
}

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError<E> {
    #[error("generating the document: {0}")]
    Generate(E),
    #[error("the sync engine stopped")]
    Stopped,
    #[error(transparent)]
    Db(#[from] DbError),
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn registry() -> (tempfile::TempDir, Registry) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        crate::directory::seed_units(&db).await.unwrap();
        (dir, Registry::new(db))
    }

    async fn insert(r: &Registry, id: &str, made: Made, unit: Option<&str>, period: &str) {
        let (id, unit, period) = (id.to_string(), unit.map(str::to_string), period.to_string());
        r.db.call(move |c| {
            c.execute(
                "INSERT INTO documents (doc_id, kind, unit, period) VALUES (?1, ?2, ?3, ?4)",
                (&id, made.key(), &unit, &period),
            )
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn steps_move_the_status_and_the_first_submission_stays_first() {
        let (_dir, r) = registry().await;
        insert(&r, "a", Made::UnitReport, Some("van-phong"), "2026-h1").await;
        insert(&r, "c", Made::Consolidated, None, "2026-h1").await;
        let a = r.get("a").await.unwrap().unwrap();
        assert_eq!(a.status, DocStatus::Draft);
        assert_eq!(
            a.kind(),
            Some(DocKind::UnitReport {
                unit: "van-phong".into(),
                status: papi::access::ReportStatus::Draft
            })
        );
        assert_eq!(r.get("nothing").await.unwrap(), None);

        let before = r.version();
        let step = |action, status, at| Step {
            action,
            status,
            username: "truongphong".into(),
            display_name: "truongphong".into(),
            server_ms: at,
            device_ms: Some(at - 5),
            reason: String::new(),
        };
        r.record("a", step(Action::Submit, DocStatus::Submitted, 100))
            .await
            .unwrap();
        r.record("a", step(Action::Return, DocStatus::Returned, 200))
            .await
            .unwrap();
        r.record("a", step(Action::Submit, DocStatus::Submitted, 300))
            .await
            .unwrap();
        assert!(r.version() > before, "changes are announced");
        assert_eq!(
            r.get("a").await.unwrap().unwrap().status,
            DocStatus::Submitted
        );
        let steps = r.steps("a").await.unwrap();
        assert_eq!(
            steps.iter().map(|s| s.action).collect::<Vec<_>>(),
            [Action::Submit, Action::Return, Action::Submit]
        );
        let firsts = r.first_submissions().await.unwrap();
        assert_eq!(
            firsts["a"],
            FirstSubmission {
                server_ms: 100,
                device_ms: Some(95)
            }
        );
        assert_eq!(r.all(Made::UnitReport).await.unwrap().len(), 1);
        assert_eq!(
            r.find(Made::Consolidated, None, "2026-h1")
                .await
                .unwrap()
                .map(|d| d.doc_id),
            Some("c".into())
        );
        assert_eq!(
            r.find(Made::Consolidated, None, "2026-year").await.unwrap(),
            None
        );
    }
}

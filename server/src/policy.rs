//! Access to documents over `/sync`, decided per document and user by
//! `papi::access` and enforced by the sync guard (`sync::Guard::judge`).
//!
//! A peer id is `user<id>.<suffix>`; the sync endpoint only lets a signed-in
//! user connect with their own prefix, so the id names the user. A denied
//! document is answered exactly like an unknown one (`doc-unavailable`);
//! a read-only peer's changes are ignored and never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use papi::access::{access, Access, Actor, DocKind, Role};
use papi::ids::DocId;
use rusqlite::OptionalExtension;

use crate::db::{Db, DbError};
use crate::registry::Registry;

#[derive(Clone)]
pub struct AccessPolicy {
    db: Db,
    registry: Registry,
    plan: Arc<OnceLock<DocId>>,
    /// What the database said, kept until the registry changes: every
    /// message is judged, and the answers rarely change.
    known: Arc<Mutex<Known>>,
}

#[derive(Default)]
struct Known {
    /// The registry's version these answers belong to.
    version: u64,
    actors: HashMap<i64, Actor>,
    kinds: HashMap<DocId, DocKind>,
}

impl AccessPolicy {
    pub fn new(db: Db, registry: Registry) -> Self {
        AccessPolicy {
            db,
            registry,
            plan: Arc::default(),
            known: Arc::default(),
        }
    }

    /// The answers kept for the registry as it is now.
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        let version = self.registry.version();
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.version != version {
            *known = Known {
                version,
                ..Known::default()
            };
        }
        known
    }

    /// Keeps an answer read from the database while `version` was current,
    /// unless the registry has changed since (it may be stale).
    fn remember(&self, version: u64, f: impl FnOnce(&mut Known)) {
        let mut known = self.known();
        if known.version == version {
            f(&mut known);
        }
    }

    /// What a registered document is, as far as access goes.
    async fn kind_of(&self, doc: &DocId) -> Result<Option<DocKind>, DbError> {
        Ok(self
            .registry
            .get(&doc.to_string())
            .await?
            .and_then(|d| d.kind()))
    }

    /// Names the plan document, once it is known.
    pub fn set_plan(&self, id: DocId) {
        let _ = self.plan.set(id);
    }

    /// The access `user_id` has to `doc`: none for a document the server
    /// did not make (reports are registered when they are made, and a
    /// document it does not know is no one's), none when it cannot look.
    pub async fn access_of(&self, doc: &DocId, user_id: i64) -> Access {
        let version = self.registry.version();
        let (actor, kind) = {
            let known = self.known();
            (
                known.actors.get(&user_id).cloned(),
                known.kinds.get(doc).cloned(),
            )
        };
        let actor = match actor {
            Some(actor) => actor,
            None => match self.actor(user_id).await {
                Ok(Some(actor)) => {
                    self.remember(version, |k| {
                        k.actors.insert(user_id, actor.clone());
                    });
                    actor
                }
                Ok(None) => return Access::None,
                Err(error) => {
                    tracing::error!(%error, "access lookup failed; denying");
                    return Access::None;
                }
            },
        };
        let kind = if self.plan.get() == Some(doc) {
            DocKind::Plan
        } else if let Some(kind) = kind {
            kind
        } else {
            // Only what exists is remembered: a document may be registered
            // after it was first asked about.
            match self.kind_of(doc).await {
                Ok(Some(kind)) => {
                    self.remember(version, |k| {
                        k.kinds.insert(*doc, kind.clone());
                    });
                    kind
                }
                Ok(None) => return Access::None,
                Err(error) => {
                    tracing::error!(%error, "document lookup failed; denying");
                    return Access::None;
                }
            }
        };
        access(&actor, &kind)
    }

    /// Whether `user_id` reviews reports (the Office, the Director): who
    /// may resolve any comment thread, not only their own.
    pub async fn reviews(&self, user_id: i64) -> bool {
        match self.actor(user_id).await {
            Ok(Some(actor)) => actor.role.may(papi::access::Capability::OverseeReports),
            _ => false,
        }
    }

    async fn actor(&self, user_id: i64) -> Result<Option<Actor>, crate::db::DbError> {
        self.db
            .call(move |c| {
                c.query_row(
                    "SELECT role, unit FROM users WHERE id = ?1",
                    [user_id],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()
            })
            .await
            .map(|found| {
                found.and_then(|(role, unit)| {
                    Some(Actor {
                        role: Role::parse(&role)?,
                        unit,
                    })
                })
            })
    }
}

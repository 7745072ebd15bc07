//! Access to documents over `/sync`, decided per document and peer by
//! `papi::access` and enforced by the sync engine (samod's share policy).
//!
//! A peer id is `user<id>.<suffix>`; the sync endpoint only lets a signed-in
//! user connect with their own prefix, so the id names the user. A denied
//! document is answered exactly like an unknown one (`doc-unavailable`);
//! a read-only peer's changes are ignored and never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use futures::Stream;
use papi::access::{access, Access, Actor, DocKind, Role};
use rusqlite::OptionalExtension;
use samod::{DocumentId, PeerId, ShareConfig, SharePolicy};

use crate::db::{Db, DbError};
use crate::registry::Registry;

#[derive(Clone)]
pub struct AccessPolicy {
    db: Db,
    registry: Registry,
    plan: Arc<OnceLock<DocumentId>>,
    /// What the database said, kept until the registry changes: samod asks
    /// about every loaded document for every new connection, and the
    /// answers rarely change.
    known: Arc<Mutex<Known>>,
}

#[derive(Default)]
struct Known {
    /// The registry's version these answers belong to.
    version: u64,
    actors: HashMap<i64, Actor>,
    kinds: HashMap<DocumentId, DocKind>,
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
    async fn kind_of(&self, doc: &DocumentId) -> Result<Option<DocKind>, DbError> {
        Ok(self
            .registry
            .get(&doc.to_string())
            .await?
            .and_then(|d| d.kind()))
    }

    /// Names the plan document, once it is known.
    pub fn set_plan(&self, id: DocumentId) {
        let _ = self.plan.set(id);
    }

    /// The access `user_id` has to `doc`: none for a document the server
    /// did not make (reports are registered when they are made, and a
    /// document it does not know is no one's), none when it cannot look.
    pub async fn access_of(&self, doc: &DocumentId, user_id: i64) -> Access {
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
                        k.kinds.insert(doc.clone(), kind.clone());
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

    async fn decide(self, doc: DocumentId, peer: PeerId) -> ShareConfig {
        let Some(user_id) = user_id(&peer) else {
            return ShareConfig::none();
        };
        // Documents are sent only to peers that ask for them (as the
        // automerge-repo sync server does): announcing every loaded document
        // to every new connection costs each connection the whole store, and
        // clients ignore what they did not ask for.
        match self.access_of(&doc, user_id).await {
            Access::None => ShareConfig::none(),
            Access::Read => ShareConfig::read_only().with_announce(false),
            // One who may only comment writes too; the sync guard lets
            // through only changes to the comments (`sync::Guard::judge`).
            Access::Comment | Access::Write => ShareConfig::read_write().with_announce(false),
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

/// The user id in a peer id `user<id>.<suffix>`.
pub fn user_id(peer: &PeerId) -> Option<i64> {
    let text = peer.as_str().strip_prefix("user")?;
    let (id, suffix) = text.split_once('.')?;
    (!suffix.is_empty()).then_some(())?;
    id.parse().ok()
}

impl SharePolicy for AccessPolicy {
    /// The decision now, and again after every change to the registry.
    fn share(
        &self,
        doc_id: DocumentId,
        peer_id: PeerId,
    ) -> impl Stream<Item = ShareConfig> + Send + 'static {
        let changes = self.registry.subscribe();
        futures::stream::unfold(
            (self.clone(), doc_id, peer_id, changes, true),
            |(policy, doc, peer, mut changes, first)| async move {
                if !first {
                    changes.changed().await.ok()?;
                }
                let decision = policy.clone().decide(doc.clone(), peer.clone()).await;
                Some((decision, (policy, doc, peer, changes, false)))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_name_their_user() {
        assert_eq!(user_id(&PeerId::from("user12.browser-ab")), Some(12));
        assert_eq!(user_id(&PeerId::from("user12.")), None);
        assert_eq!(user_id(&PeerId::from("userx.a")), None);
        assert_eq!(user_id(&PeerId::from("browser-1")), None);
    }
}

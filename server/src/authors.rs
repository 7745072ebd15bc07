//! Who wrote what, as the server vouches for it: the author of a change is
//! the signed-in user whose connection first delivered it.
//!
//! An automerge change names its actor (a random id each editing session
//! picks), not a person, and anyone can put any actor id, or any name, in a
//! change they make. So the server keeps its own record, written before the
//! change reaches the sync engine (and so before it is stored or
//! acknowledged):
//! - `authors`: each actor id in each document, the user whose connection
//!   first delivered a change of it, and when;
//! - `delivered_by_other`: each change first delivered by someone other than
//!   its actor's user (a change made in another's actor id, or, rarely, a
//!   colleague's change passed on again after a server lost it), with its
//!   range of operations and the user who delivered it.
//!
//! A passage is then the work of its change's deliverer, whatever the change
//! claims.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use automerge::{ActorId, Change};
use papi::api::{ActorAuthor, Authorship, Borrowed};
use papi::ids::DocId;
use rusqlite::{params, OptionalExtension};

use crate::db::{Db, DbError};

/// One change as the record needs it.
#[derive(Clone)]
pub struct Delivered {
    pub hash: automerge::ChangeHash,
    pub actor: ActorId,
    pub start_op: u64,
    pub ops: u64,
}

impl From<&Change> for Delivered {
    fn from(change: &Change) -> Self {
        Delivered {
            hash: change.hash(),
            actor: change.actor_id().clone(),
            start_op: change.start_op().get(),
            ops: change.len() as u64,
        }
    }
}

/// The record, with the owners of the actors seen so far in memory.
#[derive(Clone)]
pub struct Authors {
    db: Db,
    /// (document, actor) → user.
    owners: Arc<Mutex<HashMap<(DocId, ActorId), i64>>>,
}

impl Authors {
    pub fn new(db: Db) -> Authors {
        Authors {
            db,
            owners: Arc::default(),
        }
    }

    /// Notes `user` as the deliverer of those of `changes` to `doc` that the
    /// server does not hold yet: the owner of each actor not seen before,
    /// and the deliverer of each change of someone else's actor. (What the
    /// server made itself, such as a new report's skeleton, is on no one's
    /// record.)
    pub async fn delivered(
        &self,
        doc: &DocId,
        user: i64,
        changes: Vec<Delivered>,
        held: impl Fn(&automerge::ChangeHash) -> bool,
    ) -> Result<(), DbError> {
        let mut new_actors = Vec::new();
        let mut others = Vec::new();
        {
            let owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
            for change in changes {
                // Sent again (a client resends what the server made, or what
                // it already stored): not a first delivery.
                if held(&change.hash) {
                    continue;
                }
                match owners.get(&(*doc, change.actor.clone())) {
                    Some(owner) if *owner == user => {}
                    Some(_) => others.push(change),
                    None => new_actors.push(change),
                }
            }
        }
        if new_actors.is_empty() && others.is_empty() {
            return Ok(());
        }
        let doc_key = doc.to_string();
        let now = now_ms();
        let (owned, others) = self
            .db
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut owned = Vec::new();
                let mut others = others;
                for change in new_actors {
                    let actor = change.actor.to_hex_string();
                    tx.execute(
                        "INSERT OR IGNORE INTO authors (actor, user_id, doc_id, first_seen_ms)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![actor, user, doc_key, now],
                    )?;
                    let owner: i64 = tx.query_row(
                        "SELECT user_id FROM authors WHERE doc_id = ?1 AND actor = ?2",
                        params![doc_key, actor],
                        |r| r.get(0),
                    )?;
                    if owner != user {
                        others.push(change.clone());
                    }
                    owned.push((change.actor, owner));
                }
                for change in &others {
                    tx.execute(
                        "INSERT OR IGNORE INTO delivered_by_other
                             (hash, doc_id, actor, start_op, end_op, user_id, first_seen_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![
                            change.hash.to_string(),
                            doc_key,
                            change.actor.to_hex_string(),
                            change.start_op as i64,
                            (change.start_op + change.ops) as i64,
                            user,
                            now
                        ],
                    )?;
                }
                tx.commit()?;
                Ok((owned, others.len()))
            })
            .await?;
        if others > 0 {
            tracing::info!(
                changes = others,
                "changes delivered in another user's actor id: recorded as the deliverer's"
            );
        }
        let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        owners.extend(owned.into_iter().map(|(a, u)| ((*doc, a), u)));
        Ok(())
    }

    /// The user who first delivered changes of `actor` (hex) to `doc`, if
    /// anyone has.
    pub async fn owner(&self, doc: &DocId, actor: &str) -> Result<Option<i64>, DbError> {
        let (doc, actor) = (doc.to_string(), actor.to_string());
        self.db
            .call(move |c| {
                c.query_row(
                    "SELECT user_id FROM authors WHERE doc_id = ?1 AND actor = ?2",
                    params![doc, actor],
                    |r| r.get(0),
                )
                .optional()
            })
            .await
    }

    /// Everything the record says of one document, with each user's name
    /// and unit.
    pub async fn of(&self, doc: &str) -> Result<Authorship, DbError> {
        let doc = doc.to_string();
        self.db
            .call(move |c| {
                let mut actors = c.prepare(
                    "SELECT a.actor, a.user_id, u.display_name, u.unit, a.first_seen_ms
                     FROM authors a JOIN users u ON u.id = a.user_id
                     WHERE a.doc_id = ?1 ORDER BY a.first_seen_ms",
                )?;
                let actors = actors
                    .query_map(params![doc], |r| {
                        Ok(ActorAuthor {
                            actor: r.get(0)?,
                            user_id: r.get(1)?,
                            name: r.get(2)?,
                            unit: r.get(3)?,
                            first_seen_ms: r.get(4)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut borrowed = c.prepare(
                    "SELECT d.actor, d.start_op, d.end_op, d.user_id, u.display_name, u.unit
                     FROM delivered_by_other d JOIN users u ON u.id = d.user_id
                     WHERE d.doc_id = ?1",
                )?;
                let borrowed = borrowed
                    .query_map(params![doc], |r| {
                        Ok(Borrowed {
                            actor: r.get(0)?,
                            start_op: r.get::<_, i64>(1)? as u64,
                            end_op: r.get::<_, i64>(2)? as u64,
                            user_id: r.get(3)?,
                            name: r.get(4)?,
                            unit: r.get(5)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Authorship { actors, borrowed })
            })
            .await
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

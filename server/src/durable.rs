//! What the database holds, per document, so that the server never tells a
//! client "I have your change" before the change is committed.
//!
//! samod sends its reply to a sync message (whose heads acknowledge the
//! sender's changes) without waiting for its storage writes. So the storage
//! records every committed chunk here, in a mirror of each document built only
//! from committed bytes, and the sync endpoint holds back each outgoing sync
//! message until the mirror contains the heads that the message announces.
//! A change enters the mirror only once its ancestors have, so "the heads are
//! in the mirror" means "everything up to these heads is on disk".

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use automerge::{Automerge, ChangeHash};
use samod::storage::StorageKey;
use samod::DocumentId;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Durable {
    mirrors: Arc<Mutex<HashMap<DocumentId, Automerge>>>,
    /// Bumped after every commit, to wake the senders that are waiting.
    version: Arc<watch::Sender<u64>>,
}

impl Default for Durable {
    fn default() -> Self {
        Durable {
            mirrors: Arc::default(),
            version: Arc::new(watch::channel(0).0),
        }
    }
}

impl Durable {
    /// Notes that `data`, stored under `key`, is committed.
    pub fn record(&self, key: &StorageKey, data: &[u8]) {
        let Some(doc_id) = key
            .into_iter()
            .next()
            .and_then(|part| DocumentId::from_str(part).ok())
        else {
            return; // not a document key
        };
        {
            let mut mirrors = self.mirrors.lock().unwrap_or_else(|p| p.into_inner());
            let mirror = mirrors.entry(doc_id).or_default();
            if let Err(error) = mirror.load_incremental(data) {
                tracing::error!(%key, %error, "stored chunk does not load");
            }
        }
        self.version.send_modify(|v| *v += 1);
    }

    fn holds(&self, doc_id: &DocumentId, heads: &[ChangeHash]) -> bool {
        if heads.is_empty() {
            return true;
        }
        let mirrors = self.mirrors.lock().unwrap_or_else(|p| p.into_inner());
        mirrors
            .get(doc_id)
            .is_some_and(|m| heads.iter().all(|h| m.get_change_meta_by_hash(h).is_some()))
    }

    /// Waits until everything up to `heads` of the document is committed.
    pub async fn wait_for(&self, doc_id: &DocumentId, heads: &[ChangeHash]) {
        let mut changes = self.version.subscribe();
        while !self.holds(doc_id, heads) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn key(doc: &DocumentId, hash: &str) -> StorageKey {
        StorageKey::from_parts([doc.to_string().as_str(), "incremental", hash]).unwrap()
    }

    #[tokio::test]
    async fn waits_until_a_change_and_its_ancestors_are_recorded() {
        // Our id encoding and samod's agree.
        let doc_id =
            DocumentId::from_str(&papi::ids::DocId::from_bytes([9; 16]).to_string()).unwrap();
        let mut doc = Automerge::new();
        let mut changes = Vec::new();
        for i in 0..2 {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "n", i as i64)?;
                Ok(())
            })
            .unwrap();
            changes.push(doc.get_last_local_change().unwrap().clone());
        }
        let durable = Durable::default();
        let heads = doc.get_heads();
        assert!(!durable.holds(&doc_id, &heads));

        // The newest change alone is not enough: its parent is not stored yet.
        durable.record(&key(&doc_id, "b"), changes[1].raw_bytes());
        assert!(!durable.holds(&doc_id, &heads));

        let waiter = {
            let durable = durable.clone();
            let doc_id = doc_id.clone();
            let heads = heads.clone();
            tokio::spawn(async move { durable.wait_for(&doc_id, &heads).await })
        };
        durable.record(&key(&doc_id, "a"), changes[0].raw_bytes());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter wakes")
            .unwrap();
        assert!(durable.holds(&doc_id, &heads));
        assert!(durable.holds(&doc_id, &[]));
    }
}

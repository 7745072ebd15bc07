//! Which changes are committed to the database, per document, so that the
//! server never tells a client "I have your change" before it is stored.
//!
//! The sync engine replies to a client without waiting for its storage
//! writes. Storage therefore marks what each commit made durable: an
//! incremental chunk is one change (its hash is in its key); a snapshot
//! holds the whole document, and its heads are read from the chunk's header.
//! A change the engine saves is always saved as one of these, in the same
//! step in which it becomes a head of the document, so the heads of any sync
//! message the engine sends are marked once they are stored — with all their
//! history, because the writer commits in the order the engine asked.
//!
//! A client's own changes may be older than the heads a message carries
//! (a run of offline edits is saved as one snapshot whose heads are only the
//! last of them). To know that such a change is stored, the dependencies of
//! every change that arrives are kept until it is: marking a hash durable
//! marks, through them, every change it descends from.
//!
//! This is kept in hashes, not in a second copy of each document.
//!
//! It also counts each document's writes that are queued or being
//! committed, so that a large batch of changes can wait for them (see
//! `settled`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use automerge::ChangeHash;
use samod::DocumentId;
use tokio::sync::watch;

/// The longest a batch of changes waits for the document to settle.
const SETTLE_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default)]
struct Doc {
    durable: HashSet<ChangeHash>,
    /// Writes queued for storage and not committed yet.
    writing: usize,
    /// Changes that arrived and are not known to be durable yet: their
    /// dependencies.
    arrived: HashMap<ChangeHash, Vec<ChangeHash>>,
}

impl Doc {
    fn mark(&mut self, hash: ChangeHash) {
        let mut stack = vec![hash];
        while let Some(h) = stack.pop() {
            if !self.durable.insert(h) {
                continue;
            }
            if let Some(deps) = self.arrived.remove(&h) {
                stack.extend(deps);
            }
        }
    }
}

#[derive(Clone)]
pub struct Durable {
    docs: Arc<Mutex<HashMap<DocumentId, Doc>>>,
    /// Bumped after every commit, to wake the senders that are waiting.
    version: Arc<watch::Sender<u64>>,
    /// Nothing is stored (`--in-memory`, for measurements): nothing waits.
    nothing_stored: bool,
}

impl Default for Durable {
    fn default() -> Self {
        Durable {
            docs: Arc::default(),
            version: Arc::new(watch::channel(0).0),
            nothing_stored: false,
        }
    }
}

impl Durable {
    /// For a server that stores nothing: every message goes at once.
    pub fn nothing_stored() -> Durable {
        Durable {
            nothing_stored: true,
            ..Durable::default()
        }
    }

    /// Notes that `hashes` of `doc` are committed (with their history).
    pub fn committed(&self, doc: &DocumentId, hashes: impl IntoIterator<Item = ChangeHash>) {
        self.commit(|docs| {
            let d = docs.entry(doc.clone()).or_default();
            for h in hashes {
                d.mark(h);
            }
        });
    }

    /// Notes a write to `doc` queued for storage.
    pub fn writing(&self, doc: &DocumentId) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.entry(doc.clone()).or_default().writing += 1;
    }

    /// Notes that a write to `doc` is committed and the engine told.
    pub fn written(&self, doc: &DocumentId) {
        self.commit(|docs| {
            let d = docs.entry(doc.clone()).or_default();
            d.writing = d.writing.saturating_sub(1);
        });
    }

    fn commit(&self, f: impl FnOnce(&mut HashMap<DocumentId, Doc>)) {
        f(&mut self.docs.lock().unwrap_or_else(|p| p.into_inner()));
        self.version.send_modify(|v| *v += 1);
    }

    /// Waits until every change that arrived for `doc` is stored and no
    /// write to it is queued, or `SETTLE_LIMIT` has passed.
    ///
    /// Why: the engine stores a batch of more than a few changes as one
    /// snapshot, unless a snapshot of the document is still being written;
    /// then it stores each change as a chunk of its own, and handles each
    /// chunk's completion as a step that recomputes a sync message for every
    /// peer of the document. A morning's 200 offline edits arriving just
    /// after another client's then cost 200 writes, 200 deletions when they
    /// are compacted, and a thousand sync computations; waiting for the
    /// other client's batch to be stored costs one commit. The limit keeps
    /// this an optimisation only: a change that is never stored (refused by
    /// the engine) delays a batch by the limit, never for ever.
    pub async fn settled(&self, doc: &DocumentId) {
        if self.nothing_stored {
            return;
        }
        let mut changes = self.version.subscribe();
        let wait = async {
            loop {
                {
                    let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
                    if docs
                        .get(doc)
                        .is_none_or(|d| d.writing == 0 && d.arrived.is_empty())
                    {
                        return;
                    }
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(SETTLE_LIMIT, wait).await;
    }

    /// Notes a change that arrived for `doc` (from a client, or made by the
    /// server), before the engine can store it.
    pub fn arrived(&self, doc: &DocumentId, hash: ChangeHash, deps: Vec<ChangeHash>) {
        if self.nothing_stored {
            return;
        }
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let d = docs.entry(doc.clone()).or_default();
        if !d.durable.contains(&hash) {
            d.arrived.insert(hash, deps);
        }
    }

    pub fn is_durable(&self, doc: &DocumentId, hash: &ChangeHash) -> bool {
        if self.nothing_stored {
            return true;
        }
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.get(doc).is_some_and(|d| d.durable.contains(hash))
    }

    fn holds(&self, doc: &DocumentId, heads: &[ChangeHash]) -> bool {
        if heads.is_empty() || self.nothing_stored {
            return true;
        }
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.get(doc)
            .is_some_and(|d| heads.iter().all(|h| d.durable.contains(h)))
    }

    /// Waits until everything up to `heads` of the document is committed.
    pub async fn wait_for(&self, doc: &DocumentId, heads: &[ChangeHash]) {
        let mut changes = self.version.subscribe();
        while !self.holds(doc, heads) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

fn uleb(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Every automerge chunk starts with these bytes, then a checksum (4), the
/// chunk's type (1: 0 a document, 1 a change, 2 a compressed change) and its
/// length.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// One chunk of a sync message's changes.
pub enum Chunk<'a> {
    Change(automerge::Change),
    /// A whole document (`Automerge::save`).
    Document(&'a [u8]),
}

/// The chunks in a sync message's bytes (a run of change chunks, or a
/// whole document); what does not parse is left out.
pub fn chunks_in(bytes: &[u8]) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let mut end = at + 9;
        let (Some(kind), Some(len)) = (bytes.get(at + 8), uleb(bytes, &mut end)) else {
            break;
        };
        let Some(stop) = usize::try_from(len).ok().and_then(|l| end.checked_add(l)) else {
            break;
        };
        let Some(chunk) = bytes.get(at..stop) else {
            break;
        };
        if *kind == 0 {
            out.push(Chunk::Document(chunk));
        } else if let Ok(change) = automerge::Change::try_from(chunk) {
            out.push(Chunk::Change(change));
        }
        at = stop;
    }
    out
}

/// The changes in a sync message's bytes: each one's hash and
/// dependencies. Of a document chunk, only its heads, with no dependencies
/// known.
pub fn changes_in(bytes: &[u8]) -> Vec<(ChangeHash, Vec<ChangeHash>)> {
    let mut out = Vec::new();
    for chunk in chunks_in(bytes) {
        match chunk {
            Chunk::Document(doc) => out.extend(
                snapshot_heads(doc)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|h| (h, Vec::new())),
            ),
            Chunk::Change(change) => out.push((change.hash(), change.deps().to_vec())),
        }
    }
    out
}

/// The heads in the header of a document chunk (`Automerge::save`), without
/// loading the document: magic, checksum, type, length, the actors, then the
/// heads. `None` if the bytes are not such a chunk.
pub fn snapshot_heads(bytes: &[u8]) -> Option<Vec<ChangeHash>> {
    if bytes.get(..4)? != MAGIC || *bytes.get(8)? != 0 {
        return None;
    }
    let mut at = 9;
    uleb(bytes, &mut at)?; // the chunk's length
    let actors = uleb(bytes, &mut at)?;
    for _ in 0..actors {
        let len = usize::try_from(uleb(bytes, &mut at)?).ok()?;
        at = at.checked_add(len)?;
    }
    let count = uleb(bytes, &mut at)?;
    let mut heads = Vec::new();
    for _ in 0..count {
        let raw: [u8; 32] = bytes.get(at..at + 32)?.try_into().ok()?;
        heads.push(ChangeHash(raw));
        at += 32;
    }
    Some(heads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::Automerge;
    use std::str::FromStr;

    fn doc_id() -> DocumentId {
        DocumentId::from_str(&papi::ids::DocId::from_bytes([9; 16]).to_string()).unwrap()
    }

    fn three_changes() -> (Automerge, Vec<ChangeHash>) {
        let mut doc = Automerge::new();
        let mut hashes = Vec::new();
        for i in 0..3 {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "n", i as i64)?;
                Ok(())
            })
            .unwrap();
            hashes.push(doc.get_last_local_change().unwrap().hash());
        }
        (doc, hashes)
    }

    #[test]
    fn the_changes_of_a_run_of_chunks_are_read_with_their_deps() {
        let (doc, hashes) = three_changes();
        let bytes: Vec<u8> = doc
            .get_changes(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let read = changes_in(&bytes);
        assert_eq!(read.iter().map(|(h, _)| *h).collect::<Vec<_>>(), hashes);
        assert_eq!(read[1].1, vec![hashes[0]]);
        let whole = changes_in(&doc.save());
        assert_eq!(whole, vec![(hashes[2], Vec::new())]);
        assert!(changes_in(b"noise").is_empty());
    }

    #[test]
    fn heads_are_read_from_a_snapshot_without_loading_it() {
        let (mut doc, _) = three_changes();
        let mut other = Automerge::new();
        other
            .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "o", 1))
            .unwrap();
        doc.merge(&mut other).unwrap();
        let mut heads = doc.get_heads();
        let mut read = snapshot_heads(&doc.save()).expect("a document chunk");
        heads.sort();
        read.sort();
        assert_eq!(read, heads);
        assert_eq!(snapshot_heads(b"not a document"), None);
        assert_eq!(snapshot_heads(&[]), None);
    }

    #[tokio::test]
    async fn a_run_of_changes_saved_as_one_snapshot_is_durable_through_its_heads() {
        let (doc, hashes) = three_changes();
        let durable = Durable::default();
        let id = doc_id();
        // The three arrived from a client, each depending on the one before.
        let changes = doc.get_changes(&[]);
        for c in &changes {
            durable.arrived(&id, c.hash(), c.deps().to_vec());
        }
        assert!(!durable.is_durable(&id, &hashes[0]));

        let waiter = {
            let durable = durable.clone();
            let id = id.clone();
            let heads = doc.get_heads();
            tokio::spawn(async move { durable.wait_for(&id, &heads).await })
        };
        // The snapshot's heads are only the last change.
        durable.committed(&id, snapshot_heads(&doc.save()).unwrap());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter wakes")
            .unwrap();
        for h in &hashes {
            assert!(durable.is_durable(&id, h), "{h}");
        }
        let docs = durable.docs.lock().unwrap();
        assert!(docs[&id].arrived.is_empty(), "nothing left waiting");
    }
}

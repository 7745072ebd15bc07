//! One document: its automerge state, the peers that sync it, and what of it
//! is stored. No I/O: every input is a method call, and what must happen
//! next (messages to send, chunks to store, the application told) is
//! collected as [`Effect`]s for the caller to carry out.
//!
//! **An answer means "stored".** A peer whose heads include changes that are
//! not stored yet (it sent them, or had them relayed, or holds them from a
//! connection that broke) hears nothing more about the document until the
//! writes pending then are committed (`stored`): the next sync message it
//! gets announces heads that include those changes, and it then counts them
//! as kept. Other peers get new changes at once; if the server fails before
//! storing them, the sender still holds them and sends them again.
//!
//! **Storage.** New changes are written as one chunk each (cheap: a keystroke
//! is a few bytes). When the chunks written since the last snapshot grow to
//! a quarter of its size, the whole document is written as a new snapshot,
//! and the chunks it replaces are deleted once it is committed. A document
//! loaded from storage counts as saved: loading writes nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, ChangeHash};

use crate::key::Key;
use crate::DocId;

/// Who a message comes from or goes to: the caller's name for one peer's
/// connection.
pub type Conn = u64;

/// Where a document stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Its chunks are being read from storage.
    Loading,
    Ready,
    /// Not in storage: asked of the peers, no answer yet.
    Requesting,
    /// Not in storage, and no peer has it.
    Unavailable,
}

/// How a document behaves; the same for every document of one repository.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Ask peers for a document that storage does not have (a browser asks
    /// its server); a server that makes every document itself does not.
    pub ask_peers: bool,
    /// At least this many chunks since the last snapshot before a new one
    /// is written.
    pub compact_after: usize,
    /// A peer hears heads that include changes it has only once they are
    /// stored here: a server's answer is what a browser takes as "kept".
    pub answers_wait_for_storage: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ask_peers: false,
            compact_after: 64,
            answers_wait_for_storage: true,
        }
    }
}

/// Bytes to put and keys to delete, in one commit.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Write {
    /// Given back to [`Document::stored`] once the write is committed.
    pub ticket: u64,
    pub put: Vec<(Key, Vec<u8>)>,
    pub delete: Vec<Key>,
}

/// What a document asks of its caller.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// An automerge sync message (`request` while the document is not
    /// here, else `sync`).
    Sync {
        to: Conn,
        request: bool,
        data: Vec<u8>,
    },
    Unavailable {
        to: Conn,
    },
    Store(Write),
    /// The contents changed (loaded, or changes received).
    Changed,
    Phase(Phase),
    /// A stored chunk that does not load; left out of the document.
    Unreadable {
        key: Key,
        error: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SyncError {
    #[error("the sync message does not decode: {0}")]
    Malformed(String),
    #[error("the sync message's changes do not apply: {0}")]
    Refused(String),
}

/// One peer syncing this document.
struct Peer {
    state: sync::State,
    /// Writes that were pending when it last sent changes: nothing goes to
    /// it until they are committed.
    waiting_for: BTreeSet<u64>,
    /// It has told us it does not have the document either.
    lacks_it: bool,
}

impl Peer {
    fn new() -> Peer {
        Peer {
            state: sync::State::new(),
            waiting_for: BTreeSet::new(),
            lacks_it: false,
        }
    }
}

/// What of the document is in storage, or on its way there.
#[derive(Default)]
struct Disk {
    /// Chunks known to be stored (loaded, or written by us).
    keys: HashSet<Key>,
    /// The heads that the chunks written or being written cover.
    saved_heads: Vec<ChangeHash>,
    /// Chunks since the last snapshot, and their bytes.
    chunks: usize,
    chunk_bytes: usize,
    snapshot_bytes: usize,
    /// Writes issued and not committed, with the keys each puts.
    pending: HashMap<u64, Vec<Key>>,
    /// The changes in those writes.
    unstored: HashMap<ChangeHash, u64>,
    /// A snapshot being written, and the keys it replaces.
    compaction: Option<(u64, Vec<Key>)>,
    next_ticket: u64,
}

pub struct Document {
    id: DocId,
    settings: Settings,
    doc: Automerge,
    phase: Phase,
    peers: HashMap<Conn, Peer>,
    disk: Disk,
    /// Messages that arrived while loading, handled once loaded.
    early: Vec<(Conn, bool, sync::Message)>,
    /// The heads a peer last announced: what it has confirmed.
    confirmed: Vec<ChangeHash>,
    /// The count of unconfirmed changes, with the heads it was counted at.
    counted: Option<(Vec<ChangeHash>, Vec<ChangeHash>, usize)>,
    effects: Vec<Effect>,
}

impl Document {
    /// A document to be read from storage; pass what was read to `loaded`.
    pub fn loading(id: DocId, settings: Settings) -> Document {
        Document {
            id,
            settings,
            doc: Automerge::new(),
            phase: Phase::Loading,
            peers: HashMap::new(),
            disk: Disk::default(),
            early: Vec::new(),
            confirmed: Vec::new(),
            counted: None,
            effects: Vec::new(),
        }
    }

    /// A new document with these contents, written to storage at once.
    pub fn create(id: DocId, settings: Settings, doc: Automerge) -> Document {
        let mut d = Document::loading(id, settings);
        d.doc = doc;
        d.set_phase(Phase::Ready);
        d.save();
        d
    }

    pub fn id(&self) -> DocId {
        self.id
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// What the caller must do now, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Nothing waits to be stored: safe to drop from memory.
    pub fn is_flushed(&self) -> bool {
        self.disk.pending.is_empty() && self.disk.compaction.is_none()
    }

    /// Peers syncing it now.
    pub fn peers(&self) -> impl Iterator<Item = Conn> + '_ {
        self.peers.keys().copied()
    }

    /// The chunks that storage held of this document. Chunks that do not
    /// load are reported and left out; the rest make the document.
    pub fn loaded(&mut self, chunks: Vec<(Key, Vec<u8>)>) {
        if self.phase != Phase::Loading {
            return;
        }
        let mut chunks = chunks;
        // Snapshots first: changes then apply on top of them, not queued.
        chunks.sort_by_key(|(key, _)| !key.is_snapshot());
        for (key, bytes) in chunks {
            match self.doc.load_incremental(&bytes) {
                Ok(_) => {
                    if key.is_snapshot() {
                        self.disk.snapshot_bytes = self.disk.snapshot_bytes.max(bytes.len());
                    } else {
                        self.disk.chunks += 1;
                        self.disk.chunk_bytes += bytes.len();
                    }
                    self.disk.keys.insert(key);
                }
                Err(e) => self.effects.push(Effect::Unreadable {
                    key,
                    error: e.to_string(),
                }),
            }
        }
        self.disk.saved_heads = self.doc.get_heads();
        if self.disk.saved_heads.is_empty() {
            if self.settings.ask_peers {
                self.set_phase(Phase::Requesting);
                self.check_unavailable();
            } else {
                self.set_phase(Phase::Unavailable);
            }
        } else {
            self.set_phase(Phase::Ready);
            self.effects.push(Effect::Changed);
        }
        for (from, request, message) in std::mem::take(&mut self.early) {
            // A reader's changes were left out when it arrived. An error now
            // reaches no one; the peer hears the document's state anyway.
            let _ = self.receive_message(from, request, message, true);
        }
        self.sync_all();
    }

    /// A peer starts syncing this document (a browser's server when it
    /// connects). A server adds a peer when it first names the document.
    pub fn add_peer(&mut self, conn: Conn) {
        if self.peers.contains_key(&conn) {
            return;
        }
        self.peers.insert(conn, Peer::new());
        if self.phase == Phase::Unavailable && self.settings.ask_peers {
            self.set_phase(Phase::Requesting);
        }
        self.sync_peer(conn);
    }

    pub fn remove_peer(&mut self, conn: Conn) {
        self.peers.remove(&conn);
        self.check_unavailable();
    }

    /// A decoded `request` or `sync` message from `from`. `may_write`:
    /// whether its changes are taken; a reader's are left out (it keeps
    /// them as unconfirmed). Returns how many changes were left out.
    pub fn receive_message(
        &mut self,
        from: Conn,
        request: bool,
        mut message: sync::Message,
        may_write: bool,
    ) -> Result<usize, SyncError> {
        if self.phase == Phase::Loading {
            if !may_write {
                message.changes = automerge::sync::ChunkList::empty();
            }
            self.peers.entry(from).or_insert_with(Peer::new);
            self.early.push((from, request, message));
            return Ok(0);
        }
        let mut left_out = 0;
        if !may_write && !message.changes.is_empty() {
            left_out = message.changes.len();
            message.changes = automerge::sync::ChunkList::empty();
        }
        let carries_changes = !message.changes.is_empty();
        self.peers.entry(from).or_insert_with(Peer::new);
        let absent = self.phase == Phase::Unavailable || self.phase == Phase::Requesting;
        if absent && request && !carries_changes && message.heads.is_empty() {
            // It lacks the document too.
            if self.phase == Phase::Unavailable {
                // Told so, it is not a peer of this document.
                self.peers.remove(&from);
                self.effects.push(Effect::Unavailable { to: from });
            } else if let Some(peer) = self.peers.get_mut(&from) {
                peer.lacks_it = true;
                self.check_unavailable();
            }
            return Ok(left_out);
        }
        if !message.heads.is_empty() {
            self.confirmed = message.heads.clone();
        }
        let before = self.doc.get_heads();
        // (A peer that has lost everything, as a `request` says, sends empty
        // heads: automerge then starts its side of the sync over.)
        let peer = self.peers.get_mut(&from).expect("inserted above");
        self.doc
            .receive_sync_message(&mut peer.state, message)
            .map_err(|e| SyncError::Refused(e.to_string()))?;
        self.after_change(&before);
        self.sync_all();
        Ok(left_out)
    }

    /// If the heads moved from `before`: ready, the application told, the
    /// new changes written.
    fn after_change(&mut self, before: &[ChangeHash]) {
        if self.doc.get_heads() != before {
            if self.phase != Phase::Ready {
                self.set_phase(Phase::Ready);
            }
            self.effects.push(Effect::Changed);
            self.save();
        }
    }

    /// A peer that does not have the document either.
    pub fn peer_lacks_it(&mut self, from: Conn) {
        if let Some(peer) = self.peers.get_mut(&from) {
            peer.lacks_it = true;
        }
        self.check_unavailable();
    }

    /// Makes a change here (the application's, or the server's own).
    pub fn change<R>(&mut self, f: impl FnOnce(&mut Automerge) -> R) -> R {
        let before = self.doc.get_heads();
        let result = f(&mut self.doc);
        if self.doc.get_heads() != before {
            self.after_change(&before);
            self.sync_all();
        }
        result
    }

    /// The ticket of the last write asked for (0 before any).
    pub fn last_ticket(&self) -> u64 {
        self.disk.next_ticket
    }

    /// Whether every write up to `ticket` is committed.
    pub fn stored_through(&self, ticket: u64) -> bool {
        self.disk.pending.keys().all(|t| *t > ticket)
    }

    /// A write is committed.
    pub fn stored(&mut self, ticket: u64) {
        let Some(keys) = self.disk.pending.remove(&ticket) else {
            return;
        };
        self.disk.unstored.retain(|_, t| *t != ticket);
        self.disk.keys.extend(keys);
        if let Some((t, _)) = &self.disk.compaction {
            if *t == ticket {
                let (_, replaced) = self.disk.compaction.take().expect("checked");
                for key in &replaced {
                    self.disk.keys.remove(key);
                }
                self.issue(Vec::new(), replaced);
            }
        }
        let mut released: Vec<Conn> = self
            .peers
            .iter_mut()
            .filter_map(|(conn, peer)| {
                let held = !peer.waiting_for.is_empty();
                peer.waiting_for.remove(&ticket);
                (held && peer.waiting_for.is_empty()).then_some(*conn)
            })
            .collect();
        released.sort_unstable();
        for conn in released {
            // It waited to hear that its changes are stored, and must hear
            // it even if automerge thinks the two are in step (it does when
            // the peer has already announced the same heads).
            if let Some(peer) = self.peers.get_mut(&conn) {
                peer.state.last_sent_heads.clear();
            }
            self.sync_peer(conn);
        }
    }

    /// The heads a peer last announced (as stored by the caller between
    /// runs, for a browser that counts what its server has not confirmed).
    pub fn confirmed_heads(&self) -> &[ChangeHash] {
        &self.confirmed
    }

    pub fn set_confirmed_heads(&mut self, heads: Vec<ChangeHash>) {
        self.confirmed = heads;
    }

    /// Changes here that no peer has confirmed having. Heads this document
    /// has not received yet are left out, which can only over-count.
    pub fn unconfirmed(&mut self) -> usize {
        let heads = self.doc.get_heads();
        if let Some((at, confirmed, n)) = &self.counted {
            if *at == heads && *confirmed == self.confirmed {
                return *n;
            }
        }
        let known: Vec<ChangeHash> = self
            .confirmed
            .iter()
            .filter(|h| self.doc.get_change_meta_by_hash(h).is_some())
            .copied()
            .collect();
        let n = self.doc.get_changes(&known).len();
        self.counted = Some((heads, self.confirmed.clone(), n));
        n
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.effects.push(Effect::Phase(phase));
        }
    }

    /// Unavailable once every peer has said it lacks the document (a
    /// browser with no connection keeps asking).
    fn check_unavailable(&mut self) {
        if self.phase == Phase::Requesting
            && !self.peers.is_empty()
            && self.peers.values().all(|p| p.lacks_it)
        {
            self.set_phase(Phase::Unavailable);
        }
    }

    fn sync_all(&mut self) {
        let mut conns: Vec<Conn> = self.peers.keys().copied().collect();
        conns.sort_unstable();
        for conn in conns {
            self.sync_peer(conn);
        }
    }

    /// Sends a peer what it needs, unless it waits for a write.
    fn sync_peer(&mut self, conn: Conn) {
        if self.phase == Phase::Loading || self.phase == Phase::Unavailable {
            return;
        }
        let request = self.phase == Phase::Requesting;
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        if !peer.waiting_for.is_empty() || (request && peer.lacks_it) {
            return;
        }
        // A peer that has changes not stored here yet (its own, or relayed
        // to it, or sent again on a new connection after the first one
        // broke), or changes we lack (which may build on such), must not
        // hear heads that include them until they are stored: it would
        // take them as kept.
        if self.settings.answers_wait_for_storage && !self.disk.pending.is_empty() {
            let unsafe_heads = peer.state.their_heads.iter().flatten().any(|h| {
                self.disk.unstored.contains_key(h) || self.doc.get_change_meta_by_hash(h).is_none()
            });
            if unsafe_heads {
                peer.waiting_for = self.disk.pending.keys().copied().collect();
                return;
            }
        }
        while let Some(message) = self.doc.generate_sync_message(&mut peer.state) {
            self.effects.push(Effect::Sync {
                to: conn,
                request,
                data: message.encode(),
            });
        }
    }

    /// Writes what storage does not have yet: its new changes one chunk
    /// each, or the whole document when the chunks have grown enough.
    fn save(&mut self) {
        let new = self.doc.get_changes(&self.disk.saved_heads);
        if new.is_empty() {
            return;
        }
        let new_bytes: usize = new.iter().map(|c| c.raw_bytes().len()).sum();
        let chunks = self.disk.chunks + new.len();
        let chunk_bytes = self.disk.chunk_bytes + new_bytes;
        let compact = self.disk.compaction.is_none()
            && (self.disk.keys.is_empty() && self.disk.pending.is_empty()
                || chunks >= self.settings.compact_after
                    && chunk_bytes * 4 >= self.disk.snapshot_bytes);
        let heads = self.doc.get_heads();
        if compact {
            let bytes = self.doc.save();
            let key = Key::snapshot(self.id, &heads);
            let replaced: Vec<Key> = self
                .disk
                .keys
                .iter()
                .chain(self.disk.pending.values().flatten())
                .filter(|k| **k != key)
                .cloned()
                .collect();
            self.disk.snapshot_bytes = bytes.len();
            self.disk.chunks = 0;
            self.disk.chunk_bytes = 0;
            let ticket = self.issue(vec![(key, bytes)], Vec::new());
            self.disk.compaction = Some((ticket, replaced));
            self.disk
                .unstored
                .extend(new.iter().map(|c| (c.hash(), ticket)));
        } else {
            self.disk.chunks = chunks;
            self.disk.chunk_bytes = chunk_bytes;
            let put = new
                .iter()
                .map(|c| (Key::incremental(self.id, c.hash()), c.raw_bytes().to_vec()))
                .collect();
            let ticket = self.issue(put, Vec::new());
            self.disk
                .unstored
                .extend(new.iter().map(|c| (c.hash(), ticket)));
        }
        self.disk.saved_heads = heads;
    }

    fn issue(&mut self, put: Vec<(Key, Vec<u8>)>, delete: Vec<Key>) -> u64 {
        self.disk.next_ticket += 1;
        let ticket = self.disk.next_ticket;
        self.disk
            .pending
            .insert(ticket, put.iter().map(|(k, _)| k.clone()).collect());
        self.effects.push(Effect::Store(Write {
            ticket,
            put,
            delete,
        }));
        ticket
    }
}

//! The server's sync engine: the documents of `papi_sync`, each behind a
//! lock of its own, with the connections that sync them and the storage
//! that keeps them.
//!
//! - **One lock per document.** Work on a document (a client's message, the
//!   server's own change, a commit coming back) takes that document's lock
//!   only, in the task that has the work, so documents are worked on in
//!   parallel and a message costs the same whatever else is loaded. The
//!   work runs in `block_in_place`: a long merge holds one thread, not the
//!   runtime.
//! - **Connections indexed by document.** Each document knows its peers
//!   (`Document::peers`); each connection knows its documents. An event
//!   touches only those.
//! - **Loaded on demand, unloaded when idle.** A document is read from
//!   storage when first named and leaves memory after `unload_after` with
//!   no peer and nothing waiting to be stored.
//! - **Acknowledged means stored** is the document's rule (see
//!   `papi_sync::Document`): its writes go to [`Store`], and a commit
//!   coming back releases the answers that waited for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use automerge::Automerge;
use futures::channel::mpsc;
use papi::ids::DocId;
use papi::wire::{DocMessage, Message};
use papi_sync::{Conn, Document, Effect, Phase, Settings};
use tokio::sync::watch;

use crate::storage::Store;

/// Messages queued for one connection beyond which it is taken for stuck
/// and closed: a client that does not read must not hold the server's
/// memory.
const MAX_QUEUED: usize = 4096;
/// Work on more bytes than this is heavy (see `blocking`).
const HEAVY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    peer_id: String,
    settings: Settings,
    docs: Mutex<HashMap<DocId, Arc<Slot>>>,
    conns: Mutex<HashMap<Conn, Outbox>>,
    next_conn: AtomicU64,
    store: Store,
    unload_after: Duration,
    started: Instant,
    runtime: tokio::runtime::Handle,
}

/// One loaded document.
struct Slot {
    doc: Mutex<Document>,
    /// Bumped after every step (loaded, a commit, a change): what waiters
    /// watch.
    version: watch::Sender<u64>,
    /// When it was last used, in ms since the engine started.
    used: AtomicU64,
}

/// Where a connection's messages go.
struct Outbox {
    peer: String,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
}

/// A connection's end of the engine: messages for it arrive on `messages`;
/// `sent` counts the ones the writer has taken, so that the queue's length
/// is known.
pub struct Connection {
    pub conn: Conn,
    pub messages: mpsc::UnboundedReceiver<Vec<u8>>,
    pub queued: Arc<AtomicUsize>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("document {0} is not in storage")]
    Missing(DocId),
}

impl Engine {
    /// An engine on `store`; documents idle for `unload_after` leave memory.
    pub fn new(store: Store, unload_after: Duration) -> Engine {
        let engine = Engine {
            inner: Arc::new(Inner {
                peer_id: format!(
                    "papi-server-{}",
                    automerge::ActorId::random().to_hex_string()
                ),
                settings: Settings::default(),
                docs: Mutex::default(),
                conns: Mutex::default(),
                next_conn: AtomicU64::new(1),
                store,
                unload_after,
                started: Instant::now(),
                runtime: tokio::runtime::Handle::current(),
            }),
        };
        let weak = Arc::downgrade(&engine.inner);
        let every = (unload_after / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                Engine { inner }.unload_idle();
            }
        });
        engine
    }

    pub fn peer_id(&self) -> &str {
        &self.inner.peer_id
    }

    fn now_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// The document's slot, loading it from storage if it is not in memory.
    fn slot(&self, id: DocId) -> Arc<Slot> {
        let mut docs = lock(&self.inner.docs);
        if let Some(slot) = docs.get(&id) {
            slot.used.store(self.now_ms(), Ordering::Relaxed);
            return slot.clone();
        }
        let slot = self.insert(&mut docs, Document::loading(id, self.inner.settings));
        drop(docs);
        let engine = self.clone();
        self.inner.runtime.spawn(async move {
            let chunks = engine.inner.store.load(id).await;
            let bytes: usize = chunks.iter().map(|(_, c)| c.len()).sum();
            engine.on(id, bytes > HEAVY_BYTES, |doc| doc.loaded(chunks));
        });
        slot
    }

    /// Puts a document in memory.
    fn insert(&self, docs: &mut HashMap<DocId, Arc<Slot>>, doc: Document) -> Arc<Slot> {
        let id = doc.id();
        let slot = Arc::new(Slot {
            doc: Mutex::new(doc),
            version: watch::Sender::new(0),
            used: AtomicU64::new(self.now_ms()),
        });
        docs.insert(id, slot.clone());
        metrics::gauge!(crate::metrics::DOCUMENTS_LOADED).set(docs.len() as f64);
        slot
    }

    /// Runs `work` on a document under its lock, then carries out what it
    /// asked for. Heavy work (a large batch of changes, a large load) runs
    /// off the runtime's other tasks (`block_in_place`).
    fn on<R>(&self, id: DocId, heavy: bool, work: impl FnOnce(&mut Document) -> R) -> R {
        let slot = self.slot(id);
        let result = blocking(heavy, || {
            let mut doc = lock(&slot.doc);
            let result = work(&mut doc);
            self.carry_out(&mut doc);
            result
        });
        slot.version.send_modify(|v| *v += 1);
        result
    }

    /// Carries out a document's effects, under its lock, so that its
    /// messages leave in order.
    fn carry_out(&self, doc: &mut Document) {
        let id = doc.id();
        for effect in doc.take_effects() {
            match effect {
                Effect::Sync { to, request, data } => self.send_with(to, |peer| {
                    let m = DocMessage {
                        sender_id: self.inner.peer_id.clone(),
                        target_id: peer.to_string(),
                        document_id: id,
                        data,
                    };
                    if request {
                        Message::Request(m)
                    } else {
                        Message::Sync(m)
                    }
                }),
                Effect::Unavailable { to } => self.send_with(to, |peer| Message::DocUnavailable {
                    sender_id: self.inner.peer_id.clone(),
                    target_id: peer.to_string(),
                    document_id: id,
                }),
                Effect::Store(write) => {
                    let engine = self.clone();
                    let ticket = write.ticket;
                    self.inner.store.write(
                        write,
                        Box::new(move || {
                            // Never under the document's lock (a store may
                            // finish at once): a task of its own.
                            let runtime = engine.inner.runtime.clone();
                            runtime.spawn(async move {
                                engine.on(id, false, |doc| doc.stored(ticket));
                            });
                        }),
                    );
                }
                Effect::Unreadable { key, error } => {
                    tracing::error!(%key, %error, "a stored chunk does not load; left out")
                }
                Effect::Changed | Effect::Phase(_) => {}
            }
        }
    }

    /// Queues a message for a connection, made for its peer; a connection
    /// with too much queued is closed (its queue dropped).
    fn send_with(&self, conn: Conn, make: impl FnOnce(&str) -> Message) {
        let mut conns = lock(&self.inner.conns);
        let Some(out) = conns.get(&conn) else { return };
        let bytes = make(&out.peer).encode();
        if out.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED
            || out.tx.unbounded_send(bytes).is_err()
        {
            tracing::warn!(conn, "a connection does not read its messages; dropping it");
            conns.remove(&conn);
        }
    }

    /// Waits until a document is loaded; `None` if storage has nothing of it.
    async fn ready(&self, id: DocId) -> Result<Arc<Slot>, EngineError> {
        let slot = self.slot(id);
        let mut version = slot.version.subscribe();
        loop {
            let phase = lock(&slot.doc).phase();
            match phase {
                Phase::Ready => return Ok(slot),
                Phase::Loading => {}
                Phase::Requesting | Phase::Unavailable => return Err(EngineError::Missing(id)),
            }
            if version.changed().await.is_err() {
                return Err(EngineError::Missing(id));
            }
        }
    }

    /// Whether a document is in storage (loading it to find out).
    pub async fn exists(&self, id: DocId) -> bool {
        self.ready(id).await.is_ok()
    }

    /// A new document, returned once it is stored.
    pub async fn create(&self, doc: Automerge) -> DocId {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the system's random numbers");
        let id = DocId::from_bytes(bytes);
        let document = Document::create(id, self.inner.settings, doc);
        let slot = self.insert(&mut lock(&self.inner.docs), document);
        let through = self.on(id, false, |doc| doc.last_ticket());
        self.stored_through(&slot, through).await;
        id
    }

    /// Runs the server's own `work` on a document (reading it, or changing
    /// it); returns once what it changed is stored.
    pub async fn change<R>(
        &self,
        id: DocId,
        work: impl FnOnce(&mut Automerge) -> R,
    ) -> Result<R, EngineError> {
        let slot = self.ready(id).await?;
        let (result, through) = self.on(id, true, |doc| (doc.change(work), doc.last_ticket()));
        self.stored_through(&slot, through).await;
        Ok(result)
    }

    /// Reads a loaded document, if it is loaded and ready: what the sync
    /// guard looks at before it lets a message through.
    pub fn read<R>(&self, id: DocId, read: impl FnOnce(&Automerge) -> R) -> Option<R> {
        let slot = lock(&self.inner.docs).get(&id).cloned()?;
        let doc = lock(&slot.doc);
        (doc.phase() == Phase::Ready).then(|| read(doc.doc()))
    }

    async fn stored_through(&self, slot: &Slot, ticket: u64) {
        let mut version = slot.version.subscribe();
        while !lock(&slot.doc).stored_through(ticket) {
            if version.changed().await.is_err() {
                return;
            }
        }
    }

    // ---- connections -----------------------------------------------------

    /// A connection of `peer` (past the handshake).
    pub fn connect(&self, peer: String) -> Connection {
        let conn = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, messages) = mpsc::unbounded();
        let queued = Arc::new(AtomicUsize::new(0));
        lock(&self.inner.conns).insert(
            conn,
            Outbox {
                peer,
                tx,
                queued: queued.clone(),
            },
        );
        Connection {
            conn,
            messages,
            queued,
        }
    }

    /// A connection is gone: it leaves every document it synced.
    pub fn disconnect(&self, conn: Conn, docs: impl IntoIterator<Item = DocId>) {
        let none_left = {
            let mut conns = lock(&self.inner.conns);
            conns.remove(&conn);
            conns.is_empty()
        };
        for id in docs {
            let slot = lock(&self.inner.docs).get(&id).cloned();
            if let Some(slot) = slot {
                let mut doc = lock(&slot.doc);
                doc.remove_peer(conn);
                self.carry_out(&mut doc);
            }
        }
        if none_left {
            give_back_memory();
        }
    }

    /// A `request` or `sync` message, decoded and judged by the caller.
    /// `may_write`: whether the peer's changes are taken. Returns how many
    /// changes were left out (a reader's).
    pub fn receive(
        &self,
        conn: Conn,
        id: DocId,
        request: bool,
        message: automerge::sync::Message,
        may_write: bool,
    ) -> Result<usize, papi_sync::SyncError> {
        let bytes: usize = message.changes.iter().map(|c| c.len()).sum();
        self.on(id, bytes > HEAVY_BYTES, |doc| {
            doc.receive_message(conn, request, message, may_write)
        })
    }

    /// Passes an ephemeral message on to the other peers of the document
    /// (none if it is not loaded).
    pub fn relay(&self, from: Conn, id: DocId, message: &Message) {
        let Message::Ephemeral {
            sender_id,
            count,
            session_id,
            data,
            ..
        } = message
        else {
            return;
        };
        let Some(slot) = lock(&self.inner.docs).get(&id).cloned() else {
            return;
        };
        let peers: Vec<Conn> = lock(&slot.doc).peers().filter(|c| *c != from).collect();
        for to in peers {
            self.send_with(to, |peer| Message::Ephemeral {
                sender_id: sender_id.clone(),
                target_id: peer.to_string(),
                document_id: id,
                count: *count,
                session_id: session_id.clone(),
                data: data.clone(),
            });
        }
    }

    /// Drops from memory the documents idle past `unload_after`: no peer,
    /// nothing waiting to be stored, and no one else holding them.
    fn unload_idle(&self) {
        let now = self.now_ms();
        let after = self.inner.unload_after.as_millis() as u64;
        let mut docs = lock(&self.inner.docs);
        let before = docs.len();
        docs.retain(|_, slot| {
            if Arc::strong_count(slot) > 1
                || now.saturating_sub(slot.used.load(Ordering::Relaxed)) < after
            {
                return true;
            }
            let Ok(doc) = slot.doc.try_lock() else {
                return true;
            };
            doc.peers().next().is_some() || !doc.is_flushed() || doc.phase() == Phase::Loading
        });
        let loaded = docs.len();
        drop(docs);
        metrics::gauge!(crate::metrics::DOCUMENTS_LOADED).set(loaded as f64);
        if loaded != before {
            tracing::debug!(unloaded = before - loaded, "idle documents left memory");
            give_back_memory();
        }
    }

    /// Waits until every write is committed (or `limit` passes): what
    /// stopping does before the database is closed.
    pub async fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let slots: Vec<Arc<Slot>> = lock(&self.inner.docs).values().cloned().collect();
            if slots.iter().all(|s| lock(&s.doc).is_flushed()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Returns the memory freed by documents and connections to the system:
/// glibc keeps freed memory in its arenas (a document's load is hundreds of
/// MB of short-lived buffers), so without this a server that has emptied
/// stays at its peak. Done when a document leaves memory or the last
/// connection closes, moments of little work.
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it touches nothing in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs `work`; if `heavy`, without holding up the runtime's other tasks,
/// where the runtime allows it. (Not for everything: each call hands the
/// thread's other tasks to another thread, which costs more than a
/// keystroke's work.)
fn blocking<R>(heavy: bool, work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) if heavy => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

//! The browser's documents: kept on the device (IndexedDB) and in memory, and
//! synced with the server over the automerge-repo protocol whenever a
//! connection exists.
//!
//! One connection at a time. Each (document, connection) pair has its own
//! automerge sync state, made fresh on every reconnect, so that nothing
//! assumed about a previous connection survives it. Every change, local or
//! received, is written to the device before the status can say it is saved.
//!
//! "Saved" is a claim about every document on the device, not only the ones a
//! screen has open. At start-up the repository reads what the device holds of
//! each document (`Store::scan`, no document loaded) and loads in the
//! background every one with changes the server has not confirmed, so that
//! they sync whatever screen is open. Documents that are fully synced stay on
//! the device until a screen asks for them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, ChangeHash, ObjId, ReadDoc};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::device;
use super::link::{Link, LinkEvent, WsLink};
use super::session::Identity;
use super::store::{DocMeta, Store, StoreError, Write};
use crate::ids::DocId;
use crate::report::TextAt;
use crate::wire::{DocMessage, Message, PeerMetadata};

const FIRST_RETRY_MS: f64 = 500.0;
const LONGEST_RETRY_MS: f64 = 30_000.0;
const KEEPALIVE_EVERY_MS: i32 = 15_000;
/// With nothing heard for this long, the connection is taken for dead.
const SILENCE_LIMIT_MS: f64 = 40_000.0;
/// Chunks written before the document is compacted into one snapshot.
const COMPACT_AFTER: usize = 64;

/// Where a document stands on this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Loading,
    Ready,
    /// Not on the device; asked of the server, no answer yet.
    Fetching,
    /// Not on the device, and the server has not got it for us.
    Unavailable,
}

/// What the status bar says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    pub connected: bool,
    /// Changes on this device that the server has not confirmed, in every
    /// document on the device, loaded or not.
    pub unsynced: usize,
    /// Review steps taken on this device that the server has not received
    /// (see `outbox`).
    pub pending_steps: usize,
    /// Writes to the device still under way, letters typed and not yet in
    /// their document included.
    pub writing: bool,
    /// Documents on the device whose count is not known until they load.
    pub checking: bool,
    pub last_sync_ms: Option<f64>,
    pub storage_error: Option<String>,
    /// The server no longer knows this device's session: nothing syncs until
    /// the user signs in again. Local edits stay on the device meanwhile.
    pub signed_out: bool,
}

impl Status {
    /// Everything that is only on this device: document changes and review
    /// steps. The one count that the status bar, the data-safety panel and
    /// the sign-out warning give.
    pub fn device_only(&self) -> usize {
        self.unsynced + self.pending_steps
    }

    /// Whether everything on this device is on the server.
    pub fn all_saved(&self) -> bool {
        self.connected && self.device_only() == 0 && !self.writing && !self.checking
    }
}

/// Per-document state that the interface watches.
#[derive(Clone, Copy)]
pub struct DocSignals {
    pub version: RwSignal<u64>,
    /// Bumped with `version`, except by a keystroke that leaves its text as
    /// empty or as non-empty as it was: what a report's outline and its
    /// progress follow, so that typing does not read them again.
    pub shape: RwSignal<u64>,
    pub phase: RwSignal<Phase>,
    pub unsynced: RwSignal<usize>,
    /// The version a keystroke made, and the one text it changed: the
    /// other text boxes need not read theirs again for it.
    pub typed: StoredValue<Option<(u64, ObjId)>>,
}

impl DocSignals {
    /// Any change but a keystroke's (see `shape`).
    fn changed(&self) {
        self.version.update(|v| *v += 1);
        self.shape.update(|v| *v += 1);
    }
}

/// A document's heads, the server's heads, and the count of changes the
/// server has not confirmed at those heads.
type Counted = (Vec<ChangeHash>, Vec<ChangeHash>, usize);

/// A plan's `shape`, and each measure's text object by measure id at it.
type MeasureTexts = (u64, HashMap<String, ObjId>);

struct Entry {
    doc: Automerge,
    signals: DocSignals,
    /// The heads the server last announced for this document.
    server_heads: Vec<ChangeHash>,
    /// The heads already written to the device.
    saved_heads: Vec<ChangeHash>,
    writing: bool,
    dirty: bool,
    chunks_since_snapshot: usize,
    /// The last count of `unsynced`, with the heads and server heads it was
    /// counted at: the status asks after every keystroke.
    counted: RefCell<Option<Counted>>,
}

struct Inner {
    peer_id: String,
    /// This page's ephemeral session and the count of its messages, as
    /// automerge-repo numbers them.
    ephemeral_session: String,
    ephemeral_count: u64,
    /// The documents the server has answered for on this connection: it
    /// passes ephemeral messages about a document only once it has decided
    /// who may read it.
    joined: std::collections::HashSet<DocId>,
    /// Documents in memory.
    docs: HashMap<DocId, Entry>,
    /// What the device's storage says of every document on it, as of the
    /// last write: counts for the documents not in memory.
    device: HashMap<DocId, DocMeta>,
    /// A connection is started or open.
    linked: bool,
    /// The server's peer id once the handshake is done.
    server_id: Option<String>,
    states: HashMap<DocId, sync::State>,
    retry_ms: f64,
    retry_timer: Option<i32>,
    last_heard_ms: f64,
}

/// What a listener hears of a document's ephemeral traffic.
pub enum Ephemeral<'a> {
    /// The server has answered for the document on a new connection: from
    /// now on, what is broadcast about it reaches the others.
    Joined,
    Message {
        sender: &'a str,
        data: &'a [u8],
    },
}

pub type Listener = Rc<dyn Fn(Ephemeral)>;

/// The app's document repository; one per page.
pub struct Repo {
    /// Owns the repository's signals for the life of the page, whatever
    /// view first opened a document (views come and go; documents stay).
    owner: Owner,
    inner: RefCell<Inner>,
    store: Store,
    link: Box<dyn Link>,
    /// Who hears each document's ephemeral traffic (see `listen`).
    listeners: RefCell<HashMap<DocId, Listener>>,
    pub status: RwSignal<Status>,
    /// A plan's measure texts by measure id, as of the plan's `shape`: its
    /// text boxes find their text through it, not one search each.
    measure_texts: RefCell<HashMap<DocId, MeasureTexts>>,
    _timers: RefCell<Vec<Closure<dyn FnMut()>>>,
}

thread_local! {
    static REPO: RefCell<Option<Rc<Repo>>> = const { RefCell::new(None) };
}

/// The page's repository, once started.
pub fn try_repo() -> Option<Rc<Repo>> {
    REPO.with(|r| r.borrow().clone())
}

/// The page's repository. Panics if `Repo::start` has not run.
pub fn repo() -> Rc<Repo> {
    REPO.with(|r| r.borrow().clone().expect("the repository is started"))
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

impl Repo {
    /// Opens device storage, starts connecting as `identity`, and makes the
    /// repository available through `repo()`.
    pub async fn start(identity: &Identity) -> Result<Rc<Repo>, StoreError> {
        // The page is drawn again when the language changes; the repository
        // and its connection stay.
        if let Some(repo) = try_repo() {
            return Ok(repo);
        }
        device::bind(identity.id);
        let store = Store::open(&device::database(identity.id)).await?;
        let location = window().location();
        let scheme = if location.protocol().ok().as_deref() == Some("https:") {
            "wss"
        } else {
            "ws"
        };
        let host = location.host().unwrap_or_default();
        // The server binds the connection to `<prefix><suffix>`; the prefix
        // names the signed-in user.
        let suffix = format!("b{}", automerge::ActorId::random());
        let link = WsLink::new(format!("{scheme}://{host}/sync?peer={suffix}"));
        let peer_id = format!("{}{suffix}", identity.peer_prefix);
        let repo = Repo::new(store, Box::new(link), peer_id).await?;
        REPO.with(|r| *r.borrow_mut() = Some(repo.clone()));
        repo.watch_network();
        repo.connect();
        Ok(repo)
    }

    /// A repository over `store` that talks through `link` as `peer_id`; not
    /// connected yet. Every document on the device with changes the server
    /// has not confirmed starts loading, so that it syncs on connection.
    pub async fn new(
        store: Store,
        link: Box<dyn Link>,
        peer_id: String,
    ) -> Result<Rc<Repo>, StoreError> {
        let device: HashMap<DocId, DocMeta> = store.scan().await?.into_iter().collect();
        let owner = Owner::new_root(None);
        let status = owner.with(|| RwSignal::new(Status::default()));
        let repo = Rc::new(Repo {
            owner,
            inner: RefCell::new(Inner {
                peer_id,
                ephemeral_session: automerge::ActorId::random().to_hex_string(),
                ephemeral_count: 0,
                joined: Default::default(),
                docs: HashMap::new(),
                device,
                linked: false,
                server_id: None,
                states: HashMap::new(),
                retry_ms: FIRST_RETRY_MS,
                retry_timer: None,
                last_heard_ms: now_ms(),
            }),
            store,
            link,
            listeners: RefCell::new(HashMap::new()),
            measure_texts: RefCell::new(HashMap::new()),
            status,
            _timers: RefCell::new(Vec::new()),
        });
        repo.open_unsynced();
        repo.refresh_status();
        Ok(repo)
    }

    /// Loads every document on the device that may hold changes the server
    /// has not confirmed (a count not known counts as maybe).
    fn open_unsynced(self: &Rc<Self>) {
        let ids: Vec<DocId> = {
            let inner = self.inner.borrow();
            inner
                .device
                .iter()
                .filter(|(id, meta)| meta.unsynced != Some(0) && !inner.docs.contains_key(id))
                .map(|(id, _)| *id)
                .collect()
        };
        for id in ids {
            self.open(id);
        }
    }

    // ---- documents -------------------------------------------------------

    /// Starts loading a document (from the device, else from the server) and
    /// returns the signals that follow it.
    pub fn open(self: &Rc<Self>, id: DocId) -> DocSignals {
        if let Some(e) = self.inner.borrow().docs.get(&id) {
            return e.signals;
        }
        let signals = self.owner.with(|| DocSignals {
            version: RwSignal::new(0),
            shape: RwSignal::new(0),
            phase: RwSignal::new(Phase::Loading),
            unsynced: RwSignal::new(0),
            typed: StoredValue::new(None),
        });
        self.inner.borrow_mut().docs.insert(
            id,
            Entry {
                doc: Automerge::new(),
                signals,
                server_heads: Vec::new(),
                saved_heads: Vec::new(),
                writing: false,
                dirty: false,
                chunks_since_snapshot: 0,
                counted: RefCell::new(None),
            },
        );
        let repo = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let stored = repo.store.load(&id).await;
            {
                let mut inner = repo.inner.borrow_mut();
                let Some(entry) = inner.docs.get_mut(&id) else {
                    return;
                };
                match stored {
                    Ok(Some(stored)) => {
                        for chunk in &stored.chunks {
                            if let Err(e) = entry.doc.load_incremental(chunk) {
                                leptos::logging::error!(
                                    "a stored chunk of {id} does not load: {e}"
                                );
                            }
                        }
                        entry.saved_heads = entry.doc.get_heads();
                        entry.server_heads = stored
                            .meta
                            .server_heads
                            .iter()
                            .filter_map(|h| h.parse().ok())
                            .collect();
                        entry.chunks_since_snapshot = stored.chunks.len();
                        entry.signals.phase.set(Phase::Ready);
                    }
                    Ok(None) => entry.signals.phase.set(Phase::Fetching),
                    Err(e) => {
                        repo.status
                            .update(|s| s.storage_error = Some(e.to_string()));
                        entry.signals.phase.set(Phase::Fetching);
                    }
                }
                entry.signals.changed();
            }
            repo.send_sync(id);
            repo.refresh_status();
        });
        signals
    }

    /// Documents with changes that only this device has, loaded or not:
    /// what each is (see `document_name`) and how many changes.
    pub fn unsynced_by_document(&self) -> Vec<(String, usize)> {
        self.status.track();
        let inner = self.inner.borrow();
        let mut list: Vec<(String, usize)> = inner
            .docs
            .iter()
            .filter_map(|(id, e)| match e.signals.phase.get_untracked() {
                Phase::Ready => {
                    let n = e.signals.unsynced.get_untracked();
                    (n > 0).then(|| (document_name(&e.doc), n))
                }
                _ => inner.device.get(id).and_then(stored_count),
            })
            .chain(
                inner
                    .device
                    .iter()
                    .filter(|(id, _)| !inner.docs.contains_key(id))
                    .filter_map(|(_, meta)| stored_count(meta)),
            )
            .collect();
        list.sort();
        list
    }

    /// How many documents the device holds, and how many of them are in
    /// memory.
    pub fn document_counts(&self) -> (usize, usize) {
        self.status.track();
        let inner = self.inner.borrow();
        let loaded = inner
            .docs
            .iter()
            .filter(|(id, _)| inner.device.contains_key(id))
            .count();
        (inner.device.len(), loaded)
    }

    /// Reads a document.
    pub fn read<R>(&self, id: DocId, f: impl FnOnce(&Automerge) -> R) -> Option<R> {
        let inner = self.inner.borrow();
        let entry = inner.docs.get(&id)?;
        (entry.signals.phase.get_untracked() == Phase::Ready).then(|| f(&entry.doc))
    }

    /// The text object at `at` in document `id` (`TextAt::locate`).
    pub fn locate(&self, id: DocId, at: &TextAt) -> Option<ObjId> {
        let TextAt::PlanMeasure(measure) = at else {
            return self.read(id, |d| at.locate(d)).flatten();
        };
        let shape = self
            .inner
            .borrow()
            .docs
            .get(&id)?
            .signals
            .shape
            .get_untracked();
        let mut index = self.measure_texts.borrow_mut();
        if !matches!(index.get(&id), Some((made, _)) if *made == shape) {
            let texts = self.read(id, crate::schema::measure_texts).flatten()?;
            index.insert(id, (shape, texts));
        }
        index.get(&id)?.1.get(measure).cloned()
    }

    /// Makes a local change: written to the device at once, sent to the server
    /// when connected.
    pub fn change(self: &Rc<Self>, id: DocId, f: impl FnOnce(&mut Automerge)) {
        self.change_in(id, None, f);
    }

    /// A keystroke's change, which edits the one text `text`.
    pub fn type_into(self: &Rc<Self>, id: DocId, text: ObjId, f: impl FnOnce(&mut Automerge)) {
        self.change_in(id, Some(text), f);
    }

    fn change_in(self: &Rc<Self>, id: DocId, text: Option<ObjId>, f: impl FnOnce(&mut Automerge)) {
        {
            let mut inner = self.inner.borrow_mut();
            let Some(entry) = inner.docs.get_mut(&id) else {
                return;
            };
            if entry.signals.phase.get_untracked() != Phase::Ready {
                return;
            }
            let filled = |doc: &Automerge| text.as_ref().map(|t| doc.length(t) > 0);
            let was = filled(&entry.doc);
            f(&mut entry.doc);
            if text.is_some() && filled(&entry.doc) == was {
                entry.signals.version.update(|v| *v += 1);
            } else {
                entry.signals.changed();
            }
            let version = entry.signals.version.get_untracked();
            entry
                .signals
                .typed
                .set_value(text.map(|text| (version, text)));
        }
        self.save(id);
        self.send_sync(id);
        self.refresh_status();
    }

    /// Writes what the device does not have yet, with the document's count
    /// of unconfirmed changes; one write at a time per document, so that
    /// chunks stay in order.
    fn save(self: &Rc<Self>, id: DocId) {
        let job = {
            let mut inner = self.inner.borrow_mut();
            let Some(entry) = inner.docs.get_mut(&id) else {
                return;
            };
            if entry.writing {
                entry.dirty = true;
                return;
            }
            let heads = entry.doc.get_heads();
            let chunk = entry.doc.save_after(&entry.saved_heads);
            entry.writing = true;
            entry.dirty = false;
            let meta = DocMeta {
                server_heads: entry.server_heads.iter().map(|h| h.to_string()).collect(),
                unsynced: Some(Self::unsynced(entry)),
                name: document_name(&entry.doc),
            };
            // A document's first write on the device is a snapshot too: it
            // loads faster than its changes (a quarter less time for the
            // plan, the first screen of every open).
            let compact =
                entry.chunks_since_snapshot == 0 || entry.chunks_since_snapshot >= COMPACT_AFTER;
            let snapshot = compact.then(|| entry.doc.save());
            (heads, chunk, meta, snapshot)
        };
        self.refresh_status();
        let repo = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let (heads, chunk, meta, snapshot) = job;
            let name = format!(
                "{:016x}-{}",
                now_ms() as u64,
                heads.first().map(|h| h.to_string()).unwrap_or_default()
            );
            let what = match &snapshot {
                Some(snapshot) => Write::Snapshot(snapshot),
                None => Write::Changes(&chunk),
            };
            let result = repo.store.write(&id, &name, what, &meta).await;
            let again = {
                let mut inner = repo.inner.borrow_mut();
                if result.is_ok() {
                    inner.device.insert(id, meta);
                }
                let Some(entry) = inner.docs.get_mut(&id) else {
                    return;
                };
                entry.writing = false;
                match &result {
                    Ok(()) => {
                        entry.saved_heads = heads;
                        if snapshot.is_some() {
                            entry.chunks_since_snapshot = 1;
                        } else if !chunk.is_empty() {
                            entry.chunks_since_snapshot += 1;
                        }
                        entry.dirty
                    }
                    Err(_) => true,
                }
            };
            match result {
                Ok(()) => repo.status.update(|s| s.storage_error = None),
                Err(e) => {
                    leptos::logging::error!("{e}");
                    repo.status
                        .update(|s| s.storage_error = Some(e.to_string()));
                }
            }
            if again {
                let failed = repo.status.get_untracked().storage_error.is_some();
                if failed {
                    // Try again shortly; the change stays in memory meanwhile.
                    let r = repo.clone();
                    repo.after(1000, move || r.save(id));
                } else {
                    repo.save(id);
                }
            }
            repo.refresh_status();
        });
    }

    /// Changes on the device that the server has not confirmed. Server heads
    /// we have not received yet are left out, which can only over-count.
    fn unsynced(entry: &Entry) -> usize {
        let heads = entry.doc.get_heads();
        if let Some((at, server, n)) = &*entry.counted.borrow() {
            if *at == heads && *server == entry.server_heads {
                return *n;
            }
        }
        let known: Vec<ChangeHash> = entry
            .server_heads
            .iter()
            .filter(|h| entry.doc.get_change_meta_by_hash(h).is_some())
            .copied()
            .collect();
        let n = entry.doc.get_changes(&known).len();
        *entry.counted.borrow_mut() = Some((heads, entry.server_heads.clone(), n));
        n
    }

    pub(super) fn refresh_status(&self) {
        let inner = self.inner.borrow();
        let mut total = 0;
        let mut writing = super::typing_pause::letters_waiting();
        let mut checking = false;
        for (id, entry) in &inner.docs {
            writing |= entry.writing || entry.dirty;
            if entry.signals.phase.get_untracked() != Phase::Ready {
                // Still loading: the device's own count stands meanwhile.
                match inner.device.get(id).map(|m| m.unsynced) {
                    Some(Some(n)) => total += n,
                    Some(None) => checking = true,
                    None => {}
                }
                continue;
            }
            let n = Self::unsynced(entry);
            if entry.signals.unsynced.get_untracked() != n {
                entry.signals.unsynced.set(n);
            }
            total += n;
        }
        for (id, meta) in &inner.device {
            if inner.docs.contains_key(id) {
                continue;
            }
            match meta.unsynced {
                Some(n) => total += n,
                None => checking = true,
            }
        }
        let connected = inner.server_id.is_some();
        drop(inner);
        self.status.update(|s| {
            let was_saved = s.all_saved();
            s.connected = connected;
            s.unsynced = total;
            s.writing = writing;
            s.checking = checking;
            if s.all_saved() && !was_saved {
                s.last_sync_ms = Some(now_ms());
            }
        });
    }

    /// Tells the repository how many review steps wait on this device, so
    /// that they count in the status.
    pub fn set_pending_steps(&self, n: usize) {
        if self.status.get_untracked().pending_steps != n {
            self.status.update(|s| s.pending_steps = n);
            self.refresh_status();
        }
    }

    // ---- connection ------------------------------------------------------

    /// Starts a connection unless one is started already.
    pub fn connect(self: &Rc<Self>) {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.linked {
                return;
            }
            if let Some(t) = inner.retry_timer.take() {
                window().clear_timeout_with_handle(t);
            }
            inner.linked = true;
            inner.last_heard_ms = now_ms();
        }
        let repo = Rc::downgrade(self);
        let started = self.link.open(Rc::new(move |event| {
            let Some(repo) = repo.upgrade() else { return };
            match event {
                LinkEvent::Opened => repo.send_join(),
                LinkEvent::Received(bytes) => repo.receive(&bytes),
                LinkEvent::Closed => repo.disconnected(),
            }
        }));
        if !started {
            self.inner.borrow_mut().linked = false;
            self.schedule_reconnect();
        }
    }

    fn send_join(&self) {
        let join = Message::Join {
            sender_id: self.inner.borrow().peer_id.clone(),
            supported_protocol_versions: vec![crate::wire::PROTOCOL_VERSION.into()],
            metadata: Some(PeerMetadata {
                storage_id: None,
                is_ephemeral: false,
            }),
        };
        self.send(&join);
    }

    fn disconnected(self: &Rc<Self>) {
        let handshake_done = {
            let mut inner = self.inner.borrow_mut();
            let done = inner.server_id.is_some();
            inner.linked = false;
            inner.server_id = None;
            inner.states.clear();
            inner.joined.clear();
            done
        };
        self.link.close();
        self.refresh_status();
        if handshake_done {
            self.schedule_reconnect();
            return;
        }
        // Refused before the handshake: the network, or an expired session.
        let repo = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if super::session::still_signed_in().await == Some(false) {
                repo.status.update(|s| s.signed_out = true);
            } else {
                repo.schedule_reconnect();
            }
        });
    }

    /// After the user has signed in again: sync what waited on the device.
    pub fn resume(self: &Rc<Self>) {
        self.status.update(|s| s.signed_out = false);
        self.inner.borrow_mut().retry_ms = FIRST_RETRY_MS;
        self.connect();
    }

    fn schedule_reconnect(self: &Rc<Self>) {
        let delay = {
            let mut inner = self.inner.borrow_mut();
            if inner.retry_timer.is_some() {
                return;
            }
            let delay = inner.retry_ms * (1.0 + 0.3 * js_sys::Math::random());
            inner.retry_ms = (inner.retry_ms * 2.0).min(LONGEST_RETRY_MS);
            delay
        };
        let repo = Rc::downgrade(self);
        let timer = self.after(delay as i32, move || {
            if let Some(repo) = repo.upgrade() {
                repo.inner.borrow_mut().retry_timer = None;
                repo.connect();
            }
        });
        self.inner.borrow_mut().retry_timer = timer;
    }

    /// Reconnects at once when the browser says the network is back, and sends
    /// keepalives, which also find connections that died without a word.
    fn watch_network(self: &Rc<Self>) {
        let repo = Rc::downgrade(self);
        let online = Closure::<dyn FnMut()>::new(move || {
            if let Some(repo) = repo.upgrade() {
                repo.inner.borrow_mut().retry_ms = FIRST_RETRY_MS;
                if !repo.status.get_untracked().signed_out {
                    repo.connect();
                }
            }
        });
        let _ =
            window().add_event_listener_with_callback("online", online.as_ref().unchecked_ref());
        let repo = Rc::downgrade(self);
        let offline = Closure::<dyn FnMut()>::new(move || {
            if let Some(repo) = repo.upgrade() {
                repo.disconnected();
            }
        });
        let _ =
            window().add_event_listener_with_callback("offline", offline.as_ref().unchecked_ref());
        let repo = Rc::downgrade(self);
        let keepalive = Closure::<dyn FnMut()>::new(move || {
            let Some(repo) = repo.upgrade() else { return };
            let (open, silent) = {
                let inner = repo.inner.borrow();
                (
                    inner.server_id.is_some(),
                    now_ms() - inner.last_heard_ms > SILENCE_LIMIT_MS,
                )
            };
            if open && silent {
                repo.disconnected();
            } else if open {
                repo.send(&Message::Keepalive);
            }
        });
        let _ = window().set_interval_with_callback_and_timeout_and_arguments_0(
            keepalive.as_ref().unchecked_ref(),
            KEEPALIVE_EVERY_MS,
        );
        self._timers
            .borrow_mut()
            .extend([online, offline, keepalive]);
    }

    fn after(&self, ms: i32, f: impl FnOnce() + 'static) -> Option<i32> {
        let callback = Closure::once_into_js(f);
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), ms)
            .ok()
    }

    fn send(&self, message: &Message) {
        self.link.send(&message.encode());
    }

    /// Sends whatever the server needs of a document.
    fn send_sync(&self, id: DocId) {
        let messages = {
            let mut inner = self.inner.borrow_mut();
            let Some(server_id) = inner.server_id.clone() else {
                return;
            };
            let peer_id = inner.peer_id.clone();
            let Inner { docs, states, .. } = &mut *inner;
            let Some(entry) = docs.get(&id) else { return };
            let phase = entry.signals.phase.get_untracked();
            if phase == Phase::Loading || phase == Phase::Unavailable {
                return;
            }
            let state = states.entry(id).or_insert_with(sync::State::new);
            let mut out = Vec::new();
            while let Some(m) = entry.doc.generate_sync_message(state) {
                let doc_message = DocMessage {
                    sender_id: peer_id.clone(),
                    target_id: server_id.clone(),
                    document_id: id,
                    data: m.encode(),
                };
                out.push(if phase == Phase::Fetching {
                    Message::Request(doc_message)
                } else {
                    Message::Sync(doc_message)
                });
            }
            out
        };
        for m in messages {
            self.send(&m);
        }
    }

    fn receive(self: &Rc<Self>, bytes: &[u8]) {
        self.inner.borrow_mut().last_heard_ms = now_ms();
        let message = match Message::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                leptos::logging::warn!("ignored a message from the server: {e}");
                return;
            }
        };
        match message {
            Message::Peer { sender_id, .. } => {
                {
                    let mut inner = self.inner.borrow_mut();
                    inner.server_id = Some(sender_id);
                    inner.states.clear();
                    inner.joined.clear();
                    inner.retry_ms = FIRST_RETRY_MS;
                }
                // Whatever is only on this device goes first, open or not.
                self.open_unsynced();
                let ids: Vec<DocId> = self.inner.borrow().docs.keys().copied().collect();
                for id in ids {
                    self.send_sync(id);
                }
                self.refresh_status();
            }
            Message::Sync(m) | Message::Request(m) => self.receive_sync(m),
            Message::DocUnavailable { document_id, .. } => {
                let inner = self.inner.borrow();
                if let Some(entry) = inner.docs.get(&document_id) {
                    if entry.signals.phase.get_untracked() == Phase::Fetching {
                        entry.signals.phase.set(Phase::Unavailable);
                    }
                }
            }
            Message::Ephemeral {
                sender_id,
                document_id,
                data,
                ..
            } => self.tell(
                document_id,
                Ephemeral::Message {
                    sender: &sender_id,
                    data: &data,
                },
            ),
            Message::Error { message } => leptos::logging::warn!("the server reported: {message}"),
            _ => {}
        }
    }

    fn receive_sync(self: &Rc<Self>, m: DocMessage) {
        let id = m.document_id;
        let Ok(message) = sync::Message::decode(&m.data) else {
            leptos::logging::warn!("bad sync data for {id}");
            return;
        };
        let changed = {
            let mut inner = self.inner.borrow_mut();
            let Inner { docs, states, .. } = &mut *inner;
            let Some(entry) = docs.get_mut(&id) else {
                return;
            };
            if entry.signals.phase.get_untracked() == Phase::Loading {
                return;
            }
            let state = states.entry(id).or_insert_with(sync::State::new);
            let before = entry.doc.get_heads();
            let heads_moved = entry.server_heads != message.heads;
            entry.server_heads = message.heads.clone();
            if let Err(e) = entry.doc.receive_sync_message(state, message) {
                leptos::logging::warn!("sync for {id} failed: {e}");
                return;
            }
            let after = entry.doc.get_heads();
            if entry.signals.phase.get_untracked() == Phase::Fetching && !after.is_empty() {
                entry.signals.phase.set(Phase::Ready);
            }
            if before != after {
                entry.signals.changed();
            }
            before != after || heads_moved
        };
        // Received changes are kept on the device too, with the server's
        // heads and the new count of what it has not confirmed.
        if changed {
            self.save(id);
        }
        self.send_sync(id);
        self.refresh_status();
        if self.inner.borrow_mut().joined.insert(id) {
            self.tell(id, Ephemeral::Joined);
        }
    }

    // ---- ephemeral messages ----------------------------------------------

    /// Sends `data` to the others who have `id` open, if there is a
    /// connection. Ephemeral: never stored, and lost if nobody listens.
    pub fn broadcast(&self, id: DocId, data: Vec<u8>) {
        let message = {
            let mut inner = self.inner.borrow_mut();
            let Some(server_id) = inner.server_id.clone() else {
                return;
            };
            inner.ephemeral_count += 1;
            Message::Ephemeral {
                sender_id: inner.peer_id.clone(),
                target_id: server_id,
                document_id: id,
                count: inner.ephemeral_count,
                session_id: inner.ephemeral_session.clone(),
                data,
            }
        };
        self.send(&message);
    }

    /// Hands what arrives about `id` to `listener` (one per document, the
    /// last one set), with `Joined` at once if the server has answered for
    /// it already.
    pub fn listen(&self, id: DocId, listener: Listener) {
        self.listeners.borrow_mut().insert(id, listener);
        if self.inner.borrow().joined.contains(&id) {
            self.tell(id, Ephemeral::Joined);
        }
    }

    pub fn unlisten(&self, id: DocId) {
        self.listeners.borrow_mut().remove(&id);
    }

    fn tell(&self, id: DocId, what: Ephemeral) {
        // Called outside every borrow: a listener may broadcast.
        let listener = self.listeners.borrow().get(&id).cloned();
        if let Some(listener) = listener {
            listener(what);
        }
    }
}

/// A value read from a document with `read`, read again whenever the
/// document changes; `None` until the document is ready, or when `read`
/// finds nothing.
pub fn follow<R>(
    id: DocId,
    read: impl Fn(&Automerge) -> Option<R> + Send + Sync + 'static,
) -> Memo<Option<R>>
where
    R: PartialEq + Send + Sync + 'static,
{
    let signals = repo().open(id);
    follow_on(id, signals.version, read)
}

/// `follow`, read again only when `on` changes: a document's `shape` for a
/// value that no keystroke changes (see `DocSignals::shape`).
pub fn follow_on<R>(
    id: DocId,
    on: RwSignal<u64>,
    read: impl Fn(&Automerge) -> Option<R> + Send + Sync + 'static,
) -> Memo<Option<R>>
where
    R: PartialEq + Send + Sync + 'static,
{
    Memo::new(move |_| {
        on.track();
        repo().read(id, &read).flatten()
    })
}

/// A stored document's name and count, if it has unconfirmed changes.
fn stored_count(meta: &DocMeta) -> Option<(String, usize)> {
    let n = meta.unsynced.filter(|n| *n > 0)?;
    Some((meta.name.clone(), n))
}

/// What a document is, for lists (`super::format::document_label` puts it
/// in words): `plan`, `consolidated/<period>`, `unit_report/<unit>/<period>`,
/// or empty for anything else.
fn document_name(doc: &Automerge) -> String {
    use automerge::ReadDoc;
    let text = |key: &str| match doc.get(automerge::ROOT, key) {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().map(str::to_string),
        _ => None,
    };
    match text("kind").as_deref() {
        Some("plan") => "plan".into(),
        Some("consolidated") => format!("consolidated/{}", text("period").unwrap_or_default()),
        Some("unit_report") => crate::report::identity(doc)
            .map(|(unit, period)| format!("unit_report/{unit}/{period}"))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

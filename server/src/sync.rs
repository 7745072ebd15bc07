//! The `/sync` WebSocket endpoint: the automerge-repo protocol, spoken by the
//! samod sync engine, behind a guard of our own.
//!
//! Inbound, every frame is decoded and checked (size, shape, sync data) before
//! the engine sees it; a bad frame closes the connection with a logged reason
//! and never reaches the engine. Every message that names a document
//! (`request`, `sync`, `ephemeral`, `doc-unavailable`) is checked against the
//! registry and the sender's access first: one about a document that does
//! not exist, or that the sender may not read, never reaches the engine — a
//! `request` or `sync` is answered `doc-unavailable` here, anything else is
//! dropped — so made-up document ids create no state. One connection may
//! name a limited number of documents, keep one ephemeral session, and one
//! user may hold a limited number of connections. Outbound, a sync message
//! to a client that has changes not yet stored waits until the heads it
//! announces are committed (see `durable`), so an acknowledgement always
//! means "stored"; relays of other peers' changes, and ephemeral messages,
//! go at once. Each connection's inbound messages and bytes per
//! second are limited (a token bucket): a connection over its limit is read
//! more slowly, so that one flooding client cannot starve the others. The
//! guard also answers the browser's keepalives and pings idle sockets.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use papi::access::Access;
use papi::ids::DocId;
use papi::wire::{DocMessage, Message};
use samod::{AcceptorHandle, DocumentId, PeerId, Transport};
use tracing::Instrument;

use crate::authors::{Authors, Delivered};
use crate::durable::{Chunk, Durable};
use crate::logsafe::{clean, Quiet};
use crate::policy::AccessPolicy;
use crate::{auth, AppState, Limits};

const PING_EVERY: Duration = Duration::from_secs(25);
/// How often a connection that keeps hitting its rate limit is logged.
const THROTTLE_LOG_EVERY: Duration = Duration::from_secs(10);
/// The read buffer of each WebSocket.
const READ_CHUNK: usize = 8 * 1024;
/// Outgoing messages queued per connection before the engine waits.
const OUTBOX: usize = 64;

/// WebSocket close codes (RFC 6455).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_INVALID: u16 = 1007;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;
/// More new changes than this, and the engine stores them as one snapshot.
const SNAPSHOT_BATCH: usize = 10;
/// How often one connection's refused messages are logged.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// Message types of automerge-repo that this server does not use (heads
/// gossip); they are dropped rather than passed to the engine.
const UNUSED_KINDS: [&str; 2] = ["remote-heads-changed", "remote-subscription-change"];

static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

#[derive(serde::Deserialize)]
pub struct SyncQuery {
    /// A session token, for clients that cannot send the cookie.
    token: Option<String>,
    /// The client's own part of its peer id, which becomes `user<id>.<peer>`.
    peer: Option<String>,
}

/// How many `/sync` connections each user holds now.
#[derive(Clone, Default)]
pub struct Connections {
    per_user: Arc<Mutex<HashMap<i64, usize>>>,
}

/// One user's place among the connections, given back when dropped.
pub struct Slot {
    connections: Connections,
    user_id: i64,
}

impl Connections {
    /// A place for one more connection of `user_id`, unless they hold `max`.
    fn enter(&self, user_id: i64, max: usize) -> Option<Slot> {
        let mut map = self.per_user.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(user_id).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        metrics::gauge!(crate::metrics::CONNECTIONS).increment(1);
        Some(Slot {
            connections: self.clone(),
            user_id,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        metrics::gauge!(crate::metrics::CONNECTIONS).decrement(1);
        let mut map = self
            .connections
            .per_user
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user_id);
            }
        }
    }
}

/// Upgrades a signed-in user's request to a sync connection bound to them.
pub async fn endpoint(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SyncQuery>,
) -> Response {
    let Ok(user) = auth::sync_user(&state, &headers, query.token.as_deref()).await else {
        tracing::warn!("sync refused: not signed in");
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    let Some(suffix) = query.peer.filter(|p| {
        (1..=64).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) else {
        return (
            StatusCode::BAD_REQUEST,
            "the peer parameter (1 to 64 letters, digits, '-' or '_') is required",
        )
            .into_response();
    };
    let max = state.limits.max_connections_per_user;
    let Some(slot) = state.connections.enter(user.id, max) else {
        if let Some(held_back) = state.refusals.allow(&format!("connections:{}", user.id)) {
            tracing::warn!(username = %user.username, max, held_back, "sync refused: too many connections for one user");
        }
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("this account already has {max} sync connections open"),
        )
            .into_response();
    };
    let peer = PeerId::from(format!("{}{suffix}", auth::peer_prefix(&user)));
    let limit = state.limits.max_message_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        // Small read chunks: an idle connection should not hold 128 KiB
        // (the default); large messages are read in more chunks.
        .read_buffer_size(READ_CHUNK)
        .on_failed_upgrade(|error| tracing::warn!(%error, "sync upgrade failed"))
        .on_upgrade(move |socket| {
            let conn = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
            let guard = Guard {
                policy: state.policy,
                authors: state.authors,
                repo: state.repo.clone(),
                user_id: user.id,
                server_peer: state.repo.peer_id().to_string(),
                client_peer: peer.to_string(),
                docs: HashMap::new(),
                max_docs: state.limits.max_documents_per_connection,
                durable: state.durable.clone(),
                unconfirmed: Unconfirmed::default(),
                session: None,
                quiet: Quiet::new(REFUSAL_LOG_EVERY),
            };
            let stopping = state.stopping.subscribe();
            async move {
                serve(
                    socket,
                    state.acceptor,
                    state.durable,
                    state.limits,
                    guard,
                    peer,
                    stopping,
                )
                .await;
                drop(slot);
            }
            .instrument(tracing::info_span!("sync", conn, user = %user.username))
        })
}

/// What the guard holds for one connection.
struct Guard {
    policy: AccessPolicy,
    authors: Authors,
    /// The engine's documents, to check what someone who may only comment
    /// sends.
    repo: samod::Repo,
    user_id: i64,
    server_peer: String,
    client_peer: String,
    /// The documents this connection has named and the engine has seen,
    /// with the sender's access to each when first named.
    docs: HashMap<DocId, Access>,
    max_docs: usize,
    durable: Durable,
    /// The changes this client sent that are not known to be stored.
    unconfirmed: Unconfirmed,
    /// The connection's ephemeral session, once it sends one.
    session: Option<String>,
    quiet: Quiet,
}

/// The changes one client sent, per document, that are not known to be
/// stored yet: shared by the connection's reader (which adds them) and its
/// writer (which holds acknowledgements until they are stored).
#[derive(Clone, Default)]
struct Unconfirmed {
    docs: Arc<Mutex<HashMap<DocId, HashSet<ChangeHash>>>>,
}

impl Unconfirmed {
    fn add(&self, doc: DocId, hash: ChangeHash) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.entry(doc).or_default().insert(hash);
    }

    /// Whether the client has changes to `doc` that are not stored yet
    /// (forgetting those that are).
    fn any(&self, doc: &DocId, id: &DocumentId, durable: &Durable) -> bool {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(hashes) = docs.get_mut(doc) else {
            return false;
        };
        hashes.retain(|h| !durable.is_durable(id, h));
        if hashes.is_empty() {
            docs.remove(doc);
            return false;
        }
        true
    }
}

/// What becomes of one checked message.
enum Verdict {
    Pass,
    /// Not for the engine: this answer goes back instead.
    Answer(Vec<u8>),
    /// Not for the engine, and no answer.
    Drop(&'static str),
    Close(u16, String),
}

impl Guard {
    async fn judge(&mut self, message: &Message) -> Verdict {
        let (doc, ask) = match message {
            Message::Request(m) | Message::Sync(m) => (m.document_id, true),
            Message::Ephemeral {
                sender_id,
                document_id,
                session_id,
                ..
            } => {
                // The engine passes an ephemeral message on under the
                // sender it names: it must be this connection's own peer,
                // or one user could speak as another's presence.
                if *sender_id != self.client_peer {
                    return Verdict::Drop("an ephemeral message in another peer's name");
                }
                match &self.session {
                    None => self.session = Some(session_id.clone()),
                    Some(s) if s != session_id => {
                        return Verdict::Drop("a second ephemeral session on one connection")
                    }
                    Some(_) => {}
                }
                (*document_id, false)
            }
            Message::DocUnavailable { document_id, .. } => (*document_id, false),
            Message::Other { kind } if UNUSED_KINDS.contains(&kind.as_str()) => {
                return Verdict::Drop("a message type this server does not use")
            }
            Message::Other { kind } => {
                return Verdict::Close(
                    CLOSE_UNSUPPORTED,
                    format!("unknown message type {}", clean(kind)),
                )
            }
            _ => return Verdict::Pass,
        };
        let access = match self.docs.get(&doc) {
            Some(access) => *access,
            None => match doc.to_string().parse::<DocumentId>() {
                Ok(id) => self.policy.access_of(&id, self.user_id).await,
                Err(_) => Access::None,
            },
        };
        if access == Access::None {
            if !ask {
                return Verdict::Drop(
                    "about a document that does not exist or that the sender may not read",
                );
            }
            let answer = Message::DocUnavailable {
                sender_id: self.server_peer.clone(),
                target_id: self.client_peer.clone(),
                document_id: doc,
            };
            self.log_refusal("no such document for this user", Some(doc));
            return Verdict::Answer(answer.encode());
        }
        if !self.docs.contains_key(&doc) {
            if self.docs.len() >= self.max_docs {
                return Verdict::Close(
                    CLOSE_POLICY,
                    format!("one connection may use at most {} documents", self.max_docs),
                );
            }
            self.docs.insert(doc, access);
        }
        // Changes from someone who may write are stored by the engine; note
        // them, so that the answer that acknowledges them waits until they
        // are (see `write_loop`).
        if let Message::Sync(m) | Message::Request(m) = message {
            if let (Ok(sync), Ok(id)) = (
                automerge::sync::Message::decode(&m.data),
                doc.to_string().parse::<DocumentId>(),
            ) {
                if sync.changes.is_empty() {
                    return Verdict::Pass;
                }
                // The access noted when the document was first named may be
                // out of date (a report submitted, or returned, meanwhile):
                // changes are judged by the access of now.
                let now = self.policy.access_of(&id, self.user_id).await;
                self.docs.insert(doc, now);
                if now < Access::Comment {
                    // The engine refuses them too; nothing to record.
                    return Verdict::Pass;
                }
                if now == Access::Comment && !self.only_comments(&id, &sync.changes).await {
                    return Verdict::Close(
                        CLOSE_POLICY,
                        "this account may change only the comments of this document".into(),
                    );
                }
                let changes: Vec<_> = sync
                    .changes
                    .iter()
                    .flat_map(|chunk| crate::durable::changes_in(chunk))
                    .collect();
                // A batch (many changes, or a whole document, as a client
                // sends a morning's offline edits) is stored as one snapshot
                // only if no other is being written (see
                // `Durable::settled`); a keystroke never waits.
                let whole = sync
                    .changes
                    .iter()
                    .any(|chunk| crate::durable::snapshot_heads(chunk).is_some());
                if whole || changes.len() > SNAPSHOT_BATCH {
                    self.durable.settled(&id).await;
                }
                // Who delivered them is on record before the engine sees
                // them; without the record, they do not pass (the client
                // sends them again on its next connection).
                let delivered = delivered_in(&sync.changes);
                if let Err(error) = self
                    .authors
                    .delivered(&id, self.user_id, delivered, &self.durable)
                    .await
                {
                    tracing::error!(%error, "could not record who delivered changes");
                    return Verdict::Close(
                        CLOSE_INTERNAL,
                        "the server could not record these changes; try again".into(),
                    );
                }
                for (hash, deps) in changes {
                    self.durable.arrived(&id, hash, deps);
                    self.unconfirmed.add(doc, hash);
                }
            }
        }
        Verdict::Pass
    }

    /// Whether `chunks` change nothing of the document but its comments.
    async fn only_comments(&self, id: &DocumentId, chunks: &automerge::sync::ChunkList) -> bool {
        let mut changes = Vec::new();
        for bytes in chunks.iter() {
            for chunk in crate::durable::chunks_in(bytes) {
                match chunk {
                    Chunk::Change(change) => changes.push(change),
                    // A whole document is never a comment.
                    Chunk::Document(_) => return false,
                }
            }
        }
        let Ok(Some(handle)) = self.repo.find(id.clone()).await else {
            return false;
        };
        handle
            .with_document_async(move |doc| papi::report::comments::only_comments(doc, changes))
            .await
            .unwrap_or(false)
    }

    fn log_refusal(&mut self, why: &str, doc: Option<DocId>) {
        if let Some(held_back) = self.quiet.allow(Instant::now()) {
            tracing::info!(doc = ?doc.map(|d| d.to_string()), held_back, "refused: {why}");
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

enum Control {
    Keepalive,
    Close(u16, String),
}

async fn serve(
    socket: WebSocket,
    acceptor: AcceptorHandle,
    durable: Durable,
    limits: Limits,
    guard: Guard,
    peer: PeerId,
    stopping: tokio::sync::watch::Receiver<bool>,
) {
    tracing::info!("connected");
    let throttle = Arc::new(Mutex::new(Throttle::new(&limits)));
    let unconfirmed = guard.unconfirmed.clone();
    let guard = Arc::new(tokio::sync::Mutex::new(guard));
    // Answers of the guard's own; dropped if the client does not read them.
    let (replies, replies_rx) = mpsc::channel::<Vec<u8>>(OUTBOX);

    let (ws_out, ws_in) = socket.split();
    let (engine_out, engine_rx) = mpsc::channel::<Vec<u8>>(OUTBOX);
    let (control, control_rx) = mpsc::unbounded::<Control>();

    let writer = tokio::spawn(
        write_loop(
            ws_out,
            engine_rx,
            control_rx,
            replies_rx,
            (durable, unconfirmed),
            stopping,
        )
        .instrument(tracing::Span::current()),
    );

    let inbound = ws_in.filter_map(move |frame| {
        let control = control.clone();
        let throttle = throttle.clone();
        let guard = guard.clone();
        let mut replies = replies.clone();
        async move {
            // Over its rate, the connection is not read until its allowance
            // has refilled: TCP then pushes back on the sender.
            let wait = match &frame {
                Ok(WsMessage::Binary(bytes)) => throttle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take(bytes.len(), Instant::now()),
                _ => Duration::ZERO,
            };
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let refuse = |code: u16, reason: String| {
                tracing::warn!(%reason, "refused a message; closing");
                metrics::counter!(crate::metrics::REFUSALS).increment(1);
                let _ = control.unbounded_send(Control::Close(code, reason.clone()));
                Some(Err(Refused(reason)))
            };
            match check_frame(frame) {
                Inbound::Pass(bytes, message) => {
                    let mut guard = guard.lock().await;
                    match guard.judge(&message).await {
                        Verdict::Pass => Some(Ok(bytes)),
                        Verdict::Answer(answer) => {
                            let _ = replies.try_send(answer);
                            None
                        }
                        Verdict::Drop(why) => {
                            guard.log_refusal(why, None);
                            None
                        }
                        Verdict::Close(code, reason) => refuse(code, reason),
                    }
                }
                Inbound::Skip | Inbound::End => None,
                Inbound::Keepalive => {
                    let _ = control.unbounded_send(Control::Keepalive);
                    None
                }
                Inbound::Refuse(code, reason) => refuse(code, reason),
            }
        }
    });
    let outbound = engine_out.sink_map_err(|e| Refused(format!("connection closed: {e}")));
    // samod closes the connection if the client's handshake claims another id.
    let transport = Transport::new(Box::pin(inbound), outbound).with_expected_peer_id(peer);
    let handle = match acceptor.accept(transport) {
        Ok(handle) => handle,
        Err(_) => {
            tracing::warn!("sync engine stopped; connection dropped");
            return;
        }
    };
    // The first event is the handshake's; wait for the end.
    let mut events = handle.events();
    while let Some(event) = events.next().await {
        if let samod::AcceptorEvent::ClientDisconnected { reason, .. } = event {
            tracing::info!(?reason, "disconnected");
            break;
        }
    }
    let _ = writer.await;
}

/// Token buckets for one connection's inbound messages and bytes.
struct Throttle {
    messages: Bucket,
    bytes: Bucket,
    /// When the connection was last logged as throttled.
    logged: Option<Instant>,
    /// Messages delayed since then.
    delayed: u64,
}

impl Throttle {
    fn new(limits: &Limits) -> Self {
        let messages = f64::from(limits.max_messages_per_second);
        let bytes = limits.max_bytes_per_second as f64;
        Throttle {
            messages: Bucket::new(messages, 2.0 * messages),
            bytes: Bucket::new(bytes, (2.0 * bytes).max(limits.max_message_bytes as f64)),
            logged: None,
            delayed: 0,
        }
    }

    /// Takes one message of `len` bytes; returns how long to wait before
    /// reading it.
    fn take(&mut self, len: usize, now: Instant) -> Duration {
        let wait = self
            .messages
            .take(1.0, now)
            .max(self.bytes.take(len as f64, now));
        if !wait.is_zero() {
            self.delayed += 1;
            if self
                .logged
                .is_none_or(|at| now.duration_since(at) >= THROTTLE_LOG_EVERY)
            {
                tracing::warn!(
                    delayed = self.delayed,
                    wait_ms = wait.as_millis() as u64,
                    "rate limit: this connection sends too fast; reading it more slowly"
                );
                self.logged = Some(now);
                self.delayed = 0;
            }
        }
        wait
    }
}

/// A token bucket: `rate` tokens a second, at most `capacity` saved up. A
/// rate of 0 means no limit.
struct Bucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl Bucket {
    fn new(rate: f64, capacity: f64) -> Self {
        Bucket {
            rate,
            capacity,
            tokens: capacity,
            at: None,
        }
    }

    /// Takes `n` tokens, going into debt if need be; returns the time until
    /// the debt is repaid.
    fn take(&mut self, n: f64, now: Instant) -> Duration {
        if self.rate <= 0.0 {
            return Duration::ZERO;
        }
        let elapsed = self
            .at
            .map_or(0.0, |at| now.duration_since(at).as_secs_f64());
        self.at = Some(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity) - n;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

enum Inbound {
    /// A decoded message for the guard to judge.
    Pass(Vec<u8>, Message),
    Skip,
    Keepalive,
    End,
    Refuse(u16, String),
}

fn check_frame(frame: Result<WsMessage, axum::Error>) -> Inbound {
    match frame {
        Ok(WsMessage::Binary(bytes)) => {
            metrics::counter!(crate::metrics::MESSAGES_IN).increment(1);
            metrics::counter!(crate::metrics::BYTES_IN).increment(bytes.len() as u64);
            // Decoding runs on bytes from the network: a panic in it must
            // cost this connection, not the server.
            match std::panic::catch_unwind(AssertUnwindSafe(|| Message::decode_checked(&bytes))) {
                Ok(Ok(Message::Keepalive)) => Inbound::Keepalive,
                Ok(Ok(message)) => Inbound::Pass(bytes.to_vec(), message),
                Ok(Err(error)) => {
                    Inbound::Refuse(CLOSE_INVALID, format!("malformed message: {error}"))
                }
                Err(_) => {
                    Inbound::Refuse(CLOSE_INVALID, "malformed message: decoder panicked".into())
                }
            }
        }
        Ok(WsMessage::Text(_)) => Inbound::Refuse(
            CLOSE_UNSUPPORTED,
            "text frames are not part of the protocol".into(),
        ),
        Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => Inbound::Skip,
        Ok(WsMessage::Close(_)) => Inbound::End,
        Err(error) => {
            let text = error.to_string();
            if text.contains("too long") || text.contains("too big") || text.contains("Space limit")
            {
                Inbound::Refuse(
                    CLOSE_TOO_BIG,
                    format!("message over the size limit ({text})"),
                )
            } else {
                Inbound::Refuse(CLOSE_PROTOCOL, format!("websocket error: {text}"))
            }
        }
    }
}

/// Sends the engine's messages, each once it is safe to, plus keepalive
/// answers and pings; ends with a close frame. Sync messages go in the
/// engine's order, each held until what it acknowledges is stored;
/// ephemeral messages (presence) are never stored, so they pass the held
/// ones and go at once.
async fn write_loop(
    mut ws: futures::stream::SplitSink<WebSocket, WsMessage>,
    mut engine: mpsc::Receiver<Vec<u8>>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut replies: mpsc::Receiver<Vec<u8>>,
    (durable, unconfirmed): (Durable, Unconfirmed),
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    // Engine messages not sent yet, in order, each decoded once (a sync
    // message's document and data); the first waits on `storing` when it
    // has one.
    let mut held: VecDeque<(Vec<u8>, Option<DocMessage>)> = VecDeque::new();
    let mut storing: Option<BoxFuture<'static, ()>> = None;
    let close = loop {
        // Send what need not wait, up to the first that must.
        while storing.is_none() {
            let Some((bytes, sync)) = held.pop_front() else {
                break;
            };
            match sync.and_then(|m| stored_first(&durable, &unconfirmed, m)) {
                Some(wait) => {
                    storing = Some(wait);
                    held.push_front((bytes, None));
                }
                None => {
                    if !send(&mut ws, bytes).await {
                        return;
                    }
                }
            }
        }
        tokio::select! {
            // While OUTBOX messages are held, the engine waits: one slow
            // disk does not make a connection hoard messages.
            next = engine.next(), if held.len() < OUTBOX => match next {
                Some(bytes) => match Message::decode(&bytes) {
                    Ok(Message::Ephemeral { .. }) => {
                        if !send(&mut ws, bytes).await {
                            return;
                        }
                    }
                    Ok(Message::Sync(m) | Message::Request(m)) => held.push_back((bytes, Some(m))),
                    _ => held.push_back((bytes, None)),
                },
                // The engine has dropped the connection: say why, if we know.
                None => break std::iter::from_fn(|| control.try_recv().ok())
                    .find_map(|c| match c {
                        Control::Close(code, reason) => Some((code, reason)),
                        Control::Keepalive => None,
                    }),
            },
            () = async {
                if let Some(wait) = storing.as_mut() {
                    wait.await;
                }
            }, if storing.is_some() => {
                storing = None;
                if let Some((bytes, _)) = held.pop_front() {
                    if !send(&mut ws, bytes).await {
                        return;
                    }
                }
            }
            next = control.next() => match next {
                Some(Control::Keepalive) => {
                    if !send(&mut ws, Message::Keepalive.encode()).await {
                        return;
                    }
                }
                Some(Control::Close(code, reason)) => break Some((code, reason)),
                None => {}
            },
            Some(bytes) = replies.next() => {
                if !send(&mut ws, bytes).await {
                    return;
                }
            }
            _ = ping.tick() => {
                if ws.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            // The server is stopping: the client is told to come back (to
            // this server once it is up again, or to another). What it sent
            // and was not acknowledged, it sends again then.
            Ok(()) = stopping.changed() => {
                if *stopping.borrow_and_update() {
                    break Some((CLOSE_GOING_AWAY, "the server is stopping".into()));
                }
            }
        }
    };
    let frame = close.map(|(code, reason)| CloseFrame {
        code,
        // A close reason is limited to 123 bytes.
        reason: truncate(&reason, 120).into(),
    });
    let _ = ws.send(WsMessage::Close(frame)).await;
    let _ = ws.close().await;
}

/// Sends one protocol message; false once the connection is gone.
async fn send(ws: &mut futures::stream::SplitSink<WebSocket, WsMessage>, bytes: Vec<u8>) -> bool {
    metrics::counter!(crate::metrics::MESSAGES_OUT).increment(1);
    metrics::counter!(crate::metrics::BYTES_OUT).increment(bytes.len() as u64);
    ws.send(WsMessage::Binary(bytes.into())).await.is_ok()
}

/// The changes in a sync message's chunks, a whole document's included.
fn delivered_in(chunks: &automerge::sync::ChunkList) -> Vec<Delivered> {
    let mut out = Vec::new();
    for bytes in chunks.iter() {
        for chunk in crate::durable::chunks_in(bytes) {
            match chunk {
                Chunk::Change(change) => out.push(Delivered::from(&change)),
                Chunk::Document(doc) => {
                    // Bytes from the network: a panic in loading them must
                    // cost this message, not the connection's task.
                    let loaded = std::panic::catch_unwind(|| automerge::Automerge::load(doc));
                    if let Ok(Ok(doc)) = loaded {
                        out.extend(
                            doc.get_changes(&[])
                                .into_iter()
                                .map(|c| Delivered::from(&c)),
                        );
                    }
                }
            }
        }
    }
    out
}

/// For a sync message that may acknowledge this client's own changes, the
/// wait until the heads it announces are committed, with their history. A
/// message to a client with nothing unconfirmed — a relay of others'
/// changes, an answer to a reader — need not wait.
fn stored_first(
    durable: &Durable,
    unconfirmed: &Unconfirmed,
    m: DocMessage,
) -> Option<BoxFuture<'static, ()>> {
    let doc_id = m.document_id.to_string().parse::<DocumentId>().ok()?;
    if !unconfirmed.any(&m.document_id, &doc_id, durable) {
        return None;
    }
    let sync = automerge::sync::Message::decode(&m.data).ok()?;
    let durable = durable.clone();
    Some(Box::pin(async move {
        durable.wait_for(&doc_id, &sync.heads).await
    }))
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut b = Bucket::new(10.0, 20.0);
        for _ in 0..20 {
            assert_eq!(b.take(1.0, start), Duration::ZERO);
        }
        // The 21st message waits a tenth of a second; the 22nd two tenths.
        assert_eq!(b.take(1.0, start), Duration::from_millis(100));
        assert_eq!(b.take(1.0, start), Duration::from_millis(200));
        // After a second, ten more have been earned, minus the two owed.
        let later = start + Duration::from_secs(1);
        for _ in 0..8 {
            assert_eq!(b.take(1.0, later), Duration::ZERO);
        }
        assert!(b.take(1.0, later) > Duration::ZERO);
        let mut free = Bucket::new(0.0, 0.0);
        assert_eq!(free.take(1e9, start), Duration::ZERO);
    }

    #[test]
    fn one_message_up_to_the_size_limit_always_passes_at_once() {
        let limits = Limits {
            max_message_bytes: 1000,
            max_messages_per_second: 5,
            max_bytes_per_second: 100,
            ..Limits::default()
        };
        let mut t = Throttle::new(&limits);
        let now = Instant::now();
        assert_eq!(t.take(1000, now), Duration::ZERO);
        assert!(t.take(1, now) > Duration::ZERO);
    }
}

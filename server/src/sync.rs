//! The `/sync` WebSocket endpoint: the automerge-repo protocol, each
//! message decoded once and judged once before the sync engine
//! (`engine`) takes it.
//!
//! Inbound, every frame is decoded and checked (size, shape, sync data); a
//! bad frame closes the connection with a logged reason. Every message that
//! names a document (`request`, `sync`, `ephemeral`) is judged against the
//! registry and the sender's access of now: one about a document that does
//! not exist, or that the sender may not read, is answered
//! `doc-unavailable` (or dropped), so made-up document ids create no state;
//! a reader's changes are left out; one who may only comment may change
//! only the comments; who delivered each change is on record before the
//! engine takes it. One connection may name a limited number of documents,
//! keep one ephemeral session, and one user may hold a limited number of
//! connections. Each connection's inbound messages and bytes per second are
//! limited (a token bucket): a connection over its limit is read more
//! slowly, so that one flooding client cannot starve the others. The
//! endpoint also answers the browser's keepalives and pings idle sockets.
//!
//! Outbound, the engine's messages go in its order; it holds an answer
//! that would tell a client its changes are kept until they are stored
//! (see `papi_sync::Document`).

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use papi::access::Access;
use papi::ids::DocId;
use papi::wire::Message;
use tracing::Instrument;

use crate::authors::Delivered;
use crate::chunks::Chunk;
use crate::engine::Connection;
use crate::logsafe::{clean, Quiet};
use crate::{auth, AppState, Limits};

const PING_EVERY: Duration = Duration::from_secs(25);
/// How often a connection that keeps hitting its rate limit is logged.
const THROTTLE_LOG_EVERY: Duration = Duration::from_secs(10);
/// The read buffer of each WebSocket.
const READ_CHUNK: usize = 8 * 1024;
/// The server's own answers queued per connection (beyond, dropped).
const OUTBOX: usize = 64;

/// WebSocket close codes (RFC 6455).
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_INVALID: u16 = 1007;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_INTERNAL: u16 = 1011;
/// How often one connection's refused messages are logged.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);
/// Message types of automerge-repo that this server does not use (heads
/// gossip); they are dropped.
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
    let peer = format!("{}{suffix}", auth::peer_prefix(&user));
    let limit = state.limits.max_message_bytes;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        // Small read chunks: an idle connection should not hold 128 KiB
        // (the default); large messages are read in more chunks.
        .read_buffer_size(READ_CHUNK)
        .on_failed_upgrade(|error| tracing::warn!(%error, "sync upgrade failed"))
        .on_upgrade(move |socket| {
            let conn = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
            let username = user.username.clone();
            async move {
                serve(socket, state, user.id, peer).await;
                drop(slot);
            }
            .instrument(tracing::info_span!("sync", conn, user = %username))
        })
}

/// What one connection knows as it judges its client's messages.
struct Guard {
    state: AppState,
    user_id: i64,
    client_peer: String,
    conn: papi_sync::Conn,
    /// The documents this connection has named.
    docs: HashSet<DocId>,
    /// The connection's ephemeral session, once it sends one.
    session: Option<String>,
    quiet: Quiet,
}

/// What becomes of one message.
enum Verdict {
    /// Handled (passed to the engine, or answered).
    Done,
    /// This answer goes back.
    Answer(Vec<u8>),
    /// Dropped, for this reason.
    Drop(&'static str),
    Close(u16, String),
}

impl Guard {
    fn refuse_unknown(&mut self, doc: DocId, ask: bool) -> Verdict {
        if !ask {
            return Verdict::Drop(
                "about a document that does not exist or that the sender may not read",
            );
        }
        self.log_refusal("no such document for this user", Some(doc));
        Verdict::Answer(
            Message::DocUnavailable {
                sender_id: self.state.engine.peer_id().to_string(),
                target_id: self.client_peer.clone(),
                document_id: doc,
            }
            .encode(),
        )
    }

    /// Notes a document this connection names; past its limit, no more.
    fn name(&mut self, doc: DocId) -> Option<Verdict> {
        if !self.docs.contains(&doc) {
            let max = self.state.limits.max_documents_per_connection;
            if self.docs.len() >= max {
                return Some(Verdict::Close(
                    CLOSE_POLICY,
                    format!("one connection may use at most {max} documents"),
                ));
            }
            self.docs.insert(doc);
        }
        None
    }

    async fn judge(&mut self, message: Message) -> Verdict {
        match message {
            Message::Request(ref m) | Message::Sync(ref m) => {
                let request = matches!(message, Message::Request(_));
                let doc = m.document_id;
                // The one decoding of the sync data.
                let sync = match std::panic::catch_unwind(|| {
                    automerge::sync::Message::decode(&m.data)
                }) {
                    Ok(Ok(sync)) => sync,
                    Ok(Err(e)) => {
                        return Verdict::Close(CLOSE_INVALID, format!("malformed sync data: {e}"))
                    }
                    Err(_) => return Verdict::Close(CLOSE_INVALID, "malformed sync data".into()),
                };
                if m.sender_id != self.client_peer {
                    return Verdict::Close(CLOSE_POLICY, "a message in another peer's name".into());
                }
                // The access of now: a report submitted, or returned, since
                // the document was first named changes what may pass.
                let access = self.state.policy.access_of(&doc, self.user_id).await;
                if access == Access::None {
                    return self.refuse_unknown(doc, true);
                }
                if let Some(verdict) = self.name(doc) {
                    return verdict;
                }
                let may_write = access >= Access::Comment;
                if may_write && !sync.changes.is_empty() {
                    if let Some(verdict) = self.before_changes(doc, access, &sync.changes).await {
                        return verdict;
                    }
                }
                let engine = self.state.engine.clone();
                let conn = self.conn;
                let panics = self.state.panics.clone();
                let received = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    engine.receive(conn, doc, request, sync, may_write)
                }));
                match received {
                    Ok(Ok(0)) => Verdict::Done,
                    Ok(Ok(_)) => {
                        self.log_refusal("changes from a reader, left out", Some(doc));
                        Verdict::Done
                    }
                    Ok(Err(e)) => Verdict::Close(CLOSE_INVALID, e.to_string()),
                    Err(payload) => {
                        panics.record("a client's sync message", &*payload);
                        Verdict::Close(CLOSE_INTERNAL, "the server failed on this message".into())
                    }
                }
            }
            Message::Ephemeral {
                ref sender_id,
                document_id,
                ref session_id,
                ..
            } => {
                // Passed on under the sender it names: it must be this
                // connection's own peer, or one user could speak as
                // another's presence.
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
                if self
                    .state
                    .policy
                    .access_of(&document_id, self.user_id)
                    .await
                    == Access::None
                {
                    return self.refuse_unknown(document_id, false);
                }
                if let Some(verdict) = self.name(document_id) {
                    return verdict;
                }
                self.state.engine.relay(self.conn, document_id, &message);
                Verdict::Done
            }
            // The server never asks a client for a document.
            Message::DocUnavailable { .. } => Verdict::Drop("doc-unavailable from a client"),
            Message::Join { .. } | Message::Peer { .. } => Verdict::Close(
                CLOSE_PROTOCOL,
                "a second handshake on one connection".into(),
            ),
            Message::Leave { .. } => Verdict::Close(1000, "the client left".into()),
            Message::Other { kind } if UNUSED_KINDS.contains(&kind.as_str()) => {
                Verdict::Drop("a message type this server does not use")
            }
            Message::Other { kind } => Verdict::Close(
                CLOSE_UNSUPPORTED,
                format!("unknown message type {}", clean(&kind)),
            ),
            Message::Error { .. } | Message::Keepalive => Verdict::Done,
        }
    }

    /// Checks a writer's changes and records who delivered them, before
    /// the engine takes them; a verdict if they must not pass.
    async fn before_changes(
        &mut self,
        doc: DocId,
        access: Access,
        chunks: &automerge::sync::ChunkList,
    ) -> Option<Verdict> {
        // Judged on the document as stored: loaded first if need be.
        if !self.state.engine.exists(doc).await {
            return Some(self.refuse_unknown(doc, true));
        }
        if access == Access::Comment {
            let Some(resolved) = self.comment_edits(doc, chunks) else {
                return Some(Verdict::Close(
                    CLOSE_POLICY,
                    "this account may change only the comments of this document".into(),
                ));
            };
            if !resolved.is_empty() && !self.may_resolve(doc, &resolved, chunks).await {
                return Some(Verdict::Close(
                    CLOSE_POLICY,
                    "only a thread's writer or a reviewer may resolve it".into(),
                ));
            }
        }
        // Who delivered them is on record before the engine takes them;
        // without the record, they do not pass (the client sends them again
        // on its next connection). Changes the document holds already are
        // no one's first delivery.
        let delivered = delivered_in(chunks);
        let hashes: Vec<automerge::ChangeHash> = delivered.iter().map(|d| d.hash).collect();
        let held: HashSet<automerge::ChangeHash> = self
            .state
            .engine
            .read(doc, |d| {
                hashes
                    .iter()
                    .filter(|h| d.get_change_meta_by_hash(h).is_some())
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        if let Err(error) = self
            .state
            .authors
            .delivered(&doc, self.user_id, delivered, |h| held.contains(h))
            .await
        {
            tracing::error!(%error, "could not record who delivered changes");
            return Some(Verdict::Close(
                CLOSE_INTERNAL,
                "the server could not record these changes; try again".into(),
            ));
        }
        None
    }

    /// The comment threads `chunks` resolve, if they change nothing of the
    /// document but its comments.
    fn comment_edits(
        &self,
        doc: DocId,
        chunks: &automerge::sync::ChunkList,
    ) -> Option<Vec<automerge::ObjId>> {
        let changes = changes_in(chunks)?;
        self.state
            .engine
            .read(doc, |d| papi::report::comments::comment_edits(d, changes))
            .flatten()
    }

    /// Whether this user may resolve these threads: a reviewer any, anyone
    /// else only their own (the server's record of who delivered the
    /// change that made the thread, or this very message).
    async fn may_resolve(
        &self,
        doc: DocId,
        threads: &[automerge::ObjId],
        chunks: &automerge::sync::ChunkList,
    ) -> bool {
        if self.state.policy.reviews(self.user_id).await {
            return true;
        }
        let sending: HashSet<String> = changes_in(chunks)
            .unwrap_or_default()
            .iter()
            .map(|c| c.actor_id().to_hex_string())
            .collect();
        for thread in threads {
            let Some((actor, _)) = papi::report::comments::author_object(thread) else {
                return false;
            };
            match self.state.authors.owner(&doc, &actor).await {
                Ok(Some(owner)) if owner == self.user_id => {}
                // Made by a change in this message, from an actor no one
                // has delivered before: the sender's own new thread.
                Ok(None) if sending.contains(&actor) => {}
                _ => return false,
            }
        }
        true
    }

    fn log_refusal(&mut self, why: &str, doc: Option<DocId>) {
        if let Some(held_back) = self.quiet.allow(Instant::now()) {
            tracing::info!(doc = ?doc.map(|d| d.to_string()), held_back, "refused: {why}");
        }
    }
}

enum Control {
    Keepalive,
    Close(u16, String),
}

/// Waits for the client's `join` and answers it; the peer's id, or why not.
async fn handshake(
    ws_in: &mut futures::stream::SplitStream<WebSocket>,
    ws_out: &mut futures::stream::SplitSink<WebSocket, WsMessage>,
    state: &AppState,
    peer: &str,
) -> Result<(), (u16, String)> {
    loop {
        let Some(frame) = ws_in.next().await else {
            return Err((1000, "closed before the handshake".into()));
        };
        match check_frame(frame) {
            Inbound::Pass(message) => {
                return match papi_sync::accept_join(state.engine.peer_id(), Some(peer), message) {
                    Ok((_, answer)) => {
                        if send(ws_out, answer.encode()).await {
                            Ok(())
                        } else {
                            Err((1000, "closed during the handshake".into()))
                        }
                    }
                    Err(refused @ papi_sync::Refused::OtherPeer) => {
                        Err((CLOSE_POLICY, refused.to_string()))
                    }
                    Err(refused) => Err((CLOSE_PROTOCOL, refused.to_string())),
                };
            }
            Inbound::Keepalive => {
                if !send(ws_out, Message::Keepalive.encode()).await {
                    return Err((1000, "closed during the handshake".into()));
                }
            }
            Inbound::Skip => {}
            Inbound::End => return Err((1000, "closed before the handshake".into())),
            Inbound::Refuse(code, reason) => return Err((code, reason)),
        }
    }
}

async fn serve(socket: WebSocket, state: AppState, user_id: i64, peer: String) {
    let (mut ws_out, mut ws_in) = socket.split();
    if let Err((code, reason)) = handshake(&mut ws_in, &mut ws_out, &state, &peer).await {
        tracing::warn!(%reason, "handshake refused; closing");
        let _ = ws_out
            .send(WsMessage::Close(Some(CloseFrame {
                code,
                reason: truncate(&reason, 120).into(),
            })))
            .await;
        return;
    }
    tracing::info!("connected");
    let Connection {
        conn,
        messages,
        queued,
    } = state.engine.connect(peer.clone());
    let mut throttle = Throttle::new(&state.limits);
    // Answers of the guard's own; dropped if the client does not read them.
    let (mut replies, replies_rx) = mpsc::channel::<Vec<u8>>(OUTBOX);
    let (control, control_rx) = mpsc::unbounded::<Control>();
    let writer = tokio::spawn(
        write_loop(
            ws_out,
            messages,
            queued,
            control_rx,
            replies_rx,
            state.stopping.subscribe(),
        )
        .instrument(tracing::Span::current()),
    );
    let mut guard = Guard {
        state: state.clone(),
        user_id,
        client_peer: peer,
        conn,
        docs: HashSet::new(),
        session: None,
        quiet: Quiet::new(REFUSAL_LOG_EVERY),
    };
    let refuse = |code: u16, reason: String| {
        tracing::warn!(%reason, "refused a message; closing");
        metrics::counter!(crate::metrics::REFUSALS).increment(1);
        let _ = control.unbounded_send(Control::Close(code, reason));
    };
    while let Some(frame) = ws_in.next().await {
        // Over its rate, the connection is not read until its allowance
        // has refilled: TCP then pushes back on the sender.
        if let Ok(WsMessage::Binary(bytes)) = &frame {
            let wait = throttle.take(bytes.len(), Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        match check_frame(frame) {
            Inbound::Pass(message) => match guard.judge(message).await {
                Verdict::Done => {}
                Verdict::Answer(answer) => {
                    let _ = replies.try_send(answer);
                }
                Verdict::Drop(why) => guard.log_refusal(why, None),
                Verdict::Close(1000, reason) => {
                    tracing::info!(%reason, "disconnected");
                    let _ = control.unbounded_send(Control::Close(1000, reason));
                    break;
                }
                Verdict::Close(code, reason) => {
                    refuse(code, reason);
                    break;
                }
            },
            Inbound::Skip => {}
            Inbound::Keepalive => {
                let _ = control.unbounded_send(Control::Keepalive);
            }
            Inbound::End => break,
            Inbound::Refuse(code, reason) => {
                refuse(code, reason);
                break;
            }
        }
        if writer.is_finished() {
            break;
        }
    }
    tracing::info!("disconnected");
    // The writer says the last word (a close asked for, or none), then the
    // engine forgets the connection.
    drop(control);
    let _ = writer.await;
    state.engine.disconnect(conn, guard.docs.iter().copied());
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
    Pass(Message),
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
            match std::panic::catch_unwind(AssertUnwindSafe(|| Message::decode(&bytes))) {
                Ok(Ok(Message::Keepalive)) => Inbound::Keepalive,
                Ok(Ok(message)) => Inbound::Pass(message),
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

/// Sends the engine's messages in order, the guard's answers, keepalive
/// answers and pings; ends with a close frame.
async fn write_loop(
    mut ws: futures::stream::SplitSink<WebSocket, WsMessage>,
    mut engine: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<std::sync::atomic::AtomicUsize>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut replies: mpsc::Receiver<Vec<u8>>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let close = loop {
        tokio::select! {
            // The reader's word first: a close it asks for is the one said.
            biased;
            next = control.next() => match next {
                Some(Control::Keepalive) => {
                    if !send(&mut ws, Message::Keepalive.encode()).await {
                        return;
                    }
                }
                Some(Control::Close(code, reason)) => break Some((code, reason)),
                // The reader is done: the client went away.
                None => break None,
            },
            next = engine.next() => match next {
                Some(bytes) => {
                    queued.fetch_sub(1, Ordering::Relaxed);
                    if !send(&mut ws, bytes).await {
                        return;
                    }
                }
                // The engine has dropped the connection (it did not read).
                None => break Some((CLOSE_POLICY, "the connection does not keep up".to_string())),
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

/// The changes in a sync message's chunks, a whole document's included
/// (an automerge client sends one when it has more than a third of a small
/// document to send); `None` if a document does not load.
fn changes_in(chunks: &automerge::sync::ChunkList) -> Option<Vec<automerge::Change>> {
    let mut changes = Vec::new();
    for bytes in chunks.iter() {
        for chunk in crate::chunks::chunks_in(bytes) {
            match chunk {
                Chunk::Change(change) => changes.push(*change),
                Chunk::Document(doc) => {
                    // Bytes from the network: a panic in loading them must
                    // cost this message, not the connection's task.
                    let loaded = std::panic::catch_unwind(|| automerge::Automerge::load(doc));
                    changes.extend(loaded.ok()?.ok()?.get_changes(&[]));
                }
            }
        }
    }
    Some(changes)
}

/// Who delivered what: each change in a sync message's chunks.
fn delivered_in(chunks: &automerge::sync::ChunkList) -> Vec<Delivered> {
    changes_in(chunks)
        .unwrap_or_default()
        .iter()
        .map(Delivered::from)
        .collect()
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

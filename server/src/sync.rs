//! The `/sync` WebSocket endpoint: the automerge-repo protocol, spoken by the
//! samod sync engine, behind a guard of our own.
//!
//! Inbound, every frame is decoded and checked (size, shape, sync data) before
//! the engine sees it; a bad frame closes the connection with a logged reason
//! and never reaches the engine. A request or sync message for a document
//! that does not exist is answered `doc-unavailable` here, without loading
//! anything in the engine. Outbound, each sync message waits until the
//! heads it announces are committed (see `durable`), so an acknowledgement
//! always means "stored". Each connection's inbound messages and bytes per
//! second are limited (a token bucket): a connection over its limit is read
//! more slowly, so that one flooding client cannot starve the others. The
//! guard also answers the browser's keepalives and pings idle sockets.

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
use papi::wire::Message;
use samod::{AcceptorHandle, DocumentId, PeerId, Transport};
use tracing::Instrument;

use crate::durable::Durable;
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
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_UNSUPPORTED: u16 = 1003;
const CLOSE_INVALID: u16 = 1007;
const CLOSE_TOO_BIG: u16 = 1009;

static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

#[derive(serde::Deserialize)]
pub struct SyncQuery {
    /// A session token, for clients that cannot send the cookie.
    token: Option<String>,
    /// The client's own part of its peer id, which becomes `user<id>.<peer>`.
    peer: Option<String>,
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
            let server_peer = state.repo.peer_id().to_string();
            serve(
                socket,
                state.acceptor,
                state.durable,
                state.limits,
                (state.policy, server_peer),
                peer,
            )
            .instrument(tracing::info_span!("sync", conn, user = %user.username))
        })
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
    (policy, server_peer): (AccessPolicy, String),
    peer: PeerId,
) {
    tracing::info!("connected");
    let throttle = Arc::new(Mutex::new(Throttle::new(&limits)));
    // Answers of the guard's own; dropped if the client does not read them.
    let (replies, replies_rx) = mpsc::channel::<Vec<u8>>(OUTBOX);
    let client_peer = peer.to_string();

    let (ws_out, ws_in) = socket.split();
    let (engine_out, engine_rx) = mpsc::channel::<Vec<u8>>(OUTBOX);
    let (control, control_rx) = mpsc::unbounded::<Control>();

    let writer = tokio::spawn(
        write_loop(ws_out, engine_rx, control_rx, replies_rx, durable)
            .instrument(tracing::Span::current()),
    );

    let inbound = ws_in.filter_map(move |frame| {
        let control = control.clone();
        let throttle = throttle.clone();
        let policy = policy.clone();
        let mut replies = replies.clone();
        let (server_peer, client_peer) = (server_peer.clone(), client_peer.clone());
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
            match check_frame(frame) {
                Inbound::Pass(bytes, None) => Some(Ok(bytes)),
                Inbound::Pass(bytes, Some(doc)) => {
                    let registered = match doc.to_string().parse::<DocumentId>() {
                        Ok(id) => policy.registered(&id).await,
                        Err(_) => false,
                    };
                    if registered {
                        return Some(Ok(bytes));
                    }
                    tracing::info!(%doc, peer = %client_peer, "refused: no such document for this user");
                    let answer = Message::DocUnavailable {
                        sender_id: server_peer,
                        target_id: client_peer,
                        document_id: doc,
                    };
                    let _ = replies.try_send(answer.encode());
                    None
                }
                Inbound::Skip => None,
                Inbound::Keepalive => {
                    let _ = control.unbounded_send(Control::Keepalive);
                    None
                }
                Inbound::End => None,
                Inbound::Refuse(code, reason) => {
                    tracing::warn!(%reason, "refused a message; closing");
                    let _ = control.unbounded_send(Control::Close(code, reason.clone()));
                    Some(Err(Refused(reason)))
                }
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
    /// A checked message for the engine, with the document it is about.
    Pass(Vec<u8>, Option<papi::ids::DocId>),
    Skip,
    Keepalive,
    End,
    Refuse(u16, String),
}

fn check_frame(frame: Result<WsMessage, axum::Error>) -> Inbound {
    match frame {
        Ok(WsMessage::Binary(bytes)) => {
            // Decoding runs on bytes from the network: a panic in it must
            // cost this connection, not the server.
            match std::panic::catch_unwind(AssertUnwindSafe(|| Message::decode_checked(&bytes))) {
                Ok(Ok(Message::Keepalive)) => Inbound::Keepalive,
                Ok(Ok(Message::Request(m) | Message::Sync(m))) => {
                    Inbound::Pass(bytes.to_vec(), Some(m.document_id))
                }
                Ok(Ok(_)) => Inbound::Pass(bytes.to_vec(), None),
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

/// Sends the engine's messages in order, each once it is safe to, plus
/// keepalive answers and pings; ends with a close frame.
async fn write_loop(
    mut ws: futures::stream::SplitSink<WebSocket, WsMessage>,
    mut engine: mpsc::Receiver<Vec<u8>>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut replies: mpsc::Receiver<Vec<u8>>,
    durable: Durable,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let close = loop {
        tokio::select! {
            next = engine.next() => match next {
                Some(bytes) => {
                    wait_until_stored(&durable, &bytes).await;
                    if ws.send(WsMessage::Binary(bytes.into())).await.is_err() {
                        return;
                    }
                }
                // The engine has dropped the connection: say why, if we know.
                None => break std::iter::from_fn(|| control.try_recv().ok())
                    .find_map(|c| match c {
                        Control::Close(code, reason) => Some((code, reason)),
                        Control::Keepalive => None,
                    }),
            },
            next = control.next() => match next {
                Some(Control::Keepalive) => {
                    if ws.send(WsMessage::Binary(Message::Keepalive.encode().into())).await.is_err() {
                        return;
                    }
                }
                Some(Control::Close(code, reason)) => break Some((code, reason)),
                None => {}
            },
            Some(bytes) = replies.next() => {
                if ws.send(WsMessage::Binary(bytes.into())).await.is_err() {
                    return;
                }
            }
            _ = ping.tick() => {
                if ws.send(WsMessage::Ping(Vec::new().into())).await.is_err() {
                    return;
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

/// Holds a sync message until the heads it announces are committed.
async fn wait_until_stored(durable: &Durable, bytes: &[u8]) {
    let Ok(Message::Sync(m) | Message::Request(m)) = Message::decode(bytes) else {
        return;
    };
    let Ok(sync) = automerge::sync::Message::decode(&m.data) else {
        return;
    };
    let Ok(doc_id) = m.document_id.to_string().parse::<DocumentId>() else {
        return;
    };
    durable.wait_for(&doc_id, &sync.heads).await;
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
        };
        let mut t = Throttle::new(&limits);
        let now = Instant::now();
        assert_eq!(t.take(1000, now), Duration::ZERO);
        assert!(t.take(1, now) > Duration::ZERO);
    }
}

//! The `/sync` WebSocket endpoint: the automerge-repo protocol, spoken by the
//! samod sync engine, behind a guard of our own.
//!
//! Inbound, every frame is decoded and checked (size, shape, sync data) before
//! the engine sees it; a bad frame closes the connection with a logged reason
//! and never reaches the engine. Outbound, each sync message waits until the
//! heads it announces are committed (see `durable`), so an acknowledgement
//! always means "stored". The guard also answers the browser's keepalives and
//! pings idle sockets.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
use crate::{auth, AppState};

const PING_EVERY: Duration = Duration::from_secs(25);
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
    let Ok(user) = auth::signed_in(&state, &headers, query.token.as_deref()).await else {
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
        .on_failed_upgrade(|error| tracing::warn!(%error, "sync upgrade failed"))
        .on_upgrade(move |socket| {
            let conn = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
            serve(socket, state.acceptor, state.durable, peer)
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

async fn serve(socket: WebSocket, acceptor: AcceptorHandle, durable: Durable, peer: PeerId) {
    tracing::info!("connected");

    let (ws_out, ws_in) = socket.split();
    let (engine_out, engine_rx) = mpsc::channel::<Vec<u8>>(OUTBOX);
    let (control, control_rx) = mpsc::unbounded::<Control>();

    let writer = tokio::spawn(
        write_loop(ws_out, engine_rx, control_rx, durable).instrument(tracing::Span::current()),
    );

    let inbound = ws_in.filter_map(move |frame| {
        let control = control.clone();
        async move {
            match check_frame(frame) {
                Inbound::Pass(bytes) => Some(Ok(bytes)),
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
    let mut events = handle.events();
    if let Some(samod::AcceptorEvent::ClientDisconnected { reason, .. }) = events.next().await {
        tracing::info!(?reason, "disconnected");
    }
    let _ = writer.await;
}

enum Inbound {
    Pass(Vec<u8>),
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
                Ok(Ok(_)) => Inbound::Pass(bytes.to_vec()),
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

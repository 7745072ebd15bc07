//! A small automerge-repo protocol client over a real WebSocket, for tests
//! that talk to `/sync` without a browser.

use std::collections::HashMap;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, Automerge, ChangeHash};
use papi::ids::DocId;
use papi::wire::{DocMessage, Message, PeerMetadata};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message as WsMessage, WebSocket};

use crate::Server;

pub struct SyncClient {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    pub peer_id: String,
    server_id: String,
    docs: HashMap<DocId, Synced>,
    unavailable: Vec<DocId>,
    /// Sync messages received, per document.
    pub received: HashMap<DocId, usize>,
}

struct Synced {
    doc: Automerge,
    state: sync::State,
    /// The server's heads, as its last sync message announced them.
    server_heads: Vec<ChangeHash>,
}

/// How a connection ended.
#[derive(Debug)]
pub struct Closed {
    pub code: Option<u16>,
    pub reason: String,
}

impl SyncClient {
    /// Signs in over HTTP, then connects to `/sync` with the session token
    /// and completes the handshake.
    pub fn connect_as(server: &Server, username: &str) -> SyncClient {
        let login = server.login(username);
        let token = login["token"].as_str().expect("a token");
        let prefix = login["peer_prefix"].as_str().expect("a peer prefix");
        let suffix = format!("t{}", ActorId::random());
        let url = format!("{}?token={token}&peer={suffix}", server.sync_url());
        SyncClient::handshake(&url, format!("{prefix}{suffix}"))
    }

    /// Connects to a `/sync` URL as `peer_id` and completes the handshake.
    pub fn handshake(url: &str, peer_id: String) -> SyncClient {
        let (ws, _) = tungstenite::connect(url).unwrap_or_else(|e| panic!("connect: {e}"));
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .expect("read timeout");
        }
        let mut client = SyncClient {
            ws,
            peer_id: peer_id.clone(),
            server_id: String::new(),
            docs: HashMap::new(),
            unavailable: Vec::new(),
            received: HashMap::new(),
        };
        client.send(&Message::Join {
            sender_id: peer_id,
            supported_protocol_versions: vec!["1".into()],
            metadata: Some(PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
            }),
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.server_id.is_empty() {
            assert!(Instant::now() < deadline, "no peer message from the server");
            client.receive_one();
        }
        client
    }

    /// The server's peer id, learnt in the handshake.
    pub fn server_id(&self) -> String {
        self.server_id.clone()
    }

    pub fn send(&mut self, message: &Message) {
        self.send_raw(message.encode());
    }

    pub fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(WsMessage::Binary(bytes.into()))
            .expect("send to the server");
    }

    /// Sends a change but does not wait for anything.
    pub fn doc_mut(&mut self, id: DocId) -> &mut Automerge {
        &mut self.docs.get_mut(&id).expect("an open document").doc
    }

    /// Creates a document on the server with the given content.
    pub fn create(&mut self, doc: Automerge) -> DocId {
        let id = DocId::from_bytes(ActorId::random().to_bytes().try_into().expect("16 bytes"));
        self.docs.insert(
            id,
            Synced {
                doc,
                state: sync::State::new(),
                server_heads: Vec::new(),
            },
        );
        self.sync_out(id, false);
        id
    }

    /// Asks the server for a document; true once it has arrived, false if
    /// the server says it is unavailable.
    pub fn open(&mut self, id: DocId) -> bool {
        self.docs.insert(
            id,
            Synced {
                doc: Automerge::new(),
                state: sync::State::new(),
                server_heads: Vec::new(),
            },
        );
        self.sync_out(id, true);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.unavailable.contains(&id) {
                self.docs.remove(&id);
                return false;
            }
            if !self.docs[&id].doc.get_heads().is_empty() {
                return true;
            }
            assert!(Instant::now() < deadline, "no answer about {id}");
            self.receive_one();
        }
    }

    pub fn doc(&self, id: DocId) -> &Automerge {
        &self.docs[&id].doc
    }

    /// Applies a local change and sends it.
    pub fn change(
        &mut self,
        id: DocId,
        f: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) {
        let synced = self.docs.get_mut(&id).expect("an open document");
        let mut tx = synced.doc.transaction();
        f(&mut tx);
        tx.commit();
        self.sync_out(id, false);
    }

    /// True once the server has announced heads that include all of ours:
    /// the server's acknowledgement.
    pub fn server_has_all(&self, id: DocId) -> bool {
        let s = &self.docs[&id];
        s.server_heads
            .iter()
            .all(|h| s.doc.get_change_meta_by_hash(h).is_some())
            && s.doc.get_changes(&s.server_heads).is_empty()
    }

    /// Reads from the server until `done` holds; panics after `limit`.
    pub fn until(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&SyncClient) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.receive_one();
        }
    }

    /// Reads until the server closes the connection, and says how.
    pub fn closed(&mut self, limit: Duration) -> Closed {
        let deadline = Instant::now() + limit;
        loop {
            assert!(
                Instant::now() < deadline,
                "the server kept the connection open"
            );
            match self.ws.read() {
                Ok(WsMessage::Close(frame)) => {
                    return Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    return Closed {
                        code: None,
                        reason: e.to_string(),
                    }
                }
            }
        }
    }

    fn sync_out(&mut self, id: DocId, first: bool) {
        let Some(synced) = self.docs.get_mut(&id) else {
            return;
        };
        while let Some(msg) = synced.doc.generate_sync_message(&mut synced.state) {
            let doc_message = DocMessage {
                sender_id: self.peer_id.clone(),
                target_id: self.server_id.clone(),
                document_id: id,
                data: msg.encode(),
            };
            let message = if first {
                Message::Request(doc_message)
            } else {
                Message::Sync(doc_message)
            };
            self.ws
                .send(WsMessage::Binary(message.encode().into()))
                .expect("send to the server");
        }
    }

    fn receive_one(&mut self) {
        let bytes = match self.ws.read() {
            Ok(WsMessage::Binary(b)) => b,
            Ok(WsMessage::Close(frame)) => panic!("the server closed the connection: {frame:?}"),
            Ok(_) => return,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return
            }
            Err(e) => panic!("connection failed: {e}"),
        };
        match Message::decode(&bytes).expect("the server sends valid messages") {
            Message::Peer { sender_id, .. } => self.server_id = sender_id,
            Message::Sync(m) | Message::Request(m) => {
                *self.received.entry(m.document_id).or_default() += 1;
                let Some(synced) = self.docs.get_mut(&m.document_id) else {
                    return;
                };
                let msg = sync::Message::decode(&m.data).expect("valid sync data");
                synced.server_heads = msg.heads.clone();
                synced
                    .doc
                    .receive_sync_message(&mut synced.state, msg)
                    .expect("apply sync");
                self.sync_out(m.document_id, false);
            }
            Message::DocUnavailable { document_id, .. } => self.unavailable.push(document_id),
            _ => {}
        }
    }
}

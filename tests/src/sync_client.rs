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
    ws: Option<WebSocket<MaybeTlsStream<TcpStream>>>,
    /// The `/sync` URL, with the token, for reconnecting.
    url: String,
    read_timeout: Duration,
    pub peer_id: String,
    server_id: String,
    docs: HashMap<DocId, Synced>,
    unavailable: Vec<DocId>,
    /// Sync messages received, per document.
    pub received: HashMap<DocId, usize>,
    /// Ephemeral messages received (presence and the like): the document,
    /// the sender and the payload.
    pub ephemeral: Vec<(DocId, String, Vec<u8>)>,
    ephemeral_count: u64,
    /// Bytes of WebSocket payload sent and received, over every connection.
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// One document as a client syncs it with the server: the blocking
/// `SyncClient` and the benchmark's asynchronous client share it.
pub struct Synced {
    pub doc: Automerge,
    state: sync::State,
    /// The server's heads, as its last sync message announced them.
    server_heads: Vec<ChangeHash>,
}

impl Synced {
    pub fn new(doc: Automerge) -> Synced {
        Synced {
            doc,
            state: sync::State::new(),
            server_heads: Vec::new(),
        }
    }

    /// The messages that send the server what it may lack of document `id`
    /// (`request` for the first ask of a document this client lacks).
    pub fn outgoing(
        &mut self,
        id: DocId,
        sender: &str,
        target: &str,
        request: bool,
    ) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(msg) = self.doc.generate_sync_message(&mut self.state) {
            let doc_message = DocMessage {
                sender_id: sender.to_string(),
                target_id: target.to_string(),
                document_id: id,
                data: msg.encode(),
            };
            out.push(if request {
                Message::Request(doc_message)
            } else {
                Message::Sync(doc_message)
            });
        }
        out
    }

    /// Forgets what the server was known to have: a new connection starts
    /// the sync anew.
    pub fn reset(&mut self) {
        self.state = sync::State::new();
        self.server_heads.clear();
    }

    /// Applies a sync message from the server.
    pub fn receive(&mut self, data: &[u8]) {
        let msg = sync::Message::decode(data).expect("valid sync data");
        self.server_heads = msg.heads.clone();
        self.doc
            .receive_sync_message(&mut self.state, msg)
            .expect("apply sync");
    }

    /// Whether the server's last word on the document covers all of ours.
    pub fn server_has_all(&self) -> bool {
        self.server_heads
            .iter()
            .all(|h| self.doc.get_change_meta_by_hash(h).is_some())
            && self.doc.get_changes(&self.server_heads).is_empty()
    }
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
        SyncClient::connect_with_token(&server.sync_url(), token, prefix)
    }

    /// Connects to `sync_url` with a session token (from `Server::login`)
    /// under a new peer id `<prefix>t<random>`.
    pub fn connect_with_token(sync_url: &str, token: &str, prefix: &str) -> SyncClient {
        SyncClient::try_connect_with_token(sync_url, token, prefix)
            .unwrap_or_else(|e| panic!("connect: {e}"))
    }

    /// Connects to a `/sync` URL as `peer_id` and completes the handshake.
    pub fn handshake(url: &str, peer_id: String) -> SyncClient {
        SyncClient::try_handshake(url, peer_id).unwrap_or_else(|e| panic!("connect: {e}"))
    }

    /// Like `connect_with_token`, but a refusal is an error, not a panic.
    pub fn try_connect_with_token(
        sync_url: &str,
        token: &str,
        prefix: &str,
    ) -> Result<SyncClient, String> {
        let suffix = format!("t{}", ActorId::random());
        let url = format!("{sync_url}?token={token}&peer={suffix}");
        SyncClient::try_handshake(&url, format!("{prefix}{suffix}"))
    }

    fn try_handshake(url: &str, peer_id: String) -> Result<SyncClient, String> {
        let mut client = SyncClient {
            ws: None,
            url: url.to_string(),
            read_timeout: Duration::from_millis(100),
            peer_id,
            server_id: String::new(),
            docs: HashMap::new(),
            unavailable: Vec::new(),
            received: HashMap::new(),
            ephemeral: Vec::new(),
            ephemeral_count: 0,
            bytes_sent: 0,
            bytes_received: 0,
        };
        client.try_connect(Duration::from_secs(60))?;
        Ok(client)
    }

    /// Opens a new connection and completes the handshake.
    fn try_connect(&mut self, limit: Duration) -> Result<(), String> {
        self.ws = None;
        self.server_id.clear();
        let (ws, _) = tungstenite::connect(&self.url).map_err(|e| e.to_string())?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(self.read_timeout))
                .map_err(|e| e.to_string())?;
        }
        self.ws = Some(ws);
        self.send(&Message::Join {
            sender_id: self.peer_id.clone(),
            supported_protocol_versions: vec!["1".into()],
            metadata: Some(PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
            }),
        });
        let deadline = Instant::now() + limit;
        while self.server_id.is_empty() {
            if Instant::now() > deadline {
                self.ws = None;
                return Err("no peer message from the server".into());
            }
            self.read_one()?;
        }
        Ok(())
    }

    /// Connects again after a lost connection, with fresh sync states, and
    /// offers every open document (changes made meanwhile included).
    /// Returns whether the connection is up.
    pub fn reconnect(&mut self) -> bool {
        if let Err(error) = self.try_connect(Duration::from_secs(5)) {
            self.ws = None;
            let _ = error;
            return false;
        }
        let ids: Vec<DocId> = self.docs.keys().copied().collect();
        for id in ids {
            let synced = self.docs.get_mut(&id).expect("listed");
            synced.reset();
            let first = synced.doc.get_heads().is_empty();
            self.sync_out(id, first);
        }
        self.is_connected()
    }

    /// Drops the connection at once, without a close frame (as a network
    /// that goes away does).
    pub fn disconnect(&mut self) {
        if let Some(ws) = self.ws.take() {
            if let MaybeTlsStream::Plain(s) = ws.get_ref() {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    pub fn is_connected(&self) -> bool {
        self.ws.is_some()
    }

    /// How long one read waits for the server (100 ms unless set).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.read_timeout = timeout;
        if let Some(ws) = &self.ws {
            if let MaybeTlsStream::Plain(s) = ws.get_ref() {
                let _ = s.set_read_timeout(Some(timeout));
            }
        }
    }

    /// How many `doc-unavailable` answers have come.
    pub fn unavailable_count(&self) -> usize {
        self.unavailable.len()
    }

    /// Reads one message if one comes within the read timeout; false once
    /// the connection is down (never panics).
    pub fn pump(&mut self) -> bool {
        if self.ws.is_none() {
            return false;
        }
        if let Err(error) = self.read_one() {
            let _ = error;
            self.ws = None;
        }
        self.is_connected()
    }

    /// The document's heads here.
    pub fn heads(&self, id: DocId) -> Vec<ChangeHash> {
        self.docs[&id].doc.get_heads()
    }

    /// Makes a document known to this client without asking the server
    /// (a copy made elsewhere, say); `reconnect` or `offer` sends it.
    pub fn adopt(&mut self, id: DocId, doc: Automerge) {
        self.docs.insert(id, Synced::new(doc));
    }

    /// Sends what the server may lack of a document.
    pub fn offer(&mut self, id: DocId) {
        self.sync_out(id, false);
    }

    /// The server's peer id, learnt in the handshake.
    pub fn server_id(&self) -> String {
        self.server_id.clone()
    }

    pub fn send(&mut self, message: &Message) {
        self.send_raw(message.encode());
    }

    /// Sends an ephemeral message about `doc` (presence, say) in this
    /// client's name, one session per connection as automerge-repo does.
    pub fn broadcast(&mut self, doc: DocId, data: Vec<u8>) {
        self.ephemeral_count += 1;
        let message = Message::Ephemeral {
            sender_id: self.peer_id.clone(),
            target_id: self.server_id.clone(),
            document_id: doc,
            count: self.ephemeral_count,
            session_id: format!("s-{}", self.peer_id),
            data,
        };
        self.send(&message);
    }

    /// The presence messages received about `doc`, with their senders.
    pub fn presence(&self, doc: DocId) -> Vec<(String, papi::presence::Presence)> {
        self.ephemeral
            .iter()
            .filter(|(d, _, _)| *d == doc)
            .filter_map(|(_, sender, data)| {
                papi::presence::Presence::decode(data)
                    .ok()
                    .map(|p| (sender.clone(), p))
            })
            .collect()
    }

    /// Sends bytes as one binary message; a failed send marks the
    /// connection as down (see `is_connected`).
    pub fn send_raw(&mut self, bytes: Vec<u8>) {
        let Some(ws) = self.ws.as_mut() else {
            return;
        };
        let len = bytes.len() as u64;
        if ws.send(WsMessage::Binary(bytes.into())).is_err() {
            self.ws = None;
        } else {
            self.bytes_sent += len;
        }
    }

    /// Sends a change but does not wait for anything.
    pub fn doc_mut(&mut self, id: DocId) -> &mut Automerge {
        &mut self.docs.get_mut(&id).expect("an open document").doc
    }

    /// Creates a document on the server with the given content.
    pub fn create(&mut self, doc: Automerge) -> DocId {
        let id = DocId::from_bytes(ActorId::random().to_bytes().try_into().expect("16 bytes"));
        self.docs.insert(id, Synced::new(doc));
        self.sync_out(id, false);
        id
    }

    /// Asks the server for a document; true once it has arrived, false if
    /// the server says it is unavailable.
    pub fn open(&mut self, id: DocId) -> bool {
        self.request(id);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = self.answered(id) {
                return found;
            }
            assert!(Instant::now() < deadline, "no answer about {id}");
            self.receive_one();
        }
    }

    /// Asks the server for a document without waiting for the answer.
    pub fn request(&mut self, id: DocId) {
        self.docs.insert(id, Synced::new(Automerge::new()));
        self.sync_out(id, true);
    }

    /// Whether the server has answered a request: `Some(true)` once the
    /// document has arrived, `Some(false)` if it is unavailable.
    pub fn answered(&mut self, id: DocId) -> Option<bool> {
        if self.unavailable.contains(&id) {
            self.docs.remove(&id);
            return Some(false);
        }
        self.arrived(id).then_some(true)
    }

    /// Whether some of a requested document has arrived.
    pub fn arrived(&self, id: DocId) -> bool {
        self.docs
            .get(&id)
            .is_some_and(|s| !s.doc.get_heads().is_empty())
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
        self.docs[&id].server_has_all()
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
        let ws = self.ws.as_mut().expect("a connection");
        loop {
            assert!(
                Instant::now() < deadline,
                "the server kept the connection open"
            );
            match ws.read() {
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
        if self.ws.is_none() {
            return; // offline: the change waits for `reconnect`
        }
        let out = synced.outgoing(id, &self.peer_id, &self.server_id, first);
        for message in out {
            self.send(&message);
        }
    }

    fn receive_one(&mut self) {
        if let Err(error) = self.read_one() {
            panic!("{error}");
        }
    }

    /// Reads and handles one message, if one comes within the read timeout.
    fn read_one(&mut self) -> Result<(), String> {
        let ws = self.ws.as_mut().ok_or("not connected")?;
        let bytes = match ws.read() {
            Ok(WsMessage::Binary(b)) => b,
            Ok(WsMessage::Close(frame)) => {
                return Err(format!("the server closed the connection: {frame:?}"))
            }
            Ok(_) => return Ok(()),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(format!("connection failed: {e}")),
        };
        self.bytes_received += bytes.len() as u64;
        match Message::decode(&bytes).expect("the server sends valid messages") {
            Message::Peer { sender_id, .. } => self.server_id = sender_id,
            Message::Sync(m) | Message::Request(m) => {
                *self.received.entry(m.document_id).or_default() += 1;
                let Some(synced) = self.docs.get_mut(&m.document_id) else {
                    return Ok(());
                };
                synced.receive(&m.data);
                self.sync_out(m.document_id, false);
            }
            Message::DocUnavailable { document_id, .. } => self.unavailable.push(document_id),
            Message::Ephemeral {
                document_id,
                sender_id,
                data,
                ..
            } => self.ephemeral.push((document_id, sender_id, data)),
            _ => {}
        }
        Ok(())
    }
}

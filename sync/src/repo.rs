//! A repository: documents and the connections that sync them, in one
//! state machine without I/O. The browser runs one (its server is its only
//! peer); the simulated network of the tests runs one per peer, the server's
//! included.
//!
//! The caller owns the I/O: it hands in what arrives (`receive`,
//! `connected`, `disconnected`, `loaded`, `stored`, `tick`) and carries out
//! the [`Output`]s it takes (`take_outputs`), in order: send or close,
//! read a document's chunks from storage, commit a write.
//!
//! Documents are indexed by id and each one keeps its own peers, so a
//! message costs the same whatever else is loaded. A document that no peer
//! syncs and that has nothing waiting to be stored leaves memory after
//! `unload_after`; the next message about it loads it again.

use std::collections::{BTreeMap, BTreeSet};

use automerge::Automerge;

use crate::document::{Conn, Document, Effect, Phase, Settings, SyncError, Write};
use crate::key::Key;
use crate::wire::{DocMessage, Message, PeerMetadata, PROTOCOL_VERSION};
use crate::DocId;

/// What the caller must do.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    Send(Conn, Message),
    /// Close the connection, for this reason (it broke the protocol).
    Close(Conn, String),
    /// Read every chunk of the document (keys under `Key::prefix`) and pass
    /// them to `loaded`, none if there are none.
    Load(DocId),
    /// Commit the write, then call `stored`. Writes of one document are
    /// committed in the order they are given.
    Store(DocId, Write),
    /// The handshake is done: the connection's peer is known.
    Connected(Conn, String),
    /// A document's contents changed.
    Changed(DocId),
    Phase(DocId, Phase),
    /// An ephemeral message for this repository's own application.
    Ephemeral {
        doc: DocId,
        sender: String,
        data: Vec<u8>,
    },
    /// A stored chunk that does not load.
    Unreadable {
        doc: DocId,
        key: Key,
        error: String,
    },
    /// A document left memory.
    Unloaded(DocId),
}

/// Which side of the handshake this repository takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends `join` and waits for `peer`.
    Client,
    /// Waits for `join` and answers `peer`.
    Server,
}

struct Link {
    /// The peer's id, once the handshake is done.
    peer: Option<String>,
    /// The id the peer must give (the server binds a connection to the
    /// signed-in user).
    expected: Option<String>,
    docs: BTreeSet<DocId>,
}

/// Why a server refuses a client's handshake.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("the handshake must come first")]
    NotAJoin,
    #[error("the handshake names another peer")]
    OtherPeer,
    #[error("no protocol version in common")]
    NoCommonVersion,
}

/// A server's side of the handshake: the client's `join` (from the peer
/// `expected`, if given) gives its peer id and the `peer` answer.
pub fn accept_join(
    me: &str,
    expected: Option<&str>,
    join: Message,
) -> Result<(String, Message), Refused> {
    let Message::Join {
        sender_id,
        supported_protocol_versions,
        ..
    } = join
    else {
        return Err(Refused::NotAJoin);
    };
    if expected.is_some_and(|e| e != sender_id) {
        return Err(Refused::OtherPeer);
    }
    if !supported_protocol_versions
        .iter()
        .any(|v| v == PROTOCOL_VERSION)
    {
        return Err(Refused::NoCommonVersion);
    }
    let answer = Message::Peer {
        sender_id: me.to_string(),
        target_id: sender_id.clone(),
        selected_protocol_version: PROTOCOL_VERSION.into(),
        metadata: Some(PeerMetadata {
            storage_id: None,
            is_ephemeral: false,
        }),
    };
    Ok((sender_id, answer))
}

pub struct Repo {
    me: String,
    role: Role,
    settings: Settings,
    links: BTreeMap<Conn, Link>,
    docs: BTreeMap<DocId, Document>,
    /// Since when each document without peers has been idle (ms).
    idle_since: BTreeMap<DocId, u64>,
    unload_after_ms: Option<u64>,
    now_ms: u64,
    ephemeral_session: String,
    ephemeral_count: u64,
    out: Vec<Output>,
}

impl Repo {
    pub fn new(me: String, role: Role, settings: Settings) -> Repo {
        Repo {
            ephemeral_session: format!("{me}-session"),
            me,
            role,
            settings,
            links: BTreeMap::new(),
            docs: BTreeMap::new(),
            idle_since: BTreeMap::new(),
            unload_after_ms: None,
            now_ms: 0,
            ephemeral_count: 0,
            out: Vec::new(),
        }
    }

    /// Documents idle this long with no peer leave memory (see `tick`).
    pub fn unload_after(mut self, ms: u64) -> Repo {
        self.unload_after_ms = Some(ms);
        self
    }

    pub fn peer_id(&self) -> &str {
        &self.me
    }

    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    // ---- documents -------------------------------------------------------

    /// Starts loading a document unless it is in memory.
    pub fn open(&mut self, id: DocId) {
        if !self.docs.contains_key(&id) {
            self.docs.insert(id, Document::loading(id, self.settings));
            self.out.push(Output::Load(id));
            self.touch(id);
        }
    }

    /// A new document, stored and offered to every connected peer.
    pub fn create(&mut self, id: DocId, doc: Automerge) {
        let mut document = Document::create(id, self.settings, doc);
        if self.role == Role::Client {
            for (conn, link) in self.links.iter_mut() {
                if link.peer.is_some() {
                    link.docs.insert(id);
                    document.add_peer(*conn);
                }
            }
        }
        self.docs.insert(id, document);
        self.touch(id);
        self.drain(id);
    }

    pub fn document(&self, id: DocId) -> Option<&Document> {
        self.docs.get(&id)
    }

    /// The documents in memory.
    pub fn loaded(&self) -> impl Iterator<Item = DocId> + '_ {
        self.docs.keys().copied()
    }

    /// Makes a change to a document that is ready; `None` otherwise.
    pub fn change<R>(&mut self, id: DocId, f: impl FnOnce(&mut Automerge) -> R) -> Option<R> {
        let doc = self.docs.get_mut(&id)?;
        if doc.phase() != Phase::Ready {
            return None;
        }
        let result = doc.change(f);
        self.touch(id);
        self.drain(id);
        Some(result)
    }

    /// Changes of a document that no peer has confirmed.
    pub fn unconfirmed(&mut self, id: DocId) -> Option<usize> {
        self.docs.get_mut(&id).map(Document::unconfirmed)
    }

    /// What storage held of a document that `Output::Load` asked for.
    pub fn chunks_loaded(&mut self, id: DocId, chunks: Vec<(Key, Vec<u8>)>) {
        let Some(doc) = self.docs.get_mut(&id) else {
            return;
        };
        doc.loaded(chunks);
        if self.role == Role::Client {
            // A browser syncs every document it holds with its server.
            for (conn, link) in self.links.iter_mut() {
                if link.peer.is_some() && link.docs.insert(id) {
                    doc.add_peer(*conn);
                }
            }
        }
        self.drain(id);
    }

    /// A write that `Output::Store` asked for is committed.
    pub fn stored(&mut self, id: DocId, ticket: u64) {
        if let Some(doc) = self.docs.get_mut(&id) {
            doc.stored(ticket);
            self.drain(id);
        }
    }

    /// The clock moved: documents idle past `unload_after` leave memory.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        let Some(after) = self.unload_after_ms else {
            return;
        };
        let due: Vec<DocId> = self
            .idle_since
            .iter()
            .filter(|(_, since)| now_ms.saturating_sub(**since) >= after)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let unload = self.docs.get(&id).is_none_or(|d| {
                d.peers().next().is_none() && d.is_flushed() && d.phase() != Phase::Loading
            });
            self.idle_since.remove(&id);
            if unload && self.docs.remove(&id).is_some() {
                self.out.push(Output::Unloaded(id));
            }
        }
    }

    /// Notes activity on a document: idle from now if no peer syncs it.
    fn touch(&mut self, id: DocId) {
        let Some(doc) = self.docs.get(&id) else {
            return;
        };
        if doc.peers().next().is_none() {
            self.idle_since.insert(id, self.now_ms);
        } else {
            self.idle_since.remove(&id);
        }
    }

    /// Turns a document's effects into outputs.
    fn drain(&mut self, id: DocId) {
        let Some(doc) = self.docs.get_mut(&id) else {
            return;
        };
        for effect in doc.take_effects() {
            match effect {
                Effect::Sync { to, request, data } => {
                    let Some(peer) = self.links.get(&to).and_then(|l| l.peer.clone()) else {
                        continue;
                    };
                    let m = DocMessage {
                        sender_id: self.me.clone(),
                        target_id: peer,
                        document_id: id,
                        data,
                    };
                    let message = if request {
                        Message::Request(m)
                    } else {
                        Message::Sync(m)
                    };
                    self.out.push(Output::Send(to, message));
                }
                Effect::Unavailable { to } => {
                    let Some(peer) = self.links.get(&to).and_then(|l| l.peer.clone()) else {
                        continue;
                    };
                    if let Some(link) = self.links.get_mut(&to) {
                        link.docs.remove(&id);
                    }
                    self.out.push(Output::Send(
                        to,
                        Message::DocUnavailable {
                            sender_id: self.me.clone(),
                            target_id: peer,
                            document_id: id,
                        },
                    ));
                }
                Effect::Store(write) => self.out.push(Output::Store(id, write)),
                Effect::Changed => self.out.push(Output::Changed(id)),
                Effect::Phase(phase) => self.out.push(Output::Phase(id, phase)),
                Effect::Unreadable { key, error } => self.out.push(Output::Unreadable {
                    doc: id,
                    key,
                    error,
                }),
            }
        }
        self.touch(id);
    }

    // ---- connections -----------------------------------------------------

    /// A connection is open. A client introduces itself; a server waits to
    /// be introduced to, by the peer `expected` if given.
    pub fn connected(&mut self, conn: Conn, expected: Option<String>) {
        self.links.insert(
            conn,
            Link {
                peer: None,
                expected,
                docs: BTreeSet::new(),
            },
        );
        if self.role == Role::Client {
            self.out.push(Output::Send(
                conn,
                Message::Join {
                    sender_id: self.me.clone(),
                    supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
                    metadata: Some(PeerMetadata {
                        storage_id: None,
                        is_ephemeral: false,
                    }),
                },
            ));
        }
    }

    /// A connection is gone: its peer stops syncing every document.
    pub fn disconnected(&mut self, conn: Conn) {
        let Some(link) = self.links.remove(&conn) else {
            return;
        };
        for id in link.docs {
            if let Some(doc) = self.docs.get_mut(&id) {
                doc.remove_peer(conn);
                self.drain(id);
            }
        }
    }

    /// A message from a connection, decoded (`Message::decode_checked`).
    /// `may_write`: whether this peer's changes to the document are taken.
    pub fn receive(&mut self, conn: Conn, message: Message, may_write: bool) {
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        let Some(peer) = link.peer.clone() else {
            self.handshake(conn, message);
            return;
        };
        match message {
            Message::Request(m) | Message::Sync(m) if m.sender_id != peer => {
                self.close(conn, "a message in another peer's name".into());
            }
            Message::Request(ref m) | Message::Sync(ref m) => {
                let id = m.document_id;
                let request = matches!(message, Message::Request(_));
                if self.role == Role::Server {
                    self.open(id);
                }
                let Some(doc) = self.docs.get_mut(&id) else {
                    // A client hears only of what it holds.
                    return;
                };
                self.links.get_mut(&conn).map(|l| l.docs.insert(id));
                let result = automerge::sync::Message::decode(&m.data)
                    .map_err(|e| SyncError::Malformed(e.to_string()))
                    .and_then(|message| doc.receive_message(conn, request, message, may_write));
                self.drain(id);
                if let Err(e) = result {
                    self.close(conn, e.to_string());
                }
            }
            Message::DocUnavailable { document_id, .. } => {
                if let Some(doc) = self.docs.get_mut(&document_id) {
                    doc.peer_lacks_it(conn);
                    self.drain(document_id);
                }
            }
            Message::Ephemeral {
                sender_id,
                document_id,
                count,
                session_id,
                data,
                ..
            } => {
                if sender_id != peer {
                    self.close(conn, "an ephemeral message in another peer's name".into());
                    return;
                }
                let Some(doc) = self.docs.get(&document_id) else {
                    return;
                };
                let to: Vec<(Conn, String)> = doc
                    .peers()
                    .filter(|c| *c != conn)
                    .filter_map(|c| Some((c, self.links.get(&c)?.peer.clone()?)))
                    .collect();
                for (c, target) in to {
                    self.out.push(Output::Send(
                        c,
                        Message::Ephemeral {
                            sender_id: sender_id.clone(),
                            target_id: target,
                            document_id,
                            count,
                            session_id: session_id.clone(),
                            data: data.clone(),
                        },
                    ));
                }
                self.out.push(Output::Ephemeral {
                    doc: document_id,
                    sender: sender_id,
                    data,
                });
            }
            Message::Join { .. } | Message::Peer { .. } => {
                self.close(conn, "a second handshake on one connection".into());
            }
            Message::Leave { .. } => self.disconnected(conn),
            Message::Error { .. } | Message::Keepalive | Message::Other { .. } => {}
        }
    }

    /// Sends `data` to the other peers of a document, as an ephemeral
    /// message (presence): never stored, lost if nobody listens.
    pub fn broadcast(&mut self, id: DocId, data: Vec<u8>) {
        let Some(doc) = self.docs.get(&id) else {
            return;
        };
        let to: Vec<(Conn, String)> = doc
            .peers()
            .filter_map(|c| Some((c, self.links.get(&c)?.peer.clone()?)))
            .collect();
        for (conn, target) in to {
            self.ephemeral_count += 1;
            self.out.push(Output::Send(
                conn,
                Message::Ephemeral {
                    sender_id: self.me.clone(),
                    target_id: target,
                    document_id: id,
                    count: self.ephemeral_count,
                    session_id: self.ephemeral_session.clone(),
                    data: data.clone(),
                },
            ));
        }
    }

    fn close(&mut self, conn: Conn, reason: String) {
        self.disconnected(conn);
        self.out.push(Output::Close(conn, reason));
    }

    fn handshake(&mut self, conn: Conn, message: Message) {
        match (self.role, message) {
            (Role::Server, join @ Message::Join { .. }) => {
                let link = self.links.get_mut(&conn).expect("checked by the caller");
                match accept_join(&self.me, link.expected.as_deref(), join) {
                    Ok((peer, answer)) => {
                        link.peer = Some(peer.clone());
                        self.out.push(Output::Send(conn, answer));
                        self.out.push(Output::Connected(conn, peer));
                    }
                    Err(refused) => self.close(conn, refused.to_string()),
                }
            }
            (Role::Client, Message::Peer { sender_id, .. }) => {
                let link = self.links.get_mut(&conn).expect("checked by the caller");
                link.peer = Some(sender_id.clone());
                self.out.push(Output::Connected(conn, sender_id));
                // Every document here syncs with the server, loaded or
                // still loading (it joins when it is loaded).
                let ids: Vec<DocId> = self.docs.keys().copied().collect();
                for id in ids {
                    let doc = self.docs.get_mut(&id).expect("listed");
                    if doc.phase() != Phase::Loading {
                        self.links.get_mut(&conn).map(|l| l.docs.insert(id));
                        doc.add_peer(conn);
                        self.drain(id);
                    }
                }
            }
            (_, Message::Keepalive) => {}
            _ => self.close(conn, "the handshake must come first".into()),
        }
    }
}

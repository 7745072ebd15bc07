//! The protocol's cases one at a time, between a server `Repo` and hand-made
//! messages or a browser `Repo`, with storage that commits when told.

use std::collections::{BTreeMap, VecDeque};

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{Automerge, ReadDoc, ROOT};
use papi_sync::wire::{DocMessage, Message};
use papi_sync::{Conn, DocId, Key, Output, Phase, Repo, Role, Settings, Write};

const BROWSER: &str = "user1.browser";

/// A repository with storage of its own that commits only when told.
struct Node {
    repo: Repo,
    committed: BTreeMap<String, Vec<u8>>,
    writes: VecDeque<(DocId, Write)>,
    sent: Vec<(Conn, Message)>,
    closed: Vec<(Conn, String)>,
    outputs: Vec<Output>,
}

impl Node {
    fn new(repo: Repo) -> Node {
        Node {
            repo,
            committed: BTreeMap::new(),
            writes: VecDeque::new(),
            sent: Vec::new(),
            closed: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn server() -> Node {
        Node::new(Repo::new(
            "server".into(),
            Role::Server,
            Settings::default(),
        ))
    }

    fn browser() -> Node {
        let settings = Settings {
            ask_peers: true,
            answers_wait_for_storage: false,
            ..Settings::default()
        };
        Node::new(Repo::new(BROWSER.into(), Role::Client, settings))
    }

    /// Carries out outputs: loads at once, keeps writes until `commit`.
    fn pump(&mut self) {
        loop {
            let outputs = self.repo.take_outputs();
            if outputs.is_empty() {
                return;
            }
            for out in outputs {
                match out {
                    Output::Send(conn, m) => self.sent.push((conn, m)),
                    Output::Close(conn, reason) => self.closed.push((conn, reason)),
                    Output::Load(doc) => {
                        let prefix = Key::prefix(doc);
                        let chunks = self
                            .committed
                            .iter()
                            .filter(|(k, _)| k.starts_with(&prefix))
                            .map(|(k, v)| (Key::parse(k).unwrap(), v.clone()))
                            .collect();
                        self.repo.chunks_loaded(doc, chunks);
                    }
                    Output::Store(doc, write) => self.writes.push_back((doc, write)),
                    other => self.outputs.push(other),
                }
            }
        }
    }

    fn commit(&mut self) {
        while let Some((doc, write)) = self.writes.pop_front() {
            for (k, v) in write.put {
                self.committed.insert(k.to_string(), v);
            }
            for k in write.delete {
                self.committed.remove(&k.to_string());
            }
            self.repo.stored(doc, write.ticket);
            self.pump();
        }
    }

    fn take_sent(&mut self) -> Vec<(Conn, Message)> {
        std::mem::take(&mut self.sent)
    }
}

fn doc_with(key: &str, value: &str) -> Automerge {
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, value))
        .unwrap();
    doc
}

fn id(n: u8) -> DocId {
    DocId::from_bytes([n; 16])
}

fn sync_message(kind_request: bool, doc: DocId, data: Vec<u8>) -> Message {
    let m = DocMessage {
        sender_id: BROWSER.into(),
        target_id: "server".into(),
        document_id: doc,
        data,
    };
    if kind_request {
        Message::Request(m)
    } else {
        Message::Sync(m)
    }
}

fn join() -> Message {
    Message::Join {
        sender_id: BROWSER.into(),
        supported_protocol_versions: vec!["1".into()],
        metadata: None,
    }
}

/// A server with one document, committed, and a connection 1 past the
/// handshake.
fn server_with_document() -> (Node, DocId) {
    server_with(doc_with("title", "plan"))
}

fn server_with(doc: Automerge) -> (Node, DocId) {
    let mut server = Node::server();
    server.repo.create(id(1), doc);
    server.pump();
    server.commit();
    server.repo.connected(1, Some(BROWSER.into()));
    server.repo.receive(1, join(), true);
    server.pump();
    let sent = server.take_sent();
    assert!(matches!(&sent[..], [(1, Message::Peer { target_id, .. })] if target_id == BROWSER));
    (server, id(1))
}

/// Runs a browser and a server against each other until both are quiet,
/// committing every write.
fn settle(browser: &mut Node, server: &mut Node) {
    for _ in 0..100 {
        browser.pump();
        server.pump();
        browser.commit();
        server.commit();
        let to_server = browser.take_sent();
        let to_browser = server.take_sent();
        if to_server.is_empty() && to_browser.is_empty() {
            return;
        }
        for (conn, m) in to_server {
            server.repo.receive(conn, m, true);
        }
        for (conn, m) in to_browser {
            browser.repo.receive(conn, m, true);
        }
    }
    panic!("the two do not settle");
}

/// Joins a browser to the server on connection 1, whose handshake the
/// server has done already (`server_with`): the browser's `join` is checked
/// and the server's `peer` handed to it, then the two settle.
fn join_server(browser: &mut Node, server: &mut Node) {
    browser.repo.connected(1, None);
    browser.pump();
    let join = browser.take_sent();
    assert!(matches!(&join[..], [(1, Message::Join { .. })]));
    browser.repo.receive(
        1,
        Message::Peer {
            sender_id: "server".into(),
            target_id: BROWSER.into(),
            selected_protocol_version: "1".into(),
            metadata: None,
        },
        true,
    );
    settle(browser, server);
}

/// The browser changes `doc` and the server receives what it sends (from a
/// writer, or not), without committing anything yet.
fn edit_and_send(browser: &mut Node, server: &mut Node, doc: DocId, may_write: bool) {
    browser.repo.change(doc, |d| {
        d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "k", 1))
            .unwrap();
    });
    browser.pump();
    for (conn, m) in browser.take_sent() {
        server.repo.receive(conn, m, may_write);
    }
    server.pump();
}

fn connect(browser: &mut Node, server: &mut Node, conn: Conn) {
    server.repo.connected(conn, Some(BROWSER.into()));
    browser.repo.connected(conn, None);
    settle(browser, server);
}

#[test]
fn the_handshake_binds_a_connection_to_its_expected_peer() {
    let mut server = Node::server();
    server.repo.connected(1, Some("user2.other".into()));
    server.repo.receive(1, join(), true);
    server.pump();
    assert_eq!(server.closed.len(), 1, "a join in another's name closes");
    assert!(server.take_sent().is_empty());

    server.repo.connected(2, None);
    server
        .repo
        .receive(2, sync_message(true, id(1), vec![]), true);
    server.pump();
    assert_eq!(
        server.closed[1].0, 2,
        "a message before the handshake closes"
    );

    server.repo.connected(3, None);
    server.repo.receive(
        3,
        Message::Join {
            sender_id: BROWSER.into(),
            supported_protocol_versions: vec!["2".into()],
            metadata: None,
        },
        true,
    );
    server.pump();
    assert_eq!(server.closed[2].0, 3, "no version in common closes");
}

#[test]
fn an_unknown_document_is_answered_unavailable_and_makes_no_state() {
    let (mut server, _) = server_with_document();
    let empty = Automerge::new()
        .generate_sync_message(&mut automerge::sync::State::new())
        .unwrap()
        .encode();
    server
        .repo
        .receive(1, sync_message(true, id(9), empty), true);
    server.pump();
    let sent = server.take_sent();
    assert!(
        matches!(&sent[..], [(1, Message::DocUnavailable { document_id, .. })] if *document_id == id(9)),
        "{sent:?}"
    );
    assert!(server.writes.is_empty(), "nothing stored for it");
    assert_eq!(
        server.repo.document(id(9)).map(|d| d.phase()),
        Some(Phase::Unavailable)
    );
    assert_eq!(server.repo.document(id(9)).unwrap().peers().count(), 0);
}

#[test]
fn a_browser_fetches_a_document_it_does_not_have() {
    let (mut server, doc) = server_with_document();
    let mut browser = Node::browser();
    browser.repo.open(doc);
    browser.pump();
    assert_eq!(
        browser.repo.document(doc).unwrap().phase(),
        Phase::Requesting
    );
    join_server(&mut browser, &mut server);
    let d = browser.repo.document(doc).unwrap();
    assert_eq!(d.phase(), Phase::Ready);
    assert_eq!(
        d.doc().get(ROOT, "title").unwrap().unwrap().0.as_str(),
        Some("plan")
    );
    assert!(
        browser.committed.keys().any(|k| k.contains("/snapshot/")),
        "the first write on the device is a snapshot"
    );
}

#[test]
fn a_browser_is_told_when_no_one_has_the_document() {
    let (mut server, _) = server_with_document();
    let mut browser = Node::browser();
    browser.repo.open(id(7));
    browser.pump();
    join_server(&mut browser, &mut server);
    assert_eq!(
        browser.repo.document(id(7)).unwrap().phase(),
        Phase::Unavailable
    );
}

#[test]
fn an_answer_to_a_writer_waits_until_its_changes_are_stored() {
    let (mut server, doc) = server_with_document();
    let mut browser = Node::browser();
    browser.repo.open(doc);
    browser.pump();
    join_server(&mut browser, &mut server);

    browser.repo.change(doc, |d| {
        d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "k", 1))
            .unwrap();
    });
    browser.pump();
    assert_eq!(browser.repo.unconfirmed(doc), Some(1));
    for (conn, m) in browser.take_sent() {
        server.repo.receive(conn, m, true);
    }
    server.pump();
    assert!(
        server.take_sent().is_empty(),
        "nothing goes back before the change is stored"
    );
    assert_eq!(server.writes.len(), 1);
    server.commit();
    let answer = server.take_sent();
    assert_eq!(answer.len(), 1, "the answer goes once it is stored");
    for (conn, m) in answer {
        browser.repo.receive(conn, m, true);
    }
    browser.pump();
    assert_eq!(browser.repo.unconfirmed(doc), Some(0));
}

#[test]
fn a_readers_changes_are_left_out_and_stay_unconfirmed() {
    let (mut server, doc) = server_with_document();
    let mut browser = Node::browser();
    browser.repo.open(doc);
    connect(&mut browser, &mut server, 1);
    edit_and_send(&mut browser, &mut server, doc, false);
    assert!(server.writes.is_empty(), "nothing of a reader's is stored");
    assert!(server
        .repo
        .document(doc)
        .unwrap()
        .doc()
        .get(ROOT, "k")
        .unwrap()
        .is_none());
    for (conn, m) in server.take_sent() {
        browser.repo.receive(conn, m, true);
    }
    browser.pump();
    assert_eq!(browser.repo.unconfirmed(doc), Some(1));
}

#[test]
fn a_whole_document_and_a_change_with_missing_dependencies_both_apply() {
    let base = doc_with("title", "plan");
    let (mut server, doc) = server_with(base.clone());
    // The server's document, and two changes on top of it made elsewhere.
    let mut elsewhere = base.fork();
    for v in 0..2 {
        elsewhere
            .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "k", v))
            .unwrap();
    }
    let changes = elsewhere.get_changes(&[]);
    let (first, second) = (changes[1].clone(), changes[2].clone());

    // The second change alone: its dependency is missing, so it waits.
    let mut state = automerge::sync::State::new();
    let mut message = elsewhere.generate_sync_message(&mut state).unwrap();
    message.changes = second.raw_bytes().to_vec().into();
    server
        .repo
        .receive(1, sync_message(false, doc, message.encode()), true);
    server.pump();
    server.commit();
    let d = server.repo.document(doc).unwrap().doc();
    assert!(d.get_change_by_hash(&second.hash()).is_none());

    // Then the first: both apply.
    let mut message = elsewhere
        .generate_sync_message(&mut state)
        .unwrap_or_else(|| {
            elsewhere
                .generate_sync_message(&mut automerge::sync::State::new())
                .unwrap()
        });
    message.changes = first.raw_bytes().to_vec().into();
    server
        .repo
        .receive(1, sync_message(false, doc, message.encode()), true);
    server.pump();
    server.commit();
    let d = server.repo.document(doc).unwrap().doc();
    assert!(d.get_change_by_hash(&second.hash()).is_some());

    // A whole document as one chunk (what a browser's offline morning may
    // send) applies on another server too.
    let (mut other, _) = server_with(base);
    let mut whole = elsewhere
        .generate_sync_message(&mut automerge::sync::State::new())
        .unwrap();
    whole.changes = vec![elsewhere.save()].into();
    other
        .repo
        .receive(1, sync_message(false, doc, whole.encode()), true);
    other.pump();
    other.commit();
    assert_eq!(
        other.repo.document(doc).unwrap().doc().get_heads(),
        elsewhere.get_heads()
    );
}

#[test]
fn a_peer_that_goes_away_mid_sync_leaves_nothing_behind() {
    let (mut server, doc) = server_with_document();
    let mut browser = Node::browser();
    browser.repo.open(doc);
    connect(&mut browser, &mut server, 1);
    edit_and_send(&mut browser, &mut server, doc, true);
    // What went before it left is not the question here.
    server.take_sent();
    // Gone before its change is stored.
    server.repo.disconnected(1);
    server.pump();
    server.commit();
    assert!(server.take_sent().is_empty(), "nothing to a peer that left");
    assert_eq!(server.repo.document(doc).unwrap().peers().count(), 0);
    // The change is kept all the same.
    assert!(server.committed.keys().any(|k| k.contains("/incremental/")));
}

#[test]
fn a_loaded_document_is_not_written_again_and_leaves_memory_when_idle() {
    let mut server = Node::new(
        Repo::new("server".into(), Role::Server, Settings::default()).unload_after(60_000),
    );
    server.repo.create(id(1), doc_with("title", "plan"));
    server.pump();
    server.commit();
    let stored = server.committed.clone();
    server.repo.tick(60_000);
    server.pump();
    assert!(server.outputs.contains(&Output::Unloaded(id(1))));
    assert_eq!(server.repo.loaded().count(), 0);

    // A reader asks for it: loaded again, with no write.
    server.repo.connected(1, Some(BROWSER.into()));
    server.repo.receive(1, join(), true);
    let ask = Automerge::new()
        .generate_sync_message(&mut automerge::sync::State::new())
        .unwrap()
        .encode();
    server.repo.receive(1, sync_message(true, id(1), ask), true);
    server.pump();
    assert!(server.writes.is_empty(), "loading writes nothing");
    assert_eq!(server.committed, stored);
    assert_eq!(server.repo.document(id(1)).unwrap().phase(), Phase::Ready);
    // Not unloaded while a peer syncs it, whatever the time.
    server.repo.tick(10_000_000);
    server.pump();
    assert_eq!(server.repo.loaded().count(), 1);
    server.repo.disconnected(1);
    server.repo.tick(10_000_000 + 60_000);
    server.pump();
    assert_eq!(server.repo.loaded().count(), 0);
}

#[test]
fn chunks_are_compacted_into_a_snapshot_and_the_old_ones_deleted() {
    let settings = Settings {
        compact_after: 8,
        ..Settings::default()
    };
    let mut server = Node::new(Repo::new("server".into(), Role::Server, settings));
    server.repo.create(id(1), doc_with("title", "plan"));
    server.pump();
    server.commit();
    for i in 0..40 {
        server.repo.change(id(1), |d| {
            d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "n", i as i64))
                .unwrap();
        });
        server.pump();
        server.commit();
    }
    let snapshots = server
        .committed
        .keys()
        .filter(|k| k.contains("/snapshot/"))
        .count();
    let chunks = server
        .committed
        .keys()
        .filter(|k| k.contains("/incremental/"))
        .count();
    assert_eq!(snapshots, 1, "{:?}", server.committed.keys());
    assert!(chunks < 8, "{chunks} chunks left");
    // What is stored loads to the same document.
    let mut loaded = Automerge::new();
    for bytes in server.committed.values() {
        loaded.load_incremental(bytes).unwrap();
    }
    assert_eq!(
        loaded.get_heads(),
        server.repo.document(id(1)).unwrap().doc().get_heads()
    );
}

#[test]
fn ephemeral_messages_reach_the_other_peers_of_a_document_only() {
    let (mut server, doc) = server_with_document();
    let mut browser = Node::browser();
    browser.repo.open(doc);
    connect(&mut browser, &mut server, 1);
    // A second peer on the same document, and a third on none.
    for (conn, name) in [(2, "user2.x"), (3, "user3.y")] {
        server.repo.connected(conn, Some(name.into()));
        server.repo.receive(
            conn,
            Message::Join {
                sender_id: name.into(),
                supported_protocol_versions: vec!["1".into()],
                metadata: None,
            },
            true,
        );
    }
    let ask = Automerge::new()
        .generate_sync_message(&mut automerge::sync::State::new())
        .unwrap()
        .encode();
    server.repo.receive(
        2,
        Message::Request(DocMessage {
            sender_id: "user2.x".into(),
            target_id: "server".into(),
            document_id: doc,
            data: ask,
        }),
        true,
    );
    server.pump();
    server.take_sent();
    browser.repo.broadcast(doc, b"here".to_vec());
    browser.pump();
    for (conn, m) in browser.take_sent() {
        server.repo.receive(conn, m, true);
    }
    server.pump();
    let sent = server.take_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        matches!(&sent[0], (2, Message::Ephemeral { sender_id, data, .. })
        if sender_id == BROWSER && data == b"here")
    );

    // One in another peer's name closes the connection.
    server.repo.receive(
        2,
        Message::Ephemeral {
            sender_id: BROWSER.into(),
            target_id: "server".into(),
            document_id: doc,
            count: 1,
            session_id: "s".into(),
            data: vec![],
        },
        true,
    );
    server.pump();
    assert!(server.closed.iter().any(|(c, _)| *c == 2));
}

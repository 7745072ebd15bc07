//! The `/sync` endpoint, end to end, with protocol clients over real
//! WebSockets: sync between peers, acknowledgements that survive SIGKILL,
//! access per role, and hostile input.

use std::time::Duration;

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::{Automerge, ReadDoc};
use papi::ids::DocId;
use papi::schema::measure_text;
use papi::wire::{DocMessage, Message};
use papi_e2e::{http, wait_for, Server, SyncClient};

const LIMIT: Duration = Duration::from_secs(60);
const MEASURE: &str = "d1-m1";

/// Demo accounts (created on a demo server's first start).
const COORDINATOR: &str = "vanphong";
const VIEWER: &str = "xem";

fn connect(server: &Server, user: &str) -> SyncClient {
    SyncClient::connect_as(server, user)
}

fn plan_id(server: &Server) -> DocId {
    let mut r = http().get(server.url("/api/plan")).call().unwrap();
    let body: serde_json::Value = r.body_mut().read_json().unwrap();
    DocId::parse(body["url"].as_str().unwrap()).unwrap()
}

fn text(client: &SyncClient, id: DocId) -> String {
    let doc = client.doc(id);
    doc.text(&measure_text(doc, MEASURE).expect("the measure"))
        .unwrap()
}

fn append(client: &mut SyncClient, id: DocId, suffix: &str) {
    client.change(id, |tx| {
        let t = measure_text(tx, MEASURE).expect("the measure");
        let end = tx.length(&t);
        tx.splice_text(&t, end, 0, suffix).unwrap();
    });
}

/// What the server holds now, read by a fresh coordinator connection.
fn server_text(server: &Server) -> String {
    let id = plan_id(server);
    let mut reader = connect(server, COORDINATOR);
    assert!(reader.open(id));
    text(&reader, id)
}

#[test]
fn two_peers_sync_a_document_through_the_server() {
    let server = Server::start();
    let id = plan_id(&server);
    let mut writer = connect(&server, COORDINATOR);
    let mut reader = connect(&server, VIEWER);
    assert!(writer.open(id));
    assert!(reader.open(id));
    let before = text(&reader, id);
    append(&mut writer, id, " Đã hoàn thành.");
    reader.until("the coordinator's edit", LIMIT, |c| {
        text(c, id) == format!("{before} Đã hoàn thành.")
    });
}

#[test]
fn an_acknowledged_change_survives_sigkill() {
    let mut server = Server::start();
    let id = plan_id(&server);
    let mut expected = String::new();
    for round in 0..5 {
        let mut client = connect(&server, COORDINATOR);
        assert!(client.open(id));
        if round == 0 {
            expected = text(&client, id);
        }
        let suffix = format!(" lần {round}");
        append(&mut client, id, &suffix);
        expected.push_str(&suffix);
        client.until("the server's acknowledgement", LIMIT, |c| {
            c.server_has_all(id)
        });
        // Killed at once after the acknowledgement: no time to flush anything.
        server.kill();
        server.restart();
    }
    assert_eq!(
        server_text(&server),
        expected,
        "every acknowledged change was stored"
    );
}

#[test]
fn a_request_for_an_unknown_document_is_answered_unavailable() {
    let server = Server::start();
    let mut client = connect(&server, COORDINATOR);
    let unknown = DocId::from_bytes([0x5a; 16]);
    assert!(!client.open(unknown));
    server.wait_for_log("refused: no such document for this user");
    // A sync message carrying content for it does not create it either.
    let mut content = Automerge::new();
    content
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "x", 1))
        .unwrap();
    let data = content
        .generate_sync_message(&mut automerge::sync::State::new())
        .expect("a first sync message")
        .encode();
    client.send(&Message::Sync(DocMessage {
        sender_id: client.peer_id.clone(),
        target_id: client.server_id(),
        document_id: unknown,
        data,
    }));
    let mut other = connect(&server, COORDINATOR);
    assert!(!other.open(unknown), "nothing was created from it");
    // The connection is still good.
    let id = plan_id(&server);
    assert!(client.open(id));
}

/// Everyone in the agency reads the plan; only coordinators and admins
/// change it. A read-only peer's changes are ignored and never stored.
#[test]
fn plan_access_per_role_and_refused_changes_are_never_stored() {
    let mut server = Server::start();
    let id = plan_id(&server);
    let original = server_text(&server);
    let roles = [
        ("quantri", true),
        ("giamdoc", false),
        ("vanphong", true),
        ("truongphong", false),
        ("chuyenvien", false),
        ("xem", false),
    ];
    let mut expected = original.clone();
    for (user, writes) in roles {
        let mut client = connect(&server, user);
        assert!(client.open(id), "{user} reads the plan");
        let before = client.received.get(&id).copied().unwrap_or(0);
        append(&mut client, id, &format!(" [{user}]"));
        if writes {
            expected.push_str(&format!(" [{user}]"));
            client.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));
        } else {
            // A coordinator's later edit reaches the reader, but the server's
            // heads never take the reader's own change in.
            let mut writer = connect(&server, COORDINATOR);
            assert!(writer.open(id));
            let marker = format!(" (sau {user})");
            append(&mut writer, id, &marker);
            writer.until("the coordinator's acknowledgement", LIMIT, |c| {
                c.server_has_all(id)
            });
            expected.push_str(&marker);
            client.until("the coordinator's edit", LIMIT, |c| {
                text(c, id).contains(&marker)
            });
            assert!(client.received.get(&id).copied().unwrap_or(0) > before);
            assert!(!client.server_has_all(id), "{user}'s change was not taken");
        }
        assert_eq!(server_text(&server), expected, "after {user}'s edit");
    }
    // Nor is anything refused found after a restart.
    assert!(server.stop());
    server.restart();
    assert_eq!(server_text(&server), expected);
}

#[test]
fn connections_without_a_valid_session_or_with_someone_elses_id_are_refused() {
    let server = Server::start();
    let refused = |url: String| match tungstenite::connect(url) {
        Err(tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the upgrade was accepted"),
    };
    assert_eq!(refused(format!("{}?peer=x", server.sync_url())), 401);
    assert_eq!(
        refused(format!("{}?peer=x&token=forged", server.sync_url())),
        401
    );
    server.wait_for_log("sync refused: not signed in");

    let token = server.token("xem");
    assert_eq!(
        refused(format!("{}?token={token}", server.sync_url())),
        400,
        "no peer part"
    );

    // A viewer who claims the coordinator's peer id is disconnected.
    let (mut ws, _) =
        tungstenite::connect(format!("{}?token={token}&peer=abc", server.sync_url())).unwrap();
    let join = Message::Join {
        sender_id: "user3.abc".into(),
        supported_protocol_versions: vec!["1".into()],
        metadata: None,
    };
    ws.send(tungstenite::Message::Binary(join.encode().into()))
        .unwrap();
    let ended = wait_for("the server to end the connection", LIMIT, || {
        match ws.read() {
            Ok(tungstenite::Message::Binary(b)) => {
                matches!(Message::decode(&b), Ok(Message::Error { .. })).then_some(())
            }
            Ok(tungstenite::Message::Close(_)) | Err(_) => Some(()),
            Ok(_) => None,
        }
    });
    let _ = ended;
}

/// Each hostile message closes its own connection with a reason, is logged,
/// and leaves a bystander's session working.
#[test]
fn hostile_messages_are_refused_and_logged_and_others_keep_working() {
    let server = Server::start_with(&["--max-message-bytes", "65536"]);
    let id = plan_id(&server);
    let mut bystander = connect(&server, COORDINATOR);
    assert!(bystander.open(id));

    let random: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    // A valid CBOR array of numbers instead of a message map.
    let wrong_shape = vec![0x83, 0x01, 0x02, 0x03];
    let bad_sync_data = Message::Sync(DocMessage {
        sender_id: "x".into(),
        target_id: "y".into(),
        document_id: id,
        data: vec![0x42; 64],
    })
    .encode();
    let oversized = vec![0u8; 70_000];

    let cases: [(&str, Vec<u8>, u16, &str); 4] = [
        ("random bytes", random, 1007, "malformed message"),
        (
            "CBOR of the wrong shape",
            wrong_shape,
            1007,
            "malformed message",
        ),
        (
            "sync data that is not automerge",
            bad_sync_data,
            1007,
            "sync data",
        ),
        ("a message over the limit", oversized, 1009, "size limit"),
    ];
    for (round, (what, bytes, code, logged)) in cases.into_iter().enumerate() {
        let mut attacker = connect(&server, VIEWER);
        attacker.send_raw(bytes);
        let closed = attacker.closed(LIMIT);
        assert_eq!(closed.code, Some(code), "{what}: {closed:?}");
        server.wait_for_log(logged);

        append(&mut bystander, id, &format!(" {round}"));
        bystander.until(&format!("service after {what}"), LIMIT, |c| {
            c.server_has_all(id)
        });
    }
    server.wait_for_log("refused a message");
}

/// A figure of `/metrics`.
fn metric(server: &Server, name: &str) -> f64 {
    let mut answer = http().get(server.url("/metrics")).call().unwrap();
    let text = answer.body_mut().read_to_string().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1.0)
}

/// The keys of a document's stored chunks, read from the database file.
fn stored_keys(server: &Server, id: DocId) -> Vec<String> {
    let db = rusqlite::Connection::open_with_flags(
        server.data_dir().join("papi.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare("SELECT key FROM docs WHERE key LIKE ?1 ORDER BY key")
        .unwrap();
    stmt.query_map([format!("{id}/%")], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A document no one has open leaves the server's memory after
/// `--unload-after`, comes back whole when it is asked for again, and is
/// not written again by being loaded.
#[test]
fn an_idle_document_leaves_memory_and_comes_back_whole_without_a_rewrite() {
    let server = Server::start_with(&["--unload-after", "1"]);
    let id = plan_id(&server);
    let mut writer = connect(&server, COORDINATOR);
    assert!(writer.open(id));
    append(&mut writer, id, " trước khi rời bộ nhớ.");
    writer.until("the change stored", LIMIT, |c| c.server_has_all(id));
    let expected = text(&writer, id);
    // The figure is brought up to date every half second here.
    wait_for("the plan counted in memory", LIMIT, || {
        (metric(&server, "papi_documents_loaded") >= 1.0).then_some(())
    });
    drop(writer);
    wait_for("the plan to leave memory", LIMIT, || {
        (metric(&server, "papi_documents_loaded") == 0.0).then_some(())
    });
    let stored = stored_keys(&server, id);
    assert!(!stored.is_empty());

    assert_eq!(server_text(&server), expected, "loaded again, whole");
    assert_eq!(stored_keys(&server, id), stored, "loading wrote nothing");
}

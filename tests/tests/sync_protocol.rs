//! The `/sync` endpoint, end to end, with protocol clients over real
//! WebSockets: sync between peers, acknowledgements that survive SIGKILL, and
//! hostile input.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ReadDoc, ROOT};
use papi::ids::DocId;
use papi::wire::{DocMessage, Message};
use papi_e2e::{wait_for, Server, SyncClient};

const LIMIT: Duration = Duration::from_secs(20);

fn note_doc(text: &str) -> Automerge {
    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let t = tx.put_object(ROOT, "note", ObjType::Text)?;
        tx.splice_text(&t, 0, 0, text)?;
        Ok(())
    })
    .unwrap();
    doc
}

fn note(doc: &Automerge) -> String {
    let (_, t) = doc.get(ROOT, "note").unwrap().expect("a note");
    doc.text(&t).unwrap()
}

fn append(client: &mut SyncClient, id: DocId, text: &str) {
    client.change(id, |tx| {
        let (_, t) = tx.get(ROOT, "note").unwrap().unwrap();
        let end = tx.length(&t);
        tx.splice_text(&t, end, 0, text).unwrap();
    });
}

#[test]
fn two_peers_sync_a_document_through_the_server() {
    let server = Server::start();
    let mut alice = SyncClient::connect(&server.sync_url());
    let mut bob = SyncClient::connect(&server.sync_url());
    let id = alice.create(note_doc("Kết quả: "));
    alice.until("the server to store the new document", LIMIT, |c| {
        c.server_has_all(id)
    });

    assert!(bob.open(id), "bob can open alice's document");
    assert_eq!(note(bob.doc(id)), "Kết quả: ");
    append(&mut bob, id, "đã hoàn thành");
    alice.until("bob's edit", LIMIT, |c| {
        note(c.doc(id)) == "Kết quả: đã hoàn thành"
    });
}

#[test]
fn an_acknowledged_change_survives_sigkill() {
    let mut server = Server::start();
    let mut ids = Vec::new();
    for round in 0..5 {
        let mut client = SyncClient::connect(&server.sync_url());
        let id = client.create(note_doc("bắt đầu"));
        append(&mut client, id, &format!(" lần {round}"));
        client.until("the server's acknowledgement", LIMIT, |c| {
            c.server_has_all(id)
        });
        // Killed at once after the acknowledgement: no time to flush anything.
        server.kill();
        server.restart();
        ids.push((id, format!("bắt đầu lần {round}")));
    }
    let mut reader = SyncClient::connect(&server.sync_url());
    for (id, expected) in ids {
        assert!(
            reader.open(id),
            "document {id} was acknowledged, so it must be stored"
        );
        assert_eq!(note(reader.doc(id)), expected);
    }
}

#[test]
fn a_request_for_an_unknown_document_is_answered_unavailable() {
    let server = Server::start();
    let mut client = SyncClient::connect(&server.sync_url());
    assert!(!client.open(DocId::from_bytes([0x5a; 16])));
    // The connection is still good.
    let id = client.create(note_doc("vẫn hoạt động"));
    client.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));
}

/// Each hostile message closes its own connection with a reason, is logged,
/// and leaves a bystander's session working.
#[test]
fn hostile_messages_are_refused_and_logged_and_others_keep_working() {
    let server = Server::start_with(&["--max-message-bytes", "65536"]);
    let mut bystander = SyncClient::connect(&server.sync_url());
    let id = bystander.create(note_doc("x"));
    bystander.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));

    let random: Vec<u8> = (0..512u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut wrong_shape = Vec::new();
    // A valid CBOR array of numbers instead of a message map.
    wrong_shape.extend_from_slice(&[0x83, 0x01, 0x02, 0x03]);
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
    for (what, bytes, code, logged) in cases {
        let mut attacker = SyncClient::connect(&server.sync_url());
        attacker.send_raw(bytes);
        let closed = attacker.closed(LIMIT);
        assert_eq!(closed.code, Some(code), "{what}: {closed:?}");
        wait_for(&format!("the log to explain {what}"), LIMIT, || {
            server.log().contains(logged).then_some(())
        });

        append(&mut bystander, id, "y");
        bystander.until(&format!("service after {what}"), LIMIT, |c| {
            c.server_has_all(id)
        });
    }
    assert!(server.log().contains("refused a message"));
}

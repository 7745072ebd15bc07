//! Random and mutated input, from a seeded generator (`cargo fuzz` needs a
//! nightly compiler; this runs on stable): the wire decoder in process, and
//! the real server's message handling over real WebSockets. Neither may
//! panic or hang. Each prints how many inputs it ran.
//!
//! By default each runs for about 20 seconds; `PAPI_SOAK=1` runs each for
//! 10 minutes, and `PAPI_FUZZ_SECONDS=N` for N seconds.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use automerge::sync::SyncDoc;
use automerge::transaction::Transactable;
use automerge::Automerge;
use papi::ids::DocId;
use papi::wire::{DocMessage, Message, PeerMetadata};
use papi_e2e::{http, seed, Rng, Server, SyncClient};

fn budget() -> Duration {
    if let Some(s) = std::env::var("PAPI_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return Duration::from_secs(s);
    }
    if std::env::var_os("PAPI_SOAK").is_some_and(|v| v != "0") {
        Duration::from_secs(600)
    } else {
        Duration::from_secs(20)
    }
}

/// A document with some history, and sync messages about it.
fn sample_doc() -> Automerge {
    let mut doc = Automerge::new();
    for i in 0..5 {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            let t = tx.put_object(automerge::ROOT, format!("t{i}"), automerge::ObjType::Text)?;
            tx.splice_text(&t, 0, 0, "Báo cáo sáu tháng")?;
            tx.put(automerge::ROOT, "n", i as i64)?;
            Ok(())
        })
        .unwrap();
    }
    doc
}

/// Valid messages of every kind, to mutate.
fn corpus(doc_id: DocId, sender: &str, target: &str) -> Vec<Vec<u8>> {
    let doc = sample_doc();
    let mut state = automerge::sync::State::new();
    let first = doc.generate_sync_message(&mut state).unwrap().encode();
    let mut peer = Automerge::new();
    let mut peer_state = automerge::sync::State::new();
    peer.receive_sync_message(
        &mut peer_state,
        automerge::sync::Message::decode(&first).unwrap(),
    )
    .unwrap();
    let reply = peer
        .generate_sync_message(&mut peer_state)
        .map(|m| m.encode())
        .unwrap_or_default();
    let whole = doc.generate_sync_message(&mut state).map(|m| m.encode());
    let doc_message = |data: Vec<u8>| DocMessage {
        sender_id: sender.into(),
        target_id: target.into(),
        document_id: doc_id,
        data,
    };
    let mut out = vec![
        Message::Join {
            sender_id: sender.into(),
            supported_protocol_versions: vec!["1".into()],
            metadata: Some(PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
            }),
        }
        .encode(),
        Message::Request(doc_message(first.clone())).encode(),
        Message::Sync(doc_message(first)).encode(),
        Message::Sync(doc_message(reply)).encode(),
        Message::Keepalive.encode(),
        Message::Ephemeral {
            sender_id: sender.into(),
            target_id: target.into(),
            document_id: doc_id,
            count: 1,
            session_id: "fuzz-session".into(),
            data: vec![0xa1, 0x61, 0x78, 0x01],
        }
        .encode(),
        Message::DocUnavailable {
            sender_id: sender.into(),
            target_id: target.into(),
            document_id: doc_id,
        }
        .encode(),
        Message::Other {
            kind: "remote-heads-changed".into(),
        }
        .encode(),
        Message::Leave {
            sender_id: sender.into(),
        }
        .encode(),
    ];
    if let Some(whole) = whole {
        out.push(Message::Sync(doc_message(whole)).encode());
    }
    out
}

/// One mutation of a valid message: bit flips, overwritten, inserted or
/// removed bytes, truncation, a splice of two messages, or pure noise.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut m = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(4) {
        if m.is_empty() {
            let n = 1 + rng.below(64);
            m = rng.bytes(n);
            continue;
        }
        let at = rng.below(m.len());
        match rng.below(7) {
            0 => m[at] ^= 1 << rng.below(8),
            1 => m[at] = rng.next() as u8,
            2 => {
                let n = 1 + rng.below(8);
                let extra = rng.bytes(n);
                m.splice(at..at, extra);
            }
            3 => {
                let end = (at + 1 + rng.below(8)).min(m.len());
                m.drain(at..end);
            }
            4 => m.truncate(at),
            5 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len());
                m.truncate(at);
                m.extend_from_slice(&other[from..]);
            }
            _ => {
                // An interesting number where a length or a tag might be.
                let v = [0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x7f, 0x9f, 0xbf, 0xff];
                m[at] = v[rng.below(v.len())];
            }
        }
    }
    m
}

#[test]
fn the_wire_decoder_never_panics_or_hangs_on_mutated_input() {
    let mut rng = Rng::new(seed());
    let corpus = corpus(DocId::from_bytes([7; 16]), "user1.a", "server");
    let budget = budget();
    let start = Instant::now();
    let (mut runs, mut accepted) = (0u64, 0u64);
    let mut slowest = Duration::ZERO;
    while start.elapsed() < budget {
        let input = if rng.below(10) == 0 {
            let n = rng.below(256);
            rng.bytes(n)
        } else {
            mutate(&mut rng, &corpus)
        };
        let began = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| Message::decode_checked(&input)));
        slowest = slowest.max(began.elapsed());
        match outcome {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(_)) => {}
            Err(_) => panic!("the decoder panicked on {input:02x?}"),
        }
        runs += 1;
    }
    println!(
        "wire decoder: {runs} executions, {accepted} accepted, slowest {} µs",
        slowest.as_micros()
    );
    assert!(runs > 1000, "only {runs} executions");
    assert!(
        slowest < Duration::from_secs(1),
        "one input took {slowest:?}"
    );
}

/// Mutated messages over real connections to the real server: each
/// connection sends a few, valid or not; the server must stay up, never
/// panic, refuse what is malformed, and keep serving a bystander.
#[test]
fn the_server_survives_mutated_messages() {
    let mut rng = Rng::new(seed());
    let mut server = Server::start_with(&["--max-messages-per-second", "1000000"]);
    let coordinator = server.token("vanphong");
    let doc = server.report(&coordinator, "phong-ngan-sach", "2026-h1");
    let login = server.login("chuyenvien");
    let token = login["token"].as_str().unwrap().to_string();
    let prefix = login["peer_prefix"].as_str().unwrap().to_string();
    let mut bystander = SyncClient::connect_with_token(&server.sync_url(), &token, &prefix);
    assert!(bystander.open(doc));

    let budget = budget();
    let start = Instant::now();
    let (mut messages, mut connections, mut refused) = (0u64, 0u64, 0u64);
    let mut last_check = Instant::now();
    while start.elapsed() < budget {
        let mut attacker = SyncClient::connect_with_token(&server.sync_url(), &token, &prefix);
        attacker.set_read_timeout(Duration::from_millis(1));
        let corpus = corpus(doc, &attacker.peer_id, &attacker.server_id());
        connections += 1;
        // A connection sends until the server closes it, or for a while.
        for _ in 0..1 + rng.below(200) {
            let input = if rng.below(4) == 0 {
                corpus[rng.below(corpus.len())].clone()
            } else {
                mutate(&mut rng, &corpus)
            };
            attacker.send_raw(input);
            messages += 1;
            if !attacker.pump() {
                refused += 1;
                break;
            }
        }
        drop(attacker);
        if last_check.elapsed() > Duration::from_secs(5) {
            last_check = Instant::now();
            let mut r = http().get(server.url("/api/health")).call().unwrap();
            assert_eq!(
                r.status(),
                200,
                "{}",
                r.body_mut().read_to_string().unwrap()
            );
            assert!(bystander.pump(), "the bystander's connection is up");
        }
    }
    // The bystander's edit is still acknowledged.
    bystander.change(doc, |tx| {
        tx.put(automerge::ROOT, "after", "fuzz").unwrap();
    });
    let acknowledged = catch_unwind(AssertUnwindSafe(|| {
        bystander.until("the acknowledgement", Duration::from_secs(60), |c| {
            c.server_has_all(doc)
        })
    }));
    if acknowledged.is_err() {
        // What the server did last says where the document's work stopped.
        let log = server.log();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        panic!(
            "the bystander's edit was not acknowledged within 60 s, after \
             {messages} messages over {connections} connections; the server's log ends:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(server.is_running(), "the server is up");
    let log = server.log();
    assert!(!log.contains("panicked"), "a panic in the server:\n{log}");
    println!(
        "server: {messages} messages over {connections} connections, {refused} connections refused or closed"
    );
    assert!(refused > 0, "malformed input was refused");
}

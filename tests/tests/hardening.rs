//! The server against hostile and unlucky input, through the real binary:
//! made-up document ids in every kind of message, budgets per connection and
//! per user, sign-in limits that spare a shared office address, logs that
//! cannot be forged or flooded, a bounded stop, and the faults of storage
//! and of document work.

use std::process::Command;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use papi::ids::DocId;
use papi::wire::{DocMessage, Message};
use papi_e2e::{seed, server_binary, wait_for, Rng, Server, SyncClient};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

/// The plan's id.
fn plan_id(server: &Server) -> DocId {
    let (_, body) = server.get("/api/plan", None);
    DocId::parse(body["url"].as_str().unwrap()).unwrap()
}

/// How long a new connection's handshake and a fetch of the plan take for a
/// signed-in bystander.
fn bystander_times(
    server: &Server,
    token: &str,
    prefix: &str,
    plan: DocId,
) -> (Duration, Duration) {
    let started = Instant::now();
    let mut client = SyncClient::connect_with_token(&server.sync_url(), token, prefix);
    let handshake = started.elapsed();
    let started = Instant::now();
    assert!(client.open(plan), "the bystander gets the plan");
    (handshake, started.elapsed())
}

fn rss_mb(server: &Server) -> f64 {
    server.rss_kb() as f64 / 1024.0
}

/// The server's resident memory once it has let go of every connection
/// (`/metrics` counts none open).
fn rss_when_all_closed(server: &Server) -> f64 {
    wait_for("every connection closed on the server", LIMIT, || {
        let mut answer = papi_e2e::http().get(server.url("/metrics")).call().ok()?;
        let text = answer.body_mut().read_to_string().ok()?;
        let open = text
            .lines()
            .find_map(|l| l.strip_prefix("papi_sync_connections "))
            .and_then(|v| v.trim().parse::<f64>().ok())?;
        (open == 0.0).then_some(())
    });
    rss_mb(server)
}

/// 10,000 messages of each kind that names a document, about made-up ids,
/// from the viewer account: nothing grows, a bystander is served as fast
/// as before, and the server then stops within its limit.
#[test]
fn made_up_document_ids_in_every_kind_of_message_create_nothing() {
    let mut server = Server::start_with(&["--max-messages-per-second", "1000000"]);
    let plan = plan_id(&server);
    let login = server.login("giamdoc");
    let (token, prefix) = (
        login["token"].as_str().unwrap().to_string(),
        login["peer_prefix"].as_str().unwrap().to_string(),
    );
    // Warm up, then the figures before.
    bystander_times(&server, &token, &prefix, plan);
    let before = bystander_times(&server, &token, &prefix, plan);
    let rss_before = rss_mb(&server);

    let mut rng = Rng::new(seed());
    let mut attacker = SyncClient::connect_as(&server, "xem");
    attacker.set_read_timeout(Duration::from_millis(1));
    let (me, them) = (attacker.peer_id.clone(), attacker.server_id());
    let sync_data = {
        let mut doc = automerge::Automerge::new();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "x", 1))
            .unwrap();
        use automerge::sync::SyncDoc;
        doc.generate_sync_message(&mut automerge::sync::State::new())
            .unwrap()
            .encode()
    };
    let per_kind = 10_000;
    let started = Instant::now();
    for i in 0..per_kind {
        let mut doc = || {
            let raw: [u8; 16] = rng.bytes(16).try_into().unwrap();
            DocId::from_bytes(raw)
        };
        let doc_message = |document_id| DocMessage {
            sender_id: me.clone(),
            target_id: them.clone(),
            document_id,
            data: sync_data.clone(),
        };
        let messages = [
            Message::Request(doc_message(doc())),
            Message::Sync(doc_message(doc())),
            Message::Ephemeral {
                sender_id: me.clone(),
                target_id: them.clone(),
                document_id: doc(),
                count: i + 1,
                session_id: "one-session".into(),
                data: vec![0xa0],
            },
            Message::DocUnavailable {
                sender_id: me.clone(),
                target_id: them.clone(),
                document_id: doc(),
            },
            Message::Other {
                kind: "remote-heads-changed".into(),
            },
        ];
        for m in messages {
            attacker.send(&m);
        }
        // Read what comes back now and then, as a client does.
        if i % 100 == 0 {
            attacker.pump();
        }
    }
    let sent = started.elapsed();
    assert!(attacker.pump(), "the attacker's connection is still up");
    // Requests and syncs about made-up ids are answered as unknown (as many
    // as the connection's answer queue holds: a client that does not read
    // them loses the rest, never the server's memory).
    wait_for("answers to the requests", LIMIT, || {
        attacker.pump();
        (attacker.unavailable_count() > 0).then_some(())
    });
    let rss_after = rss_mb(&server);
    let after = bystander_times(&server, &token, &prefix, plan);
    println!(
        "{} made-up-id messages ({per_kind} of each of 5 kinds) sent in {} ms; server RSS {rss_before:.1} MB before, {rss_after:.1} MB after; \
         bystander handshake {} ms before, {} ms after; plan fetch {} ms before, {} ms after",
        5 * per_kind,
        sent.as_millis(),
        before.0.as_millis(),
        after.0.as_millis(),
        before.1.as_millis(),
        after.1.as_millis()
    );
    assert!(
        rss_after - rss_before < 10.0,
        "RSS grew from {rss_before:.1} MB to {rss_after:.1} MB"
    );
    // Not a measure of speed: a guard against the 300-fold slowdown that
    // state made per made-up id once caused.
    let slack = Duration::from_millis(250);
    assert!(
        after.0 <= before.0 * 2 + slack,
        "handshake {before:?} → {after:?}"
    );
    assert!(
        after.1 <= before.1 * 2 + slack,
        "plan fetch {before:?} → {after:?}"
    );
    server.wait_for_log("refused: no such document for this user");

    // Stopping right after the flood is bounded.
    let started = Instant::now();
    assert!(server.stop(), "a clean stop");
    println!("stopped {} ms after SIGTERM", started.elapsed().as_millis());
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Ephemeral messages about a document the sender may read still pass:
/// the guard drops only what names unknown or forbidden documents.
#[test]
fn ephemeral_messages_about_a_readable_document_still_reach_the_others() {
    let server = Server::start();
    let plan = plan_id(&server);
    let mut a = SyncClient::connect_as(&server, "vanphong");
    let mut b = SyncClient::connect_as(&server, "xem");
    assert!(a.open(plan));
    assert!(b.open(plan));
    let hello = Message::Ephemeral {
        sender_id: a.peer_id.clone(),
        target_id: a.server_id(),
        document_id: plan,
        count: 1,
        session_id: "session-a".into(),
        data: vec![0xa1, 0x61, 0x78, 0x01],
    };
    a.send(&hello);
    b.until("the ephemeral message", LIMIT, |c| {
        c.ephemeral
            .iter()
            .any(|(d, _, data)| *d == plan && data == &[0xa1, 0x61, 0x78, 0x01])
    });
}

#[test]
fn a_connection_may_use_a_limited_number_of_documents() {
    let server = Server::start_with(&["--max-documents-per-connection", "3"]);
    let office = server.token("vanphong");
    let reports: Vec<DocId> = ["2025-h1", "2025-year", "2026-h1"]
        .iter()
        .map(|p| server.report(&office, "phong-ngan-sach", p))
        .collect();
    let mut director = SyncClient::connect_as(&server, "giamdoc");
    assert!(director.open(plan_id(&server)));
    assert!(director.open(reports[0]));
    assert!(director.open(reports[1]));
    director.request(reports[2]);
    let closed = director.closed(LIMIT);
    assert_eq!(closed.code, Some(1008), "{closed:?}");
    assert!(closed.reason.contains("at most 3 documents"), "{closed:?}");
}

#[test]
fn one_user_may_hold_a_limited_number_of_connections() {
    let server = Server::start_with(&["--max-connections-per-user", "3"]);
    let login = server.login("chuyenvien");
    let (token, prefix) = (
        login["token"].as_str().unwrap(),
        login["peer_prefix"].as_str().unwrap(),
    );
    let url = server.sync_url();
    let mut held: Vec<SyncClient> = (0..3)
        .map(|_| SyncClient::connect_with_token(&url, token, prefix))
        .collect();
    let refused = SyncClient::try_connect_with_token(&url, token, prefix)
        .err()
        .expect("a fourth connection is refused");
    assert!(refused.contains("429"), "{refused}");
    // Another user is not affected.
    SyncClient::connect_as(&server, "truongphong");
    // A closed connection gives its place back.
    held.pop();
    wait_for("a place to free up", LIMIT, || {
        SyncClient::try_connect_with_token(&url, token, prefix).ok()
    });
    server.wait_for_log("too many connections for one user");
}

/// Connections that come and go, each opening documents, leave nothing
/// behind: the server's memory does not grow from one round to the next.
#[test]
fn memory_held_for_a_connection_is_released_when_it_closes() {
    let server = Server::start();
    let plan = plan_id(&server);
    let office = server.token("vanphong");
    let report = server.report(&office, "phong-ngan-sach", "2026-h1");
    let login = server.login("giamdoc");
    let (token, prefix) = (
        login["token"].as_str().unwrap(),
        login["peer_prefix"].as_str().unwrap(),
    );
    let round = || {
        let clients: Vec<SyncClient> = (0..15)
            .map(|_| {
                let mut c = SyncClient::connect_with_token(&server.sync_url(), token, prefix);
                assert!(c.open(plan));
                assert!(c.open(report));
                c
            })
            .collect();
        drop(clients);
    };
    // 300 connections later it must still be level: a connection's state
    // left behind (its sync states, its queue) would add up to more than
    // this margin.
    for _ in 0..4 {
        round();
    }
    let settled = rss_when_all_closed(&server);
    for _ in 0..20 {
        round();
    }
    let later = rss_when_all_closed(&server);
    println!("RSS after 4 rounds of 15 connections: {settled:.1} MB; after 20 more: {later:.1} MB");
    assert!(later - settled < 5.0, "{settled:.1} MB → {later:.1} MB");
}

fn sign_in(server: &Server, username: &str, password: &str, forwarded: Option<&str>) -> u16 {
    let mut request = papi_e2e::http().post(server.url("/api/login"));
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request
        .send_json(json!({ "username": username, "password": password }))
        .unwrap()
        .status()
        .as_u16()
}

/// One office behind one address: many people mistyping, or one hostile
/// colleague, do not lock the Director out.
#[test]
fn a_shared_office_address_does_not_lock_out_the_innocent() {
    let server = Server::start();
    // Forty people of one office mistype their usernames...
    for i in 0..40 {
        assert_eq!(sign_in(&server, &format!("nhan.vien{i}"), "sai", None), 401);
    }
    // ...and someone guesses at the Office's account: that pair is refused.
    for _ in 0..5 {
        assert_eq!(sign_in(&server, "vanphong", "sai", None), 401);
    }
    assert_eq!(sign_in(&server, "vanphong", "sai", None), 429);
    // The Director, from the same address, signs in at once.
    assert_eq!(sign_in(&server, "giamdoc", "giamdoc-demo", None), 200);
    // The same account from the same address, guessed at: refused, even
    // with the right password, and a made-up forwarding header changes
    // nothing for a client that is not a trusted proxy.
    for i in 0..5 {
        let spoofed = format!("198.51.100.{i}");
        assert_eq!(sign_in(&server, "xem", "sai", Some(&spoofed)), 401);
    }
    assert_eq!(
        sign_in(&server, "xem", "xem-demo", Some("198.51.100.200")),
        429
    );
}

/// Behind a trusted reverse proxy, each client is counted at its own
/// address.
#[test]
fn behind_a_trusted_proxy_clients_count_at_their_own_addresses() {
    let server = Server::start_with(&["--trusted-proxy", "127.0.0.1"]);
    for _ in 0..5 {
        assert_eq!(sign_in(&server, "xem", "sai", Some("203.0.113.7")), 401);
    }
    assert_eq!(
        sign_in(&server, "xem", "xem-demo", Some("203.0.113.7")),
        429
    );
    assert_eq!(
        sign_in(&server, "xem", "xem-demo", Some("203.0.113.8")),
        200
    );
}

#[test]
fn a_client_can_neither_forge_nor_flood_the_log() {
    let server = Server::start();
    let forged = "x\nINFO papi_server: signed in username=quantri";
    assert_eq!(sign_in(&server, forged, "sai", None), 401);
    server.wait_for_log("sign-in failed");
    let log = server.log();
    assert!(
        !log.lines()
            .any(|l| l.starts_with("INFO papi_server: signed in")),
        "a forged line:\n{log}"
    );
    assert!(log.contains("x\\nINFO"), "escaped:\n{log}");

    let before = std::fs::metadata(server.data_dir().join("server.log"))
        .unwrap()
        .len();
    let huge = "a".repeat(1 << 20);
    for _ in 0..20 {
        assert_eq!(sign_in(&server, &huge, "sai", None), 400);
    }
    for _ in 0..200 {
        sign_in(&server, "xem", "sai", None);
    }
    let after = std::fs::metadata(server.data_dir().join("server.log"))
        .unwrap()
        .len();
    println!(
        "log grew {} bytes for 20 one-megabyte usernames and 200 refused sign-ins",
        after - before
    );
    assert!(
        after - before < 64 * 1024,
        "the log grew {} bytes",
        after - before
    );
}

/// The server's output when started on `data`, which must fail.
fn failed_start(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "it must not start: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_read_only_database_file_is_named_at_start() {
    let server = {
        let mut s = Server::start();
        assert!(s.stop());
        s
    };
    let data = server.data_dir();
    let file = data.join("papi.sqlite3");
    // As an unprivileged user who owns the folder but may not write the file.
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(data)
        .status()
        .unwrap();
    assert!(chown.success());
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    let stderr = failed_start(
        Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(server_binary())
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data),
    );
    assert!(
        stderr.contains(&format!(
            "the database file {} is read-only",
            file.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_damaged_database_is_refused_at_start_and_left_as_it_is() {
    let mut server = Server::start();
    let office = server.token("vanphong");
    server.report(&office, "phong-ngan-sach", "2026-h1");
    assert!(server.stop());
    let file = server.data_dir().join("papi.sqlite3");
    let mut bytes = std::fs::read(&file).unwrap();
    // Page 3 (of 4096 bytes) overwritten with noise.
    let mut rng = Rng::new(seed());
    let noise = rng.bytes(4096);
    bytes[2 * 4096..3 * 4096].copy_from_slice(&noise);
    std::fs::write(&file, &bytes).unwrap();
    let stderr = failed_start(
        Command::new(server_binary())
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(server.data_dir()),
    );
    assert!(stderr.contains("is damaged"), "{stderr}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bytes,
        "the file is untouched"
    );
}

#[test]
fn a_data_directory_removed_while_running_acknowledges_nothing_more() {
    let mut server = Server::start();
    let plan = plan_id(&server);
    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(plan));
    office.change(plan, |tx| {
        tx.put(automerge::ROOT, "before", "stored").unwrap();
    });
    office.until("the acknowledgement", LIMIT, |c| c.server_has_all(plan));

    std::fs::remove_dir_all(server.data_dir()).unwrap();
    office.change(plan, |tx| {
        tx.put(automerge::ROOT, "after", "nowhere to store it")
            .unwrap();
    });
    let (status, health) = wait_for("the health check to say so", LIMIT, || {
        let answer = server.get("/api/health", None);
        (answer.0 == 503).then_some(answer)
    });
    assert_eq!(status, 503);
    assert!(
        health["error"].as_str().unwrap().contains("is gone"),
        "{health}"
    );
    // Given the time to store it, the server still says nothing: it would be a lie.
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(3) {
        office.pump();
    }
    assert!(
        !office.server_has_all(plan),
        "an edit it could not store was acknowledged"
    );
    assert!(server.is_running());
}

#[test]
fn a_panic_in_document_work_is_contained_and_reported() {
    let server = Server::start_with_env(&[], &[("PAPI_FAULT", "panic-assembling")]);
    let office = server.token("vanphong");
    let (status, made) = server.post(
        "/api/consolidated",
        Some(&office),
        json!({ "period": "2026-h1" }),
    );
    assert_eq!(status, 200, "{made}");
    let id = DocId::parse(made["url"].as_str().unwrap()).unwrap();
    let (status, body) = server.post(
        "/api/consolidated/assemble",
        Some(&office),
        json!({ "period": "2026-h1" }),
    );
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "internal error");

    let (status, health) = server.get("/api/health", None);
    assert_eq!(status, 200, "the server still serves: {health}");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["panics"], 1);
    assert!(
        health["last_panic"]
            .as_str()
            .unwrap()
            .contains("assembling"),
        "{health}"
    );
    // The document is not left locked: it still syncs and takes edits.
    let mut client = SyncClient::connect_as(&server, "vanphong");
    assert!(client.open(id));
    client.change(id, |tx| {
        tx.put(automerge::ROOT, "after", "the panic").unwrap();
    });
    client.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));
    server.wait_for_log("a panic was contained");
}

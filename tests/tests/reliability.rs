//! Reliability under trouble, end to end with the real server binary: many
//! clients editing while the server is killed with SIGKILL, while their
//! connections drop, while the disk refuses writes, and while one client
//! floods the server. Each test ends by counting every edit, per client.
//!
//! `PAPI_SOAK=1` runs the storms longer (more kills, more time).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ReadDoc, ROOT};
use papi::ids::DocId;
use papi::wire::{DocMessage, Message};
use papi_e2e::{http, seed, server_command, wait_for, Rng, Server, SyncClient};

const LIMIT: Duration = Duration::from_secs(120);
/// A staff member writes the draft reports of their own unit.
const STAFF: &str = "chuyenvien";
const UNIT: &str = "phong-ngan-sach";

fn soak() -> bool {
    std::env::var_os("PAPI_SOAK").is_some_and(|v| v != "0")
}

/// The key of a client's `n`th edit: one map key per edit, so that
/// concurrent edits never overwrite each other and each can be counted.
fn edit_key(client: usize, n: usize) -> String {
    format!("edit-{client:03}-{n:06}")
}

fn edits_by(doc: &automerge::Automerge, client: usize) -> usize {
    let prefix = format!("edit-{client:03}-");
    doc.keys(ROOT).filter(|k| k.starts_with(&prefix)).count()
}

/// One simulated user: a connection, the report they edit, and how many
/// edits they have made.
struct Editor {
    index: usize,
    client: SyncClient,
    doc: DocId,
    made: usize,
    /// How many of its edits the server has acknowledged, as last seen.
    acked: Arc<AtomicUsize>,
}

impl Editor {
    fn edit(&mut self) {
        let key = edit_key(self.index, self.made);
        let n = self.made as i64;
        self.client.change(self.doc, |tx| {
            tx.put(ROOT, key, n).unwrap();
        });
        self.made += 1;
    }

    /// Reads for `span`, reconnecting whenever the connection is down.
    fn pump_for(&mut self, span: Duration) {
        let end = Instant::now() + span;
        while Instant::now() < end {
            if !self.client.pump() && !self.client.reconnect() {
                // The server is down: try again shortly.
                thread::sleep(Duration::from_millis(100));
            }
            if self.client.server_has_all(self.doc) {
                self.acked.store(self.made, Ordering::SeqCst);
            }
        }
    }

    /// Reconnects and reads until the server holds every edit of ours.
    fn settle(&mut self) {
        let deadline = Instant::now() + LIMIT;
        while !(self.client.is_connected() && self.client.server_has_all(self.doc)) {
            assert!(
                Instant::now() < deadline,
                "client {} never got all its edits acknowledged",
                self.index
            );
            self.pump_for(Duration::from_millis(100));
        }
    }
}

/// `clients` editors over `docs` reports of one unit, all signed in with
/// one session (each connection has its own peer id).
fn editors(server: &Server, clients: usize, docs: usize) -> Vec<Editor> {
    let coordinator = server.token("vanphong");
    let ids: Vec<DocId> = Server::periods()[..docs]
        .iter()
        .map(|p| server.report(&coordinator, UNIT, p))
        .collect();
    let login = server.login(STAFF);
    let token = login["token"].as_str().unwrap().to_string();
    let prefix = login["peer_prefix"].as_str().unwrap().to_string();
    (0..clients)
        .map(|index| {
            let mut client = SyncClient::connect_with_token(&server.sync_url(), &token, &prefix);
            let doc = ids[index % docs];
            assert!(client.open(doc), "client {index} opens its report");
            Editor {
                index,
                client,
                doc,
                made: 0,
                acked: Arc::default(),
            }
        })
        .collect()
}

/// Each editor in its own thread edits every 300–700 ms until `stop`,
/// then settles. `flaky` editors also drop their own connection now and
/// then and stay offline for a while (editing on).
fn run_editors(
    editors: Vec<Editor>,
    stop: Arc<AtomicBool>,
    seed: u64,
    flaky: bool,
) -> Vec<thread::JoinHandle<Editor>> {
    editors
        .into_iter()
        .map(|mut e| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut rng = Rng::new(seed ^ (e.index as u64 + 1).wrapping_mul(0x9e37_79b9));
                let mut offline_until: Option<Instant> = None;
                while !stop.load(Ordering::Relaxed) {
                    e.edit();
                    if flaky && offline_until.is_none() && rng.below(12) == 0 {
                        e.client.disconnect();
                        offline_until = Some(Instant::now() + rng.millis(100, 2000));
                    }
                    match offline_until {
                        Some(at) if Instant::now() < at => thread::sleep(rng.millis(300, 700)),
                        _ => {
                            offline_until = None;
                            e.pump_for(rng.millis(300, 700));
                        }
                    }
                }
                e.settle();
                e
            })
        })
        .collect()
}

/// Every editor ends with the server's document, and the server's document
/// holds every edit of every editor (checked again after a SIGKILL).
fn check_everything_arrived(server: &mut Server, mut editors: Vec<Editor>) {
    let mut docs: Vec<DocId> = editors.iter().map(|e| e.doc).collect();
    docs.sort_by_key(|d| d.to_string());
    docs.dedup();
    let server_heads =
        |server: &Server| -> HashMap<DocId, (Vec<ChangeHash>, automerge::Automerge)> {
            let mut reader = SyncClient::connect_as(server, STAFF);
            docs.iter()
                .map(|&id| {
                    assert!(reader.open(id));
                    // Read until the server has nothing more to send.
                    reader.until("the whole document", LIMIT, |c| c.server_has_all(id));
                    (id, (reader.heads(id), reader.doc(id).clone()))
                })
                .collect()
        };
    let held = server_heads(server);
    let total: usize = editors.iter().map(|e| e.made).sum();
    for e in &mut editors {
        let (heads, doc) = &held[&e.doc];
        assert_eq!(
            edits_by(doc, e.index),
            e.made,
            "the server holds every edit of client {}",
            e.index
        );
        let deadline = Instant::now() + LIMIT;
        while &e.client.heads(e.doc) != heads {
            assert!(
                Instant::now() < deadline,
                "client {} never caught up with the server",
                e.index
            );
            e.pump_for(Duration::from_millis(50));
        }
        let mine = e.client.doc(e.doc);
        assert_eq!(edits_by(mine, e.index), e.made);
    }
    // Every editor of a document holds the very same document.
    for e in &editors {
        let (_, doc) = &held[&e.doc];
        let mine = e.client.doc(e.doc);
        for other in editors.iter().filter(|o| o.doc == e.doc) {
            assert_eq!(edits_by(mine, other.index), edits_by(doc, other.index));
        }
    }
    // And what the server holds is on disk.
    server.kill();
    server.restart();
    let after = server_heads(server);
    for id in &docs {
        assert_eq!(
            after[id].0, held[id].0,
            "the server kept {id} through SIGKILL"
        );
    }
    println!(
        "{} clients, {} documents, {total} edits, all present everywhere",
        editors.len(),
        docs.len()
    );
}

#[test]
fn crash_storm_loses_no_edit() {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let mut server = Server::start();
    let editors = editors(&server, 50, 10);
    let stop = Arc::new(AtomicBool::new(false));
    let threads = run_editors(editors, stop.clone(), seed, false);
    let kills = if soak() { 30 } else { 5 };
    for _ in 0..kills {
        thread::sleep(rng.millis(1000, 3000));
        server.kill();
        thread::sleep(rng.millis(0, 1000));
        server.restart();
    }
    thread::sleep(rng.millis(1000, 2000));
    stop.store(true, Ordering::Relaxed);
    let editors: Vec<Editor> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(editors.iter().all(|e| e.made > 0));
    check_everything_arrived(&mut server, editors);
}

/// A backup taken while 30 people edit holds every edit acknowledged
/// before it started, and restores into a server that serves them.
#[test]
fn a_backup_during_an_edit_storm_restores_every_edit_acknowledged_before_it() {
    let seed = seed();
    let server = Server::start();
    let editors = editors(&server, 30, 6);
    let acked: Vec<(usize, DocId, Arc<AtomicUsize>)> = editors
        .iter()
        .map(|e| (e.index, e.doc, e.acked.clone()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = run_editors(editors, stop.clone(), seed, false);
    wait_for("every editor to have edits acknowledged", LIMIT, || {
        acked
            .iter()
            .all(|(_, _, n)| n.load(Ordering::SeqCst) >= 3)
            .then_some(())
    });
    let before: Vec<usize> = acked
        .iter()
        .map(|(_, _, n)| n.load(Ordering::SeqCst))
        .collect();
    let copy = tempfile::tempdir().unwrap();
    let file = copy.path().join("papi-backup.sqlite3");
    let made = server_command(server.data_dir(), &["backup", file.to_str().unwrap()], None);
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(
        said.contains("Backup written to") && said.contains("checked"),
        "{said}"
    );
    // The storm goes on after the backup (every editor has more edits
    // acknowledged than when it began), then ends.
    wait_for("edits acknowledged after the backup", LIMIT, || {
        acked
            .iter()
            .zip(&before)
            .all(|((_, _, n), b)| n.load(Ordering::SeqCst) > *b)
            .then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let editors: Vec<Editor> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let total: usize = editors.iter().map(|e| e.made).sum();
    assert!(
        total > before.iter().sum::<usize>(),
        "edits went on during the backup"
    );

    // Restored into another data directory (its server stopped), the
    // backup serves every edit acknowledged before it was started.
    let mut restored = Server::start();
    restored.kill();
    let put = server_command(
        restored.data_dir(),
        &["restore", file.to_str().unwrap()],
        None,
    );
    let said = String::from_utf8_lossy(&put.stdout);
    assert!(
        put.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&put.stderr)
    );
    assert!(
        said.contains("kept as"),
        "the replaced database is kept: {said}"
    );
    restored.restart();
    let mut reader = SyncClient::connect_as(&restored, STAFF);
    for ((index, doc, _), acked) in acked.iter().zip(&before) {
        if !reader.arrived(*doc) {
            assert!(reader.open(*doc));
            reader.until("the whole document", LIMIT, |c| c.server_has_all(*doc));
        }
        let kept = edits_by(reader.doc(*doc), *index);
        assert!(
            kept >= *acked,
            "client {index}: {acked} edits acknowledged before the backup, {kept} in it"
        );
    }
    println!(
        "backup during a storm: {} edits acknowledged before it, all in it; {total} made in all",
        before.iter().sum::<usize>()
    );
}

#[test]
fn flaky_network_loses_no_edit() {
    let seed = seed();
    let mut server = Server::start();
    let editors = editors(&server, 50, 10);
    let stop = Arc::new(AtomicBool::new(false));
    let threads = run_editors(editors, stop.clone(), seed, true);
    thread::sleep(if soak() {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(15)
    });
    stop.store(true, Ordering::Relaxed);
    let editors: Vec<Editor> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(editors.iter().all(|e| e.made > 0));
    check_everything_arrived(&mut server, editors);
}

fn health(server: &Server) -> (u16, serde_json::Value) {
    let mut r = http().get(server.url("/api/health")).call().unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap())
}

/// A full disk: with the server's file-size limit at 0, every write of the
/// database fails. The server logs it, says so on `/api/health`, does not
/// acknowledge the edits it could not store, and stores them all once the
/// disk takes writes again.
#[test]
fn a_full_disk_is_reported_nothing_unstored_is_acknowledged_and_all_is_kept() {
    let mut server = Server::start();
    let mut editors = editors(&server, 2, 1);
    let doc = editors[0].doc;
    for e in &mut editors {
        e.edit();
        e.settle();
    }
    let (status, body) = health(&server);
    assert_eq!((status, body["storage"].as_str()), (200, Some("ok")));

    server.limit_file_size(Some(0));
    for _ in 0..5 {
        editors[0].edit();
    }
    wait_for("the storage failure in the log", LIMIT, || {
        server
            .log()
            .contains("storage failed; retrying")
            .then_some(())
    });
    let (status, body) = wait_for("/api/health to report it", LIMIT, || {
        let (status, body) = health(&server);
        (status == 503).then_some((status, body))
    });
    assert_eq!(body["storage"], "failing", "{body}");
    assert!(!body["error"].as_str().unwrap_or("").is_empty(), "{body}");
    assert_eq!(status, 503);
    // While the writes fail, the edits are not acknowledged, nor passed on
    // as stored to the other editor.
    editors[0].pump_for(Duration::from_secs(2));
    assert!(
        !editors[0].client.server_has_all(doc),
        "an edit that is not stored was acknowledged"
    );
    assert_eq!(health(&server).0, 503, "still failing");

    server.limit_file_size(None);
    for e in &mut editors {
        e.settle();
    }
    wait_for("the recovery in the log", LIMIT, || {
        server.log().contains("storage recovered").then_some(())
    });
    wait_for("/api/health to be ok again", LIMIT, || {
        (health(&server).0 == 200).then_some(())
    });
    check_everything_arrived(&mut server, editors);
}

/// One connection floods the server with valid messages; the server reads
/// it more slowly (and logs that), and two other editors keep syncing.
#[test]
fn a_flooding_connection_does_not_starve_the_others() {
    let server = Server::start_with(&["--max-messages-per-second", "200"]);
    let mut editors = editors(&server, 2, 1);
    let doc = editors[0].doc;

    // The flooder never reads, and may stay blocked in a send once the
    // server reads it slowly: it is not joined, and ends with the server.
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let mut flood = SyncClient::connect_as(&server, STAFF);
        let sent = sent.clone();
        thread::spawn(move || {
            let mut rng = Rng::new(7);
            let empty = automerge::sync::SyncDoc::generate_sync_message(
                &automerge::Automerge::new(),
                &mut automerge::sync::State::new(),
            )
            .expect("a first message")
            .encode();
            while flood.is_connected() {
                // Alternately a request for a document that does not exist
                // and a fresh request for the report itself, which the sync
                // engine answers with the whole report (never read here).
                let sent_now = sent.load(Ordering::Relaxed);
                let id = if sent_now % 2 == 0 {
                    DocId::from_bytes(rng.next().to_le_bytes().repeat(2).try_into().unwrap())
                } else {
                    doc
                };
                flood.send(&Message::Request(DocMessage {
                    sender_id: flood.peer_id.clone(),
                    target_id: flood.server_id(),
                    document_id: id,
                    data: empty.clone(),
                }));
                sent.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    wait_for("the rate limit to bite", LIMIT, || {
        server.log().contains("rate limit").then_some(())
    });
    // Meanwhile, every edit of one editor reaches the other, one by one.
    for round in 0..20 {
        editors[0].edit();
        let (writer, reader) = editors.split_at_mut(1);
        let reader = &mut reader[0];
        let deadline = Instant::now() + Duration::from_secs(30);
        while edits_by(reader.client.doc(doc), 0) < writer[0].made {
            assert!(
                Instant::now() < deadline,
                "edit {round} did not arrive within 30 s during the flood"
            );
            writer[0].client.pump();
            reader.client.pump();
        }
    }
    let sent = sent.load(Ordering::Relaxed);
    println!("the flooding connection sent {sent} messages");
    assert!(sent > 400, "the flood was a flood ({sent} messages)");
}

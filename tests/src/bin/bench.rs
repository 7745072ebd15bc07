//! The benchmark: our server against the reference automerge-repo sync
//! server (Node, `tests/bench/reference-server.mjs`), on the same workloads in
//! the same run, with automerge-repo protocol clients in Rust over real
//! WebSockets on loopback. Prints one table with the ratios.
//!
//! Run it with `scripts/bench`, which installs the reference server from npm
//! and builds our server with the `server` profile. Options:
//! `--seconds N` for each latency run (default 15).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ObjType, ReadDoc, ROOT};
use papi::ids::DocId;
use papi_e2e::{http, workspace_root, Server, SyncClient};

const LIMIT: Duration = Duration::from_secs(300);
/// Units whose staff may write their reports (demo data, plus one account
/// the benchmark adds).
const UNIT_A: (&str, &str) = ("phong-ngan-sach", "chuyenvien");
const UNIT_B: (&str, &str) = ("phong-tai-chinh-dau-tu", "bench.staff");

fn main() {
    let option = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let seconds = option("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    // `--only latency,merge,cold,capacity` runs some workloads.
    let only = option("--only").unwrap_or_else(|| "latency,merge,cold,capacity".into());
    let runs = |w: &str| only.split(',').any(|o| o == w);
    let mut table = Table::default();
    let ours = Ours::start();
    let reference = Reference::start();
    let targets: [&dyn Target; 2] = [&ours, &reference];

    println!("setting up documents on both servers");
    let docs = Docs::make(&ours, &reference);

    for clients in [2usize, 50, 200].into_iter().filter(|_| runs("latency")) {
        for (column, target) in targets.iter().enumerate() {
            println!("live edit latency: {clients} clients on {}", target.name());
            let (p50, p99, max, n) = latency(*target, &docs.typing, clients, seconds);
            let label = format!("latency, {clients} clients (ms)");
            table.put(&format!("{label} p50"), column, p50);
            table.put(&format!("{label} p99"), column, p99);
            table.put(&format!("{label} max"), column, max);
            table.note(&format!("{label} p50"), column, format!("{n} deliveries"));
            table.put(
                &format!("open a report right after {clients} clients leave (ms)"),
                column,
                settle(*target, docs.typing[0]),
            );
        }
    }
    for (column, target) in targets.iter().enumerate().filter(|_| runs("merge")) {
        println!("reconnect merge on {}", target.name());
        let m = merge(*target, docs.merge);
        table.put("reconnect merge: time to same heads (ms)", column, m.millis);
        table.put(
            "reconnect merge: bytes up, both clients (KB)",
            column,
            m.up / 1024.0,
        );
        table.put(
            "reconnect merge: bytes down, both clients (KB)",
            column,
            m.down / 1024.0,
        );
        table.put(
            "reconnect merge: bytes sent ÷ size of the changes",
            column,
            (m.up + m.down) / m.changes,
        );
        table.note(
            "reconnect merge: bytes sent ÷ size of the changes",
            column,
            format!("changes {:.0} KB", m.changes / 1024.0),
        );
    }
    for (column, target) in targets.iter().enumerate().filter(|_| runs("cold")) {
        println!("cold open on {}", target.name());
        let (millis, size) = cold_open(*target, docs.cold);
        table.put(
            "cold open of a 200 KB, 20,000-change report (ms)",
            column,
            millis,
        );
        table.note(
            "cold open of a 200 KB, 20,000-change report (ms)",
            column,
            format!("{} KB saved", size / 1024),
        );
    }
    if runs("capacity") {
        for (column, target) in targets.iter().enumerate() {
            table.put(
                "resident memory after the workloads above (MB)",
                column,
                target.rss_mb(),
            );
        }
        println!("setting up 1,000 more documents on both servers");
        let many = many_documents(&ours, &reference);
        for (column, target) in targets.iter().enumerate() {
            println!("1,000 documents on {}", target.name());
            let loaded = loaded_documents(*target, &many);
            table.put(
                "resident memory, 1,000 documents loaded (MB)",
                column,
                loaded,
            );
        }
        drop((ours, reference));
        // Idle clients on fresh servers, so that the documents above do
        // not count; the clients stay connected until both are measured.
        let ours = Ours::start();
        let reference = Reference::start();
        let targets: [&dyn Target; 2] = [&ours, &reference];
        let mut keep = Vec::new();
        for (column, target) in targets.iter().enumerate() {
            println!("1,000 idle clients on {}", target.name());
            table.put(
                "resident memory, fresh server (MB)",
                column,
                target.rss_mb(),
            );
            let started = Instant::now();
            let clients: Vec<SyncClient> = (0..1000).map(|i| target.client(i % 2)).collect();
            table.put(
                "time to connect 1,000 clients, one after another (s)",
                column,
                started.elapsed().as_secs_f64(),
            );
            thread::sleep(Duration::from_secs(2));
            table.put(
                "resident memory, 1,000 idle clients (MB)",
                column,
                target.rss_mb(),
            );
            keep.push(clients);
        }
        std::mem::forget(keep); // closed as the process ends
    }
    println!();
    table.print();
    println!(
        "\nratio = reference ÷ ours: above 1 means our server is faster or smaller. \
         Our server authenticates every connection (a session token) and writes \
         each change to SQLite with synchronous=FULL before acknowledging it; \
         the reference server authenticates no one."
    );
}

// ---------------------------------------------------------------- targets

trait Target {
    fn name(&self) -> &'static str;
    /// A new connection that may write the reports of unit `unit` (0 for
    /// unit A, 1 for unit B; the reference server lets anyone write).
    fn client(&self, unit: usize) -> SyncClient;
    /// A new connection that may read every document.
    fn reader(&self) -> SyncClient;
    fn rss_mb(&self) -> f64;
}

/// Our server (the binary `PAPI_SERVER_BIN`), with a demo directory.
struct Ours {
    server: Server,
    /// (token, peer prefix) of each unit's staff account.
    writers: Vec<(String, String)>,
    /// The coordinator's token (reads every report) and peer prefix.
    coordinator: (String, String),
    admin: String,
}

impl Ours {
    fn start() -> Ours {
        let server = Server::start();
        server.add_user(UNIT_B.1, UNIT_B.0, "staff", "bench-password-1");
        let writers = [UNIT_A.1, UNIT_B.1]
            .iter()
            .map(|user| {
                let login = server.login(user);
                (
                    login["token"].as_str().unwrap().to_string(),
                    login["peer_prefix"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let login = server.login("vanphong");
        Ours {
            coordinator: (
                login["token"].as_str().unwrap().to_string(),
                login["peer_prefix"].as_str().unwrap().to_string(),
            ),
            admin: server.token("quantri"),
            server,
            writers,
        }
    }
}

impl Target for Ours {
    fn name(&self) -> &'static str {
        "papi-server"
    }
    fn client(&self, unit: usize) -> SyncClient {
        let (token, prefix) = &self.writers[unit];
        SyncClient::connect_with_token(&self.server.sync_url(), token, prefix)
    }
    fn reader(&self) -> SyncClient {
        let (token, prefix) = &self.coordinator;
        SyncClient::connect_with_token(&self.server.sync_url(), token, prefix)
    }
    fn rss_mb(&self) -> f64 {
        rss_mb(self.server.pid().expect("running"))
    }
}

/// The reference server: Node, automerge-repo 2.5.6, storage on disk.
struct Reference {
    child: Mutex<Child>,
    pid: u32,
    url: String,
    _data: tempfile::TempDir,
}

impl Reference {
    fn start() -> Reference {
        let dir = workspace_root().join("tests/bench");
        assert!(
            dir.join("node_modules/@automerge/automerge-repo-storage-nodefs")
                .exists(),
            "run scripts/bench (it installs the reference server from npm)"
        );
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new("node")
            .current_dir(&dir)
            .arg("reference-server.mjs")
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().expect("the reference server starts").unwrap();
        let port = line
            .strip_prefix("Listening on http://127.0.0.1:")
            .and_then(|r| r.trim_end_matches('/').parse::<u16>().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        thread::spawn(move || for _ in lines {});
        Reference {
            pid: child.id(),
            child: Mutex::new(child),
            url: format!("ws://127.0.0.1:{port}/"),
            _data: data,
        }
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Target for Reference {
    fn name(&self) -> &'static str {
        "automerge-repo (JS)"
    }
    fn client(&self, _unit: usize) -> SyncClient {
        SyncClient::handshake(&self.url, format!("bench-{}", automerge::ActorId::random()))
    }
    fn reader(&self) -> SyncClient {
        self.client(0)
    }
    fn rss_mb(&self) -> f64 {
        rss_mb(self.pid)
    }
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

// -------------------------------------------------------------- documents

/// The documents of the workloads: the same ids and content on both
/// servers. On ours they are reports made by the server (which decides who
/// may write them); the reference server receives copies.
struct Docs {
    /// 20 reports, alternately of unit A and unit B.
    typing: Vec<DocId>,
    merge: DocId,
    cold: DocId,
}

impl Docs {
    fn make(ours: &Ours, reference: &Reference) -> Docs {
        let periods = Server::periods();
        let units = [UNIT_A.0, UNIT_B.0];
        // Report i of the typing set belongs to unit i % 2.
        let typing: Vec<DocId> = (0..20)
            .map(|i| {
                ours.server
                    .report(&ours.coordinator.0, units[i % 2], &periods[i / 2])
            })
            .collect();
        let merge = ours
            .server
            .report(&ours.coordinator.0, units[0], &periods[16]);
        let cold = ours
            .server
            .report(&ours.coordinator.0, units[0], &periods[17]);

        // The 20,000-change, 200 KB report for the cold open, written by a
        // staff client of unit A.
        let mut writer = ours.client(0);
        assert!(writer.open(cold));
        {
            let doc = writer.doc_mut(cold);
            let text = doc
                .transact::<_, _, automerge::AutomergeError>(|tx| {
                    tx.put_object(ROOT, "history", ObjType::Text)
                })
                .unwrap()
                .result;
            // 20,000 changes of 10 letters each, varied enough not to
            // compress away.
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..20_000 {
                let word: String = (0..10)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (b'a' + (x % 26) as u8) as char
                    })
                    .collect();
                doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                    let at = tx.length(&text);
                    tx.splice_text(&text, at, 0, &word)
                })
                .unwrap();
            }
        }
        writer.offer(cold);
        writer.until("the history to be stored", LIMIT, |c| {
            c.server_has_all(cold)
        });
        let changes = writer.doc(cold).get_changes(&[]).len();
        let size = writer.doc_mut(cold).save().len();
        println!(
            "cold-open report: {changes} changes, {} KB saved",
            size / 1024
        );

        // Copies for the reference server, read through our server.
        let all: Vec<DocId> = typing.iter().chain([&merge, &cold]).copied().collect();
        copy_to_reference(ours, reference, &all);
        Docs {
            typing,
            merge,
            cold,
        }
    }
}

/// 1,000 more reports: 56 more units with 18 periods each, copied to the
/// reference server.
fn many_documents(ours: &Ours, reference: &Reference) -> Vec<DocId> {
    let periods = Server::periods();
    // 1,000 reports: 56 more units with 18 periods each.
    let mut many = Vec::new();
    'units: for u in 0.. {
        let unit = format!("bench-unit-{u:02}");
        let r = http()
            .post(ours.server.url("/api/admin/units"))
            .header("Authorization", &format!("Bearer {}", ours.admin))
            .send_json(serde_json::json!({
                "id": unit, "name": format!("Đơn vị {u}"), "kind": "division", "parent": "so-tai-chinh"
            }))
            .unwrap();
        assert_eq!(r.status(), 200, "add unit {unit}");
        for p in &periods {
            many.push(ours.server.report(&ours.coordinator.0, &unit, p));
            if many.len() == 1000 {
                break 'units;
            }
        }
    }

    copy_to_reference(ours, reference, &many);
    many
}

/// Copies documents from our server to the reference server, under the
/// same ids.
fn copy_to_reference(ours: &Ours, reference: &Reference, all: &[DocId]) {
    let mut reader = ours.reader();
    let mut uploader = reference.client(0);
    for chunk in all.chunks(50) {
        for &id in chunk {
            assert!(reader.open(id));
            reader.until("the whole report", LIMIT, |c| c.server_has_all(id));
            uploader.adopt(id, reader.doc(id).clone());
            uploader.offer(id);
        }
        for &id in chunk {
            uploader.until("the reference server to store a copy", LIMIT, |c| {
                c.server_has_all(id)
            });
        }
    }
}

/// Opens a document, waiting as long as the server needs.
fn open(c: &mut SyncClient, id: DocId) {
    c.request(id);
    c.until("the document", LIMIT, |c| c.arrived(id));
}

/// The time until a new client can open `doc`: after many clients leave,
/// a server may be busy with their disconnections.
fn settle(target: &dyn Target, doc: DocId) -> f64 {
    let started = Instant::now();
    let mut c = target.reader();
    open(&mut c, doc);
    started.elapsed().as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------- latency

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Every client types about 5 characters a second into its own text field
/// of its document; each keystroke carries its send time (in its change's
/// message), and every other client on the document records its arrival.
/// With 2 clients both share one document; otherwise clients are spread
/// over the 20 documents. Returns p50, p99, max (ms) and the deliveries.
fn latency(
    target: &dyn Target,
    docs: &[DocId],
    clients: usize,
    seconds: u64,
) -> (f64, f64, f64, usize) {
    epoch();
    let used = if clients <= 2 { 1 } else { docs.len() };
    let samples = Arc::new(Mutex::new(Vec::<f64>::new()));
    let start = Instant::now() + Duration::from_secs(3);
    let end = start + Duration::from_secs(seconds);
    let mut connected = Vec::new();
    for i in 0..clients {
        // Typing document j is a report of unit j % 2.
        let j = i % used;
        let doc = docs[j];
        let mut c = target.client(j % 2);
        open(&mut c, doc);
        c.change(doc, |tx| {
            tx.put_object(ROOT, format!("typing-{i}"), ObjType::Text)
                .unwrap();
        });
        connected.push((i, doc, c));
    }
    let threads: Vec<_> = connected
        .into_iter()
        .map(|(i, doc, mut c)| {
            let samples = samples.clone();
            thread::spawn(move || {
                let interval = Duration::from_millis(200);
                let mut next = start + interval.mul_f64((i % 40) as f64 / 40.0);
                let mut seen = c.heads(doc);
                let mut seq = 0u64;
                let mut mine = Vec::new();
                let field = format!("typing-{i}");
                while Instant::now() < end + Duration::from_secs(2) {
                    let now = Instant::now();
                    if now >= next && now < end {
                        let sent = now.duration_since(epoch()).as_nanos();
                        let doc_mut = c.doc_mut(doc);
                        let text = doc_mut
                            .get(ROOT, &field)
                            .ok()
                            .flatten()
                            .map(|(_, id)| id)
                            .expect("my text field");
                        let mut tx = doc_mut.transaction();
                        let at = tx.length(&text);
                        tx.splice_text(&text, at, 0, "a").unwrap();
                        tx.commit_with(
                            CommitOptions::default().with_message(format!("k{i}:{seq}:{sent}")),
                        );
                        c.offer(doc);
                        seq += 1;
                        next += interval;
                        seen = c.heads(doc);
                    }
                    let wait = next
                        .saturating_duration_since(Instant::now())
                        .clamp(Duration::from_millis(1), Duration::from_millis(100));
                    c.set_read_timeout(wait);
                    c.pump();
                    let heads = c.heads(doc);
                    if heads != seen {
                        let arrived = Instant::now();
                        for change in c.doc(doc).get_changes(&seen) {
                            let Some(msg) = change.message() else {
                                continue;
                            };
                            let Some(sent) =
                                msg.rsplit(':').next().and_then(|s| s.parse::<u64>().ok())
                            else {
                                continue;
                            };
                            let sent_at = epoch() + Duration::from_nanos(sent);
                            if sent_at >= start {
                                mine.push(arrived.duration_since(sent_at).as_secs_f64() * 1000.0);
                            }
                        }
                        seen = heads;
                    }
                }
                samples.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut s = std::mem::take(&mut *samples.lock().unwrap());
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN, 0);
    }
    let at = |q: f64| s[((s.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), *s.last().unwrap(), s.len())
}

// ------------------------------------------------------- reconnect merge

struct Merge {
    millis: f64,
    up: f64,
    down: f64,
    /// `save_after` of each side's new changes, added.
    changes: f64,
}

/// Two clients each make 2,000 edits (one character each) to the same
/// text of one report while disconnected, then reconnect.
fn merge(target: &dyn Target, doc: DocId) -> Merge {
    let mut a = target.client(0);
    open(&mut a, doc);
    a.change(doc, |tx| {
        tx.put_object(ROOT, "merged", ObjType::Text).unwrap();
    });
    a.until("the text field stored", LIMIT, |c| c.server_has_all(doc));
    let mut b = target.client(0);
    open(&mut b, doc);
    b.until("the text field", LIMIT, |c| {
        c.doc(doc).get(ROOT, "merged").ok().flatten().is_some()
    });
    let before = a.heads(doc);
    a.disconnect();
    b.disconnect();
    let mut rng = 12345u64;
    for (k, c) in [&mut a, &mut b].into_iter().enumerate() {
        let d = c.doc_mut(doc);
        let text = d.get(ROOT, "merged").unwrap().unwrap().1;
        for _ in 0..2000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            d.transact::<_, _, automerge::AutomergeError>(|tx| {
                let len = tx.length(&text);
                let at = (rng as usize) % (len + 1);
                tx.splice_text(&text, at, 0, if k == 0 { "a" } else { "b" })
            })
            .unwrap();
        }
    }
    let changes = (a.doc_mut(doc).save_after(&before).len()
        + b.doc_mut(doc).save_after(&before).len()) as f64;
    let (up0, down0) = (
        a.bytes_sent + b.bytes_sent,
        a.bytes_received + b.bytes_received,
    );
    let started = Instant::now();
    for c in [&mut a, &mut b] {
        while !c.reconnect() {
            assert!(started.elapsed() < LIMIT, "cannot reconnect");
        }
    }
    let deadline = started + LIMIT;
    loop {
        a.pump();
        b.pump();
        if a.heads(doc) == b.heads(doc) && a.server_has_all(doc) && b.server_has_all(doc) {
            break;
        }
        assert!(Instant::now() < deadline, "the merge did not finish");
    }
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    Merge {
        millis,
        up: (a.bytes_sent + b.bytes_sent - up0) as f64,
        down: (a.bytes_received + b.bytes_received - down0) as f64,
        changes,
    }
}

// -------------------------------------------------------------- cold open

/// A fresh client opens the big report; returns the time until it holds
/// all of it, and its saved size.
fn cold_open(target: &dyn Target, doc: DocId) -> (f64, usize) {
    // The full heads, as the server holds them.
    let mut probe = target.reader();
    open(&mut probe, doc);
    probe.until("the whole report", LIMIT, |c| c.server_has_all(doc));
    let heads = probe.heads(doc);
    drop(probe);

    let mut fresh = target.reader();
    fresh.set_read_timeout(Duration::from_millis(1));
    let started = Instant::now();
    open(&mut fresh, doc);
    fresh.until("the whole report", LIMIT, |c| c.heads(doc) == heads);
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    let size = fresh.doc_mut(doc).save().len();
    (millis, size)
}

// --------------------------------------------------------------- capacity

/// Resident memory (MB) once a client has opened 1,000 documents.
fn loaded_documents(target: &dyn Target, docs: &[DocId]) -> f64 {
    let mut c = target.reader();
    for chunk in docs.chunks(100) {
        for &id in chunk {
            c.request(id);
        }
        for &id in chunk {
            c.until("the documents", LIMIT, |c| c.arrived(id));
        }
    }
    thread::sleep(Duration::from_secs(2));
    target.rss_mb()
}

// ------------------------------------------------------------------ table

#[derive(Default)]
struct Table {
    rows: Vec<String>,
    cells: HashMap<(String, usize), f64>,
    notes: HashMap<(String, usize), String>,
}

impl Table {
    fn put(&mut self, row: &str, column: usize, value: f64) {
        if !self.rows.iter().any(|r| r == row) {
            self.rows.push(row.to_string());
        }
        self.cells.insert((row.to_string(), column), value);
    }

    fn note(&mut self, row: &str, column: usize, note: String) {
        self.notes.insert((row.to_string(), column), note);
    }

    fn print(&self) {
        let width = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(10);
        println!(
            "| {:<width$} | {:>12} | {:>19} | {:>7} |",
            "workload", "papi-server", "automerge-repo (JS)", "ratio"
        );
        println!(
            "|{}|{}|{}|{}|",
            "-".repeat(width + 2),
            "-".repeat(14),
            "-".repeat(21),
            "-".repeat(9)
        );
        for row in &self.rows {
            let get = |c| {
                self.cells
                    .get(&(row.clone(), c))
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            let (ours, reference) = (get(0), get(1));
            println!(
                "| {:<width$} | {:>12.2} | {:>19.2} | {:>7.2} |",
                row,
                ours,
                reference,
                reference / ours
            );
        }
        let mut notes: Vec<_> = self.notes.iter().collect();
        notes.sort();
        for ((row, column), note) in notes {
            println!(
                "  {row} [{}]: {note}",
                ["papi-server", "reference"][*column]
            );
        }
    }
}

//! The benchmark: our server against the reference automerge-repo sync
//! server (Node, `tests/bench/reference-server.mjs`), on the same workloads
//! in the same run, with automerge-repo protocol clients over real
//! WebSockets on loopback. Prints one table with the ratios.
//!
//! Fair to both: the load is asynchronous clients in this one process (not
//! a thread each), pinned to core 0; each server is pinned to core 1, in
//! the same way. Every figure is the median of `--runs` runs (3 by
//! default), printed with the spread (lowest–highest). A third column runs
//! our server with documents in memory only (`--in-memory`), to show what
//! storing every change before acknowledging it costs.
//!
//! Run it with `scripts/bench`, which installs the reference server from npm
//! and builds our server with the `server` profile. Options: `--seconds N`
//! for each latency run (default 10), `--runs N`, `--only
//! latency,typists,presence,merge,cold,rush,large,idle`, `--servers
//! ours,reference,memory`.

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ChangeHash, ObjType, ReadDoc, ROOT};
use futures::{SinkExt, StreamExt};
use papi::ids::DocId;
use papi::presence::{Channel, Presence, State};
use papi::wire::{Message, PeerMetadata};
use papi_e2e::{workspace_root, Server, Synced};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const LIMIT: Duration = Duration::from_secs(300);
/// The units whose reports the load writes, each with a staff account (the
/// first is a demo account; the others are added). A unit has one report per
/// period, so these give 3 × 18 = 54 distinct reports.
const UNITS: [(&str, &str); 3] = [
    ("phong-ngan-sach", "chuyenvien"),
    ("phong-tai-chinh-dau-tu", "bench.staff1"),
    ("phong-gia-cong-san", "bench.staff2"),
];

fn main() {
    let option = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let seconds: u64 = option("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let runs: usize = option("--runs").and_then(|s| s.parse().ok()).unwrap_or(3);
    let only = option("--only")
        .unwrap_or_else(|| "latency,typists,presence,merge,cold,rush,large,idle".into());
    let wants = |w: &str| only.split(',').any(|o| o == w);
    let servers = option("--servers").unwrap_or_else(|| "ours,reference,memory".into());
    // The load on core 0; each server is moved to core 1 when it starts.
    pin(std::process::id(), 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut table = Table::default();
    rt.block_on(async {
        for kind in [Kind::Ours, Kind::Reference, Kind::InMemory] {
            if !servers.split(',').any(|s| s == kind.name()) {
                continue;
            }
            measure(kind, &mut table, seconds, runs, &wants).await;
        }
    });
    println!();
    table.print();
    println!(
        "\nEach cell: the median of {runs} runs (lowest–highest). ratio = reference ÷ ours: above 1 means \
         our server is faster or smaller. Load pinned to core 0, each server to core 1. \
         Our server authenticates every connection and commits each change to SQLite \
         (synchronous=FULL) before acknowledging it; the reference server authenticates no one \
         and writes files without fsync; \"in memory\" is our server storing nothing."
    );
}

/// Moves every thread of `pid` to `core`.
fn pin(pid: u32, core: usize) {
    let ok = Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "taskset (util-linux) pins the processes");
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ours,
    Reference,
    InMemory,
}

impl Kind {
    fn column(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        ["ours", "reference", "memory"][self.column()]
    }
}

async fn measure(
    kind: Kind,
    table: &mut Table,
    seconds: u64,
    runs: usize,
    wants: &dyn Fn(&str) -> bool,
) {
    let c = kind.column();
    let name = [
        "papi-server",
        "automerge-repo (JS)",
        "papi-server in memory",
    ][c];
    if wants("latency") {
        for clients in [2usize, 50, 200] {
            let mut p50 = Vec::new();
            let mut p99 = Vec::new();
            for run in 0..runs {
                println!(
                    "{name}: live edit latency, {clients} clients, run {}",
                    run + 1
                );
                let target = Target::start(kind);
                let docs = target.typing_docs(20).await;
                let load = latency(&target, &docs, (clients, clients), seconds, false).await;
                p50.push(load.p50);
                p99.push(load.p99);
            }
            table.put(
                &format!("keystroke to peer, {clients} clients, p50 (ms)"),
                c,
                &p50,
            );
            table.put(
                &format!("keystroke to peer, {clients} clients, p99 (ms)"),
                c,
                &p99,
            );
        }
    }
    if wants("typists") {
        // 20 people in one report, all typing (5 keys a second each).
        let (mut p50, mut p99) = (Vec::new(), Vec::new());
        for run in 0..runs {
            println!("{name}: 20 typing in one report, run {}", run + 1);
            let target = Target::start(kind);
            let doc = target.typing_docs(1).await;
            let load = latency(&target, &doc, (20, 20), seconds, false).await;
            p50.push(load.p50);
            p99.push(load.p99);
        }
        table.put(
            "20 in one report, all typing: keystroke to peer, p50 (ms)",
            c,
            &p50,
        );
        table.put(
            "20 in one report, all typing: keystroke to peer, p99 (ms)",
            c,
            &p99,
        );
    }
    if wants("presence") {
        // 20 people in one report, 2 of them typing, without and then
        // with everyone's presence.
        let mut rows: [Vec<f64>; 7] = Default::default();
        for run in 0..runs {
            println!("{name}: 20 in one report with presence, run {}", run + 1);
            let target = Target::start(kind);
            let doc = target.typing_docs(1).await;
            let without = latency(&target, &doc, (20, 2), seconds, false).await;
            let with = latency(&target, &doc, (20, 2), seconds, true).await;
            for (row, value) in rows.iter_mut().zip([
                without.p50,
                without.p99,
                with.p50,
                with.p99,
                with.presence_p50,
                with.presence_p99,
                with.presence_bytes_per_second / 1024.0,
            ]) {
                row.push(value);
            }
        }
        for (label, values) in [
            "20 in one report, 2 typing: keystroke to peer, no presence, p50 (ms)",
            "20 in one report, 2 typing: keystroke to peer, no presence, p99 (ms)",
            "20 in one report, 2 typing: keystroke to peer, with presence, p50 (ms)",
            "20 in one report, 2 typing: keystroke to peer, with presence, p99 (ms)",
            "20 in one report, 2 typing: presence update to peer, p50 (ms)",
            "20 in one report, 2 typing: presence update to peer, p99 (ms)",
            "20 in one report, 2 typing: presence received by all, KiB/s",
        ]
        .iter()
        .zip(&rows)
        {
            table.put(label, c, values);
        }
    }
    if wants("merge") {
        let (mut times, mut rss) = (Vec::new(), Vec::new());
        let (mut thirds, mut idles) = (Vec::new(), Vec::new());
        for run in 0..runs {
            println!("{name}: reconnect merge, run {}", run + 1);
            let target = Target::start(kind);
            let doc = target.typing_docs(1).await[0];
            let (merged, third, idle) = merge(&target, doc).await;
            times.push(merged);
            thirds.push(third);
            idles.push(idle);
            // Then ten people typing for a while, as after a morning merge.
            let docs = target.typing_docs(20).await;
            latency(&target, &docs, (10, 10), seconds.min(5), false).await;
            rss.push(target.rss_mb());
        }
        table.put("reconnect merge of 2 × 2,000 offline edits (ms)", c, &times);
        table.put(
            "a third client opens it 1 s after the reconnect (ms)",
            c,
            &thirds,
        );
        table.put(
            "the server busy after the reconnect, until idle (ms)",
            c,
            &idles,
        );
        table.put(
            "resident memory after the merge and 10 typing (MB)",
            c,
            &rss,
        );
    }
    // Opening from storage after a restart: not for a server that keeps
    // nothing.
    let stores = kind != Kind::InMemory;
    if wants("cold") && stores {
        let mut times = Vec::new();
        for run in 0..runs {
            println!("{name}: cold open, run {}", run + 1);
            let mut target = Target::start(kind);
            let report = target.history_doc(20_000, 10).await;
            target.restart(&report.1);
            times.push(cold_open(&target, report).await);
        }
        table.put("cold open of a 20,000-change report (ms)", c, &times);
    }
    if wants("rush") {
        let mut times = Vec::new();
        for run in 0..runs {
            println!("{name}: morning rush, run {}", run + 1);
            let target = Target::start(kind);
            times.push(rush(&target).await);
        }
        table.put(
            "morning rush: 100 clients, 50 reports, 200 edits each (ms)",
            c,
            &times,
        );
    }
    if wants("large") && stores {
        let (mut times, mut rss) = (Vec::new(), Vec::new());
        for run in 0..runs {
            println!("{name}: large document, run {}", run + 1);
            let mut target = Target::start(kind);
            let report = target.history_doc(60_000, 18).await;
            target.restart(&report.1);
            let before = target.rss_mb();
            times.push(cold_open(&target, report).await);
            rss.push(target.rss_mb() - before);
        }
        table.put("open a 670 KB report with a long history (ms)", c, &times);
        table.put("memory it takes once open (MB)", c, &rss);
    }
    if wants("idle") {
        let mut rss = Vec::new();
        for run in 0..runs {
            println!("{name}: 1,000 idle clients, run {}", run + 1);
            let target = Target::start(kind);
            let mut clients = Vec::new();
            for i in 0..1000 {
                clients.push(target.client(i).await);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            rss.push(target.rss_mb());
        }
        table.put("resident memory with 1,000 idle clients (MB)", c, &rss);
    }
}

// ---------------------------------------------------------------- targets

/// A server under test, on core 1.
struct Target {
    ours: Option<Ours>,
    reference: Option<Reference>,
}

struct Ours {
    server: Server,
    /// (token, peer prefix) of each unit's staff account, and of the
    /// coordinator, who makes the reports and reads them all.
    writers: Vec<(String, String)>,
    coordinator: (String, String),
}

impl Target {
    fn start(kind: Kind) -> Target {
        match kind {
            Kind::Reference => {
                let reference = Reference::start();
                pin(reference.child.id(), 1);
                Target {
                    ours: None,
                    reference: Some(reference),
                }
            }
            Kind::Ours | Kind::InMemory => {
                let mut args = vec![
                    "--max-connections-per-user",
                    "100000",
                    "--max-messages-per-second",
                    "0",
                    "--max-bytes-per-second",
                    "0",
                    "--max-documents-per-connection",
                    "100000",
                ];
                if kind == Kind::InMemory {
                    args.push("--in-memory");
                }
                let server = Server::start_with(&args);
                pin(server.pid().expect("running"), 1);
                for (unit, user) in &UNITS[1..] {
                    server.add_user(user, unit, "staff", "bench-password-1");
                }
                let pair = |user: &str| {
                    let login = server.login(user);
                    (
                        login["token"].as_str().unwrap().to_string(),
                        login["peer_prefix"].as_str().unwrap().to_string(),
                    )
                };
                let writers = UNITS.iter().map(|(_, user)| pair(user)).collect();
                let coordinator = pair("vanphong");
                Target {
                    ours: Some(Ours {
                        server,
                        writers,
                        coordinator,
                    }),
                    reference: None,
                }
            }
        }
    }

    /// Stops the server and starts it again on the same data, so that what
    /// follows reads documents from storage, not memory. `heads` must be
    /// stored first.
    fn restart(&mut self, heads: &[ChangeHash]) {
        match (&mut self.ours, &mut self.reference) {
            (Some(ours), _) => {
                // Ours acknowledged them only once they were committed.
                ours.server.restart();
                pin(ours.server.pid().expect("running"), 1);
            }
            (_, Some(reference)) => {
                let waited = reference.wait_until_stored(heads);
                println!(
                    "  the reference server wrote the acknowledged report to disk {:.0} ms later",
                    waited.as_secs_f64() * 1000.0
                );
                reference.restart();
                pin(reference.child.id(), 1);
            }
            _ => unreachable!("a server"),
        }
    }

    /// A connection that may write the `i`th report of `typing_docs`.
    async fn client(&self, i: usize) -> Client {
        match &self.ours {
            Some(ours) => {
                let (token, prefix) = &ours.writers[i % UNITS.len()];
                Client::connect_token(&ours.server.sync_url(), token, prefix).await
            }
            None => self.reference_client().await,
        }
    }

    /// A connection that may read every document.
    async fn reader(&self) -> Client {
        match &self.ours {
            Some(ours) => {
                let (token, prefix) = &ours.coordinator;
                Client::connect_token(&ours.server.sync_url(), token, prefix).await
            }
            None => self.reference_client().await,
        }
    }

    async fn reference_client(&self) -> Client {
        let url = &self.reference.as_ref().expect("a reference server").url;
        let peer = format!("bench-{}", automerge::ActorId::random());
        Client::connect(url, peer).await
    }

    fn pid(&self) -> u32 {
        match (&self.ours, &self.reference) {
            (Some(o), _) => o.server.pid().expect("running"),
            (_, Some(r)) => r.child.id(),
            _ => unreachable!(),
        }
    }

    /// The server's processor time so far (user and system, in clock
    /// ticks of 10 ms).
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // After the command's name in parentheses: fields 14 and 15 of
        // the whole line are the 12th and 13th after it.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(11) + field(12)
    }

    /// Waits until the server has used no processor time for half a
    /// second; the time from `since` to the last moment it was busy (ms).
    async fn idle_since(&self, since: Instant) -> f64 {
        let mut last = self.cpu_ticks();
        let mut busy_at = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.cpu_ticks();
            if now > last + 1 {
                busy_at = Instant::now();
            }
            last = now;
            if busy_at.elapsed() >= Duration::from_millis(500) {
                return busy_at.duration_since(since).as_secs_f64() * 1000.0;
            }
            assert!(since.elapsed() < LIMIT, "the server never became idle");
        }
    }

    fn rss_mb(&self) -> f64 {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// `n` distinct reports, the `i`th of unit `i % 3`: made by our server
    /// (which decides who may write them); on the reference server, new
    /// documents made by a client.
    async fn typing_docs(&self, n: usize) -> Vec<DocId> {
        let mut ids = Vec::new();
        match &self.ours {
            Some(ours) => {
                let periods = Server::periods();
                assert!(n <= UNITS.len() * periods.len(), "{n} reports");
                for i in 0..n {
                    ids.push(ours.server.report(
                        &ours.coordinator.0,
                        UNITS[i % UNITS.len()].0,
                        &periods[i / UNITS.len()],
                    ));
                }
            }
            None => {
                let mut c = self.reference_client().await;
                for _ in 0..n {
                    let mut doc = Automerge::new();
                    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                        tx.put(ROOT, "kind", "unit_report")
                    })
                    .unwrap();
                    ids.push(c.create(doc).await);
                }
            }
        }
        ids
    }

    /// A report with a text of `changes` changes, `letters` letters each,
    /// written by a staff client and stored on the server; and its heads.
    async fn history_doc(&self, changes: usize, letters: usize) -> (DocId, Vec<ChangeHash>) {
        let id = self.typing_docs(1).await[0];
        let mut writer = self.client(0).await;
        writer.open(id).await;
        let doc = writer.doc_mut(id);
        let text = doc
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put_object(ROOT, "history", ObjType::Text)
            })
            .unwrap()
            .result;
        // Varied enough not to compress away.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..changes {
            let word: String = (0..letters)
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
        let size = writer.doc_mut(id).save().len();
        writer.offer(id).await;
        writer
            .until("the history to be stored", |c| c.server_has_all(id))
            .await;
        println!("  a report of {changes} changes, {} KB saved", size / 1024);
        (id, writer.heads(id))
    }
}

/// The reference server: Node, automerge-repo 2.5.6, storage on disk.
struct Reference {
    child: Child,
    url: String,
    data: tempfile::TempDir,
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
        let (child, url) = Reference::spawn(data.path());
        Reference { child, url, data }
    }

    fn spawn(data: &std::path::Path) -> (Child, String) {
        let mut child = Command::new("node")
            .current_dir(workspace_root().join("tests/bench"))
            .arg("reference-server.mjs")
            .arg(data)
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
        std::thread::spawn(move || for _ in lines {});
        (child, format!("ws://127.0.0.1:{port}/"))
    }

    /// Waits until the files in the data folder hold every change up to
    /// `heads`: the reference server acknowledges changes before it writes
    /// them, so a restart at once would lose some. How long that took.
    fn wait_until_stored(&self, heads: &[ChangeHash]) -> Duration {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    files(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let started = Instant::now();
        loop {
            let mut paths = Vec::new();
            files(self.data.path(), &mut paths);
            let mut doc = Automerge::new();
            for path in paths {
                if let Ok(bytes) = std::fs::read(&path) {
                    let _ = doc.load_incremental(&bytes);
                }
            }
            if heads.iter().all(|h| doc.get_change_by_hash(h).is_some()) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < LIMIT,
                "the reference never stored the report"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, url) = Reference::spawn(self.data.path());
        self.child = child;
        self.url = url;
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----------------------------------------------------------------- client

/// An automerge-repo protocol client over a WebSocket, asynchronous, so
/// that hundreds share this process's one thread.
struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    url: String,
    peer_id: String,
    server_id: String,
    docs: HashMap<DocId, Synced>,
    unavailable: Vec<DocId>,
    /// Ephemeral messages received (presence): when, and the payload.
    ephemeral: Vec<(Instant, Vec<u8>)>,
    ephemeral_sent: u64,
}

impl Client {
    async fn connect_token(sync_url: &str, token: &str, prefix: &str) -> Client {
        let suffix = format!("b{}", automerge::ActorId::random());
        let url = format!("{sync_url}?token={token}&peer={suffix}");
        Client::connect(&url, format!("{prefix}{suffix}")).await
    }

    async fn connect(url: &str, peer_id: String) -> Client {
        let ws = Client::socket(url).await;
        let mut client = Client {
            ws,
            url: url.to_string(),
            peer_id,
            server_id: String::new(),
            docs: HashMap::new(),
            unavailable: Vec::new(),
            ephemeral: Vec::new(),
            ephemeral_sent: 0,
        };
        client.handshake().await;
        client
    }

    /// A WebSocket to `url`, tried a few times: a server under load may
    /// refuse a connection now and then.
    async fn socket(url: &str) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
        let mut tries = 0;
        loop {
            // As browsers do: small frames go at once (no Nagle delay).
            match tokio_tungstenite::connect_async_with_config(url, None, true).await {
                Ok((ws, _)) => return ws,
                Err(e) if tries < 5 => {
                    tries += 1;
                    println!("  (connecting again after: {e})");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("connect {url}: {e}"),
            }
        }
    }

    async fn handshake(&mut self) {
        self.send(&Message::Join {
            sender_id: self.peer_id.clone(),
            supported_protocol_versions: vec!["1".into()],
            metadata: Some(PeerMetadata {
                storage_id: None,
                is_ephemeral: true,
            }),
        })
        .await;
        self.until("the handshake", |c| !c.server_id.is_empty())
            .await;
    }

    /// A new connection with fresh sync states, offering every document.
    async fn reconnect(&mut self) {
        self.ws = Client::socket(&self.url).await;
        self.server_id.clear();
        self.handshake().await;
        let ids: Vec<DocId> = self.docs.keys().copied().collect();
        for id in ids {
            let synced = self.docs.get_mut(&id).expect("listed");
            synced.reset();
            self.sync_out(id, false).await;
        }
    }

    async fn send(&mut self, message: &Message) {
        self.ws
            .send(WsMessage::Binary(message.encode().into()))
            .await
            .expect("send");
    }

    /// An ephemeral message about `doc`, as automerge-repo numbers them.
    async fn broadcast(&mut self, doc: DocId, data: Vec<u8>) {
        self.ephemeral_sent += 1;
        let message = Message::Ephemeral {
            sender_id: self.peer_id.clone(),
            target_id: self.server_id.clone(),
            document_id: doc,
            count: self.ephemeral_sent,
            session_id: format!("s-{}", self.peer_id),
            data,
        };
        self.send(&message).await;
    }

    async fn sync_out(&mut self, id: DocId, request: bool) {
        let synced = self.docs.get_mut(&id).expect("an open document");
        let out = synced.outgoing(id, &self.peer_id, &self.server_id, request);
        for m in out {
            self.send(&m).await;
        }
    }

    async fn create(&mut self, doc: Automerge) -> DocId {
        let id = DocId::from_bytes(automerge::ActorId::random().to_bytes().try_into().unwrap());
        self.adopt(id, doc);
        self.offer(id).await;
        self.until("the new document stored", |c| c.server_has_all(id))
            .await;
        id
    }

    fn adopt(&mut self, id: DocId, doc: Automerge) {
        self.docs.insert(id, Synced::new(doc));
    }

    async fn open(&mut self, id: DocId) {
        self.adopt(id, Automerge::new());
        self.sync_out(id, true).await;
        self.until("the document", |c| {
            c.unavailable.contains(&id) || !c.heads(id).is_empty()
        })
        .await;
        assert!(!self.unavailable.contains(&id), "{id} is unavailable");
    }

    async fn offer(&mut self, id: DocId) {
        self.sync_out(id, false).await;
    }

    fn doc(&self, id: DocId) -> &Automerge {
        &self.docs[&id].doc
    }

    fn doc_mut(&mut self, id: DocId) -> &mut Automerge {
        &mut self.docs.get_mut(&id).expect("an open document").doc
    }

    fn heads(&self, id: DocId) -> Vec<ChangeHash> {
        self.docs
            .get(&id)
            .map(|s| s.doc.get_heads())
            .unwrap_or_default()
    }

    /// Whether the server's last word on the document covers all of ours.
    fn server_has_all(&self, id: DocId) -> bool {
        self.docs.get(&id).is_some_and(Synced::server_has_all)
    }

    /// Reads and handles one message; false if none came within `wait`.
    async fn read_one(&mut self, wait: Duration) -> bool {
        let next = match tokio::time::timeout(wait, self.ws.next()).await {
            Err(_) => return false,
            Ok(None) => panic!("the server closed the connection"),
            Ok(Some(frame)) => frame.expect("a frame"),
        };
        let WsMessage::Binary(bytes) = next else {
            return true;
        };
        match Message::decode(&bytes).expect("a valid message") {
            Message::Peer { sender_id, .. } => self.server_id = sender_id,
            Message::Sync(m) | Message::Request(m) => {
                let Some(synced) = self.docs.get_mut(&m.document_id) else {
                    return true;
                };
                synced.receive(&m.data);
                self.sync_out(m.document_id, false).await;
            }
            Message::DocUnavailable { document_id, .. } => self.unavailable.push(document_id),
            Message::Ephemeral { .. } => self.ephemeral.push((Instant::now(), bytes.to_vec())),
            _ => {}
        }
        true
    }

    async fn until(&mut self, what: &str, done: impl Fn(&Client) -> bool) {
        let deadline = Instant::now() + LIMIT;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.read_one(Duration::from_millis(100)).await;
        }
    }
}

/// Runs futures together on this thread.
async fn together<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    futures::future::join_all(futures).await
}

// ---------------------------------------------------------------- latency

/// What one run of people typing measured.
struct Load {
    /// Keystroke to peer (ms).
    p50: f64,
    p99: f64,
    /// Presence update to peer (ms), when presence was on.
    presence_p50: f64,
    presence_p99: f64,
    /// Presence bytes (whole WebSocket messages) all clients received, a
    /// second.
    presence_bytes_per_second: f64,
}

/// Every client types about 5 characters a second into its own text field
/// of its document; each keystroke carries its send time (in its change's
/// message), and every other client on the document records its arrival.
/// With 2 clients both share one document; otherwise they are spread over
/// the documents. Only the first `typists` clients type; the others
/// read. With `presence`, each client is also in the document's presence
/// (`papi::presence`, as the app sends it): a snapshot at the start, then
/// one update a second, as moving from text to text and starting and
/// stopping typing make, each carrying its send time.
async fn latency(
    target: &Target,
    docs: &[DocId],
    (clients, typists): (usize, usize),
    seconds: u64,
    presence: bool,
) -> Load {
    let epoch = Instant::now();
    let used = if clients <= 2 { 1 } else { docs.len() };
    let start = Instant::now() + Duration::from_secs(3);
    let end = start + Duration::from_secs(seconds);
    let mut connected = Vec::new();
    for i in 0..clients {
        let j = i % used;
        let doc = docs[j];
        let mut c = target.client(j).await;
        c.open(doc).await;
        c.doc_mut(doc)
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put_object(ROOT, format!("typing-{i}"), ObjType::Text)
            })
            .unwrap();
        c.offer(doc).await;
        connected.push((i, doc, c));
    }
    let typing = connected.into_iter().map(|(i, doc, mut c)| async move {
        let interval = Duration::from_millis(200);
        let mut next = start + interval.mul_f64((i % 40) as f64 / 40.0);
        let every = Duration::from_secs(1);
        let mut next_presence = start + every.mul_f64((i % 20) as f64 / 20.0);
        let mut seen = c.heads(doc);
        let mut seq = 0u64;
        let mut samples = Vec::new();
        let mut presence_samples = Vec::new();
        let mut presence_bytes = 0u64;
        let field = format!("typing-{i}");
        if presence {
            let hello = Presence::Snapshot(State {
                name: format!("Cán bộ {i}"),
                unit: UNITS[0].0.into(),
                field: None,
                typing: false,
            });
            c.broadcast(doc, hello.encode()).await;
        }
        while Instant::now() < end + Duration::from_secs(2) {
            let now = Instant::now();
            if presence && now >= next_presence && now < end {
                let sent = now.duration_since(epoch).as_nanos();
                let moved = Presence::Update(Channel::Field(Some(format!("s{}|{sent}", seq % 8))));
                c.broadcast(doc, moved.encode()).await;
                next_presence += every;
            }
            if i < typists && now >= next && now < end {
                let sent = now.duration_since(epoch).as_nanos();
                let d = c.doc_mut(doc);
                let text = d
                    .get(ROOT, &field)
                    .ok()
                    .flatten()
                    .map(|(_, id)| id)
                    .expect("my field");
                let mut tx = d.transaction();
                let at = tx.length(&text);
                tx.splice_text(&text, at, 0, "a").unwrap();
                tx.commit_with(CommitOptions::default().with_message(format!("k{i}:{seq}:{sent}")));
                c.offer(doc).await;
                seq += 1;
                next += interval;
                seen = c.heads(doc);
            }
            let wait = next
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(100));
            c.read_one(wait).await;
            for (arrived, frame) in std::mem::take(&mut c.ephemeral) {
                let Ok(Message::Ephemeral { data, .. }) = Message::decode(&frame) else {
                    continue;
                };
                let Ok(Presence::Update(Channel::Field(Some(field)))) = Presence::decode(&data)
                else {
                    continue;
                };
                let Some(sent) = field.rsplit('|').next().and_then(|s| s.parse::<u64>().ok())
                else {
                    continue;
                };
                let sent_at = epoch + Duration::from_nanos(sent);
                if sent_at >= start && sent_at < end {
                    presence_bytes += frame.len() as u64;
                    presence_samples.push(arrived.duration_since(sent_at).as_secs_f64() * 1000.0);
                }
            }
            let heads = c.heads(doc);
            if heads != seen {
                let arrived = Instant::now();
                for change in c.doc(doc).get_changes(&seen) {
                    let Some(sent) = change
                        .message()
                        .and_then(|m| m.rsplit(':').next())
                        .and_then(|s| s.parse::<u64>().ok())
                    else {
                        continue;
                    };
                    let sent_at = epoch + Duration::from_nanos(sent);
                    if sent_at >= start {
                        samples.push(arrived.duration_since(sent_at).as_secs_f64() * 1000.0);
                    }
                }
                seen = heads;
            }
        }
        (samples, presence_samples, presence_bytes)
    });
    let results = together(typing.collect()).await;
    let mut keys = Vec::new();
    let mut presences = Vec::new();
    let mut bytes = 0;
    for (k, p, b) in results {
        keys.extend(k);
        presences.extend(p);
        bytes += b;
    }
    let (p50, p99) = percentiles(&mut keys);
    let (presence_p50, presence_p99) = percentiles(&mut presences);
    Load {
        p50,
        p99,
        presence_p50,
        presence_p99,
        presence_bytes_per_second: bytes as f64 / seconds as f64,
    }
}

/// p50 and p99 of `samples`, or NaN for none.
fn percentiles(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

// ------------------------------------------------------- reconnect merge

/// Edits `n` one-letter changes into `field` of `doc`, offline.
fn edit_offline(c: &mut Client, doc: DocId, field: &str, n: usize, letter: &str, rng: &mut u64) {
    let d = c.doc_mut(doc);
    let text = d.get(ROOT, field).unwrap().unwrap().1;
    for _ in 0..n {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        d.transact::<_, _, automerge::AutomergeError>(|tx| {
            let len = tx.length(&text);
            let at = (*rng as usize) % (len + 1);
            tx.splice_text(&text, at, 0, letter)
        })
        .unwrap();
    }
}

/// Two clients each make 2,000 edits to the same text of one report while
/// disconnected, then reconnect; the time until both hold the same heads
/// and the server has all (ms). Then, 1 s after the reconnect, a third
/// client opens the report: the time until it holds what the two agreed
/// on (ms). Last, the time from the reconnect until the server's process
/// stops using the processor (ms): what anyone else waits behind.
async fn merge(target: &Target, doc: DocId) -> (f64, f64, f64) {
    let mut a = target.client(0).await;
    a.open(doc).await;
    a.doc_mut(doc)
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put_object(ROOT, "merged", ObjType::Text)
        })
        .unwrap();
    a.offer(doc).await;
    a.until("the text field stored", |c| c.server_has_all(doc))
        .await;
    let mut b = target.client(0).await;
    b.open(doc).await;
    b.until("the text field", |c| {
        c.doc(doc).get(ROOT, "merged").ok().flatten().is_some()
    })
    .await;
    let mut rng = 12345u64;
    edit_offline(&mut a, doc, "merged", 2000, "a", &mut rng);
    edit_offline(&mut b, doc, "merged", 2000, "b", &mut rng);
    let started = Instant::now();
    let (a, b) = (
        async {
            a.reconnect().await;
            a
        },
        async {
            b.reconnect().await;
            b
        },
    );
    let (mut a, mut b) = tokio::join!(a, b);
    let deadline = started + LIMIT;
    loop {
        tokio::join!(
            a.read_one(Duration::from_millis(1)),
            b.read_one(Duration::from_millis(1))
        );
        if a.heads(doc) == b.heads(doc) && a.server_has_all(doc) && b.server_has_all(doc) {
            break;
        }
        assert!(Instant::now() < deadline, "the merge did not finish");
    }
    let merged = started.elapsed().as_secs_f64() * 1000.0;
    let agreed = a.heads(doc);
    // The two stay connected, as phones do; the third comes 1 s after the
    // reconnect (or at once, if the merge took longer).
    let (_a, _b) = (a, b);
    tokio::time::sleep(
        (started + Duration::from_secs(1)).saturating_duration_since(Instant::now()),
    )
    .await;
    let mut third = target.reader().await;
    let opened = Instant::now();
    third.open(doc).await;
    third
        .until("what the two agreed on", |c| c.heads(doc) == agreed)
        .await;
    let third_ms = opened.elapsed().as_secs_f64() * 1000.0;
    let idle_ms = target.idle_since(started).await;
    (merged, third_ms, idle_ms)
}

// -------------------------------------------------------------- cold open

/// A fresh client opens the report, whose heads are `heads`; the time until
/// it holds all of it.
async fn cold_open(target: &Target, (doc, heads): (DocId, Vec<ChangeHash>)) -> f64 {
    let mut fresh = target.reader().await;
    let started = Instant::now();
    fresh.open(doc).await;
    fresh
        .until("the whole report", |c| c.heads(doc) == heads)
        .await;
    started.elapsed().as_secs_f64() * 1000.0
}

// ----------------------------------------------------------- morning rush

/// 100 clients, two on each of 50 reports, each with 200 edits made
/// offline, come online at once. The time until every client holds the
/// heads the server holds, with both sides' edits (ms); every edit is
/// checked to be there.
async fn rush(target: &Target) -> f64 {
    let docs = target.typing_docs(50).await;
    let mut clients = Vec::new();
    let mut rng = 99u64;
    for (i, doc) in docs.iter().enumerate() {
        for k in 0..2 {
            let mut c = target.client(i).await;
            c.open(*doc).await;
            let field = format!("rush-{k}");
            c.doc_mut(*doc)
                .transact::<_, _, automerge::AutomergeError>(|tx| {
                    tx.put_object(ROOT, &field, ObjType::Text)
                })
                .unwrap();
            c.offer(*doc).await;
            c.until("the field stored", |c| c.server_has_all(*doc))
                .await;
            clients.push((*doc, k, c));
        }
    }
    for (doc, k, c) in clients.iter_mut() {
        edit_offline(c, *doc, &format!("rush-{k}"), 200, "x", &mut rng);
    }
    let started = Instant::now();
    let online = clients.into_iter().map(|(doc, k, mut c)| async move {
        c.reconnect().await;
        // Done when this client's edits are stored and its partner's arrived.
        c.until("the rush", |c| {
            let d = c.doc(doc);
            let len = |f: &str| {
                d.get(ROOT, f)
                    .ok()
                    .flatten()
                    .map(|(_, t)| d.length(&t))
                    .unwrap_or(0)
            };
            c.server_has_all(doc) && len("rush-0") == 200 && len("rush-1") == 200
        })
        .await;
        (doc, k, c)
    });
    let done = together(online.collect()).await;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    // Every edit is kept: a fresh reader sees all 200 of each side.
    let mut reader = target.reader().await;
    for (doc, _, _) in done.iter().filter(|(_, k, _)| *k == 0) {
        reader.open(*doc).await;
        reader
            .until("the whole report", |c| c.server_has_all(*doc))
            .await;
        let d = reader.doc(*doc);
        for f in ["rush-0", "rush-1"] {
            let (_, t) = d.get(ROOT, f).unwrap().unwrap();
            assert_eq!(d.length(&t), 200, "every edit of {f} is kept");
        }
    }
    millis
}

// ------------------------------------------------------------------ table

#[derive(Default)]
struct Table {
    rows: Vec<String>,
    cells: HashMap<(String, usize), Vec<f64>>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

impl Table {
    fn put(&mut self, row: &str, column: usize, values: &[f64]) {
        if !self.rows.iter().any(|r| r == row) {
            self.rows.push(row.to_string());
        }
        self.cells
            .insert((row.to_string(), column), values.to_vec());
    }

    fn print(&self) {
        let width = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(10);
        let cell = |row: &str, c: usize| -> (f64, String) {
            match self.cells.get(&(row.to_string(), c)) {
                Some(v) if !v.is_empty() => {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (median(v), format!("{:.1} ({:.1}–{:.1})", median(v), lo, hi))
                }
                _ => (f64::NAN, "—".into()),
            }
        };
        println!(
            "| {:<width$} | {:>22} | {:>22} | {:>6} | {:>22} |",
            "workload", "papi-server", "automerge-repo (JS)", "ratio", "papi-server in memory"
        );
        println!(
            "|{}|{}|{}|{}|{}|",
            "-".repeat(width + 2),
            "-".repeat(24),
            "-".repeat(24),
            "-".repeat(8),
            "-".repeat(24)
        );
        for row in &self.rows {
            let (ours, ours_text) = cell(row, 0);
            let (reference, reference_text) = cell(row, 1);
            let (_, memory_text) = cell(row, 2);
            let ratio = reference / ours;
            let ratio = if ratio.is_finite() {
                format!("{ratio:.2}")
            } else {
                "—".into()
            };
            println!(
                "| {:<width$} | {:>22} | {:>22} | {:>6} | {:>22} |",
                row, ours_text, reference_text, ratio, memory_text
            );
        }
    }
}

//! A simulated network: one server and several browsers, each a `Repo` with
//! storage of its own, driven by a seeded random schedule of edits,
//! deliveries, commits and faults (messages delayed, duplicated, reordered
//! across documents, or lost with their connection; browsers going offline
//! and coming back, reloading; the server killed, losing what it had not
//! committed). Every run must end, once the network heals, with every peer
//! on the same heads and every change in the server's storage; and at every
//! moment, a browser hears heads that include its own changes only once the
//! server has stored them.
//!
//! A failing run prints its seed: `SEED=<n> cargo test -p papi-sync --test
//! network` replays it (with `TRACE=1`, message by message); `SEEDS=<n>`
//! runs n seeds instead of the default few hundred.

use std::collections::{BTreeMap, HashSet, VecDeque};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash, ReadDoc, ROOT};
use papi_sync::wire::Message;
use papi_sync::{Conn, DocId, Key, Output, Phase, Repo, Role, Settings, Write};

/// xorshift64*: a small generator whose runs repeat from their seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Storage that commits writes in order, when the schedule says so.
#[derive(Default)]
struct Disk {
    committed: BTreeMap<String, Vec<u8>>,
    queue: VecDeque<(DocId, Write)>,
    loads: VecDeque<DocId>,
}

impl Disk {
    fn chunks(&self, doc: DocId) -> Vec<(Key, Vec<u8>)> {
        let prefix = Key::prefix(doc);
        self.committed
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, v)| Some((Key::parse(k)?, v.clone())))
            .collect()
    }

    /// The changes committed for `doc`.
    fn changes(&self, doc: DocId) -> HashSet<ChangeHash> {
        let mut d = Automerge::new();
        for (_, bytes) in self.chunks(doc) {
            d.load_incremental(&bytes).expect("stored chunks load");
        }
        d.get_changes(&[]).iter().map(|c| c.hash()).collect()
    }

    /// Commits the oldest write; returns it for the repository.
    fn commit(&mut self) -> Option<(DocId, u64)> {
        let (doc, write) = self.queue.pop_front()?;
        for (key, bytes) in write.put {
            self.committed.insert(key.to_string(), bytes);
        }
        for key in write.delete {
            self.committed.remove(&key.to_string());
        }
        Some((doc, write.ticket))
    }
}

struct Browser {
    repo: Repo,
    disk: Disk,
    /// The connection to the server, when online.
    conn: Option<Conn>,
    /// Changes made here.
    own: HashSet<ChangeHash>,
    docs: Vec<DocId>,
    name: String,
}

/// Messages in flight on one connection, in each direction.
#[derive(Default)]
struct Wire {
    to_server: VecDeque<Message>,
    to_browser: VecDeque<Message>,
}

struct World {
    rng: Rng,
    server: Repo,
    server_disk: Disk,
    browsers: Vec<Browser>,
    wires: BTreeMap<Conn, (usize, Wire)>,
    next_conn: Conn,
    docs: Vec<DocId>,
    clock: u64,
    log: Vec<String>,
}

fn document_of(m: &Message) -> Option<DocId> {
    match m {
        Message::Request(d) | Message::Sync(d) => Some(d.document_id),
        Message::DocUnavailable { document_id, .. } | Message::Ephemeral { document_id, .. } => {
            Some(*document_id)
        }
        _ => None,
    }
}

fn new_server() -> Repo {
    Repo::new("server".into(), Role::Server, Settings::default()).unload_after(1_000)
}

fn new_browser_repo(name: &str, generation: u64) -> Repo {
    let settings = Settings {
        ask_peers: true,
        // Small, so that runs compact often.
        compact_after: 4,
        answers_wait_for_storage: false,
    };
    Repo::new(format!("{name}-{generation}"), Role::Client, settings)
}

impl World {
    fn new(seed: u64, browsers: usize, docs: usize) -> World {
        let mut w = World {
            rng: Rng::new(seed),
            server: new_server(),
            server_disk: Disk::default(),
            browsers: Vec::new(),
            wires: BTreeMap::new(),
            next_conn: 1,
            docs: Vec::new(),
            clock: 0,
            log: Vec::new(),
        };
        for i in 0..docs {
            let id = DocId::from_bytes([i as u8 + 1; 16]);
            let mut doc =
                Automerge::new().with_actor(ActorId::from(format!("server-{i}").as_bytes()));
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(ROOT, "title", format!("document {i}"))?;
                Ok(())
            })
            .unwrap();
            w.server.create(id, doc);
            w.docs.push(id);
        }
        w.server_outputs();
        // Documents the server made are committed before anyone asks.
        while let Some((doc, ticket)) = w.server_disk.commit() {
            w.server.stored(doc, ticket);
            w.server_outputs();
        }
        for b in 0..browsers {
            let name = format!("b{b}");
            // Each browser works on two documents (or all, if fewer).
            let mut mine = w.docs.clone();
            while mine.len() > 2 {
                mine.remove(w.rng.below(mine.len()));
            }
            let mut browser = Browser {
                repo: new_browser_repo(&name, 0),
                disk: Disk::default(),
                conn: None,
                own: HashSet::new(),
                docs: mine.clone(),
                name,
            };
            for id in mine {
                browser.repo.open(id);
            }
            w.browsers.push(browser);
            w.browser_outputs(b);
        }
        w
    }

    fn server_outputs(&mut self) {
        for out in self.server.take_outputs() {
            match out {
                Output::Send(conn, message) => {
                    if let Some((b, wire)) = self.wires.get_mut(&conn) {
                        // Acknowledged means stored: a message that tells a
                        // browser the server has its changes goes only once
                        // they are committed.
                        if let Message::Sync(m) = &message {
                            let sync = automerge::sync::Message::decode(&m.data).unwrap();
                            let server_doc = self.server.document(m.document_id).unwrap().doc();
                            let stored = self.server_disk.changes(m.document_id);
                            let browser = &self.browsers[*b];
                            for h in &browser.own {
                                if server_doc.get_change_by_hash(h).is_some() {
                                    assert!(
                                        stored.contains(h),
                                        "the server announced heads {:?} to {} before storing its change {h}",
                                        sync.heads,
                                        browser.name
                                    );
                                }
                            }
                        }
                        wire.to_browser.push_back(message);
                    }
                }
                Output::Close(conn, reason) => {
                    self.log.push(format!("server closed {conn}: {reason}"));
                    self.cut(conn);
                }
                Output::Load(doc) => self.server_disk.loads.push_back(doc),
                Output::Store(doc, write) => self.server_disk.queue.push_back((doc, write)),
                Output::Unreadable { key, error, .. } => panic!("unreadable {key:?}: {error}"),
                _ => {}
            }
        }
    }

    fn browser_outputs(&mut self, b: usize) {
        for out in self.browsers[b].repo.take_outputs() {
            match out {
                Output::Send(conn, message) => {
                    if let Some((_, wire)) = self.wires.get_mut(&conn) {
                        wire.to_server.push_back(message);
                    }
                }
                Output::Close(conn, reason) => {
                    self.log.push(format!("{b} closed {conn}: {reason}"));
                    self.cut(conn);
                }
                Output::Load(doc) => self.browsers[b].disk.loads.push_back(doc),
                Output::Store(doc, write) => self.browsers[b].disk.queue.push_back((doc, write)),
                Output::Unreadable { key, error, .. } => panic!("unreadable {key:?}: {error}"),
                _ => {}
            }
        }
    }

    /// A connection breaks: both ends hear of it; what was in flight is lost.
    fn cut(&mut self, conn: Conn) {
        if std::env::var("TRACE").is_ok() {
            eprintln!("cut {conn}");
        }
        let Some((b, _)) = self.wires.remove(&conn) else {
            return;
        };
        self.server.disconnected(conn);
        self.server_outputs();
        self.browsers[b].repo.disconnected(conn);
        self.browsers[b].conn = None;
        self.browser_outputs(b);
    }

    fn go_online(&mut self, b: usize) {
        if self.browsers[b].conn.is_some() {
            return;
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        self.wires.insert(conn, (b, Wire::default()));
        if std::env::var("TRACE").is_ok() {
            eprintln!("online b{b} {conn}");
        }
        self.browsers[b].conn = Some(conn);
        let peer = self.browsers[b].repo.peer_id().to_string();
        self.server.connected(conn, Some(peer));
        self.server_outputs();
        self.browsers[b].repo.connected(conn, None);
        self.browser_outputs(b);
    }

    fn edit(&mut self, b: usize) {
        let browser = &mut self.browsers[b];
        let doc = browser.docs[self.rng.below(browser.docs.len())];
        let n = self.rng.next() % 1000;
        let key = format!("k{}", self.rng.below(5));
        let actor = ActorId::from(browser.repo.peer_id().as_bytes());
        let made = browser.repo.change(doc, |d| {
            d.set_actor(actor);
            let before = d.get_heads();
            d.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(ROOT, key.as_str(), n as i64)?;
                Ok(())
            })
            .unwrap();
            d.get_changes(&before)
                .iter()
                .map(|c| c.hash())
                .collect::<Vec<_>>()
        });
        if let Some(hashes) = made {
            browser.own.extend(hashes);
        }
        self.browser_outputs(b);
    }

    /// Picks a message from a wire: the first of some document's queue, so
    /// that one document's messages stay in order while documents overtake
    /// each other.
    fn pick(rng: &mut Rng, queue: &VecDeque<Message>) -> Option<usize> {
        let first = queue.front()?;
        if document_of(first).is_none() {
            return Some(0);
        }
        let mut seen = HashSet::new();
        let mut heads = Vec::new();
        for (i, m) in queue.iter().enumerate() {
            match document_of(m) {
                Some(d) => {
                    if seen.insert(d) {
                        heads.push(i);
                    }
                }
                None => break,
            }
        }
        Some(heads[rng.below(heads.len())])
    }

    fn deliver(&mut self, conn: Conn, to_server: bool, duplicate: bool) {
        let Some((b, wire)) = self.wires.get_mut(&conn) else {
            return;
        };
        let b = *b;
        let queue = if to_server {
            &mut wire.to_server
        } else {
            &mut wire.to_browser
        };
        let Some(i) = World::pick(&mut self.rng, queue) else {
            return;
        };
        let message = if duplicate {
            queue[i].clone()
        } else {
            queue.remove(i).unwrap()
        };
        if std::env::var("TRACE").is_ok() {
            if let Message::Sync(m) | Message::Request(m) = &message {
                let s = automerge::sync::Message::decode(&m.data).unwrap();
                eprintln!(
                    "{} {conn} {} heads {:?} changes {} need {:?}",
                    if to_server { "->S" } else { "->B" },
                    m.document_id,
                    s.heads
                        .iter()
                        .map(|h| h.to_string()[..6].to_string())
                        .collect::<Vec<_>>(),
                    s.changes.len(),
                    s.need.len()
                );
            }
        }
        if to_server {
            self.server.receive(conn, message, true);
            self.server_outputs();
        } else {
            self.browsers[b].repo.receive(conn, message, true);
            self.browser_outputs(b);
        }
    }

    fn load(&mut self, b: Option<usize>) {
        match b {
            None => {
                if let Some(doc) = self.server_disk.loads.pop_front() {
                    let chunks = self.server_disk.chunks(doc);
                    self.server.chunks_loaded(doc, chunks);
                    self.server_outputs();
                }
            }
            Some(b) => {
                if let Some(doc) = self.browsers[b].disk.loads.pop_front() {
                    let chunks = self.browsers[b].disk.chunks(doc);
                    self.browsers[b].repo.chunks_loaded(doc, chunks);
                    self.browser_outputs(b);
                }
            }
        }
    }

    fn commit(&mut self, b: Option<usize>) {
        match b {
            None => {
                if let Some((doc, ticket)) = self.server_disk.commit() {
                    self.server.stored(doc, ticket);
                    self.server_outputs();
                }
            }
            Some(b) => {
                if let Some((doc, ticket)) = self.browsers[b].disk.commit() {
                    self.browsers[b].repo.stored(doc, ticket);
                    self.browser_outputs(b);
                }
            }
        }
    }

    /// The server is killed: what it had not committed is lost, every
    /// connection drops; it starts again from its storage.
    fn crash_server(&mut self) {
        if std::env::var("TRACE").is_ok() {
            eprintln!("crash");
        }
        self.log.push("server killed".into());
        let conns: Vec<Conn> = self.wires.keys().copied().collect();
        self.server_disk.queue.clear();
        self.server_disk.loads.clear();
        self.server = new_server();
        for conn in conns {
            if let Some((b, _)) = self.wires.remove(&conn) {
                self.browsers[b].repo.disconnected(conn);
                self.browsers[b].conn = None;
                self.browser_outputs(b);
            }
        }
    }

    /// A browser's page reloads: its device writes finish, then it starts
    /// again from the device, on a new connection later.
    fn reload(&mut self, b: usize) {
        if std::env::var("TRACE").is_ok() {
            eprintln!("reload b{b}");
        }
        if let Some(conn) = self.browsers[b].conn {
            self.cut(conn);
        }
        while self.browsers[b].disk.commit().is_some() {}
        self.browsers[b].disk.loads.clear();
        let browser = &mut self.browsers[b];
        let generation = self.clock;
        browser.repo = new_browser_repo(&browser.name, generation);
        for id in browser.docs.clone() {
            browser.repo.open(id);
        }
        self.browser_outputs(b);
    }

    fn step(&mut self, faults: bool) {
        self.clock += 1;
        let roll = self.rng.below(100);
        let b = self.rng.below(self.browsers.len());
        match roll {
            0..=14 => self.edit(b),
            15..=49 => {
                let conns: Vec<Conn> = self.wires.keys().copied().collect();
                if !conns.is_empty() {
                    let conn = conns[self.rng.below(conns.len())];
                    let to_server = self.rng.chance(50);
                    let duplicate = faults && self.rng.chance(3);
                    self.deliver(conn, to_server, duplicate);
                }
            }
            50..=59 => self.commit(None),
            60..=69 => self.commit(Some(b)),
            70..=74 => self.load(None),
            75..=79 => self.load(Some(b)),
            80..=86 => self.go_online(b),
            87..=89 if faults => {
                // A message lost: the connection breaks, as a socket does.
                if let Some(conn) = self.browsers[b].conn {
                    self.log.push(format!("cut {conn}"));
                    self.cut(conn);
                }
            }
            90..=91 if faults => self.reload(b),
            92 if faults && self.rng.chance(30) => self.crash_server(),
            93..=95 => {
                self.server.tick(self.clock * 10);
                self.server_outputs();
            }
            _ => {}
        }
    }

    /// Everyone online, everything delivered and committed.
    fn heal(&mut self) {
        for round in 0.. {
            assert!(round < 10_000, "the network does not settle");
            for b in 0..self.browsers.len() {
                self.go_online(b);
            }
            let mut busy = false;
            let conns: Vec<Conn> = self.wires.keys().copied().collect();
            for conn in conns {
                for to_server in [true, false] {
                    let pending = self.wires.get(&conn).is_some_and(|(_, w)| {
                        if to_server {
                            !w.to_server.is_empty()
                        } else {
                            !w.to_browser.is_empty()
                        }
                    });
                    if pending {
                        busy = true;
                        self.deliver(conn, to_server, false);
                    }
                }
            }
            if !self.server_disk.queue.is_empty() || !self.server_disk.loads.is_empty() {
                busy = true;
                self.commit(None);
                self.load(None);
            }
            for b in 0..self.browsers.len() {
                if !self.browsers[b].disk.queue.is_empty()
                    || !self.browsers[b].disk.loads.is_empty()
                {
                    busy = true;
                    self.commit(Some(b));
                    self.load(Some(b));
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn check(&mut self) {
        for &id in &self.docs.clone() {
            let stored = self.server_disk.changes(id);
            let mut server_heads = None;
            for browser in &self.browsers {
                if !browser.docs.contains(&id) {
                    continue;
                }
                let doc = browser.repo.document(id).expect("open on the browser");
                assert_eq!(doc.phase(), Phase::Ready, "{} {id}", browser.name);
                let mut heads = doc.doc().get_heads();
                heads.sort();
                let server = server_heads.get_or_insert_with(|| {
                    let mut h = Automerge::new();
                    for (_, bytes) in self.server_disk.chunks(id) {
                        h.load_incremental(&bytes).unwrap();
                    }
                    let mut heads = h.get_heads();
                    heads.sort();
                    heads
                });
                assert_eq!(
                    &heads, server,
                    "{} is not on the server's heads for {id}",
                    browser.name
                );
                for h in &browser.own {
                    if doc.doc().get_change_by_hash(h).is_some() {
                        assert!(
                            stored.contains(h),
                            "{}'s change {h} is not stored",
                            browser.name
                        );
                    }
                }
            }
        }
        for b in 0..self.browsers.len() {
            for id in self.browsers[b].docs.clone() {
                let n = self.browsers[b].repo.unconfirmed(id);
                let d = self.browsers[b].repo.document(id).unwrap();
                assert_eq!(
                    n,
                    Some(0),
                    "{} still counts unconfirmed changes in {id}: confirmed {:?}, heads {:?}",
                    self.browsers[b].name,
                    d.confirmed_heads(),
                    d.doc().get_heads(),
                );
            }
        }
    }
}

fn run(seed: u64, steps: usize, faults: bool) {
    let mut world = World::new(seed, 3, 3);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..steps {
            world.step(faults);
        }
        world.heal();
        world.check();
    }));
    if let Err(e) = result {
        let tail: Vec<&String> = world.log.iter().rev().take(12).collect();
        eprintln!("seed {seed} failed; last events, newest first: {tail:#?}");
        std::panic::resume_unwind(e);
    }
}

/// The seeds to run: `SEED=n` replays one, `SEEDS=n` runs n from the
/// default's first (a longer search than the default's).
fn seeds(default: std::ops::Range<u64>) -> Vec<u64> {
    if let Ok(s) = std::env::var("SEED") {
        return vec![s.parse().expect("SEED is a number")];
    }
    match std::env::var("SEEDS") {
        Ok(n) => {
            (default.start..default.start + n.parse::<u64>().expect("SEEDS is a number")).collect()
        }
        Err(_) => default.collect(),
    }
}

#[test]
fn every_peer_converges_on_a_reliable_network() {
    for seed in seeds(0..100) {
        run(seed, 300, false);
    }
}

#[test]
fn every_peer_converges_and_nothing_acknowledged_is_lost_through_faults() {
    for seed in seeds(1000..1300) {
        run(seed, 400, true);
    }
}

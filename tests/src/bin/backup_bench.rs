//! The backup benchmark: a database of about `--megabytes` MB (500 by
//! default) of reports, backed up with `papi-server backup` while a client
//! types into the plan. Prints how long the backup took (copy and check)
//! and each keystroke's wait for its acknowledgement before and during the
//! backup: a backup must not hold up the people working.
//!
//! Run it with `scripts/bench-backup` (the server built with the `server`
//! profile).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{Automerge, ObjType, ROOT};
use papi::ids::DocId;
use papi::schema::measure_text;
use papi_e2e::{server_command, Server, SyncClient};

fn main() {
    let option = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    let megabytes: usize = option("--megabytes")
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);

    // A report of 5,000 typed words, saved as the server stores one.
    let report = typed_report(5_000);
    let copies = (megabytes << 20) / report.len() + 1;
    println!(
        "a report of {} bytes; {copies} documents for about {megabytes} MB",
        report.len()
    );

    let mut server = Server::start();
    assert!(server.stop());
    let db_file = server.data_dir().join("papi.sqlite3");
    let started = Instant::now();
    {
        let mut db = rusqlite::Connection::open(&db_file).expect("the database");
        let tx = db.transaction().unwrap();
        {
            let mut insert = tx
                .prepare("INSERT INTO docs (key, data) VALUES (?1, ?2)")
                .unwrap();
            let heads = Automerge::load(&report).unwrap().get_heads();
            for n in 0..copies {
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&(n as u64 + 1).to_le_bytes());
                bytes[8..].copy_from_slice(b"backupbe");
                let id = DocId::from_bytes(bytes);
                insert
                    .execute((format!("{id}/snapshot/{}", heads[0]), &report))
                    .unwrap();
            }
        }
        tx.commit().unwrap();
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let size = std::fs::metadata(&db_file).unwrap().len();
    println!(
        "database written: {:.0} MB in {:.1} s",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    server.restart();

    // One person types into the plan, a keystroke every 50 ms, each
    // waited for until the server acknowledges it (stored).
    let plan = DocId::parse(server.get("/api/plan", None).1["url"].as_str().unwrap()).unwrap();
    let mut typist = SyncClient::connect_as(&server, "vanphong");
    assert!(typist.open(plan));
    typist.until("the plan", Duration::from_secs(60), |c| {
        c.server_has_all(plan)
    });
    let text = measure_text(typist.doc(plan), "d1-m1").unwrap();
    let waits: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let typing = {
        let waits = waits.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                typist.change(plan, |tx| {
                    tx.splice_text(&text, n, 0, "a").unwrap();
                });
                n += 1;
                typist.until("the keystroke acknowledged", Duration::from_secs(60), |c| {
                    c.server_has_all(plan)
                });
                waits
                    .lock()
                    .unwrap()
                    .push((sent, sent.elapsed().as_secs_f64() * 1000.0));
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(30));
    let file = server.data_dir().join("bench-backup.sqlite3");
    let began = Instant::now();
    let made = server_command(server.data_dir(), &["backup", file.to_str().unwrap()], None);
    let took = began.elapsed();
    let ended = Instant::now();
    std::thread::sleep(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    typing.join().unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    println!("{}", String::from_utf8_lossy(&made.stdout).trim());

    let waits = waits.lock().unwrap();
    let during: Vec<f64> = waits
        .iter()
        .filter(|(at, _)| *at >= began && *at <= ended)
        .map(|(_, w)| *w)
        .collect();
    let before: Vec<f64> = waits
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, w)| *w)
        .collect();
    let row = |name: &str, mut w: Vec<f64>| {
        w.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| w[((w.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "| keystroke to acknowledgement, {name} | {} keys | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms |",
            w.len(),
            at(0.5),
            at(0.99),
            w[w.len() - 1]
        );
    };
    println!();
    println!(
        "| backup of a {:.0} MB database ({copies} documents), copied and checked | {:.1} s |",
        size as f64 / 1e6,
        took.as_secs_f64()
    );
    let after: Vec<f64> = waits
        .iter()
        .filter(|(at, _)| *at > ended)
        .map(|(_, w)| *w)
        .collect();
    row("in the 30 s before the backup", before);
    row("during the backup", during);
    row("in the 30 s after it", after);
    // When the slow ones came, from the backup's start: the copy's
    // writing, or the check's reading.
    let slow: Vec<String> = waits
        .iter()
        .filter(|(at, w)| *at >= began && *at <= ended && *w > 50.0)
        .map(|(at, w)| format!("{:.1} s: {w:.0} ms", at.duration_since(began).as_secs_f64()))
        .collect();
    println!(
        "keystrokes over 50 ms during the backup: {}",
        slow.join(", ")
    );
}

/// A report as people write one: words typed at places all over its
/// texts by four people, one change a word, saved whole.
fn typed_report(changes: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "cải cách ",
        "hành chính ",
        "công khai ",
        "minh bạch ",
        "người dân ",
        "ngân sách ",
        "thủ tục ",
        "đối thoại ",
        "kiểm tra ",
        "báo cáo ",
        "xã phường ",
        "tiếp nhận ",
    ];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |below: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % below as u64) as usize
    };
    let mut people: Vec<Automerge> = Vec::new();
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    let texts: Vec<_> = (0..16)
        .map(|i| {
            tx.put_object(ROOT, format!("text-{i}"), ObjType::Text)
                .unwrap()
        })
        .collect();
    tx.commit();
    for _ in 0..4 {
        people.push(doc.fork());
    }
    let mut lengths = vec![0usize; texts.len()];
    for n in 0..changes {
        let who = &mut people[n % 4];
        let t = next(texts.len());
        let at = next(lengths[t] + 1).min(automerge::ReadDoc::length(who, &texts[t]));
        let word = WORDS[next(WORDS.len())];
        let mut tx = who.transaction();
        tx.splice_text(&texts[t], at, 0, word).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1_780_000_000 + n as i64));
        lengths[t] += word.chars().count();
        // Now and then the four meet and merge.
        if n % 500 == 499 {
            for p in &mut people {
                doc.merge(p).unwrap();
            }
            for p in &mut people {
                p.merge(&mut doc.clone()).unwrap();
            }
        }
    }
    for p in &mut people {
        doc.merge(p).unwrap();
    }
    doc.save()
}

//! Writes a small database of this release, for the upgrade tests of the
//! releases after it: `cargo run -p papi-e2e --bin release_db -- NAME`
//! makes `tests/data/release-NAME/` with `papi.sqlite3` (a demo server's
//! database after a little of everything: reports made, written, submitted,
//! returned and accepted, a proposal) and `heads.txt` (every document's
//! heads, as `papi-server check --list` prints them). Run it with the
//! release's own server binary built (`cargo build -p papi-server`).

use automerge::transaction::Transactable;
use papi::schema::measure_text;
use papi_e2e::{server_command, workspace_root, Server, SyncClient};
use serde_json::json;

fn main() {
    let name = std::env::args()
        .nth(1)
        .expect("usage: release_db NAME (such as 2026-12-07)");
    let out = workspace_root().join(format!("tests/data/release-{name}"));
    assert!(!out.exists(), "{} exists already", out.display());

    let mut server = Server::start();
    let office = server.token("vanphong");
    let lead = server.token("truongphong");

    // The plan: a measure's text written by the Office.
    let plan =
        papi::ids::DocId::parse(server.get("/api/plan", None).1["url"].as_str().unwrap()).unwrap();
    let mut editor = SyncClient::connect_as(&server, "vanphong");
    assert!(editor.open(plan));
    editor.until("the plan", std::time::Duration::from_secs(60), |c| {
        c.server_has_all(plan)
    });
    let text = measure_text(editor.doc(plan), "d1-m1").expect("the first measure");
    editor.change(plan, |tx| {
        tx.splice_text(&text, 0, 0, "Đã rà soát: ").unwrap();
    });
    editor.until("the edit stored", std::time::Duration::from_secs(60), |c| {
        c.server_has_all(plan)
    });

    // Reports of two periods; one goes through a whole review.
    let budget = "phong-ngan-sach";
    let first = server.report(&office, budget, "2026-h1");
    let second = server.report(&office, budget, "2026-year");
    let office_report = server.report(&office, "van-phong", "2026-h1");
    let step = |token: &str, doc: papi::ids::DocId, action: &str, reason: &str| {
        let body = json!({ "url": doc.url(), "action": action, "reason": reason, "device_time_ms": 1_781_000_000_000i64 });
        let (status, answer) = server.post("/api/reports/transition", Some(token), body);
        assert_eq!(status, 200, "{action}: {answer}");
    };
    step(&lead, first, "submit", "");
    step(&office, first, "return", "Bổ sung số liệu");
    step(&lead, first, "submit", "");
    step(&office, first, "accept", "");
    let (status, answer) = server.post(
        "/api/proposals",
        Some(&lead),
        json!({ "measure_id": "d1-m1", "kind": "edit", "text": "Tổ chức đối thoại mỗi quý", "reason": "Sát thực tế hơn" }),
    );
    assert_eq!(status, 200, "{answer}");
    let _ = (second, office_report);

    assert!(server.stop(), "the server stops cleanly");
    std::fs::create_dir_all(&out).unwrap();
    let db = out.join("papi.sqlite3");
    std::fs::copy(server.data_dir().join("papi.sqlite3"), &db).unwrap();
    let listed = server_command(
        server.data_dir(),
        &["check", db.to_str().unwrap(), "--list"],
        None,
    );
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let heads: String = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| !l.starts_with("Sound"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(out.join("heads.txt"), heads).unwrap();
    println!("wrote {}", out.display());
}

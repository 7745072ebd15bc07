//! Unit reports through the real `/sync` endpoint: who may read and write a
//! draft, and the report of another unit stays out of reach even by id.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use papi::ids::DocId;
use papi_e2e::{Server, SyncClient};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

fn create_report(server: &Server, user: &str, unit: &str, period: &str) -> (u16, Value) {
    let new = json!({ "unit": unit, "period": period });
    server.post("/api/reports", Some(&server.token(user)), new)
}

/// The first section's "results" text.
fn results(client: &SyncClient, id: DocId) -> String {
    let doc = client.doc(id);
    let (_, sections) = doc.get(ROOT, "sections").unwrap().unwrap();
    let (_, first) = doc.get(&sections, 0).unwrap().unwrap();
    let (_, text) = doc.get(&first, "results").unwrap().unwrap();
    doc.text(&text).unwrap()
}

fn write_results(client: &mut SyncClient, id: DocId, words: &str) {
    client.change(id, |tx| {
        let (_, sections) = tx.get(ROOT, "sections").unwrap().unwrap();
        let (_, first) = tx.get(&sections, 0).unwrap().unwrap();
        let (value, text) = tx.get(&first, "results").unwrap().unwrap();
        assert_eq!(value, automerge::Value::Object(ObjType::Text));
        let end = tx.length(&text);
        tx.splice_text(&text, end, 0, words).unwrap();
    });
}

#[test]
fn a_draft_report_is_its_units_to_write_and_others_see_only_what_they_may() {
    let server = Server::start();
    // The unit's lead starts the report; the same request again finds it.
    let (status, made) = create_report(&server, "truongphong", "phong-ngan-sach", "2026-h1");
    assert_eq!(status, 200, "{made}");
    let id = DocId::parse(made["url"].as_str().unwrap()).unwrap();
    let (_, again) = create_report(&server, "vanphong", "phong-ngan-sach", "2026-h1");
    assert_eq!(again["url"], made["url"], "one report per unit and period");
    // Others may not start another unit's report.
    assert_eq!(create_report(&server, "xem", "thanh-tra", "2026-h1").0, 403);
    assert_eq!(
        create_report(&server, "chuyenvien", "thanh-tra", "2026-h1").0,
        403
    );
    assert_eq!(
        create_report(&server, "truongphong", "phong-ngan-sach", "2031-h1").0,
        400
    );

    // role, reads, writes — for a draft of the Budget division's report.
    let cells = [
        ("truongphong", true, true),
        ("chuyenvien", true, true),
        ("vanphong", true, false),
        ("giamdoc", true, false),
        ("quantri", false, false),
        ("xem", false, false), // a viewer of another unit (the Inspectorate)
    ];
    let mut expected = String::new();
    for (user, reads, writes) in cells {
        let mut client = SyncClient::connect_as(&server, user);
        assert_eq!(client.open(id), reads, "{user} reads: {reads}");
        if !reads {
            continue;
        }
        let words = format!("[{user}]");
        write_results(&mut client, id, &words);
        if writes {
            expected.push_str(&words);
            client.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));
        }
        let mut lead = SyncClient::connect_as(&server, "truongphong");
        assert!(lead.open(id));
        assert_eq!(results(&lead, id), expected, "after {user}");
    }

    // Listing shows each user only the reports they may read.
    let listed = |user: &str| -> usize {
        let (_, list) = server.get("/api/reports", Some(&server.token(user)));
        list.as_array().expect("a list").len()
    };
    assert_eq!(listed("chuyenvien"), 1);
    assert_eq!(listed("giamdoc"), 1);
    assert_eq!(listed("xem"), 0);
}

fn transition(server: &Server, user: &str, url: &str, action: &str, reason: &str) -> (u16, Value) {
    let step = json!({ "url": url, "action": action, "reason": reason, "device_time_ms": 1_781_000_000_000i64 });
    server.post("/api/reports/transition", Some(&server.token(user)), step)
}

/// The unit's members write the report only while it is a draft or returned;
/// the server applies a new status to connections that are already open.
#[test]
fn the_review_status_decides_who_writes_even_on_open_connections() {
    let server = Server::start();
    let (_, made) = create_report(&server, "truongphong", "phong-ngan-sach", "2026-h1");
    let url = made["url"].as_str().unwrap().to_string();
    let id = DocId::parse(&url).unwrap();
    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    assert!(staff.open(id));
    let mut expected = String::new();
    let staff_writes = |staff: &mut SyncClient, expected: &mut String, words: &str, taken: bool| {
        write_results(staff, id, words);
        if taken {
            expected.push_str(words);
            staff.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));
        }
        let mut office = SyncClient::connect_as(&server, "vanphong");
        assert!(office.open(id));
        // The coordinator sees exactly what was taken.
        assert_eq!(results(&office, id), *expected, "after {words}");
    };
    staff_writes(&mut staff, &mut expected, "[nháp]", true);

    // Forbidden moves are refused by the server, whatever a screen offers:
    // staff do not submit, a draft is not accepted, and without access
    // there is no news. Then the lead submits.
    for (user, action, expected) in [
        ("chuyenvien", "submit", 409),
        ("vanphong", "accept", 409),
        ("xem", "submit", 404),
        ("truongphong", "submit", 200),
    ] {
        let (status, answer) = transition(&server, user, &url, action, "");
        assert_eq!(status, expected, "{user} {action}: {answer}");
    }
    // Submitted: the staff's open connection is now read-only.
    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(id));
    write_results(&mut office, id, "[VP]"); // a coordinator only reads a unit's report
    write_results(&mut staff, id, "[sau khi nộp]");
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    assert!(lead.open(id));
    assert_eq!(results(&lead, id), expected);

    // A return needs a reason.
    for (reason, expected) in [("", 409), ("Thiếu số liệu", 200)] {
        assert_eq!(
            transition(&server, "vanphong", &url, "return", reason).0,
            expected
        );
    }
    // Returned: the unit writes again, on the same connection.
    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    assert!(staff.open(id));
    staff_writes(&mut staff, &mut expected, "[bổ sung]", true);

    assert_eq!(
        transition(&server, "truongphong", &url, "submit", "").0,
        200
    );
    let (code, answer) = transition(&server, "vanphong", &url, "accept", "");
    assert_eq!(code, 200);
    assert_eq!(answer["status"], "accepted");
    staff_writes(&mut staff, &mut expected, "[sau khi duyệt]", false);
    assert!(!staff.server_has_all(id));
}

/// The consolidated report: the Office writes it, the Director reads and
/// approves it, nobody else sees it; once approved it is read-only.
#[test]
fn the_consolidated_report_is_the_offices_until_the_director_approves_it() {
    let server = Server::start();
    let create = |user: &str| {
        let period = json!({ "period": "2026-h1" });
        server.post("/api/consolidated", Some(&server.token(user)), period)
    };
    assert_eq!(create("truongphong").0, 403);
    let (status, made) = create("vanphong");
    assert_eq!(status, 200, "{made}");
    let url = made["url"].as_str().unwrap().to_string();
    let id = DocId::parse(&url).unwrap();

    for (user, reads) in [
        ("vanphong", true),
        ("giamdoc", true),
        ("quantri", false),
        ("truongphong", false),
        ("chuyenvien", false),
        ("xem", false),
    ] {
        let mut client = SyncClient::connect_as(&server, user);
        assert_eq!(
            client.open(id),
            reads,
            "{user} reads the consolidated report: {reads}"
        );
    }
    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(id));
    write_results(&mut office, id, "Tổng hợp: ");
    office.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));

    let approve = |user: &str| {
        let report = json!({ "url": url });
        server
            .post(
                "/api/consolidated/approve",
                Some(&server.token(user)),
                report,
            )
            .0
    };
    assert_eq!(approve("vanphong"), 403, "only the Director approves");
    assert_eq!(approve("giamdoc"), 200);
    assert_eq!(approve("giamdoc"), 409, "approved once");

    // Approved: the Office's open connection can no longer change it.
    write_results(&mut office, id, "sau khi duyệt");
    let mut director = SyncClient::connect_as(&server, "giamdoc");
    assert!(director.open(id));
    assert_eq!(results(&director, id), "Tổng hợp: ");
}

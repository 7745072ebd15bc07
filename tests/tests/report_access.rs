//! Unit reports through the real `/sync` endpoint: who may read and write a
//! draft, and the report of another unit stays out of reach even by id.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use papi::ids::DocId;
use papi_e2e::{http, Server, SyncClient};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

fn create_report(server: &Server, user: &str, unit: &str, period: &str) -> (u16, Value) {
    let mut r = http()
        .post(server.url("/api/reports"))
        .header("authorization", format!("Bearer {}", server.token(user)))
        .send_json(json!({ "unit": unit, "period": period }))
        .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
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
        let mut r = http()
            .get(server.url("/api/reports"))
            .header("authorization", format!("Bearer {}", server.token(user)))
            .call()
            .unwrap();
        let v: Value = r.body_mut().read_json().unwrap();
        v.as_array().unwrap().len()
    };
    assert_eq!(listed("chuyenvien"), 1);
    assert_eq!(listed("giamdoc"), 1);
    assert_eq!(listed("xem"), 0);
}

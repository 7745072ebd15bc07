//! The consolidated report assembled from the units' accepted reports,
//! through the real server and the real `/sync` endpoint.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ObjId, ReadDoc, ROOT};
use papi::ids::DocId;
use papi_e2e::{Server, SyncClient};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);
const BUDGET: &str = "Phòng Quản lý Ngân sách và Tài chính hành chính sự nghiệp";

/// A GET (no body) or a POST of `body` to the API as `user`.
fn call(server: &Server, user: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = if body.is_some() { "POST" } else { "GET" };
    server.call(method, path, Some(&server.token(user)), body)
}

fn ok(server: &Server, user: &str, path: &str, body: Value) -> Value {
    let (status, answer) = call(server, user, path, Some(body));
    assert_eq!(status, 200, "{user} {path}: {answer}");
    answer
}

/// The section of dimension `number` in a report.
fn section<D: ReadDoc>(doc: &D, number: i64) -> ObjId {
    let (_, sections) = doc.get(ROOT, "sections").unwrap().unwrap();
    (0..doc.length(&sections))
        .map(|i| doc.get(&sections, i).unwrap().unwrap().1)
        .find(|s| {
            matches!(doc.get(s, "number").unwrap(), Some((automerge::Value::Scalar(n), _)) if n.as_i64() == Some(number))
        })
        .unwrap_or_else(|| panic!("no section {number}"))
}

fn text(client: &SyncClient, id: DocId, number: i64, key: &str) -> String {
    let doc = client.doc(id);
    let (_, t) = doc.get(section(doc, number), key).unwrap().unwrap();
    doc.text(&t).unwrap()
}

/// Writes `words` at the end of a section's text and waits for the server.
fn write(client: &mut SyncClient, id: DocId, number: i64, key: &str, words: &str) {
    client.change(id, |tx| {
        let s = section(&*tx, number);
        let (_, t) = tx.get(&s, key).unwrap().unwrap();
        let end = tx.length(&t);
        tx.splice_text(&t, end, 0, words).unwrap();
    });
    client.until("the acknowledgement", LIMIT, |c| c.server_has_all(id));
}

/// The consolidated report as the Office reads it now.
fn read_as(server: &Server, user: &str, id: DocId) -> SyncClient {
    let mut client = SyncClient::connect_as(server, user);
    assert!(client.open(id), "{user} reads the consolidated report");
    client
}

/// Makes a unit's report, has `writer` write into it, then the unit's
/// `lead` submits and the Office accepts it.
fn accepted_report(
    server: &Server,
    writer: &str,
    lead: &str,
    unit: &str,
    period: &str,
    writes: &[(i64, &str, &str)],
) {
    let made = ok(
        server,
        lead,
        "/api/reports",
        json!({ "unit": unit, "period": period }),
    );
    let url = made["url"].as_str().unwrap().to_string();
    let id = DocId::parse(&url).unwrap();
    let mut client = SyncClient::connect_as(server, writer);
    assert!(client.open(id));
    for (number, key, words) in writes {
        write(&mut client, id, *number, key, words);
    }
    ok(
        server,
        lead,
        "/api/reports/transition",
        json!({ "url": url, "action": "submit" }),
    );
    ok(
        server,
        "vanphong",
        "/api/reports/transition",
        json!({ "url": url, "action": "accept" }),
    );
}

#[test]
fn the_consolidated_report_gathers_accepted_texts_once_and_stops_when_approved() {
    let server = Server::start();
    let period = "2025-year";
    server.add_user("lanhdao-tt", "thanh-tra", "unit_lead", "lanhdao-tt-pass");

    // Staff of the Budget division write their report; the lead submits it
    // and the Office accepts it.
    accepted_report(
        &server,
        "chuyenvien",
        "truongphong",
        "phong-ngan-sach",
        period,
        &[
            (2, "results", "Đã công khai dự toán ngân sách."),
            (1, "causes", "Thiếu nhân lực."),
        ],
    );
    // The Inspectorate's report is started but still a draft: left out.
    let (status, _) = call(
        &server,
        "lanhdao-tt",
        "/api/reports",
        Some(json!({ "unit": "thanh-tra", "period": period })),
    );
    assert_eq!(status, 200);

    let made = ok(
        &server,
        "vanphong",
        "/api/consolidated",
        json!({ "period": period }),
    );
    assert_eq!(made["included_units"], json!(["phong-ngan-sach"]));
    let url = made["url"].as_str().unwrap().to_string();
    let id = DocId::parse(&url).unwrap();

    let office = read_as(&server, "vanphong", id);
    let budget_results = format!("{BUDGET}:\nĐã công khai dự toán ngân sách.\n\n");
    assert_eq!(text(&office, id, 2, "results"), budget_results);
    assert_eq!(
        text(&office, id, 1, "causes"),
        format!("{BUDGET}:\nThiếu nhân lực.\n\n")
    );
    assert_eq!(
        text(&office, id, 1, "results"),
        "",
        "empty texts are skipped"
    );
    assert_eq!(text(&office, id, 3, "results"), "");
    drop(office);

    // Making it again finds the same report.
    let in_period = json!({ "period": period });
    let again = ok(&server, "vanphong", "/api/consolidated", in_period.clone());
    assert_eq!(again["url"], url);

    // The Office edits the consolidated text; then the Inspectorate's
    // report is accepted and assembled in after.
    let mut office = read_as(&server, "vanphong", id);
    write(&mut office, id, 2, "results", "Nhận xét của Văn phòng.\n");
    drop(office);
    accepted_report(
        &server,
        "lanhdao-tt",
        "lanhdao-tt",
        "thanh-tra",
        period,
        &[(2, "results", "Đã thanh tra 3 xã.")],
    );
    let assembled = ok(
        &server,
        "vanphong",
        "/api/consolidated/assemble",
        in_period.clone(),
    );
    assert_eq!(assembled["added"], json!(["thanh-tra"]));
    assert_eq!(
        assembled["included_units"],
        json!(["phong-ngan-sach", "thanh-tra"])
    );
    let expected =
        format!("{budget_results}Nhận xét của Văn phòng.\nThanh tra:\nĐã thanh tra 3 xã.\n\n");
    let office = read_as(&server, "vanphong", id);
    assert_eq!(text(&office, id, 2, "results"), expected);
    drop(office);

    // Assembling again adds nothing twice.
    let again = ok(&server, "vanphong", "/api/consolidated/assemble", in_period);
    assert_eq!(again["added"], json!([]));
    let director = read_as(&server, "giamdoc", id);
    assert_eq!(text(&director, id, 2, "results"), expected);
    assert_eq!(text(&director, id, 2, "results").matches(BUDGET).count(), 1);

    // The list of consolidated reports, for the Office and the Director.
    for user in ["vanphong", "giamdoc"] {
        let (status, list) = call(&server, user, "/api/consolidated", None);
        assert_eq!(status, 200);
        assert_eq!(
            list,
            json!([{ "url": url, "period": period, "status": "draft",
                     "included_units": ["phong-ngan-sach", "thanh-tra"] }])
        );
    }
    assert_eq!(
        call(&server, "truongphong", "/api/consolidated", None).0,
        403
    );
    assert_eq!(call(&server, "quantri", "/api/consolidated", None).0, 403);

    // Only the Office assembles, with a period it has a report for.
    let assemble =
        |user: &str, body: Value| call(&server, user, "/api/consolidated/assemble", Some(body));
    assert_eq!(assemble("truongphong", json!({ "period": period })).0, 403);
    assert_eq!(assemble("giamdoc", json!({ "period": period })).0, 403);
    let (status, error) = assemble("vanphong", json!({}));
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("period"),
        "{error}"
    );
    assert_eq!(assemble("vanphong", json!({ "period": "2025-h9" })).0, 400);
    assert_eq!(assemble("vanphong", json!({ "period": "2024-h1" })).0, 409);

    // Approved: it can no longer be assembled.
    ok(
        &server,
        "giamdoc",
        "/api/consolidated/approve",
        json!({ "url": url }),
    );
    let (status, error) = assemble("vanphong", json!({ "period": period }));
    assert_eq!(status, 409, "{error}");
    let (_, list) = call(&server, "giamdoc", "/api/consolidated", None);
    assert_eq!(list[0]["status"], "approved");
    let director = read_as(&server, "giamdoc", id);
    assert_eq!(text(&director, id, 2, "results"), expected);
}

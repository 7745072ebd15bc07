//! Proposals to adjust the plan, through the real server: units propose,
//! the Director decides, and an accepted change reaches the plan document
//! that every client syncs.

use std::time::Duration;

use papi::ids::DocId;
use papi::schema::{Measure, Plan};
use papi_e2e::{http, Server, SyncClient};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

fn call(server: &Server, user: Option<&str>, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = user.map(|u| format!("Bearer {}", server.token(u)));
    let mut r = match (body, auth) {
        (Some(body), Some(auth)) => http()
            .post(server.url(path))
            .header("authorization", auth)
            .send_json(body),
        (Some(body), None) => http().post(server.url(path)).send_json(body),
        (None, Some(auth)) => http()
            .get(server.url(path))
            .header("authorization", auth)
            .call(),
        (None, None) => http().get(server.url(path)).call(),
    }
    .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

fn propose(server: &Server, user: &str, body: Value) -> (u16, Value) {
    call(server, Some(user), "/api/proposals", Some(body))
}

fn decide(server: &Server, user: &str, id: &Value, accept: bool, note: &str) -> (u16, Value) {
    call(
        server,
        Some(user),
        "/api/proposals/decide",
        Some(json!({ "id": id, "accept": accept, "note": note })),
    )
}

fn list(server: &Server, user: &str) -> Vec<Value> {
    let (status, rows) = call(server, Some(user), "/api/proposals", None);
    assert_eq!(status, 200, "{rows}");
    rows.as_array().unwrap().clone()
}

/// The plan document, synced over `/sync`.
fn plan_client(server: &Server, user: &str) -> (SyncClient, DocId) {
    let (_, plan) = call(server, None, "/api/plan", None);
    let id = DocId::parse(plan["url"].as_str().unwrap()).unwrap();
    let mut client = SyncClient::connect_as(server, user);
    assert!(client.open(id));
    (client, id)
}

fn measure(client: &SyncClient, id: DocId, measure_id: &str) -> Measure {
    Plan::read(client.doc(id))
        .unwrap()
        .dimensions
        .into_iter()
        .flat_map(|d| d.measures)
        .find(|m| m.id == measure_id)
        .unwrap()
}

#[test]
fn the_director_decides_and_an_accepted_change_reaches_every_client() {
    let server = Server::start();
    // A staff member watches the plan while the proposal is decided.
    let (mut watcher, plan_id) = plan_client(&server, "chuyenvien");
    let before = measure(&watcher, plan_id, "d1-m1");
    assert!(!before.text.is_empty());

    let new_text = "Tuyên truyền qua mạng xã hội và loa phát thanh xã.";
    let (status, made) = propose(
        &server,
        "chuyenvien",
        json!({ "measure_id": "d1-m1", "kind": "edit", "text": new_text, "reason": "Báo in không còn phù hợp" }),
    );
    assert_eq!(status, 200, "{made}");
    let first = made["id"].clone();
    assert!(first.is_i64());

    let rows = list(&server, "chuyenvien");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["measure_id"], "d1-m1");
    assert_eq!(row["measure_text"], before.text.as_str());
    assert_eq!(row["kind"], "edit");
    assert_eq!(row["proposed_text"], new_text);
    assert_eq!(row["reason"], "Báo in không còn phù hợp");
    assert_eq!(row["unit"], "phong-ngan-sach");
    assert_eq!(
        row["unit_name"],
        "Phòng Quản lý Ngân sách và Tài chính hành chính sự nghiệp"
    );
    assert_eq!(row["username"], "chuyenvien");
    assert_eq!(row["status"], "pending");
    assert_eq!(row["decided_by"], Value::Null);
    assert_eq!(row["decided_ms"], Value::Null);
    assert!(row["created_ms"].as_i64().unwrap() > 0);

    // Only the Director decides.
    assert_eq!(decide(&server, "chuyenvien", &first, true, "").0, 403);
    assert_eq!(decide(&server, "vanphong", &first, true, "").0, 403);
    assert_eq!(decide(&server, "quantri", &first, true, "").0, 403);
    assert_eq!(measure(&watcher, plan_id, "d1-m1").text, before.text);

    let (status, answer) = decide(&server, "giamdoc", &first, true, "Đồng ý");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "accepted");
    // The change reaches a client that already had the plan open…
    watcher.until("the new text", LIMIT, |c| {
        measure(c, plan_id, "d1-m1").text == new_text
    });
    // …and anyone who opens it now.
    let (director, _) = plan_client(&server, "giamdoc");
    assert_eq!(measure(&director, plan_id, "d1-m1").text, new_text);
    assert_eq!(
        decide(&server, "giamdoc", &first, false, "").0,
        409,
        "decided once"
    );
    let (status, _) = decide(&server, "giamdoc", &json!(9999), true, "");
    assert_eq!(status, 404);

    // A second proposal, rejected, leaves the plan as it was.
    let (status, second) = propose(
        &server,
        "truongphong",
        json!({ "measure_id": "d2-m1", "kind": "retire", "reason": "Đã hoàn thành" }),
    );
    assert_eq!(status, 200, "{second}");
    let heads = director.doc(plan_id).get_heads();
    let (status, answer) = decide(&server, "giamdoc", &second["id"], false, "Vẫn cần thiết");
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "rejected");
    let (after, _) = plan_client(&server, "giamdoc");
    assert_eq!(
        after.doc(plan_id).get_heads(),
        heads,
        "the plan did not change"
    );
    assert!(!measure(&after, plan_id, "d2-m1").retired);
    assert_eq!(measure(&after, plan_id, "d1-m1").text, new_text);

    // Newest first, with the decisions.
    let rows = list(&server, "vanphong");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], second["id"]);
    assert_eq!(rows[0]["status"], "rejected");
    assert_eq!(rows[0]["decided_by"], "giamdoc");
    assert_eq!(rows[0]["note"], "Vẫn cần thiết");
    assert!(rows[0]["decided_ms"].as_i64().unwrap() > 0);
    assert_eq!(rows[1]["status"], "accepted");
    assert_eq!(rows[1]["measure_text"], new_text, "the plan's text now");
    assert_eq!(list(&server, "giamdoc").len(), 2);
    assert_eq!(list(&server, "quantri").len(), 2);
    // Other units see only their own.
    assert_eq!(list(&server, "xem").len(), 0);
    assert_eq!(call(&server, None, "/api/proposals", None).0, 401);

    // An accepted retirement retires the measure.
    let (_, third) = propose(
        &server,
        "vanphong",
        json!({ "measure_id": "d3-m1", "kind": "retire", "text": "", "reason": "Trùng với d3-m2" }),
    );
    assert_eq!(
        decide(&server, "giamdoc", &third["id"], true, "").1["status"],
        "accepted"
    );
    watcher.until("the retirement", LIMIT, |c| {
        measure(c, plan_id, "d3-m1").retired
    });
}

#[test]
fn bad_or_unauthorised_proposals_are_refused_clearly() {
    let server = Server::start();
    let good = json!({ "measure_id": "d1-m1", "kind": "edit", "text": "Mới", "reason": "Lý do" });
    for user in ["giamdoc", "quantri", "xem"] {
        assert_eq!(
            propose(&server, user, good.clone()).0,
            403,
            "{user} may not propose"
        );
    }
    assert_eq!(
        call(&server, None, "/api/proposals", Some(good.clone())).0,
        401
    );

    let bad = [
        (
            json!({ "measure_id": "d1-m1", "kind": "edit", "text": "Mới" }),
            "reason",
        ),
        (
            json!({ "measure_id": "d1-m1", "kind": "edit", "text": "Mới", "reason": "  " }),
            "reason",
        ),
        (
            json!({ "measure_id": "d9-m9", "kind": "edit", "text": "Mới", "reason": "x" }),
            "d9-m9",
        ),
        (
            json!({ "measure_id": "d1-m1", "kind": "delete", "reason": "x" }),
            "delete",
        ),
        (
            json!({ "measure_id": "d1-m1", "kind": "edit", "text": " ", "reason": "x" }),
            "text",
        ),
        (
            json!({ "measure_id": "d1-m1", "kind": "edit", "reason": "x" }),
            "text",
        ),
        (
            json!({ "measure_id": 7, "kind": "edit", "text": "Mới", "reason": "x" }),
            "measure_id",
        ),
        (json!([1, 2]), ""),
        (
            json!({ "measure_id": "d1-m1", "kind": "edit", "text": "Mới", "reason": "x".repeat(10_001) }),
            "reason",
        ),
    ];
    for (body, mentions) in bad {
        let (status, answer) = propose(&server, "chuyenvien", body.clone());
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("an error for {body}"));
        assert!(error.contains(mentions), "{body}: {error}");
    }
    // Not JSON at all.
    let mut r = http()
        .post(server.url("/api/proposals"))
        .header(
            "authorization",
            format!("Bearer {}", server.token("chuyenvien")),
        )
        .header("content-type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(r.status(), 400);
    let answer: Value = r.body_mut().read_json().unwrap();
    assert!(answer["error"].is_string());
    assert_eq!(list(&server, "vanphong").len(), 0, "nothing was stored");

    let (status, made) = propose(&server, "chuyenvien", good);
    assert_eq!(status, 200);
    for body in [
        json!({ "id": made["id"] }),
        json!({ "accept": true }),
        json!({ "id": "one", "accept": true }),
    ] {
        let (status, answer) = call(
            &server,
            Some("giamdoc"),
            "/api/proposals/decide",
            Some(body.clone()),
        );
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string());
    }
    assert_eq!(list(&server, "vanphong")[0]["status"], "pending");
}

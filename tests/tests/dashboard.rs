//! Where things stand, through the real server: which units reported for
//! each period, on time or late, who is overdue, and each report's history.

use std::time::{SystemTime, UNIX_EPOCH};

use papi::calendar::{DueDay, Period, ReportingSettings};
use papi_e2e::{http, Server};
use serde_json::{json, Value};

const DAY_MS: i64 = 24 * 3600 * 1000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The seed plan's calendar: due before 15 June and before 15 December.
fn seed_calendar() -> ReportingSettings {
    ReportingSettings {
        half_year_due: DueDay { month: 6, day: 15 },
        annual_due: DueDay { month: 12, day: 15 },
    }
}

fn get(server: &Server, user: Option<&str>, path: &str) -> (u16, Value) {
    let mut request = http().get(server.url(path));
    if let Some(user) = user {
        request = request.header("authorization", format!("Bearer {}", server.token(user)));
    }
    let mut r = request.call().unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

fn post(server: &Server, user: &str, path: &str, body: Value) -> (u16, Value) {
    let mut r = http()
        .post(server.url(path))
        .header("authorization", format!("Bearer {}", server.token(user)))
        .send_json(body)
        .unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

fn create_report(server: &Server, user: &str, unit: &str, period: &str) -> String {
    let (status, made) = post(
        server,
        user,
        "/api/reports",
        json!({ "unit": unit, "period": period }),
    );
    assert_eq!(status, 200, "{made}");
    made["url"].as_str().unwrap().to_string()
}

fn transition(server: &Server, user: &str, url: &str, action: &str, reason: &str, device: i64) {
    let (status, answer) = post(
        server,
        user,
        "/api/reports/transition",
        json!({ "url": url, "action": action, "reason": reason, "device_time_ms": device }),
    );
    assert_eq!(status, 200, "{user} {action}: {answer}");
}

/// The item of the list `value[list]` whose `key` is `wanted`.
fn item<'a>(value: &'a Value, list: &str, key: &str, wanted: &str) -> &'a Value {
    value[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p[key] == wanted)
        .unwrap_or_else(|| panic!("no {key} {wanted} in {value}"))
}

fn period<'a>(dashboard: &'a Value, key: &str) -> &'a Value {
    item(dashboard, "periods", "period", key)
}

fn unit_row<'a>(period: &'a Value, unit: &str) -> &'a Value {
    item(period, "units", "unit", unit)
}

#[test]
fn the_dashboard_counts_on_time_late_and_overdue_reports() {
    let server = Server::start();
    let calendar = seed_calendar();
    let periods = calendar.periods(2022, 2030).unwrap();
    let current = calendar
        .next_due(&periods, now_ms())
        .expect("the plan runs to 2030");

    // The Budget division's lead submits a long-past report (late) and the
    // current one (on time).
    let past = create_report(&server, "truongphong", "phong-ngan-sach", "2022-h1");
    let device_past = now_ms() - 60_000;
    transition(&server, "truongphong", &past, "submit", "", device_past);
    let now_report = create_report(&server, "truongphong", "phong-ngan-sach", &current.key());
    let device_now = now_ms() - 1_000;
    transition(
        &server,
        "truongphong",
        &now_report,
        "submit",
        "",
        device_now,
    );
    // The Office starts the Inspectorate's past report, which is never sent.
    create_report(&server, "vanphong", "thanh-tra", "2022-h1");

    let (status, board) = get(&server, Some("vanphong"), "/api/dashboard");
    assert_eq!(status, 200, "{board}");
    let now = board["now_ms"].as_i64().unwrap();
    let shown = board["periods"].as_array().unwrap();
    // Every period from the plan's first up to the one now due, newest first.
    let expected_periods: Vec<String> = periods
        .iter()
        .filter(|p| **p <= current)
        .rev()
        .map(Period::key)
        .collect();
    let keys: Vec<&str> = shown
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect();
    assert_eq!(keys, expected_periods);
    assert!(shown[0]["deadline_ms"].as_i64().unwrap() > now);

    let cur = period(&board, &current.key());
    assert_eq!(cur["deadline_ms"], calendar.deadline_ms(current));
    assert_eq!(
        cur["due"],
        format!(
            "15/{}/{}",
            if current.key().ends_with("h1") {
                "06"
            } else {
                "12"
            },
            current.year
        )
    );
    for (field, value) in [
        ("expected", 7),
        ("reported", 1),
        ("on_time", 1),
        ("late", 0),
        ("missing", 6),
    ] {
        assert_eq!(cur[field], value, "{field} of {}: {cur}", current.key());
    }
    assert_eq!(
        cur["overdue"],
        json!([]),
        "nothing is overdue before the deadline"
    );
    let budget = unit_row(cur, "phong-ngan-sach");
    assert_eq!(budget["status"], "submitted");
    assert_eq!(budget["timeliness"], "on_time");
    assert_eq!(budget["submitted_device_ms"], device_now);
    let office = unit_row(cur, "van-phong");
    assert_eq!(office["status"], "missing");
    assert_eq!(office["timeliness"], Value::Null);
    assert_eq!(office["name"], "Văn phòng");
    assert_eq!(cur["units"].as_array().unwrap().len(), 7);

    let old = period(&board, "2022-h1");
    for (field, value) in [
        ("expected", 7),
        ("reported", 1),
        ("on_time", 0),
        ("late", 1),
        ("missing", 6),
    ] {
        assert_eq!(old[field], value, "{field} of 2022-h1: {old}");
    }
    let budget = unit_row(old, "phong-ngan-sach");
    assert_eq!(budget["timeliness"], "late");
    let server_ms = budget["submitted_server_ms"].as_i64().unwrap();
    assert!(server_ms >= device_past && server_ms <= now, "{budget}");
    assert_eq!(unit_row(old, "thanh-tra")["status"], "draft");
    // Overdue: every unit that has not submitted, with the days since.
    let overdue = old["overdue"].as_array().unwrap();
    assert_eq!(overdue.len(), 6, "{old}");
    let deadline = calendar.deadline_ms(Period::parse_key("2022-h1").unwrap());
    let inspectorate = overdue
        .iter()
        .find(|o| o["unit"] == "thanh-tra")
        .expect("a draft is not a report");
    assert_eq!(inspectorate["name"], "Thanh tra");
    let days = inspectorate["days_overdue"].as_i64().unwrap();
    assert_eq!(days, (now - deadline + DAY_MS - 1) / DAY_MS);
    assert!(days > 365, "{days}");
    assert!(overdue.iter().all(|o| o["unit"] != "phong-ngan-sach"));
    assert!(
        overdue
            .iter()
            .all(|o| o["unit"] != "so-tai-chinh" && o["unit"] != "ban-giam-doc"),
        "the agency and its board do not report"
    );

    // The Director and admins see it too; nobody else does.
    assert_eq!(get(&server, Some("giamdoc"), "/api/dashboard").0, 200);
    assert_eq!(get(&server, Some("quantri"), "/api/dashboard").0, 200);
    assert_eq!(get(&server, Some("xem"), "/api/dashboard").0, 403);
    assert_eq!(get(&server, Some("truongphong"), "/api/dashboard").0, 403);
    assert_eq!(get(&server, Some("chuyenvien"), "/api/dashboard").0, 403);
    assert_eq!(get(&server, None, "/api/dashboard").0, 401);

    // The list of reports says when each was due and whether it was on time.
    let (_, list) = get(&server, Some("chuyenvien"), "/api/reports");
    let row = |url: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["url"] == url)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&past)["timeliness"], "late");
    assert_eq!(row(&past)["deadline_ms"], deadline);
    assert_eq!(row(&now_report)["timeliness"], "on_time");
    let (_, office_list) = get(&server, Some("vanphong"), "/api/reports");
    let draft = office_list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["unit"] == "thanh-tra")
        .unwrap();
    assert_eq!(draft["timeliness"], Value::Null, "not submitted: {draft}");
}

#[test]
fn every_signed_in_user_gets_the_units_and_whether_they_report() {
    let server = Server::start();
    assert_eq!(get(&server, None, "/api/units").0, 401);
    let (status, units) = get(&server, Some("xem"), "/api/units");
    assert_eq!(status, 200);
    let units = units.as_array().unwrap();
    assert_eq!(units.len(), 9, "the seeded units");
    let of = |id: &str| units.iter().find(|u| u["id"] == id).unwrap().clone();
    assert_eq!(of("so-tai-chinh")["reports"], false);
    assert_eq!(of("so-tai-chinh")["kind"], "agency");
    assert_eq!(of("ban-giam-doc")["reports"], false);
    assert_eq!(of("thanh-tra")["reports"], true);
    assert_eq!(of("thanh-tra")["name"], "Thanh tra");
    assert_eq!(units.iter().filter(|u| u["reports"] == true).count(), 7);
}

#[test]
fn a_reports_history_shows_who_did_what_and_when_by_both_clocks() {
    let server = Server::start();
    let url = create_report(&server, "truongphong", "phong-ngan-sach", "2022-year");
    let device = [
        now_ms() - 5_000,
        now_ms() - 4_000,
        now_ms() - 3_000,
        now_ms() - 2_000,
    ];
    transition(&server, "truongphong", &url, "submit", "", device[0]);
    transition(
        &server,
        "vanphong",
        &url,
        "return",
        "Thiếu số liệu",
        device[1],
    );
    transition(&server, "truongphong", &url, "submit", "", device[2]);
    transition(&server, "vanphong", &url, "accept", "", device[3]);

    let path = format!("/api/reports/history?url={url}");
    let (status, history) = get(&server, Some("chuyenvien"), &path);
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["url"], url);
    assert_eq!(history["unit"], "phong-ngan-sach");
    assert_eq!(history["period"], "2022-year");
    assert_eq!(history["status"], "accepted");
    let deadline = seed_calendar().deadline_ms(Period::parse_key("2022-year").unwrap());
    assert_eq!(history["deadline_ms"], deadline);

    let events = history["events"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["submit", "return", "submit", "accept"],
        "oldest first"
    );
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["submitted", "returned", "submitted", "accepted"]);
    assert_eq!(events[0]["username"], "truongphong");
    assert_eq!(events[0]["display_name"], "Trưởng phòng Ngân sách");
    assert_eq!(events[1]["display_name"], "Chuyên viên Văn phòng");
    assert_eq!(events[1]["reason"], "Thiếu số liệu");
    for (event, sent) in events.iter().zip(device) {
        assert_eq!(event["device_ms"], sent);
        assert!(event["server_ms"].as_i64().unwrap() >= sent);
    }
    assert!(events
        .windows(2)
        .all(|w| w[0]["server_ms"].as_i64() <= w[1]["server_ms"].as_i64()));

    // Only the first submission counts, and it was late.
    let first = &history["first_submission"];
    assert_eq!(first["server_ms"], events[0]["server_ms"]);
    assert_eq!(first["device_ms"], device[0]);
    assert_eq!(first["timeliness"], "late");

    // A report not yet submitted has no first submission.
    let draft = create_report(&server, "truongphong", "phong-ngan-sach", "2023-h1");
    let (_, h) = get(
        &server,
        Some("truongphong"),
        &format!("/api/reports/history?url={draft}"),
    );
    assert_eq!(h["first_submission"], Value::Null);
    assert_eq!(h["events"], json!([]));
    assert_eq!(h["status"], "draft");

    // Whoever may not read the report learns nothing, as with a transition.
    assert_eq!(get(&server, Some("xem"), &path).0, 404);
    assert_eq!(get(&server, Some("quantri"), &path).0, 404);
    assert_eq!(get(&server, Some("giamdoc"), &path).0, 200);
    assert_eq!(get(&server, None, &path).0, 401);
    assert_eq!(
        get(
            &server,
            Some("vanphong"),
            "/api/reports/history?url=automerge:nothing"
        )
        .0,
        404
    );
    let (status, error) = get(&server, Some("vanphong"), "/api/reports/history");
    assert_eq!(status, 400);
    assert!(
        error["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{error}"
    );
}

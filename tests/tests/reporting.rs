//! The reporting cycle in real Chromium against the real server: staff draft
//! a report offline and together, the lead submits (offline too), the Office
//! returns it with a reason and then accepts it, the consolidated report
//! carries the unit's text, and the dashboard counts the report on time.

use std::time::Duration;

use papi_e2e::{current_period, http, wait_for, Browser, Server};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";

/// Signs in and opens the reports page.
fn reports_as(server: &Server, username: &str, password: &str) -> Browser {
    let browser = Browser::start();
    browser.sign_in(&server.url("/"), username, password);
    browser.open_page("reports");
    browser
}

/// Opens the Budget division's report of `period` from the reports page.
fn open_report(browser: &Browser, period: &str, oversees: bool) {
    let card = format!("li[data-period=\"{period}\"]");
    if oversees {
        browser.click_on(&format!(
            "{card} li[data-unit=\"phong-ngan-sach\"] .open-report"
        ));
    } else {
        browser.click_on(&format!("{card} .open-report"));
    }
    browser.find(RESULTS);
}

fn review_status(browser: &Browser, status: &str) {
    browser.find(&format!(".review .report-status[data-status=\"{status}\"]"));
}

fn set_first_status(browser: &Browser, value: &str) {
    browser.execute(
        "const s = document.querySelector('article.report select.measure-status');
         s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
        json!([value]),
    );
}

fn get_as(server: &Server, username: &str, path: &str) -> Value {
    let token = server.token(username);
    let mut r = http()
        .get(server.url(path))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    r.body_mut().read_json().unwrap()
}

#[test]
fn the_reporting_cycle_from_draft_to_dashboard() {
    let mut server = Server::start();
    server.add_user("chuyenvien2", "phong-ngan-sach", "staff", "chuyen-vien-hai");
    let period = current_period();
    let card = format!("li[data-period=\"{period}\"]");

    // A staff member starts the report online, then drafts with the server down.
    let an = reports_as(&server, "chuyenvien", "chuyenvien-demo");
    an.click_on(&format!("{card} .start-report"));
    an.find(RESULTS);
    an.wait_for_sync_state("saved");
    assert!(server.stop());
    an.wait_for_sync_state("offline");
    an.type_into(&an.find(RESULTS), "Đã tổ chức 3 hội nghị đối thoại.");
    set_first_status(&an, "done");
    server.restart();
    an.network_back();
    an.wait_for_sync_state("saved");

    // A second staff member opens it and writes in the same section, live.
    let binh = reports_as(&server, "chuyenvien2", "chuyen-vien-hai");
    open_report(&binh, &period, false);
    binh.wait_for_value(RESULTS, LIMIT, |v| v == "Đã tổ chức 3 hội nghị đối thoại.");
    wait_for(
        "the measure's status to reach the second session",
        LIMIT,
        || {
            let v = binh.execute(
                "return document.querySelector('article.report select.measure-status').value;",
                json!([]),
            );
            (v == json!("done")).then_some(())
        },
    );
    binh.type_into(&binh.find(RESULTS), " Tiếp nhận 25 ý kiến.");
    let drafted = "Đã tổ chức 3 hội nghị đối thoại. Tiếp nhận 25 ý kiến.";
    an.wait_for_value(RESULTS, LIMIT, |v| v == drafted);
    binh.wait_for_sync_state("saved");

    // The lead submits while offline; the step reaches the server later,
    // with the time it was taken on the device.
    let lead = reports_as(&server, "truongphong", "truongphong-demo");
    open_report(&lead, &period, false);
    lead.wait_for_value(RESULTS, LIMIT, |v| v == drafted);
    lead.find(".submit-report");
    lead.wait_for_sync_state("saved");
    assert!(server.stop());
    lead.wait_for_sync_state("offline");
    lead.click_on(".submit-report");
    lead.find(".pending-step");
    server.restart();
    lead.network_back();
    review_status(&lead, "submitted");
    let history = get_as(
        &server,
        "vanphong",
        &format!("/api/reports/history?url={}", lead_report_url(&lead)),
    );
    let first = &history["first_submission"];
    assert!(
        first["device_ms"].as_i64().unwrap() < first["server_ms"].as_i64().unwrap(),
        "made on the device before the server had it: {history}"
    );
    assert_eq!(first["timeliness"], "on_time", "{history}");

    // The Office returns it with a reason.
    let office = reports_as(&server, "vanphong", "vanphong-demo");
    open_report(&office, &period, true);
    review_status(&office, "submitted");
    office.type_into(&office.find(".return-reason"), "Bổ sung số liệu quý II.");
    office.click_on(".return-report");
    review_status(&office, "returned");

    // The lead sees why (a reload stays on the report), and submits again;
    // the Office accepts.
    lead.reload();
    lead.find(RESULTS);
    review_status(&lead, "returned");
    lead.wait_for_text(&["Bổ sung số liệu quý II."], LIMIT);
    lead.type_into(&lead.find(RESULTS), " Quý II: 12 cuộc.");
    lead.wait_for_sync_state("saved");
    lead.click_on(".submit-report");
    review_status(&lead, "submitted");
    office.click_on(".back");
    open_report(&office, &period, true);
    review_status(&office, "submitted");
    office.click_on(".accept-report");
    review_status(&office, "accepted");
    let events: Vec<String> = get_as(
        &server,
        "vanphong",
        &format!("/api/reports/history?url={}", lead_report_url(&lead)),
    )["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["submit", "return", "submit", "accept"]);

    // The consolidated report carries the unit's text under its dimension.
    office.click_on(".back");
    office.click_on(&format!("{card} .start-consolidated"));
    let consolidated = "article.consolidated textarea[data-field=\"s0/results\"]";
    let text = office.wait_for_value(consolidated, LIMIT, |v| v.contains("Quý II: 12 cuộc."));
    assert!(text.contains("Phòng Quản lý Ngân sách"), "{text}");
    assert!(text.contains(drafted), "{text}");

    // The dashboard counts it, on time.
    office.open_page("dashboard");
    let summary = format!("li.period-summary[data-period=\"{period}\"]");
    office.find(&format!("{summary} .reported[data-n=\"1\"]"));
    office.find(&format!("{summary} .on-time[data-n=\"1\"]"));
    office.find(&format!("{summary} .late[data-n=\"0\"]"));

    // The Director approves the consolidated report; then no one edits it.
    let director = reports_as(&server, "giamdoc", "giamdoc-demo");
    director.click_on(&format!("{card} .open-consolidated"));
    director.wait_for_value(consolidated, LIMIT, |v| v.contains("Quý II: 12 cuộc."));
    director.click_on(".approve");
    director.find(".consolidated .report-status[data-status=\"approved\"]");
    office.open_page("reports");
    office.click_on(&format!("{card} .open-consolidated"));
    office.find(".consolidated .report-status[data-status=\"approved\"]");
    assert_eq!(
        office.execute(
            "return document.querySelector(arguments[0]).readOnly;",
            json!([consolidated])
        ),
        json!(true),
        "an approved report is read-only"
    );
}

/// The report open in this session, as its automerge URL.
fn lead_report_url(browser: &Browser) -> String {
    browser
        .execute(
            "return document.querySelector('article.report').dataset.doc;",
            json!([]),
        )
        .as_str()
        .expect("an open report")
        .to_string()
}

//! Comments anchored in a report's text: the Office comments on a passage
//! while reviewing, the unit sees it at the text, replies, and the thread is
//! resolved and stays readable; the passage follows its words through
//! others' edits; a comment made offline syncs; and the server lets someone
//! who may only comment change nothing else.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use papi::ids::DocId;
use papi::report::comments::{self, Writer};
use papi::report::TextAt;
use papi_e2e::{budget_report, current_period, wait_for, Browser, Server, SyncClient};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS_AT: TextAt = TextAt::Section {
    section: 0,
    key: "results",
};
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";
const THREADS: &str = ".comments[data-for=\"s0/results\"] .comment-thread";

fn address() -> String {
    format!("/reports/{}/phong-ngan-sach", current_period())
}

fn in_report(server: &Server, username: &str) -> Browser {
    let browser = Browser::signed_in(server, username);
    browser.wait_for_sync_state("saved");
    browser.goto(&server.url(&address()));
    browser.find(RESULTS);
    browser
}

fn step(server: &Server, user: &str, doc: DocId, action: &str, reason: &str) {
    let body = json!({ "url": doc.url(), "action": action, "reason": reason, "device_time_ms": 1_781_000_000_000i64 });
    let (status, answer) = server.post("/api/reports/transition", Some(&server.token(user)), body);
    assert_eq!(status, 200, "{action}: {answer}");
}

/// The threads of the results text as (passage now, comment, replies,
/// resolved).
fn threads(browser: &Browser) -> Vec<Value> {
    browser
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map((t) => [
               t.querySelector('.comment-now').textContent,
               t.querySelector('.comment-main .comment-text').textContent,
               [...t.querySelectorAll('.comment-reply .comment-text')].map((r) => r.textContent),
               t.dataset.resolved,
             ]);",
            json!([THREADS]),
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_for_threads(browser: &Browser, what: &str, want: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for(what, LIMIT, || {
        let now = threads(browser);
        want(&now).then_some(now)
    })
}

/// Selects letters `start..end` of the results text and comments on them.
fn comment_on(browser: &Browser, start: u32, end: u32, body: &str) {
    browser.execute(
        "const t = document.querySelector(arguments[0]); t.focus(); t.setSelectionRange(arguments[1], arguments[2]);",
        json!([RESULTS, start, end]),
    );
    browser.click_on(".comments[data-for=\"s0/results\"] .comment-start");
    browser.type_into(
        &browser.find(".comments[data-for=\"s0/results\"] .comment-body"),
        body,
    );
    browser.click_on(".comments[data-for=\"s0/results\"] .comment-send");
}

#[test]
fn the_office_comments_on_a_passage_and_the_unit_answers_at_the_text() {
    let server = Server::start();
    let report = budget_report(&server);
    let lead = in_report(&server, "truongphong");
    lead.type_into(&lead.find(RESULTS), "Đã tiếp 40 lượt công dân.");
    lead.wait_for_sync_state("saved");
    step(&server, "truongphong", report, "submit", "");

    // The Office, reviewing, points at "40 lượt" (letters 8 to 15) and
    // returns the report.
    let office = in_report(&server, "vanphong");
    office.wait_for_value(RESULTS, LIMIT, |v| v == "Đã tiếp 40 lượt công dân.");
    comment_on(&office, 8, 15, "Số liệu lấy từ đâu?");
    office.wait_for_sync_state("saved");
    step(
        &server,
        "vanphong",
        report,
        "return",
        "Xem bình luận ở phần kết quả.",
    );

    let seen = wait_for_threads(&lead, "the Office's comment at the text", |t| t.len() == 1);
    assert_eq!(
        seen[0],
        json!(["40 lượt", "Số liệu lấy từ đâu?", [], "false"])
    );
    let writer = lead.execute(
        "return document.querySelector(arguments[0] + ' .comment-writer').textContent;",
        json!([THREADS]),
    );
    assert_eq!(writer, "Chuyên viên Văn phòng");

    // A colleague writes before and inside the passage meanwhile: the
    // comment stays on its words.
    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    assert!(staff.open(report));
    let text = RESULTS_AT.locate(staff.doc(report)).unwrap();
    staff.change(report, |tx| {
        tx.splice_text(&text, 10, 0, "0").unwrap(); // 400 lượt
        tx.splice_text(&text, 0, 0, "Quý II: ").unwrap();
    });
    wait_for_threads(&lead, "the passage to follow its words", |t| {
        t.first().is_some_and(|c| c[0] == "400 lượt")
    });

    // The lead answers; the Office sees the answer and resolves the thread,
    // which stays readable for both.
    lead.type_into(
        &lead.find(&format!("{THREADS} .comment-reply-body")),
        "Theo sổ tiếp dân.",
    );
    lead.click_on(&format!("{THREADS} .comment-reply-send"));
    wait_for_threads(&office, "the answer", |t| {
        t.first()
            .is_some_and(|c| c[2] == json!(["Theo sổ tiếp dân."]))
    });
    office.click_on(&format!("{THREADS} .comment-resolve"));
    for browser in [&office, &lead] {
        let resolved = wait_for_threads(browser, "the thread resolved", |t| {
            t.first().is_some_and(|c| c[3] == "true")
        });
        assert_eq!(resolved[0][1], "Số liệu lấy từ đâu?", "still readable");
    }
    assert!(lead
        .text()
        .contains("Đã giải quyết (Chuyên viên Văn phòng)"));
}

#[test]
fn a_comment_made_offline_syncs_when_the_server_returns() {
    let mut server = Server::start();
    let report = budget_report(&server);
    let lead = in_report(&server, "truongphong");
    lead.type_into(&lead.find(RESULTS), "Kết quả quý này.");
    lead.wait_for_sync_state("saved");
    lead.wait_for_service_worker();

    assert!(server.stop());
    lead.wait_for_sync_state("offline");
    comment_on(&lead, 0, 7, "Cần thêm số liệu.");
    wait_for_threads(&lead, "the comment on the device", |t| t.len() == 1);

    server.restart();
    lead.network_back();
    lead.wait_for_sync_state("saved");
    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(report));
    let all = comments::all(office.doc(report));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, "Cần thêm số liệu.");
    assert_eq!(all[0].quote, "Kết quả");
}

/// Someone who may only comment (the Office, on a unit's report) changes
/// the comments and nothing else: an edit of the text closes the
/// connection and is not stored; a comment passes.
#[test]
fn the_server_lets_a_reviewer_change_only_the_comments() {
    let server = Server::start();
    let report = budget_report(&server);
    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(report));
    let text = RESULTS_AT.locate(office.doc(report)).unwrap();
    office.change(report, |tx| {
        tx.splice_text(&text, 0, 0, "Văn phòng sửa.").unwrap();
    });
    let closed = office.closed(LIMIT);
    assert_eq!(closed.code, Some(1008), "{closed:?}");
    server.wait_for_log("may change only the comments");

    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(report));
    assert_eq!(
        office.doc(report).text(&text).unwrap(),
        "",
        "the edit was not kept"
    );
    let writer = Writer {
        user_id: 3,
        name: "Chuyên viên Văn phòng".into(),
        unit: "van-phong".into(),
    };
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    assert!(lead.open(report));
    lead.change(report, |tx| {
        tx.splice_text(&text, 0, 0, "Báo cáo.").unwrap();
    });
    lead.until("the lead's text stored", LIMIT, |c| {
        c.server_has_all(report)
    });
    office.until("the lead's text", LIMIT, |c| {
        c.doc(report).text(&text).unwrap() == "Báo cáo."
    });
    let mut doc = office.doc(report).clone();
    comments::add(&mut doc, &RESULTS_AT, (0, 4), "Rõ hơn?", &writer, 1).unwrap();
    let mine = doc.get_changes(&office.doc(report).get_heads());
    office.doc_mut(report).apply_changes(mine).unwrap();
    office.offer(report);
    office.until("the comment stored", LIMIT, |c| c.server_has_all(report));
    lead.until("the comment at the lead", LIMIT, |c| {
        comments::all(c.doc(report)).len() == 1
    });
}

/// Makes a change to `report` with `f` on a copy of the client's document
/// (as the comment functions work on a whole document), and sends it.
fn send_made(client: &mut SyncClient, report: DocId, f: impl FnOnce(&mut automerge::Automerge)) {
    let mut doc = client.doc(report).clone();
    f(&mut doc);
    let made = doc.get_changes(&client.doc(report).get_heads());
    client.doc_mut(report).apply_changes(made).unwrap();
    client.offer(report);
}

/// While its report is under review, a unit may comment but resolve only
/// its own threads: a hand-made change that resolves the Office's is
/// refused and not kept; the Office, a reviewer, resolves its own.
#[test]
fn only_a_threads_writer_or_a_reviewer_may_resolve_it() {
    let server = Server::start();
    let report = budget_report(&server);
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    assert!(lead.open(report));
    let text = RESULTS_AT.locate(lead.doc(report)).unwrap();
    lead.change(report, |tx| {
        tx.splice_text(&text, 0, 0, "Báo cáo kết quả.").unwrap();
    });
    lead.until("the text stored", LIMIT, |c| c.server_has_all(report));

    let office_writer = Writer {
        user_id: 3,
        name: "Chuyên viên Văn phòng".into(),
        unit: "van-phong".into(),
    };
    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(report));
    office.until("the lead's text", LIMIT, |c| {
        c.doc(report).text(&text).unwrap() == "Báo cáo kết quả."
    });
    let mut thread = String::new();
    send_made(&mut office, report, |d| {
        thread = comments::add(d, &RESULTS_AT, (0, 7), "Số liệu?", &office_writer, 1).unwrap();
    });
    office.until("the Office's thread stored", LIMIT, |c| {
        c.server_has_all(report)
    });
    step(&server, "truongphong", report, "submit", "");

    // Under review the unit only comments: resolving the Office's thread
    // is refused.
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    assert!(lead.open(report));
    lead.until("the Office's thread", LIMIT, |c| {
        comments::all(c.doc(report)).len() == 1
    });
    send_made(&mut lead, report, |d| {
        comments::resolve(d, &thread, "Trưởng phòng").unwrap()
    });
    let closed = lead.closed(LIMIT);
    assert_eq!(closed.code, Some(1008), "{closed:?}");
    assert!(closed.reason.contains("may resolve"), "{closed:?}");

    // Its own new thread it may resolve, in the same message.
    let lead_writer = Writer {
        user_id: 5,
        name: "Trưởng phòng".into(),
        unit: "phong-ngan-sach".into(),
    };
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    assert!(lead.open(report));
    send_made(&mut lead, report, |d| {
        let own = comments::add(d, &RESULTS_AT, (8, 12), "Đã rõ.", &lead_writer, 2).unwrap();
        comments::resolve(d, &own, "Trưởng phòng").unwrap();
    });
    lead.until("its own thread resolved and stored", LIMIT, |c| {
        c.server_has_all(report)
    });

    // The Office resolves its own; everyone then reads both resolved, and
    // the Office's thread by the Office, not by the unit.
    let mut office = SyncClient::connect_as(&server, "vanphong");
    assert!(office.open(report));
    send_made(&mut office, report, |d| {
        comments::resolve(d, &thread, "Chuyên viên Văn phòng").unwrap()
    });
    office.until("the resolution stored", LIMIT, |c| c.server_has_all(report));
    let mut reader = SyncClient::connect_as(&server, "giamdoc");
    assert!(reader.open(report));
    reader.until("both threads resolved", LIMIT, |c| {
        let all = comments::all(c.doc(report));
        all.len() == 2 && all.iter().all(|t| t.resolved_by.is_some())
    });
    let all = comments::all(reader.doc(report));
    let offices = all.iter().find(|t| t.id == thread).unwrap();
    assert_eq!(
        offices.resolved_by.as_deref(),
        Some("Chuyên viên Văn phòng")
    );
}

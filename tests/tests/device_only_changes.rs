//! "Saved" is a claim about every document on the device. In real Chromium
//! against the real server: an edit made offline in a report and reloaded
//! offline, or left in a closed tab, is counted on whatever screen opens, and
//! reaches the server when the connection returns although no screen opens
//! the report again. Also with 200 documents on the device.

use std::time::{Duration, Instant};

use base64::prelude::*;
use papi::ids::DocId;
use papi_e2e::{
    current_period, first_results_on_server, seed, wait_for, Browser, Rng, Server, SyncClient,
};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";
const PLAN_TEXT: &str = "Tham gia của người dân ở cấp cơ sở";

/// The report's first "results" text as the server holds it.
fn results_on_server(server: &Server, id: DocId) -> String {
    first_results_on_server(server, "chuyenvien", id)
}

/// Waits until everything typed is written to the device, and returns the
/// status bar's count.
fn settled_count(browser: &Browser) -> usize {
    wait_for("the device writes to finish", LIMIT, || {
        (!browser.writing_to_device())
            .then(|| browser.device_only())
            .flatten()
            .filter(|n| *n > 0)
    })
}

/// The id of the report open on the page.
fn open_report_id(browser: &Browser) -> DocId {
    let url = browser.execute(
        "return document.querySelector('article.report').dataset.doc;",
        json!([]),
    );
    DocId::parse(url.as_str().expect("the report's url")).expect("an automerge url")
}

/// Signs in as the demo staff member and starts the report due next; types
/// `online` into it and waits until the server has it; then, with the server
/// stopped, types `offline`. Returns the browser, the report and the status
/// bar's count.
fn offline_edit(server: &mut Server, online: &str, offline: &str) -> (Browser, DocId, usize) {
    let browser = Browser::signed_in(server, "chuyenvien");
    browser.open_page("reports");
    browser.click_on(&format!(
        "li[data-period=\"{}\"] .start-report",
        current_period()
    ));
    browser.type_into(&browser.find(RESULTS), online);
    browser.wait_for_sync_state("saved");
    browser.wait_for_service_worker();
    let id = open_report_id(&browser);

    assert!(server.stop());
    browser.wait_for_sync_state("offline");
    browser.type_into(&browser.find(RESULTS), offline);
    let n = settled_count(&browser);
    (browser, id, n)
}

/// The status bar tells the truth about a device holding `n` changes and
/// no connection.
fn assert_offline_with(browser: &Browser, n: usize) {
    browser.find(".sync-status");
    assert_eq!(browser.sync_state(), "offline");
    assert_eq!(browser.device_only(), Some(n), "{}", browser.text());
    let text = browser.text();
    assert!(
        text.contains(&format!(
            "Ngoại tuyến — {n} thay đổi chỉ có trên thiết bị này"
        )),
        "{text}"
    );
    assert!(!text.contains("mọi thay đổi đã lưu"), "{text}");
}

#[test]
fn an_offline_edit_reloaded_offline_is_counted_and_sent_from_another_screen() {
    let mut server = Server::start();
    let (browser, id, n) = offline_edit(&mut server, "Đã họp dân 4 lần.", " Tiếp nhận 12 ý kiến.");

    // Opened again on the plan with the server still down.
    browser.goto(&server.url("/plan"));
    browser.wait_for_text(&[PLAN_TEXT], LIMIT);
    assert_offline_with(&browser, n);
    browser.click_on("details.data-safety summary");
    let listed = browser.execute(
        "return document.querySelector('.safety-unsynced').textContent;",
        json!([]),
    );
    assert!(
        listed
            .as_str()
            .is_some_and(|t| t.starts_with("Báo cáo ") && t.ends_with(&format!(": {n}"))),
        "{listed}"
    );

    // Signing out now warns with the same count and offers no removal;
    // cancelling keeps the user in.
    browser.open_sign_out();
    browser.wait_for_text(&[&format!("Còn {n} thay đổi")], LIMIT);
    assert_eq!(
        browser.execute(
            "return !!document.querySelector('.sign-out-remove');",
            json!([])
        ),
        json!(false)
    );
    browser.click_on(".sign-out-cancel");

    // Back online, still on the plan: the edit reaches the server, and only
    // then does the bar say so.
    server.restart();
    browser.network_back();
    browser.wait_for_sync_state("saved");
    assert_eq!(
        results_on_server(&server, id),
        "Đã họp dân 4 lần. Tiếp nhận 12 ý kiến."
    );
    assert_eq!(browser.device_only(), Some(0));
    assert!(
        browser.text().contains(PLAN_TEXT)
            && browser.execute(
                "return !document.querySelector('article.report');",
                json!([])
            ) == json!(true),
        "the report was never opened again"
    );
}

#[test]
fn an_offline_edit_left_in_a_closed_tab_is_sent_from_a_new_tab() {
    let mut server = Server::start();
    let (browser, id, n) = offline_edit(
        &mut server,
        "Niêm yết 5 thủ tục.",
        " Cập nhật cổng thông tin.",
    );

    let old = browser.open_new_tab();
    browser.close_tab(&old);
    browser.goto(&server.url("/"));
    browser.wait_for_text(&[PLAN_TEXT], LIMIT);
    assert_offline_with(&browser, n);

    server.restart();
    browser.network_back();
    browser.wait_for_sync_state("saved");
    assert_eq!(
        results_on_server(&server, id),
        "Niêm yết 5 thủ tục. Cập nhật cổng thông tin."
    );
}

/// Puts `count` documents on the device as the app stores a fully synced
/// document: one snapshot each, and a record saying the server has it all.
fn put_synced_documents(browser: &Browser, count: usize, bytes: &[u8], heads: &[String]) {
    let mut rng = Rng::new(seed());
    let ids: Vec<String> = (0..count)
        .map(|_| {
            let raw: [u8; 16] = rng.bytes(16).try_into().unwrap();
            DocId::from_bytes(raw).to_string()
        })
        .collect();
    let answer = browser.execute_async(
        "const [ids, data, heads, done] = arguments;
         const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
         // The first user to sign in on a device has this database.
         const open = indexedDB.open('papi-workspace', 1);
         open.onerror = () => done(String(open.error));
         open.onsuccess = () => {
           const tx = open.result.transaction(['chunks', 'meta'], 'readwrite');
           for (const id of ids) {
             tx.objectStore('chunks').put(bytes, [id, 'snap', '0']);
             tx.objectStore('meta').put({ server_heads: heads, unsynced: 0, name: 'Báo cáo' }, id);
           }
           tx.oncomplete = () => done('ok');
           tx.onerror = () => done(String(tx.error));
         };",
        json!([ids, BASE64_STANDARD.encode(bytes), heads]),
    );
    assert_eq!(answer, json!("ok"));
}

#[test]
fn two_hundred_documents_on_the_device_three_with_offline_edits() {
    let mut server = Server::start();
    let token = server.token("chuyenvien");
    let periods = Server::periods();
    let now = periods
        .iter()
        .position(|p| *p == current_period())
        .expect("the current period is in the plan");
    let three: Vec<String> = periods[now - 2..=now].to_vec();
    let ids: Vec<DocId> = three
        .iter()
        .map(|p| server.report(&token, "phong-ngan-sach", p))
        .collect();

    let browser = Browser::signed_in(&server, "chuyenvien");
    let open = |period: &str| {
        browser.open_page("reports");
        browser.click_on(&format!("li[data-period=\"{period}\"] .open-report"));
        browser.find(RESULTS);
    };
    for period in &three {
        open(period);
        browser.click_on("button.back");
    }
    browser.wait_for_sync_state("saved");
    browser.wait_for_service_worker();

    // The plan and the three reports are on the device; 196 more documents
    // (copies of a real report under other ids) make 200.
    let client = SyncClient::connect_as(&server, "chuyenvien");
    let mut client = client;
    assert!(client.open(ids[0]));
    let filler = client.doc(ids[0]);
    let heads: Vec<String> = filler.get_heads().iter().map(|h| h.to_string()).collect();
    put_synced_documents(&browser, 196, &filler.save(), &heads);

    assert!(server.stop());
    browser.wait_for_sync_state("offline");
    for (i, period) in three.iter().enumerate() {
        open(period);
        browser.type_into(&browser.find(RESULTS), &format!("Ngoại tuyến {i}."));
        browser.click_on("button.back");
    }
    let n = settled_count(&browser);

    browser.open_page("plan");
    let started = Instant::now();
    browser.reload();
    browser.find(".sync-status");
    let count = browser.device_only();
    let shown = started.elapsed();
    browser.wait_for_text(&[PLAN_TEXT], LIMIT);
    let interactive = started.elapsed();
    println!(
        "reload offline with 200 documents on the device: status bar after {} ms, plan after {} ms",
        shown.as_millis(),
        interactive.as_millis()
    );
    assert_eq!(count, Some(n), "the count is right from the first paint");
    assert_offline_with(&browser, n);
    browser.click_on("details.data-safety summary");
    let documents = browser.execute(
        "const d = document.querySelector('.safety-documents');
         return [d.textContent.trim(), d.dataset.loaded];",
        json!([]),
    );
    assert_eq!(
        documents,
        json!(["200", "4"]),
        "200 on the device; in memory only the plan and the three with edits"
    );

    server.restart();
    browser.network_back();
    browser.wait_for_sync_state("saved");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(results_on_server(&server, *id), format!("Ngoại tuyến {i}."));
    }
}

/// A review step taken offline waits in the outbox; after a reload offline
/// it is counted, and it is sent from whatever screen is open.
#[test]
fn a_submission_made_offline_is_counted_after_a_reload_and_sent_from_the_plan() {
    let mut server = Server::start();
    let token = server.token("truongphong");
    let id = server.report(&token, "phong-ngan-sach", &current_period());

    let browser = Browser::signed_in(&server, "truongphong");
    browser.open_page("reports");
    browser.click_on(&format!(
        "li[data-period=\"{}\"] .open-report",
        current_period()
    ));
    browser.find(".submit-report");
    browser.wait_for_sync_state("saved");
    browser.wait_for_service_worker();

    assert!(server.stop());
    browser.wait_for_sync_state("offline");
    browser.click_on(".submit-report");
    browser.find(".pending-step");
    assert_eq!(browser.device_only(), Some(1), "the step counts");

    browser.reload();
    browser.wait_for_text(&[PLAN_TEXT], LIMIT);
    assert_offline_with(&browser, 1);

    server.restart();
    browser.network_back();
    browser.wait_for_sync_state("saved");
    let (_, history) = server.get(
        &format!("/api/reports/history?url={}", id.url()),
        Some(&token),
    );
    let actions: Vec<&str> = history["events"]
        .as_array()
        .expect("the report's steps")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["submit"], "{history}");
}

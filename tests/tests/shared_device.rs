//! One phone shared by two staff of the same unit, in real Chromium against
//! the real server: what the first leaves unsynced is neither shown to nor
//! sent by the second, stays on the device, and is sent at the first's next
//! sign-in. Removing one's data from the device is offered only when the
//! server has all of it, and removes only that user's.

use std::time::Duration;

use papi::ids::DocId;
use papi_e2e::{current_period, first_results_on_server, wait_for, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";
const ONLINE: &str = "Đã họp dân 3 lần.";
const OFFLINE: &str = " Bản nháp chỉ có trên máy của chuyên viên.";

/// The report's first "results" text as the server holds it.
fn results_on_server(server: &Server, id: DocId) -> String {
    first_results_on_server(server, "truongphong", id)
}

/// The names of the IndexedDB databases of the page's origin.
fn databases(browser: &Browser) -> Vec<String> {
    let names = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         indexedDB.databases().then((d) => done(d.map((x) => x.name).sort()));",
        json!([]),
    );
    serde_json::from_value(names).expect("database names")
}

/// Opens the sign-out panel and returns its text.
fn sign_out_panel(browser: &Browser) -> String {
    browser.open_sign_out();
    browser
        .execute(
            "return document.querySelector('.sign-out-panel').innerText;",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The keys of the page's local storage that start with `prefix`.
fn values_starting(browser: &Browser, prefix: &str) -> Vec<String> {
    let keys = browser.execute(
        "return Object.keys(localStorage).filter((k) => k.startsWith(arguments[0]));",
        json!([prefix]),
    );
    serde_json::from_value(keys).expect("keys")
}

fn has(browser: &Browser, css: &str) -> bool {
    browser.execute(
        "return !!document.querySelector(arguments[0]);",
        json!([css]),
    ) == json!(true)
}

#[test]
fn two_users_of_one_browser_never_see_or_send_each_others_device_data() {
    let mut server = Server::start();
    let period = current_period();

    // The first user drafts online, then offline.
    let phone = Browser::signed_in(&server, "chuyenvien");
    phone.open_page("reports");
    phone.click_on(&format!("li[data-period=\"{period}\"] .start-report"));
    phone.type_into(&phone.find(RESULTS), ONLINE);
    phone.wait_for_sync_state("saved");
    phone.wait_for_service_worker();
    let id = DocId::parse(
        phone
            .execute(
                "return document.querySelector('article.report').dataset.doc;",
                json!([]),
            )
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(server.stop());
    phone.wait_for_sync_state("offline");
    phone.type_into(&phone.find(RESULTS), OFFLINE);
    let unsynced = wait_for("the edit to be written to the device", LIMIT, || {
        (!phone.writing_to_device())
            .then(|| phone.device_only())
            .flatten()
            .filter(|n| *n > 0)
    });

    // Signing out with changes only here: told how many, and no way to
    // remove them.
    let panel = sign_out_panel(&phone);
    assert!(
        panel.contains(&format!("Còn {unsynced} thay đổi")),
        "{panel}"
    );
    assert!(!has(&phone, ".sign-out-remove"), "{panel}");
    phone.click_on(".sign-out-keep");
    phone.find("#username");

    // The second user of the unit signs in on the same browser.
    server.restart();
    phone.sign_in(
        &server.url("/"),
        "truongphong",
        &server.password_of("truongphong"),
    );
    phone.wait_for_sync_state("saved");
    assert_eq!(phone.device_only(), Some(0), "{}", phone.text());
    phone.open_page("reports");
    phone.click_on(&format!("li[data-period=\"{period}\"] .open-report"));
    phone.wait_for_value(RESULTS, LIMIT, |v| v == ONLINE);
    phone.wait_for_sync_state("saved");
    assert_eq!(
        results_on_server(&server, id),
        ONLINE,
        "sent by the wrong user"
    );
    assert!(!phone.text().contains(OFFLINE.trim()));

    // All of the second user's changes are on the server: they may remove
    // their data, and only theirs goes.
    let before = databases(&phone);
    assert_eq!(before.len(), 2, "one database per user: {before:?}");
    let second = server.login("truongphong")["user"]["id"].as_i64().unwrap();
    let own_values = format!("papi.u{second}.");
    assert!(
        !values_starting(&phone, &own_values).is_empty(),
        "the answers kept for the second user"
    );
    let panel = sign_out_panel(&phone);
    assert!(
        panel.contains("Mọi thay đổi của bạn đã có trên máy chủ"),
        "{panel}"
    );
    phone.click_on(".sign-out-remove");
    phone.find("#username");
    let after = wait_for("the second user's database to go", LIMIT, || {
        let now = databases(&phone);
        (now.len() == 1).then_some(now)
    });
    assert!(before.contains(&after[0]), "{before:?} then {after:?}");
    let left = values_starting(&phone, &own_values);
    assert!(left.is_empty(), "{left:?}");
    assert!(
        !values_starting(&phone, "papi.u").is_empty(),
        "the first user's values stay"
    );

    // The first user's next sign-in sends what they left on the device.
    phone.sign_in(
        &server.url("/"),
        "chuyenvien",
        &server.password_of("chuyenvien"),
    );
    phone.wait_for_sync_state("saved");
    assert_eq!(phone.device_only(), Some(0));
    wait_for("the first user's draft to reach the server", LIMIT, || {
        (results_on_server(&server, id) == format!("{ONLINE}{OFFLINE}")).then_some(())
    });
}

/// A tab left open as one user follows when another tab of the browser
/// signs them out (and someone else in): it reloads, and nothing of the
/// first user stays on its screen or works under the new session.
#[test]
fn a_tab_left_open_follows_a_change_of_user_in_another_tab() {
    let server = Server::start();
    let phone = Browser::signed_in(&server, "chuyenvien");
    phone.wait_for_sync_state("saved");
    let first_tab = phone.open_new_tab();
    phone.goto(&server.url("/"));
    phone.wait_until_signed_in();
    phone.open_sign_out();
    phone.click_on(".sign-out-keep");
    phone.sign_in(
        &server.url("/"),
        "truongphong",
        &server.password_of("truongphong"),
    );

    phone.switch_to_tab(&first_tab);
    let shown = wait_for("the first tab to leave the first user", LIMIT, || {
        let name = phone.execute(
            "const n = document.querySelector('.menu-name');
             return n ? n.textContent : (document.querySelector('#username') ? 'sign-in' : null);",
            json!([]),
        );
        name.as_str()
            .filter(|n| *n != "Chuyên viên Phòng Ngân sách")
            .map(str::to_string)
    });
    assert!(
        shown == "sign-in" || shown == "Trưởng phòng Ngân sách",
        "{shown}"
    );
    assert!(!phone.text().contains("Chuyên viên Phòng Ngân sách"));
}

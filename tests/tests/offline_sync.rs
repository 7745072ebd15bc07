//! Offline-first editing in real Chromium against the real server: live
//! sync between two sessions, edits made while the server is down or
//! unreachable, a server killed mid-typing, and reloads.

use std::time::Duration;

use automerge::ReadDoc;
use papi::ids::DocId;
use papi::schema::measure_text;
use papi_e2e::{http, wait_for, Browser, Server, SyncClient};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const FIRST: &str = "textarea[data-field=\"plan/d1-m1\"]";
const SECOND: &str = "textarea[data-field=\"plan/d1-m2\"]";

/// The app as the demo coordinator, with the first dimension's measures.
fn on_the_plan(server: &Server) -> Browser {
    Browser::on_the_first_dimension(server, "vanphong")
}

/// The coordinator on the plan with everything saved and the app shell
/// cached; then the server stops. Returns the browser and the first
/// measure's text.
fn offline_on_the_plan(server: &mut Server) -> (Browser, String) {
    let alice = on_the_plan(server);
    alice.wait_for_sync_state("saved");
    let original = alice.value(FIRST);
    alice.wait_for_service_worker();
    assert!(server.stop());
    alice.wait_for_sync_state("offline");
    (alice, original)
}

/// The measure's text as the server holds it, read by a protocol client.
fn server_text(server: &Server, measure: &str) -> String {
    let mut r = http().get(server.url("/api/plan")).call().unwrap();
    let body: serde_json::Value = r.body_mut().read_json().unwrap();
    let id = DocId::parse(body["url"].as_str().unwrap()).unwrap();
    let mut client = SyncClient::connect_as(server, "vanphong");
    assert!(client.open(id));
    let doc = client.doc(id);
    let text = measure_text(doc, measure).expect("the measure exists");
    doc.text(&text).unwrap()
}

/// Waits until the page says everything is saved, and checks that the
/// server has `expected` as the first measure's text.
fn saved_on_the_server(browser: &Browser, server: &Server, expected: &str) {
    browser.wait_for_sync_state("saved");
    assert_eq!(server_text(server, "d1-m1"), expected);
}

#[test]
fn an_edit_in_one_session_appears_in_the_other_without_reload() {
    let server = Server::start();
    let alice = on_the_plan(&server);
    let bob = on_the_plan(&server);
    let original = alice.value(FIRST);
    assert!(original.starts_with("Đẩy mạnh"), "{original}");

    let field = alice.find(FIRST);
    alice.type_into(&field, " Đã triển khai ở 12 xã.");
    let seen = bob.wait_for_value(FIRST, LIMIT, |v| v.ends_with(" Đã triển khai ở 12 xã."));
    assert_eq!(seen, format!("{original} Đã triển khai ở 12 xã."));
    alice.wait_for_sync_state("saved");
    assert_eq!(server_text(&server, "d1-m1"), seen);
}

#[test]
fn edits_made_while_the_server_is_down_merge_when_it_returns() {
    let mut server = Server::start();
    let alice = on_the_plan(&server);
    let bob = on_the_plan(&server);
    alice.wait_for_sync_state("saved");
    bob.wait_for_sync_state("saved");
    let first = alice.value(FIRST);
    let second = alice.value(SECOND);

    assert!(server.stop());
    alice.wait_for_sync_state("offline");
    bob.wait_for_sync_state("offline");
    // The same field, and different fields.
    alice.type_into(&alice.find(FIRST), " [An]");
    bob.type_into(&bob.find(FIRST), " [Bình]");
    bob.type_into(&bob.find(SECOND), " [Bình 2]");
    wait_for(
        "the status to count changes only on the device",
        LIMIT,
        || {
            alice
                .text()
                .contains("thay đổi chỉ có trên thiết bị này")
                .then_some(())
        },
    );

    server.restart();
    alice.network_back();
    bob.network_back();
    for browser in [&alice, &bob] {
        let merged =
            browser.wait_for_value(FIRST, LIMIT, |v| v.contains("[An]") && v.contains("[Bình]"));
        assert!(merged.starts_with(&first), "{merged}");
        assert_eq!(merged.len(), first.len() + " [An]".len() + " [Bình]".len());
        browser.wait_for_value(SECOND, LIMIT, |v| v == format!("{second} [Bình 2]"));
    }
    alice.wait_for_sync_state("saved");
    bob.wait_for_sync_state("saved");
    assert_eq!(
        alice.value(FIRST),
        bob.value(FIRST),
        "both sessions converge"
    );
    assert_eq!(server_text(&server, "d1-m1"), alice.value(FIRST));
}

#[test]
fn every_edit_survives_a_server_killed_while_typing() {
    let mut server = Server::start();
    let alice = on_the_plan(&server);
    let bob = on_the_plan(&server);
    let original = alice.value(FIRST);
    let field = alice.find(FIRST);
    let mut typed = String::new();
    for round in 0..12 {
        let chunk = format!(" {round}-ơư");
        alice.type_into(&field, &chunk);
        typed.push_str(&chunk);
        if round == 5 {
            server.kill();
        }
        if round == 8 {
            server.restart();
            alice.network_back();
            bob.network_back();
        }
    }
    let expected = format!("{original}{typed}");
    bob.wait_for_value(FIRST, LIMIT, |v| v == expected);
    saved_on_the_server(&alice, &server, &expected);
}

#[test]
fn edits_made_while_the_server_is_down_survive_a_reload_and_sync_later() {
    let mut server = Server::start();
    let (alice, original) = offline_on_the_plan(&mut server);
    alice.type_into(&alice.find(FIRST), " (ngoại tuyến)");
    wait_for(
        "the change to be counted as only on this device",
        LIMIT,
        || {
            alice
                .text()
                .contains(" thay đổi chỉ có trên thiết bị này")
                .then_some(())
        },
    );

    // Reload with the server still down: the app and the edit come from the device.
    alice.reload();
    alice.wait_for_text(&["Tham gia của người dân ở cấp cơ sở"], LIMIT);
    alice.click(&alice.find("li.dimension:first-child summary"));
    alice.wait_for_value(FIRST, LIMIT, |v| v == format!("{original} (ngoại tuyến)"));
    assert!(
        alice.text().contains(" thay đổi chỉ có trên thiết bị này"),
        "{}",
        alice.text()
    );

    server.restart();
    alice.network_back();
    saved_on_the_server(&alice, &server, &format!("{original} (ngoại tuyến)"));
}

/// After one online sign-in the app works offline; if the session is gone
/// when the connection returns, the app asks to sign in again and then sends
/// what waited on the device.
#[test]
fn an_expired_session_asks_to_sign_in_again_and_keeps_offline_edits() {
    let mut server = Server::start();
    let (alice, original) = offline_on_the_plan(&mut server);
    alice.type_into(&alice.find(FIRST), " (chờ gửi)");
    // Meanwhile an administrator resets the password, which ends the session.
    server.set_password("vanphong", "mật khẩu mới 2026");
    server.restart();
    alice.network_back();

    alice.wait_for_text(&["Phiên đăng nhập đã hết hạn"], LIMIT);
    assert_eq!(
        alice.value(FIRST),
        format!("{original} (chờ gửi)"),
        "the edit is kept"
    );
    assert_eq!(server_text(&server, "d1-m1"), original);

    alice.type_into(&alice.find(".expired #username"), "vanphong");
    alice.type_into(&alice.find(".expired #password"), "mật khẩu mới 2026");
    alice.click(&alice.find(".expired button[type=submit]"));
    saved_on_the_server(&alice, &server, &format!("{original} (chờ gửi)"));
}

/// The data-safety panel tells what is only on this device, and signing out
/// with such changes asks first.
#[test]
fn the_data_safety_panel_and_sign_out_warn_about_unsynced_changes() {
    let mut server = Server::start();
    let alice = on_the_plan(&server);
    alice.wait_for_sync_state("saved");
    alice.click(&alice.find("details.data-safety summary"));
    alice.wait_for_text(&["Lưu bền vững", "Dung lượng đã dùng", "MB /"], LIMIT);
    assert_eq!(
        alice.execute(
            "return document.querySelector('.safety-unsynced').textContent;",
            json!([])
        ),
        json!("Không có")
    );

    assert!(server.stop());
    alice.wait_for_sync_state("offline");
    alice.type_into(&alice.find(FIRST), " x");
    wait_for("the panel to list the plan", LIMIT, || {
        let text = alice.execute(
            "return document.querySelector('.safety-unsynced').textContent;",
            json!([]),
        );
        text.as_str()
            .filter(|t| t.starts_with("Kế hoạch: "))
            .map(|_| ())
    });

    alice.open_sign_out();
    alice.wait_for_text(&["chưa gửi lên máy chủ"], LIMIT);
    alice.click(&alice.find(".sign-out-cancel"));
    assert!(
        alice.execute(
            "return !!document.querySelector('header .account-menu');",
            json!([])
        ) == json!(true),
        "still signed in after cancelling"
    );
}

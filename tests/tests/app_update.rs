//! A new version of the app: the service worker downloads it in the
//! background, the page offers "reload to update", and only the person's
//! choice switches to it.

use std::path::Path;
use std::time::Duration;

use papi::ids::DocId;
use papi::schema::measure_text;
use papi_e2e::{http, wait_for, workspace_root, Browser, Server, SyncClient};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn shell_caches(browser: &Browser) -> Vec<String> {
    try_shell_caches(browser).unwrap_or_else(|failure| panic!("{failure}"))
}

/// The shell's caches, or why the page did not say (it was reloading).
fn try_shell_caches(browser: &Browser) -> Result<Vec<String>, String> {
    let v = browser.try_execute_async(
        "const done = arguments[arguments.length - 1];
         caches.keys().then((keys) => done(keys.filter((k) => k.startsWith('papi-shell-'))));",
        json!([]),
    )?;
    Ok(v.as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect())
}

/// A copy of the built front end, which a test may change into a "new
/// version".
fn dist_copy() -> tempfile::TempDir {
    let dist = tempfile::tempdir().unwrap();
    copy_dir(&workspace_root().join("dist"), dist.path());
    dist
}

/// Makes the copy a new version: the service worker's version `old`
/// changes.
fn new_version(dist: &Path, old: &str) {
    let sw = dist.join("sw.js");
    let text = std::fs::read_to_string(&sw).unwrap();
    std::fs::write(&sw, text.replace(old, &format!("{old}next"))).unwrap();
}

#[test]
fn a_new_version_is_offered_and_taken_only_when_asked() {
    let dist = dist_copy();
    let mut server = Server::start_serving(dist.path(), &[]);
    let browser = Browser::signed_in(&server, "vanphong");
    wait_for("the service worker to control the page", LIMIT, || {
        browser
            .execute("return !!navigator.serviceWorker.controller;", json!([]))
            .as_bool()
            .unwrap()
            .then_some(())
    });
    browser.wait_for_text(&["Tham gia của người dân ở cấp cơ sở"], LIMIT);
    let before = shell_caches(&browser);
    assert_eq!(before.len(), 1, "{before:?}");

    // A new build: the worker's version changes.
    let old = before[0].trim_start_matches("papi-shell-").to_string();
    new_version(dist.path(), &old);
    server.restart();

    // Someone is typing when the new version arrives: nothing reloads.
    browser.click_on("li.dimension:first-child summary");
    let field = "textarea[data-field=\"plan/d1-m1\"]";
    browser.type_into(&browser.find(field), " (đang gõ)");
    browser.execute("window.stillTheSamePage = true;", json!([]));
    browser.execute(
        "navigator.serviceWorker.getRegistration().then((r) => r.update());",
        json!([]),
    );
    browser.find(".update-ready .reload-to-update");
    assert_eq!(
        browser.execute("return window.stillTheSamePage === true;", json!([])),
        json!(true),
        "the page was not reloaded"
    );
    assert!(browser.value(field).ends_with(" (đang gõ)"));

    // The person chooses to update: the page reloads into the new version.
    browser.click_on(".reload-to-update");
    wait_for("the page to reload", LIMIT, || {
        (browser.execute("return window.stillTheSamePage === true;", json!([])) != json!(true))
            .then_some(())
    });
    wait_for("the old version's cache to go", LIMIT, || {
        let now = try_shell_caches(&browser).ok()?;
        (now == vec![format!("papi-shell-{old}next")]).then_some(())
    });
    browser.wait_for_text(&["Tham gia của người dân ở cấp cơ sở"], LIMIT);
}

/// Edits that have not reached the server when a new version of the app
/// takes over stay on the device, and are sent by the new version.
#[test]
fn edits_waiting_on_the_device_are_kept_across_an_app_update() {
    let dist = dist_copy();
    let mut server = Server::start_serving(dist.path(), &[]);
    let browser = Browser::on_the_first_dimension(&server, "vanphong");
    browser.wait_for_service_worker();
    browser.wait_for_sync_state("saved");
    let old = shell_caches(&browser)[0]
        .trim_start_matches("papi-shell-")
        .to_string();

    // The edit is made offline, and waits on the device.
    assert!(server.stop());
    browser.wait_for_sync_state("offline");
    let field = "textarea[data-field=\"plan/d1-m1\"]";
    browser.type_into(&browser.find(field), " (viết trước khi cập nhật)");
    let typed = browser.value(field);
    wait_for("the edit to wait on the device", LIMIT, || {
        (browser.device_only().unwrap_or(0) > 0 && !browser.writing_to_device()).then_some(())
    });

    // The new version arrives and the person takes it, while the server
    // takes no sync connection of this user (the app loads, its edits
    // cannot be sent).
    new_version(dist.path(), &old);
    server.restart_with(&["--max-connections-per-user", "0"]);
    browser.execute(
        "navigator.serviceWorker.getRegistration().then((r) => r.update());",
        json!([]),
    );
    browser.click_on(".reload-to-update");
    wait_for("the new version to run", LIMIT, || {
        // While the page reloads, it does not answer: asked again.
        (try_shell_caches(&browser).ok()? == vec![format!("papi-shell-{old}next")]).then_some(())
    });
    // The reload stays on the open dimension (its address).
    browser.wait_for_value(field, LIMIT, |v| v == typed);
    // The new version counts what waits on the device once it has read it.
    wait_for(
        "the edit to be counted as waiting on the device",
        LIMIT,
        || (browser.device_only().unwrap_or(0) > 0).then_some(()),
    );
    assert_eq!(browser.sync_state(), "offline");

    // Sync comes back: the new version sends it.
    server.restart_with(&[]);
    browser.network_back();
    browser.wait_for_sync_state("saved");
    assert_eq!(server_text(&server), typed);
}

/// The first measure's text as the server holds it.
fn server_text(server: &Server) -> String {
    let mut r = http().get(server.url("/api/plan")).call().unwrap();
    let body: serde_json::Value = r.body_mut().read_json().unwrap();
    let id = DocId::parse(body["url"].as_str().unwrap()).unwrap();
    let mut client = SyncClient::connect_as(server, "vanphong");
    assert!(client.open(id));
    client.until("the whole plan", LIMIT, |c| c.server_has_all(id));
    let doc = client.doc(id);
    let text = measure_text(doc, "d1-m1").expect("the measure exists");
    automerge::ReadDoc::text(doc, &text).unwrap()
}

//! A new version of the app: the service worker downloads it in the
//! background, the page offers "reload to update", and only the person's
//! choice switches to it.

use std::path::Path;
use std::time::Duration;

use papi_e2e::{wait_for, workspace_root, Browser, Server};
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
    let v = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         caches.keys().then((keys) => done(keys.filter((k) => k.startsWith('papi-shell-'))));",
        json!([]),
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_new_version_is_offered_and_taken_only_when_asked() {
    let dist = tempfile::tempdir().unwrap();
    copy_dir(&workspace_root().join("dist"), dist.path());
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
    let sw = dist.path().join("sw.js");
    let text = std::fs::read_to_string(&sw).unwrap();
    let old = before[0].trim_start_matches("papi-shell-").to_string();
    std::fs::write(&sw, text.replace(&old, &format!("{old}next"))).unwrap();
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
        let now = shell_caches(&browser);
        (now == vec![format!("papi-shell-{old}next")]).then_some(())
    });
    browser.wait_for_text(&["Tham gia của người dân ở cấp cơ sở"], LIMIT);
}

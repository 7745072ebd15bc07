//! The main screens on a phone-sized screen (360×640): nothing scrolls
//! sideways, and a screenshot of each is written to tests/screenshots/.

use std::time::Duration;

use papi_e2e::{http, workspace_root, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);

fn no_sideways_scroll(browser: &Browser, screen: &str) {
    let widths = browser.execute(
        "return [document.documentElement.scrollWidth, window.innerWidth];",
        json!([]),
    );
    let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    assert!(
        inner <= 360,
        "{screen}: the window is phone-sized ({inner})"
    );
    assert!(
        scroll <= inner,
        "{screen} scrolls sideways: {scroll} > {inner}"
    );
    browser.screenshot(&workspace_root().join(format!("tests/screenshots/{screen}.png")));
}

#[test]
fn every_main_screen_fits_a_phone() {
    let server = Server::start();
    let browser = Browser::start();
    browser.as_phone();
    browser.goto(&server.url("/"));
    browser.find("#username");
    no_sideways_scroll(&browser, "sign-in");

    browser.sign_in(&server.url("/"), "quantri", "quantri-demo");
    browser.wait_for_text(&["Quản trị điện tử"], LIMIT);
    no_sideways_scroll(&browser, "plan");
    browser.click(&browser.find("li.dimension:first-child summary"));
    browser.find("textarea[data-field=\"plan/d1-m1\"]");
    no_sideways_scroll(&browser, "plan-measures");

    browser.click_on("button[data-page=\"admin\"]");
    browser.wait_for_text(&["Thêm người dùng"], LIMIT);
    no_sideways_scroll(&browser, "admin");
}

#[test]
fn the_app_is_installable_with_a_vietnamese_manifest() {
    let server = Server::start();
    let mut r = http()
        .get(server.url("/manifest.webmanifest"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/manifest+json");
    let manifest: serde_json::Value = r.body_mut().read_json().unwrap();
    assert_eq!(manifest["name"], "Không gian làm việc PAPI");
    assert_eq!(manifest["display"], "standalone");
    assert_eq!(manifest["start_url"], "/");
    for icon in manifest["icons"].as_array().unwrap() {
        let src = icon["src"].as_str().unwrap();
        assert_eq!(
            http().get(server.url(src)).call().unwrap().status(),
            200,
            "{src}"
        );
    }
    // The service worker precaches the manifest and icons with the rest.
    let sw = http()
        .get(server.url("/sw.js"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(
        sw.contains("/manifest.webmanifest") && sw.contains("/icons/icon-192.png"),
        "{sw}"
    );
}

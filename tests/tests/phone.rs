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

/// Text twice as large, as a phone's accessibility setting makes it.
fn double_text(browser: &Browser) {
    browser.execute(
        "document.documentElement.style.fontSize = '200%';",
        json!([]),
    );
}

fn normal_text(browser: &Browser) {
    browser.execute("document.documentElement.style.fontSize = '';", json!([]));
}

/// Checks a screen at normal and at double text size.
fn both_sizes(browser: &Browser, screen: &str) {
    no_sideways_scroll(browser, screen);
    double_text(browser);
    no_sideways_scroll(browser, &format!("{screen}-200"));
    normal_text(browser);
}

#[test]
fn the_reporting_screens_fit_a_phone_at_normal_and_double_text_size() {
    let server = Server::start();
    let lead = Browser::start();
    lead.as_phone();
    lead.sign_in(&server.url("/"), "truongphong", "truongphong-demo");
    lead.wait_for_text(&["Quản trị điện tử"], LIMIT);
    both_sizes(&lead, "lead-plan");
    lead.click_on("button[data-page=\"reports\"]");
    lead.find(".start-report");
    both_sizes(&lead, "reports");
    lead.click_on(".start-report");
    lead.find("article.report textarea[data-field=\"s0/results\"]");
    lead.find(".submit-report");
    both_sizes(&lead, "report");
    lead.click_on("button[data-page=\"proposals\"]");
    lead.find("form.proposal-form");
    both_sizes(&lead, "proposals");

    let office = Browser::start();
    office.as_phone();
    office.sign_in(&server.url("/"), "vanphong", "vanphong-demo");
    office.click_on("button[data-page=\"reports\"]");
    office.find("li.unit-report .open-report");
    both_sizes(&office, "office-reports");
    office.click_on("button[data-page=\"dashboard\"]");
    office.find("li.period-summary");
    office.find("form.result-form");
    both_sizes(&office, "dashboard");
    office.click_on("button[data-page=\"reports\"]");
    office.click_on(".start-consolidated");
    office.find("article.consolidated textarea[data-field=\"s0/results\"]");
    both_sizes(&office, "consolidated");
}

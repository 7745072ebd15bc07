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
    // The header is one line: the title and the user's name, which opens
    // the language and sign-out.
    let header = browser
        .execute(
            "return document.querySelector('header.topbar').getBoundingClientRect().height;",
            json!([]),
        )
        .as_f64()
        .unwrap();
    println!("header at 360×640: {header} px");
    assert!(header <= 64.0, "the header takes {header} of 640 px");
    browser.open_account_menu();
    browser.find("#account-menu.open select.language");
    no_sideways_scroll(&browser, "account-menu");
    browser.click(&browser.find("li.dimension:first-child summary"));
    browser.find("textarea[data-field=\"plan/d1-m1\"]");
    no_sideways_scroll(&browser, "plan-measures");

    browser.open_page("admin");
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

/// A phone signed in as `username`.
fn phone(server: &Server, username: &str) -> Browser {
    let browser = Browser::start();
    browser.as_phone();
    browser.sign_in(&server.url("/"), username, &server.password_of(username));
    browser
}

/// Clicks through screens, each (what to click, what it shows, its name),
/// and checks each named one at both text sizes.
fn visit(browser: &Browser, screens: &[(&str, &[&str], &str)]) {
    for (click, shows, name) in screens {
        browser.click_on(click);
        for css in *shows {
            browser.find(css);
        }
        if !name.is_empty() {
            both_sizes(browser, name);
        }
    }
}

#[test]
fn the_reporting_screens_fit_a_phone_at_normal_and_double_text_size() {
    let server = Server::start();
    let lead = phone(&server, "truongphong");
    lead.wait_for_text(&["Quản trị điện tử"], LIMIT);
    both_sizes(&lead, "lead-plan");
    let results = "article.report textarea[data-field=\"s0/results\"]";
    visit(
        &lead,
        &[
            ("a[data-page=\"reports\"]", &[".start-report"], "reports"),
            (".start-report", &[results, ".submit-report"], "report"),
            (
                "a[data-page=\"proposals\"]",
                &["form.proposal-form"],
                "proposals",
            ),
        ],
    );

    let office = phone(&server, "vanphong");
    visit(
        &office,
        &[
            (
                "a[data-page=\"reports\"]",
                &["li.unit-report .open-report"],
                "office-reports",
            ),
            (
                "a[data-page=\"dashboard\"]",
                &["li.period-summary", "form.result-form"],
                "dashboard",
            ),
            ("a[data-page=\"reports\"]", &[], ""),
            (
                ".start-consolidated",
                &["article.consolidated textarea[data-field=\"s0/results\"]"],
                "consolidated",
            ),
        ],
    );
}

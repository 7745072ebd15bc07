//! The first open on a slow phone: the page's plain-HTML frame signs in
//! and shows how much of the app has arrived before the app has downloaded,
//! and the app takes over what was typed and the sign-in's answer.

use std::time::Duration;

use papi_e2e::{wait_for, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(120);

fn shown(browser: &Browser, css: &str) -> bool {
    browser.execute(
        "const e = document.querySelector(arguments[0]);
         return !!e && e.getClientRects().length > 0;",
        json!([css]),
    ) == json!(true)
}

/// The network of a slow phone: the app's wasm takes many seconds.
fn slow_network(browser: &Browser) {
    browser.cdp("Network.enable", json!({}));
    browser.cdp(
        "Network.emulateNetworkConditions",
        json!({ "offline": false, "latency": 400,
                "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8 }),
    );
}

fn fast_network(browser: &Browser) {
    browser.cdp(
        "Network.emulateNetworkConditions",
        json!({ "offline": false, "latency": 0,
                "downloadThroughput": -1, "uploadThroughput": -1 }),
    );
}

/// Starts loading `url` and returns at once, without waiting for the page
/// to finish loading (which includes the app's wasm).
fn start_loading(browser: &Browser, url: &str) {
    browser.execute("window.location.href = arguments[0];", json!([url]));
    wait_for("the page's frame", LIMIT, || {
        shown(browser, "#early-username").then_some(())
    });
}

/// The sign-in button's state and text, and the frame's error if shown.
fn frame_sign_in(browser: &Browser) -> serde_json::Value {
    browser.execute(
        "const b = document.querySelector('#early-sign-in button');
         const e = document.getElementById('early-error');
         return [b.disabled, b.textContent, e.hidden ? null : e.textContent];",
        json!([]),
    )
}

/// Types a sign-in into the frame and sends it.
fn sign_in_with_the_frame(browser: &Browser, username: &str, password: &str) {
    browser.type_into(&browser.find("#early-username"), username);
    browser.type_into(&browser.find("#early-password"), password);
    browser.click_on("#early-sign-in button[type=submit]");
}

/// Waits until the frame says what became of its sign-in: the error it
/// shows, or None once it says it signed in.
fn frame_answer(browser: &Browser) -> Option<String> {
    wait_for("the frame to tell the sign-in's answer", LIMIT, || {
        let now = frame_sign_in(browser);
        if now[1] == json!("Đã đăng nhập. Đang mở ứng dụng…") {
            return Some(None);
        }
        now[2].as_str().map(|e| Some(e.to_string()))
    })
}

#[test]
fn without_the_app_the_frame_signs_in_and_says_when_a_password_is_wrong() {
    let server = Server::start();
    let browser = Browser::start();
    browser.cdp("Network.enable", json!({}));
    browser.cdp("Network.setBlockedURLs", json!({ "urls": ["*.wasm"] }));
    browser.goto(&server.url("/"));

    assert!(shown(&browser, "#early-sign-in"), "the sign-in form shows");
    assert!(!shown(&browser, "#early-opening"));
    sign_in_with_the_frame(&browser, "chuyenvien", "chuyenvien-sai");
    assert!(frame_answer(&browser).is_some(), "the sign-in is refused");
    let after = frame_sign_in(&browser);
    assert_eq!(
        after,
        json!([false, "Đăng nhập", "Sai tên đăng nhập hoặc mật khẩu."]),
        "the frame says so and can be sent again"
    );
    assert_eq!(
        browser.execute("return location.pathname + location.search;", json!([])),
        json!("/"),
        "the browser's own form submission (the password in the address) was not used"
    );

    browser.execute(
        "document.getElementById('early-password').value = '';",
        json!([]),
    );
    browser.type_into(&browser.find("#early-password"), "chuyenvien-demo");
    browser.click_on("#early-sign-in button[type=submit]");
    assert_eq!(frame_answer(&browser), None, "the frame says it signed in");
    let after = frame_sign_in(&browser);
    assert_eq!(after[0], true, "the button waits for the app: {after}");
    assert_eq!(after[2], json!(null), "no error: {after}");
    assert_eq!(
        browser.value("#early-password"),
        "chuyenvien-demo",
        "what was typed is kept"
    );
    // The app could not be fetched: the page says so and offers a reload.
    wait_for("the frame to say the app did not load", LIMIT, || {
        shown(&browser, "#early-failed").then_some(())
    });
    assert!(
        browser.text().contains("Không tải được ứng dụng"),
        "{}",
        browser.text()
    );

    // A returning user sees the frame without the form while the app loads,
    // in the language they chose.
    browser.execute(
        "localStorage.setItem('papi.identity', JSON.stringify({ user: 'chuyenvien' }));
         localStorage.setItem('papi.language', JSON.stringify('en'));",
        json!([]),
    );
    browser.reload();
    assert!(
        shown(&browser, "#early-opening"),
        "the frame says it is opening"
    );
    assert!(
        !shown(&browser, "#early-sign-in"),
        "no sign-in form for a returning user"
    );
    assert!(
        browser.text().contains("PAPI workspace"),
        "{}",
        browser.text()
    );
}

#[test]
fn a_frame_that_the_app_took_over_says_nothing_failed() {
    let server = Server::start();
    let browser = Browser::start();
    browser.sign_in(&server.url("/"), "chuyenvien", "chuyenvien-demo");
    assert!(!shown(&browser, "#early"), "the frame is gone");
    assert!(!browser.text().contains("Không tải được ứng dụng"));
}

#[test]
fn a_sign_in_answered_before_the_app_started_opens_the_app_without_asking_again() {
    let server = Server::start();
    let browser = Browser::start();
    slow_network(&browser);
    start_loading(&browser, &server.url("/"));
    sign_in_with_the_frame(&browser, "chuyenvien", "chuyenvien-demo");
    assert_eq!(frame_answer(&browser), None, "the frame says it signed in");
    assert!(
        !shown(&browser, "#username"),
        "the app had not started when the sign-in was answered"
    );

    fast_network(&browser);
    browser.wait_until_signed_in();
    assert!(!shown(&browser, "#early"), "the frame is gone");
    assert_eq!(
        browser.execute(
            "return performance.getEntriesByType('resource')
                 .filter(e => new URL(e.name).pathname === '/api/login').length;",
            json!([])
        ),
        json!(1),
        "the app used the frame's sign-in and sent none of its own"
    );
    assert_eq!(
        browser.execute(
            "return document.querySelectorAll('.topbar').length;",
            json!([])
        ),
        json!(1),
        "one header"
    );
}

/// A first open on a slow network shows how much of the app has arrived,
/// and the app takes over the frame when all of it has.
#[test]
fn the_frame_shows_how_much_of_the_app_has_arrived() {
    let server = Server::start();
    let browser = Browser::start();
    slow_network(&browser);
    start_loading(&browser, &server.url("/"));
    let progress = || {
        browser.execute(
            "const p = document.getElementById('early-progress');
             return p && p.getClientRects().length > 0
                 ? [p.value, document.getElementById('early-percent').textContent] : null;",
            json!([]),
        )
    };
    let part = wait_for("part of the app to have arrived", LIMIT, || {
        let p = progress();
        let value = p[0].as_f64()?;
        (value > 0.0 && value < 100.0).then_some(p)
    });
    assert_eq!(
        part[1],
        json!(format!("{}%", part[0])),
        "the share arrived is also said in figures"
    );

    fast_network(&browser);
    browser.find("#username");
    assert!(!shown(&browser, "#early"), "the frame is gone");
}

/// A sign-in the frame sent that was refused is the app's form's answer:
/// the app takes over with the same error, and what was typed.
#[test]
fn a_sign_in_refused_before_the_app_started_is_told_by_the_app_too() {
    let server = Server::start();
    let browser = Browser::start();
    slow_network(&browser);
    start_loading(&browser, &server.url("/"));
    sign_in_with_the_frame(&browser, "chuyenvien", "sai");
    assert_eq!(
        frame_answer(&browser).as_deref(),
        Some("Sai tên đăng nhập hoặc mật khẩu.")
    );
    assert!(!shown(&browser, "#username"), "the app had not started");

    fast_network(&browser);
    let error = wait_for("the app's form to say the password is wrong", LIMIT, || {
        browser
            .execute(
                "const e = document.querySelector('form.sign-in .error');
                 return e && !document.getElementById('early') ? e.textContent : null;",
                json!([]),
            )
            .as_str()
            .map(str::to_string)
    });
    assert_eq!(error, "Sai tên đăng nhập hoặc mật khẩu.");
    assert_eq!(browser.value("#username"), "chuyenvien");
    assert_eq!(browser.value("#password"), "sai");
}

#[test]
fn what_was_typed_before_the_app_started_is_in_its_form_with_the_cursor() {
    let server = Server::start();
    let browser = Browser::start();
    slow_network(&browser);
    start_loading(&browser, &server.url("/"));
    browser.type_into(&browser.find("#early-username"), "chuyenvien");
    browser.type_into(&browser.find("#early-password"), "chuyenvien-");
    assert!(!shown(&browser, "#username"), "the app had not started yet");

    fast_network(&browser);
    browser.find("#username");
    assert_eq!(browser.value("#username"), "chuyenvien");
    assert_eq!(browser.value("#password"), "chuyenvien-");
    assert!(!shown(&browser, "#early"), "the frame is gone");
    assert_eq!(
        browser.execute("return document.activeElement.id;", json!([])),
        json!("password"),
        "the cursor is where it was"
    );
    browser.type_into(&browser.find("#password"), "demo");
    assert_eq!(browser.value("#password"), "chuyenvien-demo");
    browser.click_on("form.sign-in button[type=submit]");
    browser.wait_until_signed_in();
}

/// A connection that is up but carries nothing (a weak signal) does not
/// leave the first open waiting for ever: the screen offers to load the
/// page again, then says the server cannot be reached, and opens the plan
/// when asked to try again with the connection back.
#[test]
fn a_first_open_whose_request_never_answers_says_so_and_opens_on_retry() {
    let server = Server::start();
    let browser = Browser::start();
    // The request for the plan's address is held by the browser, unanswered.
    browser.cdp(
        "Fetch.enable",
        json!({ "patterns": [{ "urlPattern": "*/api/plan" }] }),
    );
    browser.sign_in(
        &server.url("/"),
        "chuyenvien",
        &server.password_of("chuyenvien"),
    );
    assert!(shown(&browser, ".status-line"), "the app is opening");
    wait_for("the offer to load the page again", LIMIT, || {
        shown(&browser, ".slow-open button.reload").then_some(())
    });
    browser.wait_for_text(&["Việc mở đang lâu hơn thường lệ."], LIMIT);
    wait_for("the request to give up", LIMIT, || {
        shown(&browser, "button.retry").then_some(())
    });
    browser.wait_for_text(&["Không kết nối được máy chủ"], LIMIT);
    assert!(
        !shown(&browser, "nav.tabs"),
        "nothing of the workspace is shown without the plan"
    );

    browser.cdp("Fetch.disable", json!({}));
    browser.click_on("button.retry");
    wait_for("the plan", LIMIT, || {
        shown(&browser, "li.dimension textarea[data-field]").then_some(())
    });
    assert!(!shown(&browser, ".slow-open"), "the offer is gone");
}

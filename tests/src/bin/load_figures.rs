//! Load figures of the web app on a slow phone and a slow network: headless
//! Chromium with the CPU slowed 4× and the network at 400 kbit/s with 400 ms
//! latency, set through the DevTools protocol. Prints the figures; asserts
//! nothing about them.
//!
//! Run with `scripts/load-figures` (it builds what is needed first).

use std::time::{Duration, Instant};

use papi_e2e::{wait_for, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(300);
const PLAN_SHOWN: &str = "li.dimension:nth-child(8) textarea[data-field]";

fn present(browser: &Browser, css: &str) -> bool {
    browser.execute(
        "return !!document.querySelector(arguments[0]);",
        json!([css]),
    ) == json!(true)
}

fn wait_present(browser: &Browser, css: &str) {
    wait_for(css, LIMIT, || present(browser, css).then_some(()));
}

/// Bytes over the network for this page so far, as the browser counts them
/// (compressed sizes; zero for what came from a cache or the service worker).
fn transferred(browser: &Browser) -> u64 {
    browser
        .execute(
            "return performance.getEntriesByType('navigation')
                .concat(performance.getEntriesByType('resource'))
                .reduce((sum, e) => sum + (e.transferSize || 0), 0);",
            json!([]),
        )
        .as_u64()
        .unwrap_or(0)
}

fn slow_phone(browser: &Browser) {
    browser.cdp("Network.enable", json!({}));
    browser.cdp(
        "Network.emulateNetworkConditions",
        json!({
            "offline": false,
            "latency": 400,
            "downloadThroughput": 400_000 / 8,
            "uploadThroughput": 400_000 / 8,
        }),
    );
    browser.cdp("Emulation.setCPUThrottlingRate", json!({ "rate": 4 }));
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn main() {
    let mut server = Server::start();
    let browser = Browser::start();
    slow_phone(&browser);

    // Cold: an empty browser profile opens the app and signs in.
    // Navigating from a script returns at once; WebDriver's own navigation
    // waits for the whole page, the app's wasm included.
    let start = Instant::now();
    browser.execute(
        "window.location.href = arguments[0];",
        json!([server.url("/")]),
    );
    // The page's frame has a sign-in form of its own, usable before the app
    // starts; the app sends what was typed into it.
    wait_present(&browser, "#early-sign-in:not([hidden]) button[type=submit]");
    let shell = start.elapsed();
    let shell_bytes = transferred(&browser);

    let signing_in = Instant::now();
    browser.type_into(&browser.find("#early-username"), "vanphong");
    browser.type_into(&browser.find("#early-password"), "vanphong-demo");
    browser.click_on("#early-sign-in button[type=submit]");
    wait_present(&browser, PLAN_SHOWN);
    let plan = signing_in.elapsed();
    let cold_bytes = transferred(&browser);

    // Warm and offline: the server is gone; the app and the plan come from
    // the device.
    wait_for("the service worker to control the page", LIMIT, || {
        (browser.execute("return !!navigator.serviceWorker.controller;", json!([])) == json!(true))
            .then_some(())
    });
    assert!(server.stop(), "the server stops");
    // Marks taken in the page itself, for where a warm open's time goes: the
    // app started (Trunk's event, after the wasm is compiled and `main` has
    // drawn the first frame), and the plan on the page.
    browser.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": format!(
            "addEventListener('TrunkApplicationStarted', () => {{ window.__started = performance.now(); }});
             new MutationObserver(() => {{
                 if (!window.__plan && document.querySelector({PLAN_SHOWN:?})) window.__plan = performance.now();
             }}).observe(document, {{ childList: true, subtree: true }});"
        ) }),
    );
    let start = Instant::now();
    browser.reload();
    wait_present(&browser, PLAN_SHOWN);
    let warm_offline = start.elapsed();
    let warm_bytes = transferred(&browser);
    let marks = browser.execute(
        "const nav = performance.getEntriesByType('navigation')[0];
         const wasm = performance.getEntriesByType('resource').find(e => e.name.endsWith('.wasm'));
         return [nav.responseEnd, wasm ? wasm.responseEnd : null, window.__started || null, window.__plan || null];",
        json!([]),
    );
    let ms = |v: &serde_json::Value| {
        v.as_f64()
            .map_or("—".to_string(), |m| format!("{:.0} ms", m))
    };

    println!("Load figures: headless Chromium, CPU 4x slower, 400 kbit/s, 400 ms latency");
    println!("{:<58} {:>12}", "measure", "value");
    println!(
        "{:<58} {:>12}",
        "bytes over the network, first load to sign-in form", shell_bytes
    );
    println!(
        "{:<58} {:>12}",
        "bytes over the network, first load through the plan", cold_bytes
    );
    println!(
        "{:<58} {:>12}",
        "cold load: until the sign-in form can be used",
        seconds(shell)
    );
    println!(
        "{:<58} {:>12}",
        "cold: sign-in until the plan is shown and editable",
        seconds(plan)
    );
    println!(
        "{:<58} {:>12}",
        "cold total: open, sign in, plan interactive",
        seconds(shell + plan)
    );
    println!(
        "{:<58} {:>12}",
        "warm load offline: until the plan is interactive",
        seconds(warm_offline)
    );
    println!(
        "{:<58} {:>12}",
        "bytes over the network, warm offline load", warm_bytes
    );
    println!("warm offline load, from the start of navigation (in the page):");
    for (what, at) in [
        ("the page from the service worker", &marks[0]),
        ("the wasm from the service worker", &marks[1]),
        (
            "the app started (wasm compiled, first frame drawn)",
            &marks[2],
        ),
        (
            "the plan on the page (read from IndexedDB, drawn)",
            &marks[3],
        ),
    ] {
        println!("  {:<56} {:>12}", what, ms(at));
    }
}

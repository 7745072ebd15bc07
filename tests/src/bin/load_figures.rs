//! Load figures of the web app on a slow phone and a slow network: headless
//! Chromium with the CPU slowed 4× and the network at 400 kbit/s with 400 ms
//! latency, set through the DevTools protocol. Prints the figures; asserts
//! nothing about them.
//!
//! Run with `scripts/load-figures` (it builds what is needed first).

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use papi::report::{TextAt, SECTION_TEXTS};
use papi_e2e::{current_period, wait_for, workspace_root, Browser, Server, SyncClient};
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

/// Characters on a printed page of a report (A4, 14 pt).
const PAGE_CHARS: usize = 3_000;
/// The consolidated report's size, in printed pages.
const PAGES: usize = 50;

/// Every reporting unit's report for the current period, written full
/// (long texts in every section), submitted and accepted; then the
/// consolidated report made from them. Returns the characters written.
fn big_consolidated(server: &Server) -> usize {
    let period = current_period();
    let demo = std::fs::read_to_string(workspace_root().join("server/seed/demo-plan.yaml"))
        .expect("the demo plan file");
    let units: Vec<String> = papi::plan_file::parse(&demo)
        .expect("the demo plan")
        .units()
        .into_iter()
        .filter(|u| u.kind.reports())
        .map(|u| u.id)
        .collect();
    let paragraph = "Đơn vị đã tổ chức quán triệt, triển khai kế hoạch đến toàn thể công chức, \
                     người lao động; công khai thủ tục hành chính, tiếp nhận và giải quyết \
                     đúng hạn 100% hồ sơ; tổ chức đối thoại với người dân và doanh nghiệp. ";
    let per_unit = PAGES * PAGE_CHARS / units.len();
    let office = server.token("vanphong");
    let mut written = 0;
    for (i, unit) in units.iter().enumerate() {
        let lead = format!("lead{i}");
        server.add_user(&lead, unit, "unit_lead", "mat-khau-dai-1");
        let token = server.token(&lead);
        let id = server.report(&token, unit, &period);
        let mut client = SyncClient::connect_as(server, &lead);
        assert!(client.open(id), "the server has the report");
        let sections = papi::report::Outline::read(client.doc(id))
            .expect("a report")
            .sections
            .len();
        let each = per_unit / (sections * SECTION_TEXTS.len()).max(1);
        let text: String = paragraph.chars().cycle().take(each).collect();
        client.change(id, |tx| {
            for section in 0..sections {
                for key in SECTION_TEXTS {
                    let at = TextAt::Section { section, key }
                        .locate(&*tx)
                        .expect("a section text");
                    tx.splice_text(&at, 0, 0, &text).expect("a splice");
                    written += each;
                }
            }
        });
        client.until("the server to store the report", LIMIT, |c| {
            c.server_has_all(id)
        });
        let url = id.url();
        for (who, action) in [(&token, "submit"), (&office, "accept")] {
            let (status, body) = server.post(
                "/api/reports/transition",
                Some(who),
                json!({ "url": url, "action": action }),
            );
            assert_eq!(status, 200, "{action}: {body}");
        }
    }
    let (status, body) = server.post(
        "/api/consolidated",
        Some(&office),
        json!({ "period": period }),
    );
    assert_eq!(status, 200, "the consolidated report: {body}");
    written
}

/// What typing `keys` keystrokes into a text costs, in milliseconds.
struct Typing {
    /// From each keystroke's event to the frame after it (a
    /// `requestAnimationFrame` probe): p50, p95 and the largest.
    probe: (f64, f64, f64),
    /// Chromium's own event timing: each keystroke's longest event, from
    /// the key to the next paint, p50 and p95. It reports only events of
    /// 16 ms or more (rounded to 8 ms); a keystroke it does not report
    /// counts as 16.
    event_timing: (f64, f64),
}

fn typing(browser: &Browser, field: &str, keys: usize) -> Typing {
    let element = browser.find(field);
    browser.click(&element);
    browser.execute(
        "window.__paint = [];
         // Once per page: the second text is typed into the same page.
         if (!window.__probing) {
             window.__probing = true;
             document.addEventListener('input', (e) => {
                 const t0 = e.timeStamp;
                 requestAnimationFrame(() => setTimeout(() => window.__paint.push(performance.now() - t0), 0));
             }, true);
         }
         window.__keys = new Map();
         window.__timing = new PerformanceObserver((list) => window.__note(list.getEntries()));
         window.__note = (entries) => {
             for (const e of entries) {
                 if (e.interactionId) window.__keys.set(e.interactionId, Math.max(window.__keys.get(e.interactionId) || 0, e.duration));
             }
         };
         window.__timing.observe({ type: 'event', durationThreshold: 16 });",
        json!([]),
    );
    for i in 0..keys {
        browser.type_into(&element, if i % 5 == 4 { " " } else { "a" });
    }
    let times: Vec<f64> = wait_for("every keystroke painted", LIMIT, || {
        let v = browser.execute("return window.__paint;", json!([]));
        let times: Vec<f64> = v.as_array()?.iter().filter_map(|t| t.as_f64()).collect();
        (times.len() >= keys).then_some(times)
    });
    let reported = browser.execute(
        "window.__note(window.__timing.takeRecords()); window.__timing.disconnect();
         return [...window.__keys.values()];",
        json!([]),
    );
    let mut longest: Vec<f64> = reported
        .as_array()
        .map(|v| v.iter().filter_map(|t| t.as_f64()).collect())
        .unwrap_or_default();
    longest.resize(keys.max(longest.len()), 16.0);
    let (p50, p95, max) = quantiles(times);
    let (t50, t95, _) = quantiles(longest);
    Typing {
        probe: (p50, p95, max),
        event_timing: (t50, t95),
    }
}

/// p50, p95 and the largest.
fn quantiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95), at(1.0))
}

/// What a page fetched and when, from the start of its navigation, with the
/// page's own marks (see `main`), in time order.
fn timeline(browser: &Browser) -> Vec<(f64, String)> {
    let entries = browser.execute(
        "const rows = performance.getEntriesByType('navigation')
             .concat(performance.getEntriesByType('resource'))
             .map(e => [e.responseEnd, new URL(e.name).pathname + ' received (' + e.transferSize + ' B, asked at ' + Math.round(e.startTime) + ' ms)']);
         for (const [mark, what] of [['__submitted', 'sign-in submitted'], ['__started', 'the app started'], ['__plan', 'the plan on the page']])
             if (window[mark]) rows.push([window[mark], what]);
         return rows;",
        json!([]),
    );
    let mut rows: Vec<(f64, String)> = entries
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| Some((row[0].as_f64()?, row[1].as_str()?.to_string())))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn main() {
    let mut server = Server::start();
    let browser = Browser::start();
    slow_phone(&browser);

    // Marks taken in the page itself, for where an open's time goes: the app
    // started (Trunk's event, after the wasm is compiled and `main` has drawn
    // the first frame), and the plan on the page.
    browser.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": format!(
            "addEventListener('TrunkApplicationStarted', () => {{ window.__started = performance.now(); }});
             addEventListener('submit', () => {{ window.__submitted = window.__submitted || performance.now(); }}, true);
             new MutationObserver(() => {{
                 if (!window.__plan && document.querySelector({PLAN_SHOWN:?})) window.__plan = performance.now();
             }}).observe(document, {{ childList: true, subtree: true }});"
        ) }),
    );

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
    let cold_timeline = timeline(&browser);

    // Warm and offline: the server is gone; the app and the plan come from
    // the device.
    wait_for("the service worker to control the page", LIMIT, || {
        (browser.execute("return !!navigator.serviceWorker.controller;", json!([])) == json!(true))
            .then_some(())
    });
    assert!(server.stop(), "the server stops");
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
    // A 50-page consolidated report, opened on the slow phone: first over
    // the network, then again from the device.
    server.restart();
    let chars = big_consolidated(&server);
    let period = current_period();
    let consolidated = format!("li[data-period=\"{period}\"] .open-consolidated");
    let last_text = "article.consolidated section.report-section:last-of-type textarea";
    let full = |browser: &Browser| {
        browser.execute(
            "const t = document.querySelector(arguments[0]); return !!t && t.value.length > 0;",
            json!([last_text]),
        ) == json!(true)
    };
    browser.open_page("reports");
    wait_present(&browser, &consolidated);
    let start = Instant::now();
    browser.click_on(&consolidated);
    wait_for("the consolidated report's texts", LIMIT, || {
        full(&browser).then_some(())
    });
    let big_first = start.elapsed();
    browser.click_on("article.consolidated .back, button.back");
    wait_present(&browser, &consolidated);
    let start = Instant::now();
    browser.click_on(&consolidated);
    wait_for("the consolidated report's texts", LIMIT, || {
        full(&browser).then_some(())
    });
    let big_again = start.elapsed();
    let middle = "article.consolidated section.report-section:nth-of-type(4) textarea";
    let whole = typing(&browser, middle, 60);
    // One dimension of it alone, at its own address, as a phone shows it.
    browser.click_on("nav.report-contents li[data-part=\"4\"] a");
    let alone = "article.consolidated section.report-section[data-section=\"4\"] textarea";
    wait_present(&browser, alone);
    let part = typing(&browser, alone, 60);

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
    println!("cold load, from the start of navigation (in the page):");
    for (at, what) in &cold_timeline {
        println!("  {:>7.0} ms  {what}", at);
    }
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
    println!(
        "consolidated report of every unit, {chars} characters (~{} printed pages):",
        chars / PAGE_CHARS
    );
    println!(
        "  {:<56} {:>12}",
        "open, first time (fetched over the network)",
        seconds(big_first)
    );
    println!(
        "  {:<56} {:>12}",
        "open again (from the device)",
        seconds(big_again)
    );
    for (what, t) in [
        ("the whole report", &whole),
        ("one dimension alone (its own address)", &part),
    ] {
        let (p50, p95, max) = t.probe;
        let (t50, t95) = t.event_timing;
        println!("  typing 60 keys into {what}:");
        println!(
            "    {:<54} {:>12}",
            "keystroke to paint, p50 / p95 / max",
            format!("{p50:.0}/{p95:.0}/{max:.0} ms")
        );
        println!(
            "    {:<54} {:>12}",
            "Chromium's event timing, key to next paint, p50 / p95",
            format!("{t50:.0}/{t95:.0} ms")
        );
    }
}

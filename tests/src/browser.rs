use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::prelude::*;
use serde_json::{json, Value};

use crate::{http, wait_for};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One headless Chromium session, driven through its own ChromeDriver.
pub struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts ChromeDriver and a fresh Chromium profile, with a phone-sized window.
    pub fn start() -> Browser {
        Browser::start_with(&[])
    }

    /// `start`, with more Chromium command-line switches (a host name
    /// mapped to loopback, say).
    pub fn start_with(switches: &[String]) -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {CHROMEDRIVER} (install chromium-driver): {e}")
            });
        let agent = http();
        let root = format!("http://127.0.0.1:{port}");
        wait_for("ChromeDriver to answer", Duration::from_secs(30), || {
            let mut r = agent.get(format!("{root}/status")).call().ok()?;
            let v: Value = r.body_mut().read_json().ok()?;
            v["value"]["ready"].as_bool().filter(|ready| *ready)
        });

        let profile = tempfile::tempdir().expect("browser profile directory");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=360,640",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .chain(switches.iter().cloned())
        .collect::<Vec<_>>();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
                "goog:loggingPrefs": { "browser": "SEVERE" },
            }}
        });
        let mut driver = driver;
        let created: Value = match agent
            .post(format!("{root}/session"))
            .send_json(&capabilities)
        {
            Ok(mut r) => r.body_mut().read_json().expect("session answer"),
            Err(e) => {
                let _ = driver.kill();
                panic!("cannot create a browser session: {e}");
            }
        };
        let Some(id) = created["value"]["sessionId"].as_str() else {
            let _ = driver.kill();
            panic!("cannot create a browser session: {created}");
        };
        Browser {
            base: format!("{root}/session/{id}"),
            driver,
            agent,
            _profile: profile,
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// A WebDriver command; why it failed, if it did.
    fn try_command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self.agent.post(&url).send_json(body.unwrap_or(json!({}))),
        };
        let mut response = result.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let status = response.status();
        let answer: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("WebDriver {path} failed ({status}): {answer}"));
        }
        Ok(answer["value"].clone())
    }

    /// The cookies of the current page, as WebDriver lists them.
    pub fn cookies(&self) -> Vec<Value> {
        self.command("GET", "/cookie", None)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs JavaScript in the page and returns its result.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Runs a script that answers by calling its last argument.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.try_execute_async(script, args)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// `execute_async`, or why it failed: a page that navigates meanwhile
    /// (a reload) never answers.
    pub fn try_execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.try_command(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The page's visible text.
    pub fn text(&self) -> String {
        self.execute(
            "return document.body ? document.body.innerText : '';",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until the page shows every one of `needles`, and returns its text.
    pub fn wait_for_text(&self, needles: &[&str], limit: Duration) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for("text on the page", limit, || {
                last = self.text();
                needles
                    .iter()
                    .all(|n| last.contains(n))
                    .then(|| last.clone())
            })
        }));
        found.unwrap_or_else(|_| {
            panic!("the page never showed all of {needles:?}; it shows:\n{last}")
        })
    }

    /// Sends a Chrome DevTools protocol command.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.command(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
    }

    /// Writes a PNG screenshot of the page.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.command("GET", "/screenshot", None);
        let bytes = BASE64_STANDARD
            .decode(encoded.as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, bytes).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A WebDriver element reference.
pub struct Element(String);

impl Browser {
    /// The first element matching a CSS selector, waiting for it to appear.
    pub fn find(&self, css: &str) -> Element {
        let found =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.find_quietly(css)));
        found.unwrap_or_else(|_| {
            panic!(
                "no element {css}; page:\n{}\nconsole errors:\n{}",
                self.execute("return document.body.innerHTML;", json!([])),
                self.console_errors()
            )
        })
    }

    /// The page's console errors so far (a panic in the app shows here).
    pub fn console_errors(&self) -> String {
        let url = format!("{}/se/log", self.base);
        let Ok(mut r) = self
            .agent
            .post(&url)
            .send_json(json!({ "type": "browser" }))
        else {
            return String::new();
        };
        let v: Value = r.body_mut().read_json().unwrap_or_default();
        v["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn find_quietly(&self, css: &str) -> Element {
        wait_for(
            &format!("an element {css}"),
            Duration::from_secs(30),
            || {
                let url = format!("{}/element", self.base);
                let mut r = self
                    .agent
                    .post(&url)
                    .send_json(json!({ "using": "css selector", "value": css }))
                    .ok()?;
                if !r.status().is_success() {
                    return None;
                }
                let v: Value = r.body_mut().read_json().ok()?;
                v["value"]
                    .as_object()
                    .and_then(|o| o.values().next())
                    .and_then(|id| id.as_str())
                    .map(|id| Element(id.to_string()))
            },
        )
    }

    /// Clicks the first element matching `css`, once it appears.
    pub fn click_on(&self, css: &str) {
        let element = self.find(css);
        self.click(&element);
    }

    /// Clicks an element as a user would, after bringing it to the middle
    /// of the screen (the sticky status bar covers the top).
    /// The page may still be scrolling itself (a reload brings its screen
    /// back to where it was), so this waits until what is at the element's
    /// middle is the element, as a user waits to see what they tap.
    pub fn click(&self, element: &Element) {
        // What covers the element may move away (the status bar's text
        // changes its height): a click that something else would receive
        // is tried again once the element is uncovered, for a while.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            self.wait_until_uncovered(element);
            match self.try_command(
                "POST",
                &format!("/element/{}/click", element.0),
                Some(json!({})),
            ) {
                Ok(_) => return,
                Err(e)
                    if e.contains("element click intercepted")
                        && std::time::Instant::now() < deadline => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Waits (at most 10 s) until the element is on the screen and what is
    /// at its middle is the element.
    fn wait_until_uncovered(&self, element: &Element) {
        let reference = json!([{ "element-6066-11e4-a52e-4f735466cecf": element.0 }]);
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(
                "the element to be on the screen, uncovered",
                Duration::from_secs(10),
                || {
                    let uncovered = self.execute(
                    "const e = arguments[0];
                     e.scrollIntoView({ block: 'center' });
                     const r = e.getBoundingClientRect();
                     const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                     return !!hit && (hit === e || e.contains(hit));",
                    reference.clone(),
                );
                    (uncovered == json!(true)).then_some(())
                },
            )
        }));
    }

    /// Types into an element as a user would, key by key.
    pub fn type_into(&self, element: &Element, text: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        );
    }

    /// The value of the form field matching `css`.
    pub fn value(&self, css: &str) -> String {
        self.execute(
            "const e = document.querySelector(arguments[0]); return e ? e.value : null;",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Waits until the field matching `css` holds a value `accept` takes.
    pub fn wait_for_value(
        &self,
        css: &str,
        limit: Duration,
        accept: impl Fn(&str) -> bool,
    ) -> String {
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(&format!("the value of {css}"), limit, || {
                last = self.value(css);
                accept(&last).then(|| last.clone())
            })
        }));
        found.unwrap_or_else(|_| {
            panic!(
                "{css} never held the expected value; it holds {last:?}; page:\n{}",
                self.text()
            )
        })
    }

    /// Opens a new tab and makes it the current one; returns the old tab.
    pub fn open_new_tab(&self) -> String {
        let old = self.command("GET", "/window", None);
        let created = self.command("POST", "/window/new", Some(json!({ "type": "tab" })));
        let handle = created["handle"].as_str().expect("a new tab").to_string();
        self.command("POST", "/window", Some(json!({ "handle": handle })));
        old.as_str().expect("a tab handle").to_string()
    }

    /// Makes the tab `handle` the current one.
    pub fn switch_to_tab(&self, handle: &str) {
        self.command("POST", "/window", Some(json!({ "handle": handle })));
    }

    /// Closes the tab `handle`, then comes back to the current one.
    pub fn close_tab(&self, handle: &str) {
        let current = self.command("GET", "/window", None);
        self.command("POST", "/window", Some(json!({ "handle": handle })));
        self.command("DELETE", "/window", None);
        self.command("POST", "/window", Some(json!({ "handle": current })));
    }

    pub fn reload(&self) {
        self.command("POST", "/refresh", Some(json!({})));
    }

    /// The browser's back button.
    pub fn back(&self) {
        self.command("POST", "/back", Some(json!({})));
    }

    /// The browser's forward button.
    pub fn forward(&self) {
        self.command("POST", "/forward", Some(json!({})));
    }
}

impl Browser {
    /// What the status bar says: `offline`, `syncing` or `saved`.
    pub fn sync_state(&self) -> String {
        self.execute(
            "const s = document.querySelector('.sync-status'); return s ? s.dataset.state : '';",
            json!([]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The status bar's count of changes only on this device.
    pub fn device_only(&self) -> Option<usize> {
        self.execute(
            "const s = document.querySelector('.sync-status'); return s ? s.dataset.unsynced : null;",
            json!([]),
        )
        .as_str()
        .and_then(|n| n.parse().ok())
    }

    /// Whether the page is still writing to the device.
    pub fn writing_to_device(&self) -> bool {
        self.execute(
            "const s = document.querySelector('.sync-status'); return !!s && s.dataset.writing === 'true';",
            json!([]),
        )
        .as_bool()
        .unwrap_or(false)
    }

    pub fn wait_for_sync_state(&self, state: &str) {
        wait_for(
            &format!("the status to be {state}"),
            Duration::from_secs(60),
            || (self.sync_state() == state).then_some(()),
        );
    }

    /// Tells the page the network is back, as the browser does when it returns.
    pub fn network_back(&self) {
        self.execute("window.dispatchEvent(new Event('online'));", json!([]));
    }

    /// A new browser signed in to `server` as `username` (with the account's
    /// current password).
    pub fn signed_in(server: &crate::Server, username: &str) -> Browser {
        let browser = Browser::start();
        browser.sign_in(&server.url("/"), username, &server.password_of(username));
        browser
    }

    /// A new browser signed in as `username`, with the plan's first
    /// dimension opened and its first measure's text box shown.
    pub fn on_the_first_dimension(server: &crate::Server, username: &str) -> Browser {
        let browser = Browser::signed_in(server, username);
        browser.click_on("li.dimension:first-child summary");
        browser.find("textarea[data-field=\"plan/d1-m1\"]");
        browser
    }

    /// Waits until the service worker controls the page, so that the app
    /// opens from its cache without the server.
    pub fn wait_for_service_worker(&self) {
        wait_for(
            "the service worker to take control",
            Duration::from_secs(60),
            || {
                self.execute("return !!navigator.serviceWorker.controller;", json!([]))
                    .as_bool()
                    .filter(|c| *c)
            },
        );
    }

    /// Opens one of the workspace's pages from its tabs.
    pub fn open_page(&self, page: &str) {
        self.click_on(&format!("a[data-page=\"{page}\"]"));
    }

    /// Opens the app and signs in through its form.
    pub fn sign_in(&self, app_url: &str, username: &str, password: &str) {
        self.goto(app_url);
        let user = self.find("#username");
        self.type_into(&user, username);
        self.type_into(&self.find("#password"), password);
        self.click(&self.find("form.sign-in button[type=submit]"));
        self.wait_until_signed_in();
    }

    /// Waits until the header holds the signed-in user's menu.
    pub fn wait_until_signed_in(&self) {
        self.find("header .account-menu");
    }

    /// Opens the header's account menu, where a phone-sized screen folds it.
    pub fn open_account_menu(&self) {
        self.find("header .account-menu");
        self.execute(
            "const t = document.querySelector('.menu-toggle');
             if (t && t.offsetParent && t.getAttribute('aria-expanded') !== 'true') t.click();",
            json!([]),
        );
    }

    /// Opens the sign-out panel from the account menu.
    pub fn open_sign_out(&self) {
        self.open_account_menu();
        self.click_on("button.sign-out");
        self.find(".sign-out-panel");
    }
}

impl Browser {
    /// Makes the page a 360×640 phone screen (headless windows are wider).
    pub fn as_phone(&self) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 360, "height": 640, "deviceScaleFactor": 2, "mobile": true }),
        );
    }
}

//! The foundation, end to end: the real server binary serves the built app,
//! and headless Chromium shows the plan's eight dimensions from the plan
//! document.

use std::time::Duration;

use papi_e2e::{http, workspace_root, Browser, Server};

/// The eight PAPI dimensions as the seed plan names them.
const DIMENSIONS: [&str; 8] = [
    "Tham gia của người dân ở cấp cơ sở",
    "Công khai, minh bạch trong hoạch định chính sách",
    "Trách nhiệm giải trình với người dân",
    "Kiểm soát tham nhũng trong khu vực công",
    "Thủ tục hành chính công",
    "Cung ứng dịch vụ công",
    "Quản trị môi trường",
    "Quản trị điện tử",
];

#[test]
fn the_page_lists_the_eight_dimensions_in_vietnamese() {
    let server = Server::start();
    let browser = Browser::signed_in(&server, "xem");
    let text = browser.wait_for_text(&DIMENSIONS, Duration::from_secs(60));
    for name in DIMENSIONS {
        assert!(text.contains(name), "missing {name}");
    }
    assert!(text.contains("Sở Tài chính tỉnh Sóc Trăng"), "{text}");
}

#[test]
fn health_endpoint_answers_and_unknown_api_paths_are_not_the_app() {
    let server = Server::start();
    let agent = http();
    let mut health = agent.get(server.url("/api/health")).call().unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.body_mut().read_json().unwrap();
    assert_eq!(body["status"], "ok");
    let missing = agent.get(server.url("/api/nothing-here")).call().unwrap();
    assert_eq!(missing.status(), 404);
}

#[test]
fn assets_are_compressed_with_long_caching_and_index_is_revalidated() {
    let server = Server::start();
    let agent = http();
    let index = agent
        .get(server.url("/"))
        .header("accept-encoding", "identity")
        .call()
        .unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let html = index.into_body().read_to_string().unwrap();
    let wasm = html
        .split('"')
        .find(|s| s.ends_with("_bg.wasm"))
        .unwrap_or_else(|| panic!("index.html names no wasm file:\n{html}"))
        .to_string();

    for (accept, expected) in [("br", "br"), ("gzip", "gzip")] {
        let asset = agent
            .get(server.url(&wasm))
            .header("accept-encoding", accept)
            .call()
            .unwrap();
        assert_eq!(asset.status(), 200);
        assert_eq!(asset.headers()["content-encoding"], expected);
        assert_eq!(asset.headers()["content-type"], "application/wasm");
        assert!(asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        // The copy the build compressed, as it is.
        let suffix = if accept == "br" { "br" } else { "gz" };
        let built = std::fs::read(
            workspace_root()
                .join("dist")
                .join(format!("{}.{suffix}", wasm.trim_start_matches('/'))),
        )
        .expect("the build writes compressed copies");
        let sent = asset
            .into_body()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap();
        assert!(sent == built, "{accept}: the build's copy is sent");
    }

    // A deep link into the app gets the app.
    let route = agent.get(server.url("/plan/dimensions")).call().unwrap();
    assert_eq!(route.status(), 200);
    assert_eq!(route.headers()["cache-control"], "no-cache");
}

#[test]
fn sigterm_shuts_down_cleanly_and_the_plan_survives_a_restart() {
    let mut server = Server::start();
    let agent = http();
    let plan_url = |server: &Server| {
        let mut r = agent.get(server.url("/api/plan")).call().unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.body_mut().read_json().unwrap();
        body["url"].as_str().unwrap().to_string()
    };
    let first = plan_url(&server);
    assert!(first.starts_with("automerge:"), "{first}");

    assert!(server.stop(), "the server must exit 0 on SIGTERM");
    let log = server.log();
    assert!(log.contains("storage flushed"), "log:\n{log}");
    // A clean shutdown leaves no write-ahead log behind.
    let wal = server.data_dir().join("papi.sqlite3-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);

    server.restart();
    assert_eq!(
        plan_url(&server),
        first,
        "the plan is seeded once, then kept"
    );
}

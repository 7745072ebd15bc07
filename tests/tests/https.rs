//! HTTPS as an agency serves it: on a network name, not localhost. A
//! browser keeps the app for offline use only on a secure page, so over
//! the server's own TLS the app opens offline after one visit, and on a
//! plain-HTTP network address the page says why it will not.

use std::path::Path;
use std::time::Duration;

use base64::prelude::*;
use papi_e2e::{Browser, Server};
use serde_json::json;
use sha2::Digest;

const LIMIT: Duration = Duration::from_secs(60);
/// The name the browser opens; it resolves to this machine (loopback).
const NAME: &str = "papi.test";
const FIRST_DIMENSION: &str = "Tham gia của người dân ở cấp cơ sở";
const NOTICE: &str = "Trang này không mở được khi mất mạng";

/// A certificate authority made for one test, and a certificate for
/// `NAME` that it signed, written as a full chain and a key.
struct TestCa {
    /// The SHA-256 of the authority's public key, as Chromium names a key
    /// it is told to trust.
    spki_sha256: String,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl TestCa {
    fn make(dir: &Path) -> TestCa {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "PAPI test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec![NAME.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let cert = dir.join("fullchain.pem");
        let key_file = dir.join("privkey.pem");
        std::fs::write(&cert, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let spki = ca_key.public_key_der();
        TestCa {
            spki_sha256: BASE64_STANDARD.encode(sha2::Sha256::digest(spki)),
            cert,
            key: key_file,
        }
    }
}

/// A browser that resolves `NAME` to this machine and, when given a test
/// authority, trusts it (and only it) besides its usual roots.
fn browser(trusting: Option<&TestCa>) -> Browser {
    let mut switches = vec![format!("--host-resolver-rules=MAP {NAME} 127.0.0.1")];
    if let Some(ca) = trusting {
        switches.push(format!(
            "--ignore-certificate-errors-spki-list={}",
            ca.spki_sha256
        ));
    }
    Browser::start_with(&switches)
}

fn sign_in(browser: &Browser, url: &str, username: &str) {
    browser.sign_in(url, username, &format!("{username}-demo"));
    browser.wait_for_text(&[FIRST_DIMENSION], LIMIT);
}

#[test]
fn over_https_on_a_network_name_the_app_opens_offline_after_one_visit() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::make(dir.path());
    let mut server = Server::start_with(&[
        "--tls-cert",
        ca.cert.to_str().unwrap(),
        "--tls-key",
        ca.key.to_str().unwrap(),
    ]);
    let url = format!("https://{NAME}:{}/", server.port());
    let alice = browser(Some(&ca));
    // The first visit comes from the network (later ones from the service
    // worker, which names no protocol).
    alice.goto(&url);
    alice.find("#username");
    assert_eq!(
        alice.execute(
            "return performance.getEntriesByType('navigation')[0].nextHopProtocol;",
            json!([])
        ),
        json!("h2"),
        "the page came over HTTP/2"
    );
    sign_in(&alice, &url, "vanphong");

    opens_offline_then_syncs_again(&alice, &mut server);
}

/// A secure page signed in and showing the plan: once the service worker
/// has it, the page reloads with the server stopped, and syncs again when
/// the server is back (the WebSocket over TLS).
fn opens_offline_then_syncs_again(page: &Browser, server: &mut Server) {
    assert_eq!(
        page.execute("return window.isSecureContext;", json!([])),
        json!(true)
    );
    let session = page
        .cookies()
        .into_iter()
        .find(|c| c["name"] == "papi_session")
        .expect("the session cookie");
    assert_eq!(session["secure"], json!(true), "{session}");
    assert!(!page.text().contains(NOTICE));

    page.wait_for_service_worker();
    page.wait_for_sync_state("saved");
    assert!(server.stop());
    page.wait_for_sync_state("offline");
    page.reload();
    let text = page.wait_for_text(&[FIRST_DIMENSION], LIMIT);
    assert!(!text.contains(NOTICE));
    assert_eq!(page.sync_state(), "offline");

    server.restart();
    page.network_back();
    page.wait_for_sync_state("saved");
}

#[test]
fn on_a_plain_http_network_address_the_page_says_offline_needs_https() {
    let server = Server::start();
    let page = browser(None);
    page.goto(&format!("http://{NAME}:{}/", server.port()));
    page.wait_for_text(&[NOTICE, "https://papi.test/"], LIMIT);
    page.screenshot(&papi_e2e::workspace_root().join("tests/screenshots/insecure-notice.png"));
    assert_eq!(
        page.execute("return window.isSecureContext;", json!([])),
        json!(false)
    );
    // It stays there once signed in, on every screen.
    page.sign_in(
        &format!("http://{NAME}:{}/reports", server.port()),
        "vanphong",
        "vanphong-demo",
    );
    page.find("a[data-page=\"reports\"]");
    page.wait_for_text(&[NOTICE], LIMIT);

    // The server says the same to a probe of that address, and not of
    // its own loopback one.
    let health = |host: &str| {
        let mut answer = papi_e2e::http()
            .get(server.url("/api/health"))
            .header("host", host)
            .call()
            .unwrap();
        answer.body_mut().read_json::<serde_json::Value>().unwrap()
    };
    let remote = health(&format!("{NAME}:{}", server.port()));
    assert_eq!(remote["offline_capable"], json!(false), "{remote}");
    assert!(
        remote["notice"].as_str().unwrap().contains("HTTPS"),
        "{remote}"
    );
    let local = health(&format!("127.0.0.1:{}", server.port()));
    assert_eq!(local["offline_capable"], json!(true), "{local}");
    assert!(local.get("notice").is_none(), "{local}");
}

#[test]
fn the_notice_names_the_address_the_server_was_given_and_localhost_has_none() {
    let server = Server::start_with(&["--public-url", "https://papi.so-tai-chinh.example"]);
    let page = browser(None);
    page.goto(&format!("http://{NAME}:{}/", server.port()));
    page.wait_for_text(&[NOTICE, "https://papi.so-tai-chinh.example/"], LIMIT);
    let href = page.execute(
        "return document.querySelector('.insecure-notice a.secure-address').href;",
        json!([]),
    );
    assert_eq!(href, json!("https://papi.so-tai-chinh.example/"));

    // On this machine's own loopback address the browser gives a service
    // worker, and the page says nothing.
    page.goto(&server.url("/"));
    page.find("#username");
    page.wait_for_service_worker();
    assert!(!page.text().contains(NOTICE));
}

#[test]
fn the_plain_http_port_only_redirects_to_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::make(dir.path());
    let redirect_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redirect = format!("127.0.0.1:{redirect_port}");
    let server = Server::start_with(&[
        "--tls-cert",
        ca.cert.to_str().unwrap(),
        "--tls-key",
        ca.key.to_str().unwrap(),
        "--http-redirect",
        &redirect,
    ]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let answer = agent
        .get(format!("http://{redirect}/reports/2026-h1?x=1"))
        .header("host", format!("{NAME}:{redirect_port}"))
        .call()
        .unwrap();
    assert_eq!(answer.status(), 308);
    assert_eq!(
        answer.headers().get("location").unwrap().to_str().unwrap(),
        format!("https://{NAME}:{}/reports/2026-h1?x=1", server.port())
    );

    // A browser that opens the plain address lands on the HTTPS one.
    let page = browser(Some(&ca));
    page.goto(&format!("http://{NAME}:{redirect_port}/"));
    page.find("#username");
    let at = page.execute("return location.href;", json!([]));
    assert_eq!(at, json!(format!("https://{NAME}:{}/", server.port())));
}

#[test]
fn a_certificate_that_cannot_be_used_stops_the_start_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "nor a key").unwrap();
    let data = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(papi_e2e::server_binary())
        .arg("--data-dir")
        .arg(data.path())
        .args(["--addr", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("cannot serve HTTPS") && said.contains("cert.pem"),
        "{said}"
    );
    // Nothing was touched: the data directory holds no database.
    assert!(!data.path().join("papi.sqlite3").exists());
}

/// A reverse proxy from Debian (nginx or Caddy) run by this test with the
/// configuration of docs/deploy/, its names, files and ports replaced.
struct Proxy {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM: nginx's master stops its workers before it leaves (a
        // SIGKILL would leave them running).
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The documented configuration, made to run here: the test's name,
/// certificate and ports.
fn documented(file: &str, ca: &TestCa, upstream: u16, https: u16, http: u16) -> String {
    let text =
        std::fs::read_to_string(papi_e2e::workspace_root().join("docs/deploy").join(file)).unwrap();
    text.replace("papi.example.gov.vn", NAME)
        .replace("/etc/ssl/papi/fullchain.pem", ca.cert.to_str().unwrap())
        .replace("/etc/ssl/papi/privkey.pem", ca.key.to_str().unwrap())
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{upstream}"))
        .replace("listen [::]:443 ssl http2;", "")
        .replace("listen [::]:80;", "")
        .replace("listen 443 ", &format!("listen 127.0.0.1:{https} "))
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
}

impl Proxy {
    fn nginx(ca: &TestCa, upstream: u16) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let (https, http) = (free_port(), free_port());
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("papi.conf"),
            documented("nginx-papi.conf", ca, upstream, https, http),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
                 events {{}}
                 http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
                        fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
                        include {d}/papi.conf; }}"
            ),
        )
        .unwrap();
        let child = std::process::Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .spawn()
            .expect("nginx (Debian's package nginx; scripts/setup --browser installs it)");
        Proxy::started(child, https, dir, "error.log")
    }

    fn caddy(ca: &TestCa, upstream: u16) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let (https, http) = (free_port(), free_port());
        let d = dir.path().display();
        let site = documented("Caddyfile", ca, upstream, https, http);
        std::fs::write(
            dir.path().join("Caddyfile"),
            format!(
                "{{\n\tadmin off\n\thttp_port {http}\n\thttps_port {https}\n\tstorage file_system {d}/data\n}}\n{site}"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("caddy.log")).unwrap();
        let child = std::process::Command::new("/usr/bin/caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(dir.path().join("Caddyfile"))
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("caddy (Debian's package caddy; scripts/setup --browser installs it)");
        Proxy::started(child, https, dir, "caddy.log")
    }

    fn started(
        mut child: std::process::Child,
        port: u16,
        dir: tempfile::TempDir,
        log: &str,
    ) -> Proxy {
        papi_e2e::wait_for("the proxy to listen", LIMIT, || {
            if let Ok(Some(status)) = child.try_wait() {
                let said = std::fs::read_to_string(dir.path().join(log)).unwrap_or_default();
                panic!("the proxy stopped ({status}):\n{said}");
            }
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Proxy {
            child,
            port,
            _dir: dir,
        }
    }
}

fn behind(proxy: impl FnOnce(&TestCa, u16) -> Proxy) {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::make(dir.path());
    let mut server = Server::start_with(&["--trusted-proxy", "127.0.0.1"]);
    let proxy = proxy(&ca, server.port());
    let url = format!("https://{NAME}:{}/", proxy.port);
    let page = browser(Some(&ca));
    sign_in(&page, &url, "vanphong");
    let health = page.execute_async(
        "const done = arguments[arguments.length - 1];
         fetch('/api/health').then((r) => r.json()).then(done, (e) => done(String(e)));",
        json!([]),
    );
    assert_eq!(health["offline_capable"], json!(true), "{health}");
    opens_offline_then_syncs_again(&page, &mut server);
}

#[test]
fn behind_nginx_as_documented_the_app_opens_offline() {
    behind(Proxy::nginx);
}

#[test]
fn behind_caddy_as_documented_the_app_opens_offline() {
    behind(Proxy::caddy);
}

//! Interoperability: a JavaScript automerge-repo client (the npm packages
//! other teams use) and the browser app share a document through our server.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use papi_e2e::{http, workspace_root, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const FIELD: &str = "textarea[data-field=\"plan/d1-m1\"]";

#[test]
fn a_javascript_client_reads_the_browsers_edit_and_the_browser_sees_its_edit() {
    let js = workspace_root().join("tests/js");
    assert!(
        js.join("node_modules/@automerge/automerge-repo").exists(),
        "run `npm ci --prefix tests/js` (scripts/test does)"
    );
    let server = Server::start();
    let browser = Browser::signed_in(&server, "vanphong");
    browser.click(&browser.find("li.dimension:first-child summary"));
    let field = browser.find(FIELD);
    browser.type_into(&field, " [trình duyệt]");
    papi_e2e::wait_for("the browser's edit to reach the server", LIMIT, || {
        let state = browser.execute(
            "return document.querySelector('.sync-status').dataset.state;",
            json!([]),
        );
        (state == "saved").then_some(())
    });

    let mut r = http().get(server.url("/api/plan")).call().unwrap();
    let plan: serde_json::Value = r.body_mut().read_json().unwrap();
    // The JavaScript client signs in as another coordinator, with a token in the URL.
    server.add_user("hoa.le", "van-phong", "coordinator", "mật khẩu của Hoa");
    let login = server.login("hoa.le");
    let peer_id = format!("{}node1", login["peer_prefix"].as_str().unwrap());
    let url = format!(
        "{}?token={}&peer=node1",
        server.sync_url(),
        login["token"].as_str().unwrap()
    );
    let mut node = Command::new("node")
        .current_dir(&js)
        .arg("interop.mjs")
        .arg(url)
        .arg(peer_id)
        .arg(plan["url"].as_str().unwrap())
        .arg("d1-m1")
        .arg(" [JavaScript]")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is installed");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let first = lines.next().expect("the client prints the text").unwrap();
    let read: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert!(
        read["text"].as_str().unwrap().ends_with(" [trình duyệt]"),
        "{first}"
    );
    assert_eq!(lines.next().unwrap().unwrap(), "changed");

    let seen = browser.wait_for_value(FIELD, LIMIT, |v| v.ends_with(" [trình duyệt] [JavaScript]"));
    assert!(seen.starts_with("Đẩy mạnh"));
    drop(node.stdin.take());
    let _ = node.wait();
}

//! Presence: who else has a report open, and where. Protocol clients on the
//! real `/sync` endpoint show what the server passes on and to whom; two and
//! three Chromium sessions and a JavaScript automerge-repo client show it in
//! the app.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::ROOT;
use papi::ids::DocId;
use papi::presence::{Presence, State};
use papi_e2e::{
    budget_report, current_period, wait_for, workspace_root, Browser, Server, SyncClient,
};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

fn snapshot(name: &str) -> Vec<u8> {
    Presence::Snapshot(State {
        name: name.into(),
        unit: "phong-ngan-sach".into(),
        field: None,
        typing: false,
    })
    .encode()
}

fn said(client: &SyncClient, doc: DocId, name: &str) -> bool {
    client
        .presence(doc)
        .iter()
        .any(|(_, p)| matches!(p, Presence::Snapshot(s) if s.name == name))
}

/// Reads from `client` for a while: for checking that something does not
/// arrive, after something sent later has.
fn pump_for(client: &mut SyncClient, span: Duration) {
    let end = Instant::now() + span;
    while Instant::now() < end {
        client.pump();
    }
}

/// Presence is never stored, and never waits behind storage: with the disk
/// full, an editor's change is not acknowledged, yet a colleague's presence
/// still reaches them at once.
#[test]
fn presence_passes_an_acknowledgement_that_waits_for_storage() {
    let server = Server::start();
    let report = budget_report(&server);
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    assert!(lead.open(report));
    assert!(staff.open(report));
    // A first change, while the disk takes writes, puts the lead's actor
    // on record (see `authors`).
    lead.change(report, |tx| {
        tx.put(ROOT, "note", "written before").unwrap();
    });
    lead.until("the first acknowledgement", LIMIT, |c| {
        c.server_has_all(report)
    });

    server.limit_file_size(Some(0));
    lead.change(report, |tx| {
        tx.put(ROOT, "note", "written while the disk is full")
            .unwrap();
    });
    server.wait_for_log("storage failed; retrying");
    staff.broadcast(report, snapshot("Chuyên viên"));
    lead.until("the colleague's presence", LIMIT, |c| {
        said(c, report, "Chuyên viên")
    });
    assert!(
        !lead.server_has_all(report),
        "the change is acknowledged although it is not stored"
    );

    server.limit_file_size(None);
    lead.until("the acknowledgement once stored", LIMIT, |c| {
        c.server_has_all(report)
    });
}

/// One user cannot speak as another: an ephemeral message naming another
/// peer as its sender is dropped (and logged); the sender's own passes.
#[test]
fn presence_in_another_peers_name_is_dropped() {
    let server = Server::start();
    let report = budget_report(&server);
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    let mut office = SyncClient::connect_as(&server, "vanphong");
    for c in [&mut lead, &mut staff, &mut office] {
        assert!(c.open(report));
    }
    let forged = papi::wire::Message::Ephemeral {
        sender_id: lead.peer_id.clone(),
        target_id: staff.server_id(),
        document_id: report,
        count: 1,
        session_id: "forged".into(),
        data: snapshot("Trưởng phòng (giả)"),
    };
    staff.send(&forged);
    staff.broadcast(report, snapshot("Chuyên viên"));
    office.until("the genuine presence", LIMIT, |c| {
        said(c, report, "Chuyên viên")
    });
    assert!(
        !said(&office, report, "Trưởng phòng (giả)"),
        "a forged presence was passed on"
    );
    let senders: Vec<String> = office
        .presence(report)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(senders, vec![staff.peer_id.clone()]);
    server.wait_for_log("refused: an ephemeral message in another peer's name");
}

/// Presence goes only to those who may read the report: the Office sees the
/// unit's staff in it; a user of another unit neither receives it nor can
/// send any about the report.
#[test]
fn presence_of_a_report_is_not_sent_to_another_unit() {
    let server = Server::start();
    let report = budget_report(&server);
    let plan = DocId::parse(server.get("/api/plan", None).1["url"].as_str().unwrap()).unwrap();
    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    let mut office = SyncClient::connect_as(&server, "vanphong");
    let mut outsider = SyncClient::connect_as(&server, "xem");
    assert!(staff.open(report));
    assert!(office.open(report));
    assert!(
        !outsider.open(report),
        "another unit cannot open the report"
    );
    assert!(staff.open(plan));
    assert!(outsider.open(plan));

    outsider.broadcast(report, snapshot("Thanh tra"));
    staff.broadcast(report, snapshot("Chuyên viên"));
    staff.broadcast(plan, snapshot("Chuyên viên"));
    office.until("the staff's presence in the report", LIMIT, |c| {
        said(c, report, "Chuyên viên")
    });
    outsider.until("the staff's presence in the plan", LIMIT, |c| {
        said(c, plan, "Chuyên viên")
    });
    pump_for(&mut outsider, Duration::from_millis(500));
    pump_for(&mut office, Duration::from_millis(200));
    assert!(
        outsider.presence(report).is_empty(),
        "presence of a report reached a user of another unit"
    );
    assert!(
        !said(&office, report, "Thanh tra"),
        "an outsider's presence in the report was passed on"
    );
}

const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";
const AT_RESULTS: &str = ".presence-at[data-for=\"s0/results\"]";

/// The budget division's report of this period, made, and its address.
fn report_address(server: &Server) -> (DocId, String) {
    let report = budget_report(server);
    (
        report,
        format!("/reports/{}/phong-ngan-sach", current_period()),
    )
}

/// `username` signed in, with the report at `address` on screen.
fn in_report(server: &Server, username: &str, address: &str) -> Browser {
    let browser = Browser::signed_in(server, username);
    browser.wait_for_sync_state("saved");
    browser.goto(&server.url(address));
    browser.find(RESULTS);
    browser
}

fn text_of(browser: &Browser, css: &str) -> String {
    browser
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_for_text_in(browser: &Browser, css: &str, what: &str, present: bool) {
    wait_for(
        &format!(
            "{css} {} {what:?}",
            if present { "to show" } else { "to lose" }
        ),
        LIMIT,
        || (text_of(browser, css).contains(what) == present).then_some(()),
    );
}

const LEAD: &str = "Trưởng phòng Ngân sách";
const STAFF: &str = "Chuyên viên Phòng Ngân sách";
const OFFICE: &str = "Chuyên viên Văn phòng";

/// Two, then three sessions in one report: each sees who else is in it,
/// which text a colleague is in and whether they are typing; one who leaves
/// disappears from the others at once.
#[test]
fn colleagues_see_who_is_in_a_report_and_where_they_type() {
    let mut server = Server::start();
    let (_, address) = report_address(&server);
    let lead = in_report(&server, "truongphong", &address);
    let staff = in_report(&server, "chuyenvien", &address);
    wait_for_text_in(&lead, ".presence-list", STAFF, true);
    wait_for_text_in(&staff, ".presence-list", LEAD, true);
    assert_eq!(text_of(&lead, AT_RESULTS), "", "nobody is in the text yet");

    staff.type_into(&staff.find(RESULTS), "Đã tiếp 40 lượt công dân.");
    wait_for_text_in(
        &lead,
        &format!("{AT_RESULTS} .presence-typing"),
        STAFF,
        true,
    );
    // A moment without a keystroke: still there, no longer typing.
    wait_for_text_in(&lead, &format!("{AT_RESULTS} .presence-there"), STAFF, true);
    assert!(!text_of(&lead, AT_RESULTS).contains("đang gõ"));

    let office = in_report(&server, "vanphong", &address);
    wait_for_text_in(&lead, ".presence-list", OFFICE, true);
    wait_for_text_in(&office, ".presence-list", LEAD, true);
    wait_for_text_in(&office, ".presence-list", STAFF, true);
    wait_for_text_in(&office, AT_RESULTS, STAFF, true);

    // The server restarts: once connected again, everyone is still shown.
    server.restart();
    for browser in [&lead, &staff, &office] {
        browser.network_back();
        browser.wait_for_sync_state("saved");
    }
    wait_for_text_in(&lead, ".presence-list", STAFF, true);
    wait_for_text_in(&lead, ".presence-list", OFFICE, true);
    wait_for_text_in(&office, ".presence-list", LEAD, true);

    // The staff member goes to the plan: gone from both others at once.
    staff.open_page("plan");
    wait_for_text_in(&lead, ".presence-list", STAFF, false);
    wait_for_text_in(&office, ".presence-list", STAFF, false);
    assert!(text_of(&lead, ".presence-list").contains(OFFICE));
    assert_eq!(text_of(&lead, AT_RESULTS), "");
}

/// A JavaScript automerge-repo client (its own `Presence`, version 2.5.6)
/// in the report with a browser.
struct JsPresence {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl JsPresence {
    fn start(server: &Server, report: DocId, name: &str) -> JsPresence {
        let js = workspace_root().join("tests/js");
        server.add_user("hoa.le", "phong-ngan-sach", "staff", "mật khẩu của Hoa");
        let login = server.login("hoa.le");
        let url = format!(
            "{}?token={}&peer=node1",
            server.sync_url(),
            login["token"].as_str().unwrap()
        );
        let peer_id = format!("{}node1", login["peer_prefix"].as_str().unwrap());
        let mut child = Command::new("node")
            .current_dir(&js)
            .args(["presence.mjs", &url, &peer_id, &report.url(), name])
            .arg("phong-ngan-sach")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node is installed");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        JsPresence { child, lines }
    }

    /// Waits for a list of the others in which one matches `wanted`.
    fn wait_for(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            let others: Value = serde_json::from_str(&line).unwrap();
            if let Some(found) = others.as_array().unwrap().iter().find(|p| wanted(p)) {
                return found.clone();
            }
        }
    }

    fn say(&mut self, command: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
    }
}

/// Both directions with automerge-repo's own presence: the JavaScript
/// client's presence shows in the app, the app's in it; and a peer that
/// goes silent (no goodbye) disappears once the time-out has passed.
#[test]
fn a_javascript_clients_presence_shows_in_the_app_and_the_apps_in_it() {
    let js = workspace_root().join("tests/js");
    assert!(
        js.join("node_modules/@automerge/automerge-repo").exists(),
        "run `npm ci --prefix tests/js` (scripts/test does)"
    );
    let server = Server::start();
    let (report, address) = report_address(&server);
    let lead = in_report(&server, "truongphong", &address);
    let mut node = JsPresence::start(&server, report, "Hoa Lê (JavaScript)");

    let app = node.wait_for("the app's presence", |p| p["name"] == LEAD);
    assert_eq!(app["unit"], "phong-ngan-sach");
    wait_for_text_in(&lead, ".presence-list", "Hoa Lê (JavaScript)", true);

    node.say("field s0/results");
    wait_for_text_in(
        &lead,
        &format!("{AT_RESULTS} .presence-there"),
        "Hoa Lê",
        true,
    );
    node.say("typing");
    wait_for_text_in(
        &lead,
        &format!("{AT_RESULTS} .presence-typing"),
        "Hoa Lê",
        true,
    );

    lead.type_into(&lead.find(RESULTS), "Báo cáo");
    node.wait_for("the app typing in the first text", |p| {
        p["name"] == LEAD && p["field"] == "s0/results" && p["typing"] == true
    });

    // The client's stdin closes: it exits without a goodbye, as a phone
    // that loses its connection. It is forgotten after the time-out.
    let gone_at = Instant::now();
    drop(node.child.stdin.take());
    let _ = node.child.wait();
    wait_for("the silent client to be forgotten", TIME_OUT_LIMIT, || {
        (!text_of(&lead, ".presence-list").contains("Hoa Lê")).then_some(())
    });
    println!(
        "a silent peer disappeared after {} s",
        gone_at.elapsed().as_secs()
    );
}

/// The time-out (45 s) plus the heartbeat that finds it (15 s), and slack.
const TIME_OUT_LIMIT: Duration = Duration::from_secs(90);

//! Presence: who else has a report open, and where. Protocol clients on the
//! real `/sync` endpoint show what the server passes on and to whom; two and
//! three Chromium sessions and a JavaScript automerge-repo client show it in
//! the app.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::ROOT;
use papi::ids::DocId;
use papi::presence::{Presence, State};
use papi_e2e::{current_period, Server, SyncClient};

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

fn budget_report(server: &Server) -> DocId {
    server.report(
        &server.token("vanphong"),
        "phong-ngan-sach",
        &current_period(),
    )
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

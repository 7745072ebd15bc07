//! Who wrote what, as the server vouches for it, and restoring earlier
//! words: protocol clients and Chromium against the real server.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, ReadDoc};
use papi::api::Authorship;
use papi::ids::DocId;
use papi::report::history::passages;
use papi::report::TextAt;
use papi_e2e::{
    budget_report, current_period, first_results_on_server, wait_for, Browser, Server, SyncClient,
};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS_AT: TextAt = TextAt::Section {
    section: 0,
    key: "results",
};
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";
const LEAD: &str = "Trưởng phòng Ngân sách";
const STAFF: &str = "Chuyên viên Phòng Ngân sách";

fn append(client: &mut SyncClient, doc: DocId, words: &str) {
    let text = RESULTS_AT
        .locate(client.doc(doc))
        .expect("the results text");
    client.change(doc, |tx| {
        let end = tx.length(&text);
        tx.splice_text(&text, end, 0, words).unwrap();
    });
    client.until("the acknowledgement", LIMIT, |c| c.server_has_all(doc));
}

fn authorship(server: &Server, user: &str, doc: DocId) -> (u16, Option<Authorship>) {
    let (status, body) = server.get(
        &format!("/api/reports/authors?url={}", doc.url()),
        Some(&server.token(user)),
    );
    (status, serde_json::from_value(body).ok())
}

/// The runs of the results text by author name.
fn runs(client: &SyncClient, doc: DocId, record: &Authorship) -> Vec<(String, String)> {
    let d = client.doc(doc);
    let text = RESULTS_AT.locate(d).unwrap();
    passages(d, &text, record)
        .into_iter()
        .map(|p| (p.text, p.author.map(|a| a.name).unwrap_or_default()))
        .collect()
}

/// A change made in a colleague's actor id reaches the server, and is
/// recorded, and shown, as the work of whoever delivered it.
#[test]
fn a_change_in_another_users_name_is_the_senders() {
    let server = Server::start();
    let report = budget_report(&server);
    let mut lead = SyncClient::connect_as(&server, "truongphong");
    assert!(lead.open(report));
    append(&mut lead, report, "Trưởng phòng viết. ");
    let lead_actor: ActorId = lead.doc(report).get_actor().clone();

    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    assert!(staff.open(report));
    append(&mut staff, report, "Chuyên viên viết. ");
    staff.doc_mut(report).set_actor(lead_actor.clone());
    append(&mut staff, report, "Giả danh trưởng phòng.");
    let last = staff.doc(report).get_changes(&[]).pop().unwrap().clone();
    assert_eq!(
        last.actor_id(),
        &lead_actor,
        "the change claims the lead's actor"
    );

    let (status, record) = authorship(&server, "vanphong", report);
    assert_eq!(status, 200);
    let record = record.expect("an authorship record");
    assert_eq!(
        runs(&staff, report, &record),
        vec![
            ("Trưởng phòng viết. ".to_string(), LEAD.to_string()),
            (
                "Chuyên viên viết. Giả danh trưởng phòng.".to_string(),
                STAFF.to_string()
            ),
        ]
    );
    assert_eq!(record.borrowed.len(), 1, "{record:?}");
    server.wait_for_log("changes delivered in another user's actor id");
    // Someone who may not read the report learns nothing of it.
    assert_eq!(authorship(&server, "xem", report).0, 404);
}

/// In the app: the history shows the sessions by author, who wrote each
/// passage of a text (the forged passage under its real sender), and
/// restores the text as it was after the lead's session, as a new change
/// that reaches the server.
#[test]
fn the_history_shows_who_wrote_what_and_restores_a_text() {
    let server = Server::start();
    let report = budget_report(&server);
    let lead = Browser::signed_in(&server, "truongphong");
    lead.wait_for_sync_state("saved");
    lead.goto(&server.url(&format!("/reports/{}/phong-ngan-sach", current_period())));
    lead.type_into(&lead.find(RESULTS), "Bản nháp đầu.");
    lead.wait_for_sync_state("saved");

    let mut staff = SyncClient::connect_as(&server, "chuyenvien");
    assert!(staff.open(report));
    // The lead's browser's actor, taken from its last change.
    let lead_actor = staff
        .doc(report)
        .get_changes(&[])
        .pop()
        .unwrap()
        .actor_id()
        .clone();
    staff.doc_mut(report).set_actor(lead_actor);
    append(&mut staff, report, " Giả danh.");
    lead.wait_for_value(RESULTS, LIMIT, |v| v == "Bản nháp đầu. Giả danh.");

    lead.click_on(".history-panel > summary");
    // The panel draws its contents once opened.
    lead.find(".history-scope select");
    lead.execute(
        "const s = document.querySelector('.history-scope select');
         s.value = 's0/results';
         s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    let passages = wait_for("who wrote each passage", LIMIT, || {
        let runs = lead.execute(
            "return [...document.querySelectorAll('.authorship .passage')]
               .map((p) => [p.textContent, p.dataset.author]);",
            json!([]),
        );
        let runs = runs.as_array().cloned().unwrap_or_default();
        (runs.len() == 2).then_some(runs)
    });
    assert_eq!(
        passages,
        vec![json!(["Bản nháp đầu.", LEAD]), json!([" Giả danh.", STAFF])]
    );
    let sessions = lead.execute(
        "return [...document.querySelectorAll('.history-session .history-who')]
           .map((w) => w.textContent);",
        json!([]),
    );
    assert_eq!(
        sessions,
        json!([STAFF, LEAD, "Chưa ghi nhận"]),
        "newest first; the report's creation is the server's own"
    );

    lead.click_on(".history-session:nth-child(2) .history-restore");
    lead.wait_for_value(RESULTS, LIMIT, |v| v == "Bản nháp đầu.");
    lead.wait_for_sync_state("saved");
    wait_for("the restore on the server", LIMIT, || {
        (first_results_on_server(&server, "vanphong", report) == "Bản nháp đầu.").then_some(())
    });
    assert!(lead.text().contains("Đã khôi phục"));

    // The whole report as the server made it: every text empty again.
    lead.execute(
        "const s = document.querySelector('.history-scope select');
         s.value = '';
         s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    lead.click_on(".history-session:last-child .history-restore");
    lead.wait_for_value(RESULTS, LIMIT, |v| v.is_empty());
    lead.wait_for_sync_state("saved");
    assert_eq!(first_results_on_server(&server, "vanphong", report), "");
}

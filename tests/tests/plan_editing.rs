//! The plan in real Chromium: the Office edits it (adds, moves, retires
//! measures) and enters the PAPI results that the dashboard charts; a unit
//! proposes a change that the Director accepts; the language can be English.

use std::time::Duration;

use papi_e2e::{wait_for, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const DIM1: &str = "li.dimension[data-dimension=\"1\"]";

fn measure_order(browser: &Browser) -> Vec<String> {
    browser
        .execute(
            "return [...document.querySelectorAll(arguments[0] + ' li.measure')].map((m) => m.dataset.measure);",
            json!([DIM1]),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn count(browser: &Browser, css: &str) -> usize {
    browser
        .execute(
            "return document.querySelectorAll(arguments[0]).length;",
            json!([css]),
        )
        .as_u64()
        .unwrap() as usize
}

fn open_first_dimension(browser: &Browser) {
    browser.click_on(&format!("{DIM1} summary"));
    browser.find(&format!("{DIM1} textarea[data-field=\"plan/d1-m1\"]"));
}

#[test]
fn the_office_edits_the_plan_and_others_see_it_live() {
    let server = Server::start();
    let office = Browser::start();
    let lead = Browser::start();
    office.sign_in(&server.url("/"), "vanphong", "vanphong-demo");
    lead.sign_in(&server.url("/"), "truongphong", "truongphong-demo");
    open_first_dimension(&office);
    open_first_dimension(&lead);
    let before = measure_order(&office);

    // A new measure, at the end of the dimension.
    office.type_into(
        &office.find(&format!("{DIM1} form.add-measure textarea")),
        "Tổ chức đối thoại với người dân mỗi quý.",
    );
    office.click_on(&format!("{DIM1} form.add-measure button[type=submit]"));
    let added = wait_for("the new measure", LIMIT, || {
        let order = measure_order(&office);
        (order.len() == before.len() + 1).then(|| order.last().unwrap().clone())
    });
    assert!(added.starts_with("d1-"), "{added}");
    let field = format!("textarea[data-field=\"plan/{added}\"]");
    assert_eq!(
        office.value(&field),
        "Tổ chức đối thoại với người dân mỗi quý."
    );
    lead.wait_for_value(&field, LIMIT, |v| {
        v == "Tổ chức đối thoại với người dân mỗi quý."
    });
    assert_eq!(
        lead.execute(
            "return document.querySelector(arguments[0]).readOnly;",
            json!([field])
        ),
        json!(true),
        "a unit lead reads the plan, the Office writes it"
    );

    // Moved to the top, then retired: units no longer see it.
    for _ in 0..before.len() {
        office.click_on(&format!("li.measure[data-measure=\"{added}\"] .move-up"));
    }
    wait_for("the measure to reach the top", LIMIT, || {
        (measure_order(&lead).first() == Some(&added)).then_some(())
    });
    office.click_on(&format!("li.measure[data-measure=\"{added}\"] .retire"));
    office.find(&format!("li.measure.retired[data-measure=\"{added}\"]"));
    wait_for(
        "the retired measure to leave the lead's plan",
        LIMIT,
        || (count(&lead, &format!("li.measure[data-measure=\"{added}\"]")) == 0).then_some(()),
    );
}

#[test]
fn papi_results_are_charted_against_the_targets() {
    let server = Server::start();
    let office = Browser::signed_in(&server, "vanphong");
    office.open_page("dashboard");
    for (year, rank, score) in [("2024", "41", "5,1"), ("2025", "33", "5.3")] {
        office.type_into(&office.find("#result-year"), year);
        office.type_into(&office.find("#result-rank"), rank);
        for i in 0..8 {
            office.type_into(&office.find(&format!("#result-score-{i}")), score);
        }
        office.click_on("form.result-form button[type=submit]");
        office.find(&format!("tr[data-year=\"{year}\"]"));
        office.execute(
            "document.querySelectorAll('form.result-form input').forEach((i) => { i.value = ''; i.dispatchEvent(new Event('input')); });",
            json!([]),
        );
    }
    assert_eq!(count(&office, ".chart circle.point.total"), 2);
    assert_eq!(count(&office, ".chart circle.point.rank"), 2);
    // 2025's target is the top 30; 2026's would be one rank up from 2025.
    office.find(".chart g.target[data-year=\"2025\"]");
    assert_eq!(
        office.execute(
            "return document.querySelector('tr[data-year=\"2024\"] td:nth-child(2)').textContent;",
            json!([])
        ),
        json!("40.80")
    );

    // Bad input is refused with a reason, and nothing is stored.
    office.type_into(&office.find("#result-year"), "2023");
    office.type_into(&office.find("#result-rank"), "70");
    for i in 0..8 {
        office.type_into(&office.find(&format!("#result-score-{i}")), "5");
    }
    office.click_on("form.result-form button[type=submit]");
    office.wait_for_text(&["Xếp hạng phải là số từ 1 đến 63."], LIMIT);
    assert_eq!(count(&office, "tr[data-year=\"2023\"]"), 0);
}

#[test]
fn a_proposal_accepted_by_the_director_changes_the_plan() {
    let server = Server::start();
    let staff = Browser::signed_in(&server, "chuyenvien");
    staff.open_page("proposals");
    staff.find("#proposal-measure option[value=\"d1-m1\"]");
    staff.execute(
        "const s = document.querySelector('#proposal-measure'); s.value = 'd1-m1'; s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    staff.type_into(
        &staff.find("#proposal-text"),
        "Đối thoại trực tuyến với người dân hằng tháng.",
    );
    staff.type_into(
        &staff.find("#proposal-reason"),
        "Người dân ở xa khó đến họp.",
    );
    staff.click_on("form.proposal-form button[type=submit]");
    staff.find("li.proposal[data-status=\"pending\"]");

    let director = Browser::signed_in(&server, "giamdoc");
    open_first_dimension(&director);
    director.open_page("proposals");
    director.type_into(
        &director.find("li.proposal .decision-note"),
        "Đồng ý, áp dụng từ quý sau.",
    );
    director.click_on("li.proposal .accept-proposal");
    director.find("li.proposal[data-status=\"accepted\"]");
    director.wait_for_text(&["Đồng ý, áp dụng từ quý sau."], LIMIT);
    director.open_page("plan");
    director.wait_for_value("textarea[data-field=\"plan/d1-m1\"]", LIMIT, |v| {
        v == "Đối thoại trực tuyến với người dân hằng tháng."
    });
}

#[test]
fn the_interface_can_be_english() {
    let server = Server::start();
    let browser = Browser::signed_in(&server, "vanphong");
    browser.execute(
        "const s = document.querySelector('select.language'); s.value = 'en'; s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    browser.wait_for_text(&["Reports", "Dashboard"], LIMIT);
    assert_eq!(
        browser.execute(
            "return document.querySelector('button.sign-out').textContent;",
            json!([])
        ),
        json!("Sign out")
    );
    assert_eq!(
        browser.execute("return document.documentElement.lang;", json!([])),
        json!("en")
    );
    browser.open_page("reports");
    let due = browser.wait_for_text(&["Due before"], LIMIT);
    assert!(
        due.contains("Due before 15/12/2026") || due.contains("Due before 15/06/"),
        "dates stay dd/mm/yyyy: {due}"
    );
    // The choice stays after a reload; the documents keep syncing throughout.
    browser.reload();
    browser.wait_for_text(&["Reports"], LIMIT);
    browser.find(".sync-status[data-state=\"saved\"]");
}

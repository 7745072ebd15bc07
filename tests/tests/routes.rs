//! Every screen has an address, in real Chromium against the real server:
//! the back button steps back through the screens, a reload stays, a link
//! opened cold (online, and offline from the service worker) opens the same
//! screen, and a link to what a user may not see, or to nothing, shows the
//! same page that reveals nothing.

use std::time::Duration;

use papi_e2e::{current_period, wait_for, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";
const NOT_FOUND: &str = "Không có trang này, hoặc bạn không được xem nó.";

fn path(browser: &Browser) -> String {
    browser
        .execute("return location.pathname;", json!([]))
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_for_path(browser: &Browser, expected: &str) {
    wait_for(&format!("the address {expected}"), LIMIT, || {
        (path(browser) == expected).then_some(())
    });
}

/// The unit's report of the current period, with some text in it.
fn report_with_text(server: &Server, text: &str) -> String {
    let period = current_period();
    server.report(&server.token("chuyenvien"), "phong-ngan-sach", &period);
    let writer = Browser::signed_in(server, "chuyenvien");
    writer.wait_for_sync_state("saved");
    let address = format!("/reports/{period}/phong-ngan-sach");
    writer.goto(&server.url(&address));
    writer.type_into(&writer.find(RESULTS), text);
    writer.wait_for_sync_state("saved");
    address
}

#[test]
fn the_back_button_steps_back_through_the_screens_and_a_reload_stays() {
    let server = Server::start();
    let report = report_with_text(&server, "Đã tiếp 40 lượt công dân.");
    let office = Browser::signed_in(&server, "vanphong");
    wait_for_path(&office, "/");

    office.open_page("reports");
    wait_for_path(&office, "/reports");
    office.click_on(&format!(
        "li[data-period=\"{}\"] li[data-unit=\"phong-ngan-sach\"] .open-report",
        current_period()
    ));
    wait_for_path(&office, &report);
    office.wait_for_value(RESULTS, LIMIT, |v| v == "Đã tiếp 40 lượt công dân.");

    // A reload stays on the report, where it was scrolled to: the text box
    // at the top of the screen is in the same place again.
    let where_box = "const r = document.querySelector(`textarea[data-field=\"${arguments[0]}\"]`);
                     return r ? r.getBoundingClientRect().top : null;";
    let in_view = office.execute(
        "window.scrollTo(0, 900);
         const box = [...document.querySelectorAll('article.report textarea')]
           .find((t) => t.getBoundingClientRect().top >= 0);
         return [window.scrollY, box.dataset.field];",
        json!([]),
    );
    assert!(
        in_view[0].as_f64().unwrap() > 100.0,
        "the report is longer than the screen"
    );
    let field = in_view[1].as_str().unwrap().to_string();
    assert_ne!(field, "s0/results", "scrolled past the first text");
    let before = office.execute(where_box, json!([field])).as_f64().unwrap();
    office.reload();
    office.wait_for_value(RESULTS, LIMIT, |v| v == "Đã tiếp 40 lượt công dân.");
    assert_eq!(path(&office), report);
    wait_for("the same text box in the same place", LIMIT, || {
        let now = office.execute(where_box, json!([field])).as_f64()?;
        ((now - before).abs() < 10.0).then_some(())
    });

    // Back: the list of reports, then the plan; forward again.
    office.back();
    wait_for_path(&office, "/reports");
    office.find("li.unit-report .open-report");
    office.back();
    wait_for_path(&office, "/");
    office.find("a[data-page=\"plan\"][aria-current=\"page\"]");
    assert!(!office.text().contains("Đã tiếp 40 lượt"));
    office.forward();
    wait_for_path(&office, "/reports");
    office.find("li.unit-report");

    // A dimension opened on the plan is in the address, and opens again.
    office.goto(&server.url("/plan/3"));
    wait_for("the third dimension to be open", LIMIT, || {
        (office.execute(
            "const d = document.querySelector('li.dimension[data-dimension=\"3\"] details');
             return !!d && d.open;",
            json!([]),
        ) == json!(true))
        .then_some(())
    });
    office.click_on("li.dimension[data-dimension=\"5\"] summary");
    wait_for_path(&office, "/plan/5");
}

#[test]
fn a_link_opened_cold_shows_its_screen_online_and_offline() {
    let mut server = Server::start();
    let report = report_with_text(&server, "Niêm yết công khai 12 thủ tục.");

    // Cold, signed out: the sign-in form, then the linked report.
    let lead = Browser::start();
    lead.sign_in(
        &server.url(&report),
        "truongphong",
        &server.password_of("truongphong"),
    );
    lead.wait_for_value(RESULTS, LIMIT, |v| v == "Niêm yết công khai 12 thủ tục.");
    assert_eq!(path(&lead), report);
    lead.wait_for_service_worker();
    lead.wait_for_sync_state("saved");

    // Offline, a link typed into the same browser opens from the service
    // worker and the device.
    lead.goto(&server.url("/plan"));
    lead.find("li.dimension");
    assert!(server.stop());
    lead.goto(&server.url(&report));
    lead.wait_for_value(RESULTS, LIMIT, |v| v == "Niêm yết công khai 12 thủ tục.");
    lead.goto(&server.url("/plan/2"));
    wait_for("the second dimension to be open offline", LIMIT, || {
        (lead.execute(
            "const d = document.querySelector('li.dimension[data-dimension=\"2\"] details');
             return !!d && d.open;",
            json!([]),
        ) == json!(true))
        .then_some(())
    });
}

#[test]
fn a_link_to_what_a_user_may_not_see_reveals_nothing() {
    let server = Server::start();
    let report = report_with_text(&server, "Nội dung nội bộ của Phòng Ngân sách.");
    server.add_user("thanhtra-cv", "thanh-tra", "staff", "mật khẩu thanh tra");

    let other = Browser::start();
    other.sign_in(&server.url(&report), "thanhtra-cv", "mật khẩu thanh tra");
    let shown = other.wait_for_text(&[NOT_FOUND], LIMIT);
    assert!(!shown.contains("Nội dung nội bộ"), "{shown}");
    assert!(!shown.contains("Phòng Ngân sách"), "{shown}");
    assert!(
        other.execute(
            "return !document.querySelector('article.report');",
            json!([])
        ) == json!(true)
    );

    // A report that does not exist, a screen that does not exist, and a
    // page of another role: the same words.
    for address in [
        format!("/reports/{}/khong-co-don-vi", current_period()),
        "/khong-co-trang".to_string(),
        "/admin".to_string(),
    ] {
        other.goto(&server.url(&address));
        let shown = other.wait_for_text(&[NOT_FOUND], LIMIT);
        assert!(!shown.contains("Quản trị người dùng"), "{address}: {shown}");
    }
}

/// The number of the report's sections on the page, and the first one's.
fn sections_shown(browser: &Browser) -> (usize, String) {
    let v = browser.execute(
        "const s = document.querySelectorAll('article.report section.report-section');
         return [s.length, s.length ? s[0].dataset.section || '' : ''];",
        json!([]),
    );
    (
        v[0].as_u64().unwrap() as usize,
        v[1].as_str().unwrap().to_string(),
    )
}

fn progress_of(browser: &Browser, part: u8) -> String {
    browser
        .execute(
            "return document.querySelector(`nav.report-contents li[data-part=\"${arguments[0]}\"] .part-progress`).textContent;",
            json!([part]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_report_opens_one_dimension_at_a_time_with_its_progress() {
    let server = Server::start();
    let report = report_with_text(&server, "Đã công khai 8 thủ tục.");
    let lead = Browser::signed_in(&server, "truongphong");
    // A link opened within a moment of signing in can stay on "Đang mở…"
    // (a known fault of the app, not yet explained); it is not what this
    // test is about, so the workspace is ready first.
    lead.wait_for_sync_state("saved");
    lead.goto(&server.url(&report));
    lead.wait_for_value(RESULTS, LIMIT, |v| v == "Đã công khai 8 thủ tục.");

    // The contents: every dimension, and how far each one is.
    let (all, first) = sections_shown(&lead);
    assert!(all >= 8, "the whole report: {all} sections");
    assert_eq!(first, "1");
    wait_for("the first dimension's progress", LIMIT, || {
        progress_of(&lead, 1)
            .starts_with("đã điền 1/")
            .then_some(())
    });
    assert!(progress_of(&lead, 2).starts_with("đã điền 0/"));

    // One dimension alone, then the next and the previous one.
    lead.click_on("nav.report-contents li[data-part=\"2\"] a");
    wait_for_path(&lead, &format!("{report}/2"));
    assert_eq!(sections_shown(&lead), (1, "2".to_string()));
    lead.click_on("article.report section.report-section select.measure-status");
    lead.execute(
        "const s = document.querySelector('article.report select.measure-status');
         s.value = 'done'; s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    wait_for("the second dimension's progress", LIMIT, || {
        progress_of(&lead, 2)
            .starts_with("đã điền 1/")
            .then_some(())
    });
    lead.click_on(".part-next");
    wait_for_path(&lead, &format!("{report}/3"));
    assert_eq!(sections_shown(&lead), (1, "3".to_string()));
    lead.click_on(".part-previous");
    wait_for_path(&lead, &format!("{report}/2"));
    assert_eq!(sections_shown(&lead), (1, "2".to_string()));

    // A reload keeps the dimension; the whole report is one link away.
    lead.reload();
    lead.find("article.report section.report-section[data-section=\"2\"]");
    assert_eq!(sections_shown(&lead).0, 1);
    lead.click_on(".part-all");
    wait_for_path(&lead, &report);
    wait_for("every dimension again", LIMIT, || {
        (sections_shown(&lead).0 == all).then_some(())
    });
    lead.wait_for_sync_state("saved");
}

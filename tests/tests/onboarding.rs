//! A new agency adopts the workspace: a production server starts with no
//! plan and no units; the administrator imports the agency's plan file and
//! staff list (from the admin page, or the command line); staff sign in
//! with one-time passwords, choose their own, and draft a report. Real
//! binary, real Chromium.

use std::path::PathBuf;
use std::time::Duration;

use automerge::ReadDoc;
use papi::ids::DocId;
use papi::report::TextAt;
use papi_e2e::{server_command, workspace_root, Browser, Server, SyncClient};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";

fn district_plan() -> PathBuf {
    workspace_root().join("tests/data/district-plan.yaml")
}

fn district_staff() -> PathBuf {
    workspace_root().join("tests/data/district-staff.csv")
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The period the district's reports are due for next.
fn district_period() -> String {
    let plan = papi::plan_file::parse(&std::fs::read_to_string(district_plan()).unwrap())
        .unwrap()
        .plan();
    let periods = plan
        .reporting
        .periods(plan.start_year, plan.end_year)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    plan.reporting
        .next_due(&periods, now)
        .expect("a period still to come")
        .key()
}

/// A file input given a file, as a person choosing it would.
fn choose_file(browser: &Browser, input: &str, path: &std::path::Path) {
    browser.type_into(&browser.find(input), path.to_str().unwrap());
}

#[test]
fn a_new_agency_imports_its_plan_and_staff_on_the_admin_page_and_drafts_a_report() {
    let server = Server::start_with(&["--production"]);
    let units = server_command(server.data_dir(), &["units"], None);
    assert_eq!(stdout(&units), "", "a production start has no units");
    let admin = server_command(
        server.data_dir(),
        &["create-admin", "quantri", "--password-stdin"],
        Some("quản trị viên 2025\n"),
    );
    assert!(admin.status.success(), "{admin:?}");

    // The administrator's first screen says what to do next.
    let office = Browser::start();
    office.sign_in(&server.url("/"), "quantri", "quản trị viên 2025");
    office.wait_for_text(&["Chưa có kế hoạch", "nhập tệp kế hoạch"], LIMIT);

    // A file with problems: every one listed, nothing imported.
    let broken = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(district_plan()).unwrap();
    std::fs::write(
        broken.path(),
        text.replacen("number: 8", "number: 9", 1).replacen(
            "units: [van-phong]",
            "units: [phong-khong-co]",
            1,
        ),
    )
    .unwrap();
    office.open_page("admin");
    choose_file(&office, "#plan-file", broken.path());
    office.click_on(".import-plan");
    office.wait_for_text(
        &[
            "chưa nhập gì",
            "không có đơn vị \"phong-khong-co\"",
            "dòng ",
        ],
        LIMIT,
    );
    assert_eq!(
        stdout(&server_command(server.data_dir(), &["units"], None))
            .lines()
            .count(),
        1
    );

    choose_file(&office, "#plan-file", &district_plan());
    office.click_on(".import-plan");
    office.wait_for_text(&["Đã nhập kế hoạch: thêm 10 nội dung"], LIMIT);
    office.wait_for_text(&["UBND xã Đại Tâm"], LIMIT);

    choose_file(&office, "#staff-file", &district_staff());
    office.click_on(".import-staff");
    office.wait_for_text(&["Đã tạo 3 người dùng"], LIMIT);
    let one_time = office
        .execute(
            "const row = [...document.querySelectorAll('table.passwords tr')]
                 .find(r => r.textContent.includes('tt.binh'));
             return row.querySelector('.password').textContent;",
            json!([]),
        )
        .as_str()
        .expect("tt.binh's one-time password")
        .to_string();
    let href = office.execute(
        "return document.querySelector('a.download-passwords').href;",
        json!([]),
    );
    assert!(
        href.as_str().unwrap().contains(&one_time),
        "the download holds the passwords"
    );

    // The unit lead signs in with it and must choose a password first.
    let lead = Browser::start();
    lead.sign_in(&server.url("/"), "tt.binh", &one_time);
    lead.type_into(&lead.find("#current-password"), &one_time);
    lead.type_into(&lead.find("#new-password"), "mật khẩu của Bình");
    lead.type_into(&lead.find("#new-password-again"), "mật khẩu của Bình");
    lead.click_on("form.choose-password button[type=submit]");
    lead.wait_for_text(&["huyện Mỹ Xuyên"], LIMIT);
    server.remember_password("tt.binh", "mật khẩu của Bình");

    // …and drafts the commune's report on the district's plan.
    lead.open_page("reports");
    let card = format!("li[data-period=\"{}\"]", district_period());
    lead.click_on(&format!("{card} .start-report"));
    lead.type_into(
        &lead.find(RESULTS),
        "Xã Đại Tâm đã tổ chức 3 buổi đối thoại.",
    );
    lead.wait_for_sync_state("saved");
    let url = lead
        .execute(
            "return document.querySelector('article.report').dataset.doc;",
            json!([]),
        )
        .as_str()
        .expect("an open report")
        .to_string();
    let id = DocId::parse(&url).unwrap();
    let mut client = SyncClient::connect_as(&server, "tt.binh");
    assert!(client.open(id), "the server has the report");
    let doc = client.doc(id);
    let at = TextAt::Section {
        section: 0,
        key: "results",
    };
    assert_eq!(
        doc.text(at.locate(doc).expect("the results text")).unwrap(),
        "Xã Đại Tâm đã tổ chức 3 buổi đối thoại."
    );
}

#[test]
fn the_command_line_imports_all_or_nothing_and_a_plan_round_trips() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let run = |args: &[&str]| server_command(dir, args, None);
    let plan = district_plan();
    let plan = plan.to_str().unwrap();

    // Five kinds of mistake, every one reported with its line.
    let text = std::fs::read_to_string(district_plan()).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        text.replacen("number: 8", "number: 9", 1)
            .replacen("units: [van-phong]", "units: [phong-khong-co]", 1)
            .replacen("month: 12", "month: 13", 1)
            .replacen("id: h2-1", "id: h1-1", 1)
            .replacen(
                "title: Kế hoạch nâng cao Chỉ số PAPI huyện Mỹ Xuyên giai đoạn 2025–2030",
                "title: ''",
                1,
            ),
    )
    .unwrap();
    let refused = run(&["import-plan", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    let err = stderr(&refused);
    for expected in [
        "no dimension 9",
        "there is no unit \"phong-khong-co\"",
        "13 is not a day",
        "the measure id \"h1-1\" is repeated",
        "title: không được để trống / must not be empty",
        "nothing was imported",
    ] {
        assert!(err.contains(expected), "{expected:?} in {err}");
    }
    assert!(
        err.lines().filter(|l| l.starts_with("line ")).count() >= 5,
        "{err}"
    );
    assert_eq!(stdout(&run(&["units"])), "", "nothing was imported");
    let none = run(&["export-plan"]);
    assert!(!none.status.success());
    assert!(stderr(&none).contains("no plan yet"), "{none:?}");

    let first = run(&["import-plan", plan]);
    assert!(first.status.success(), "{first:?}");
    assert!(stdout(&first).contains("10 measure(s) added"), "{first:?}");
    let exported = dir.join("exported.yaml");
    assert!(
        run(&["export-plan", "--output", exported.to_str().unwrap()])
            .status
            .success()
    );
    let exported_text = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(
        papi::plan_file::parse(&exported_text).unwrap(),
        papi::plan_file::parse(&text).unwrap()
    );
    // The same file again, and its export, change nothing.
    for again in [plan, exported.to_str().unwrap()] {
        let out = run(&["import-plan", again]);
        assert!(
            stdout(&out)
                .contains("0 measure(s) added, 0 changed, 0 retired; 0 unit(s) added, 0 changed"),
            "{out:?}"
        );
    }
    assert_eq!(stdout(&run(&["export-plan"])), exported_text);

    // Staff: passwords to a private file, once; the same file again
    // changes nothing.
    let staff = district_staff();
    let passwords = dir.join("passwords.csv");
    let out = run(&[
        "import-users",
        staff.to_str().unwrap(),
        "--passwords",
        passwords.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let written = std::fs::read_to_string(&passwords).unwrap();
    assert_eq!(written.lines().count(), 4, "{written}");
    assert!(!stdout(&out).contains(written.lines().nth(1).unwrap()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&passwords).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = run(&["import-users", staff.to_str().unwrap()]);
    assert!(
        stdout(&again).contains("0 user(s) created, 0 updated, 3 unchanged"),
        "{again:?}"
    );
}

#[test]
fn a_plan_is_not_imported_behind_a_running_servers_back() {
    let server = Server::start_with(&["--production"]);
    let plan = district_plan();
    let out = server_command(
        server.data_dir(),
        &["import-plan", plan.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another papi-server is using the data directory"),
        "{out:?}"
    );
}

//! A report leaves the workspace as an official document (Decree 30/2020):
//! a DOCX file made on the device by the export worker, offline too, and
//! checked by independent readers — python-docx (Debian's python3-docx) for
//! the layout and the text, LibreOffice for opening it at all.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use papi::report::assigned;
use papi_e2e::{current_period, seed_plan, wait_for, workspace_root, Browser, Server};
use papi_official::{Day, Item, Labelled, OfficialDocument, Section};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);
const RESULTS: &str = "article.report textarea[data-field=\"s0/results\"]";
const BUDGET: &str = "Phòng Quản lý Ngân sách và Tài chính hành chính sự nghiệp";

/// Runs the python-docx check of `file` against `expected`; its report.
fn python_check(file: &Path, expected: &Value) -> (bool, String) {
    let spec = file.with_extension("expected.json");
    std::fs::write(&spec, expected.to_string()).unwrap();
    let out = Command::new("/usr/bin/python3")
        .arg(workspace_root().join("tests/official/check_docx.py"))
        .arg(file)
        .arg(&spec)
        .output()
        .expect("python3 (Debian's, with python3-docx: scripts/setup installs it)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

/// Converts `file` to PDF with LibreOffice, headless; the PDF's bytes.
fn libreoffice_pdf(file: &Path) -> Vec<u8> {
    let dir = file.parent().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.path().display()
        ))
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(dir)
        .arg(file)
        .output()
        .expect("soffice (Debian's libreoffice-writer-nogui: scripts/setup installs it)");
    assert!(out.status.success(), "{out:?}");
    std::fs::read(file.with_extension("pdf")).expect("the PDF LibreOffice wrote")
}

/// The measures of the Budget division, numbered as the plan shows them
/// (among the measures in force).
fn budget_measures() -> Vec<(String, String)> {
    seed_plan()
        .dimensions
        .iter()
        .flat_map(|d| {
            d.measures
                .iter()
                .filter(|m| !m.retired)
                .enumerate()
                .filter(|(_, m)| assigned(&m.units, "phong-ngan-sach"))
                .map(move |(i, m)| (format!("{}.{}", d.number, i + 1), m.text.clone()))
        })
        .collect()
}

/// The finished `.docx` files in `dir`.
fn downloads(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "docx"))
        .collect();
    files.sort();
    files
}

fn fill(browser: &Browser, field: &str, value: &str) {
    browser.type_into(
        &browser.find(&format!(".official-field[data-field=\"{field}\"]")),
        value,
    );
    // A field is written when the person leaves it.
    browser.execute("document.activeElement.blur();", json!([]));
}

/// Whether the service worker holds the DOCX writer's wasm module: not
/// with the app, only once an export has fetched it.
fn writer_kept(browser: &Browser) -> bool {
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             caches.keys()
                 .then(keys => Promise.all(keys.map(k => caches.open(k)
                     .then(c => c.match('/papi-official-worker_bg.wasm')))))
                 .then(hits => done(hits.some(Boolean)), () => done(false));",
            json!([]),
        )
        .as_bool()
        .unwrap_or(false)
}

#[test]
fn a_report_is_exported_as_a_decree_30_document_on_the_device_and_offline() {
    let mut server = Server::start();
    let period = current_period();
    let lead = Browser::signed_in(&server, "truongphong");
    lead.wait_for_service_worker();
    let saved = tempfile::tempdir().unwrap();
    lead.cdp(
        "Browser.setDownloadBehavior",
        json!({ "behavior": "allow", "downloadPath": saved.path().to_str().unwrap() }),
    );
    lead.open_page("reports");
    lead.click_on(&format!("li[data-period=\"{period}\"] .start-report"));
    let written = "Đã tổ chức 3 hội nghị đối thoại với 250 người dân ở 12 xã, phường 😀.";
    lead.type_into(&lead.find(RESULTS), written);
    lead.click_on("details.official summary");
    fill(&lead, "number", "15");
    fill(&lead, "symbol", "BC-NS");
    fill(&lead, "signer_position", "Trưởng phòng");
    fill(&lead, "signer_name", "Trần Văn Bình");
    lead.wait_for_sync_state("saved");
    assert!(
        !writer_kept(&lead),
        "the writer is not part of the first load"
    );

    lead.click_on(".export-docx");
    lead.wait_for_text(&["Đã tạo văn bản."], LIMIT);
    let first = wait_for("the DOCX file", LIMIT, || downloads(saved.path()).pop());
    assert!(writer_kept(&lead), "fetched on first use, and kept");
    assert_eq!(
        first.file_name().unwrap().to_str().unwrap(),
        format!("bao-cao-phong-ngan-sach-{period}.docx")
    );
    let expected = json!({
        "parts": [
            BUDGET.to_uppercase(),
            "SỞ TÀI CHÍNH TỈNH SÓC TRĂNG",
            "Số: 15/BC-NS",
            "TRƯỞNG PHÒNG",
            "Trần Văn Bình",
            "Kết quả thực hiện Kế hoạch nâng cao Chỉ số hiệu quả quản trị và hành chính công (PAPI)",
            "Sóc Trăng, ngày",
        ],
        "texts": [written],
        "items": budget_measures(),
    });
    let (ok, report) = python_check(&first, &expected);
    assert!(ok, "python-docx: {report}");
    println!("python-docx: {report}");
    assert!(libreoffice_pdf(&first).starts_with(b"%PDF"));

    // Offline, in a page opened afresh, the worker and its writer come
    // from the service worker.
    assert!(server.stop());
    lead.reload();
    lead.wait_for_sync_state("offline");
    // The reload stays on the report.
    lead.click_on("details.official summary");
    // The browser allows one unasked download per page, so this file is
    // read as the page hands it over.
    lead.execute(
        "window.madeFiles = [];
         const original = URL.createObjectURL;
         URL.createObjectURL = (blob) => { window.madeFiles.push(blob); return original.call(URL, blob); };",
        json!([]),
    );
    lead.click_on(".export-docx");
    lead.wait_for_text(&["Đã tạo văn bản."], LIMIT);
    let made = lead.execute_async(
        "const done = arguments[arguments.length - 1];
         window.madeFiles[0].arrayBuffer().then(b => done([b.byteLength, ...new Uint8Array(b).slice(0, 2)]));",
        json!([]),
    );
    let first_size = std::fs::metadata(&first).unwrap().len();
    assert_eq!(
        (&made[1], &made[2]),
        (&json!(b'P'), &json!(b'K')),
        "a zip file: {made}"
    );
    let size = made[0].as_u64().unwrap();
    assert!(
        size.abs_diff(first_size) < first_size / 10,
        "the same document offline: {size} and {first_size} bytes"
    );

    // The print view lays out the same parts.
    lead.click_on(".print-view");
    let sheet = lead.wait_for_text(&["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Nơi nhận:"], LIMIT);
    assert!(sheet.contains("Số: 15/BC-NS"), "{sheet}");
}

fn sample(texts: &str) -> OfficialDocument {
    OfficialDocument {
        parent_issuer: "Ủy ban nhân dân tỉnh Sóc Trăng".into(),
        issuer: "Sở Tài chính tỉnh Sóc Trăng".into(),
        number: String::new(),
        symbol: "BC-STC".into(),
        place: "Sóc Trăng".into(),
        date: Day {
            day: 3,
            month: 1,
            year: 2027,
        },
        kind: "Báo cáo".into(),
        summary: "Kết quả thực hiện Kế hoạch PAPI năm 2026".into(),
        opening: "Thực hiện Kế hoạch, Sở Tài chính báo cáo như sau:".into(),
        sections: vec![Section {
            heading: "1. Tham gia của người dân ở cấp cơ sở".into(),
            items: vec![Item {
                number: "1.1".into(),
                text: "Đẩy mạnh công tác thông tin".into(),
                status: "Đang thực hiện".into(),
                notes: texts.into(),
            }],
            texts: vec![Labelled {
                label: "Kết quả thực hiện".into(),
                text: texts.into(),
            }],
        }],
        recipients: vec!["- Như trên;".into(), "- Lưu: VT.".into()],
        signer_position: "Giám đốc".into(),
        signer_name: "Nguyễn Văn An".into(),
    }
}

#[test]
fn empty_huge_and_odd_reports_still_make_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let base = json!({ "parts": ["SỞ TÀI CHÍNH TỈNH SÓC TRĂNG", "GIÁM ĐỐC", "Nguyễn Văn An"] });
    let long = "Kết quả rất dài, ghi đầy đủ từng việc đã làm. ".repeat(20_000);
    // Decomposed letters (as some keyboards type them), tabs, emoji and
    // control characters XML cannot hold.
    let odd = "Cột 1\tCột 2\tCột 3\nNgười dân 😀👍\u{1}\u{b}\u{1f}ệ (e\u{323}\u{302})";
    let cases = [
        (
            "empty",
            OfficialDocument {
                sections: Vec::new(),
                ..sample("")
            },
            base.clone(),
        ),
        (
            "long",
            sample(&long),
            json!({ "parts": ["SỞ TÀI CHÍNH TỈNH SÓC TRĂNG"], "texts": [long.trim_end()] }),
        ),
        (
            "odd",
            sample(odd),
            json!({
                "parts": base["parts"].clone(),
                "texts": ["Cột 1\tCột 2\tCột 3", "Người dân 😀👍ệ (ệ)"],
                "absent": ["\u{1}", "\u{b}", "\u{1f}"],
            }),
        ),
    ];
    for (name, doc, mut expected) in cases {
        if name == "odd" {
            assert_eq!(doc.unfit_characters(), 6, "three control characters, twice");
        }
        if name != "empty" {
            expected["items"] = json!([["1.1", "Đẩy mạnh công tác thông tin"]]);
        }
        let file = dir.path().join(format!("{name}.docx"));
        std::fs::write(&file, papi_official::docx(&doc).unwrap()).unwrap();
        let (ok, report) = python_check(&file, &expected);
        assert!(ok, "{name}: {report}");
    }
    assert!(libreoffice_pdf(&dir.path().join("odd.docx")).starts_with(b"%PDF"));
}

//! Running the workspace for real, as an agency's IT officer does: backups
//! made, checked and restored; a database of an earlier release opened by
//! this one; the server's figures for monitoring; one binary to deploy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use papi_e2e::{http, server_binary, server_command, wait_for, workspace_root, Server, SyncClient};

const LIMIT: Duration = Duration::from_secs(60);

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sqlite3"));
    files.sort();
    files
}

#[test]
fn scheduled_backups_are_checked_and_only_the_newest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    // Someone else's file in the folder is never removed.
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::write(backups.join("notes.sqlite3"), "not a backup").unwrap();
    let server = Server::start_with(&[
        "--backup-dir",
        backups.to_str().unwrap(),
        "--backup-every",
        "1s",
        "--backup-keep",
        "2",
    ]);
    wait_for("three scheduled backups", LIMIT, || {
        (server.log().matches("backup made and checked").count() >= 3).then_some(())
    });
    let files = backups_in(&backups);
    let made: Vec<&PathBuf> = files
        .iter()
        .filter(|f| {
            f.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("papi-")
        })
        .collect();
    assert!(
        (2..=3).contains(&made.len()),
        "the newest two are kept (a third may be under way): {files:?}"
    );
    assert!(files.contains(&backups.join("notes.sqlite3")));
    for file in made {
        let checked = server_command(server.data_dir(), &["check", file.to_str().unwrap()], None);
        assert!(checked.status.success(), "{}", stderr(&checked));
        assert!(stdout(&checked).contains("Sound"), "{}", stdout(&checked));
    }
    let (_, health) = server.get("/api/health", None);
    assert!(health.get("backup_error").is_none(), "{health}");
}

#[test]
fn a_backup_never_overwrites_and_a_restore_never_runs_under_a_server() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.sqlite3");
    let first = server_command(
        server.data_dir(),
        &["backup", file.to_str().unwrap(), "--list"],
        None,
    );
    assert!(first.status.success(), "{}", stderr(&first));
    // The listing names the plan with its heads.
    let plan = server.get("/api/plan", None).1["url"]
        .as_str()
        .unwrap()
        .trim_start_matches("automerge:")
        .to_string();
    assert!(stdout(&first)
        .lines()
        .any(|l| l.starts_with(&plan) && l.len() > plan.len() + 60));

    let again = server_command(server.data_dir(), &["backup", file.to_str().unwrap()], None);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let restore = server_command(
        server.data_dir(),
        &["restore", file.to_str().unwrap()],
        None,
    );
    assert!(!restore.status.success());
    assert!(
        stderr(&restore).contains("a papi-server is using the data directory"),
        "{}",
        stderr(&restore)
    );

    // A damaged file is named as such, and restores nothing.
    let damaged = dir.path().join("damaged.sqlite3");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4096] {
        *b = 0xA5;
    }
    std::fs::write(&damaged, bytes).unwrap();
    let target = tempfile::tempdir().unwrap();
    let refused = server_command(target.path(), &["restore", damaged.to_str().unwrap()], None);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("damaged"), "{}", stderr(&refused));
    assert!(!target.path().join("papi.sqlite3").exists());
}

/// A database written by the release of 7 December 2026 (commit 5bf0bb3,
/// schema 8): this version opens it, and every document keeps its heads.
#[test]
fn a_database_of_the_previous_release_opens_with_every_document_unchanged() {
    let data = workspace_root().join("tests/data/release-2026-12-07");
    let expected = std::fs::read_to_string(data.join("heads.txt")).unwrap();
    let mut server = Server::start_with(&[]);
    server.kill();
    std::fs::copy(
        data.join("papi.sqlite3"),
        server.data_dir().join("papi.sqlite3"),
    )
    .unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(server.data_dir().join(format!("papi.sqlite3{suffix}")));
    }
    server.restart();
    // The released data is served: its plan and its reports' texts.
    let (status, plan) = server.get("/api/plan", None);
    assert_eq!(status, 200);
    let plan = papi::ids::DocId::parse(plan["url"].as_str().unwrap()).unwrap();
    let mut reader = SyncClient::connect_as(&server, "vanphong");
    assert!(reader.open(plan));
    reader.until("the whole plan", LIMIT, |c| c.server_has_all(plan));
    let listed_plan = expected
        .lines()
        .find(|l| l.starts_with(&plan.to_string()))
        .expect("the plan is in the listing");
    let mut heads: Vec<String> = reader.heads(plan).iter().map(|h| h.to_string()).collect();
    heads.sort();
    assert_eq!(listed_plan, format!("{plan} {}", heads.join(",")));
    assert!(server.stop());

    // Every document, as the server left it after opening and serving it.
    let checked = server_command(
        server.data_dir(),
        &[
            "check",
            server.data_dir().join("papi.sqlite3").to_str().unwrap(),
            "--list",
        ],
        None,
    );
    assert!(checked.status.success(), "{}", stderr(&checked));
    let listing: String = stdout(&checked)
        .lines()
        .filter(|l| !l.starts_with("Sound"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(listing, expected, "every document has the heads it had");
}

#[test]
fn metrics_are_served_to_the_allowed_addresses_only() {
    let server = Server::start();
    // Some traffic to count: a failed sign-in, a sync connection.
    let (status, _) = server.post(
        "/api/login",
        None,
        serde_json::json!({ "username": "vanphong", "password": "wrong" }),
    );
    assert_eq!(status, 401);
    let mut client = SyncClient::connect_as(&server, "vanphong");
    let plan =
        papi::ids::DocId::parse(server.get("/api/plan", None).1["url"].as_str().unwrap()).unwrap();
    assert!(client.open(plan));

    let text = wait_for("the figures", LIMIT, || {
        let mut answer = http().get(server.url("/metrics")).call().ok()?;
        assert_eq!(answer.status(), 200);
        let text = answer.body_mut().read_to_string().ok()?;
        (figure(&text, "papi_documents_loaded") >= 1.0).then_some(text)
    });
    assert!(figure(&text, "papi_sync_connections") >= 1.0, "{text}");
    assert!(
        figure(&text, "papi_sign_in_failures_total") >= 1.0,
        "{text}"
    );
    assert!(
        figure(&text, "papi_sync_received_bytes_total") > 0.0,
        "{text}"
    );
    assert!(
        figure(&text, "papi_sync_messages_sent_total") > 0.0,
        "{text}"
    );
    assert!(figure(&text, "papi_users_signed_in") >= 1.0, "{text}");
    assert!(
        text.contains("papi_storage_commit_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE papi_sync_connections gauge"),
        "{text}"
    );

    // Any other address is refused, and told why.
    let only_elsewhere = Server::start_with(&["--metrics-from", "10.1.2.0/24"]);
    let mut answer = http().get(only_elsewhere.url("/metrics")).call().unwrap();
    assert_eq!(answer.status(), 403);
    assert!(answer
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("--metrics-from"));
    only_elsewhere.wait_for_log("metrics refused");
}

/// The value of a figure without labels in Prometheus's text format.
fn figure(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1.0)
}

#[test]
fn the_binary_alone_serves_the_app() {
    // Copied away from the checkout, with no dist/ beside it.
    let alone = tempfile::tempdir().unwrap();
    let binary = alone.path().join("papi-server");
    std::fs::copy(server_binary(), &binary).unwrap();
    let data = alone.path().join("data");
    let mut child = std::process::Command::new(&binary)
        .current_dir(alone.path())
        .arg("--data-dir")
        .arg(&data)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let port = std::io::BufRead::lines(std::io::BufReader::new(out))
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Listening on http://127.0.0.1:")
                .map(|p| p.trim_end_matches('/').parse::<u16>().unwrap())
        })
        .expect("the server says where it listens");
    let get = |path: &str| {
        let mut answer = http()
            .get(format!("http://127.0.0.1:{port}{path}"))
            .call()
            .unwrap();
        (
            answer.status().as_u16(),
            answer.body_mut().read_to_vec().unwrap(),
        )
    };
    let (status, page) = get("/");
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    let built = std::fs::read_to_string(workspace_root().join("dist/index.html")).unwrap();
    assert_eq!(page, built, "the page of the build it was made with");
    let wasm = page
        .split('"')
        .find(|s| s.ends_with("_bg.wasm"))
        .expect("the page names its wasm")
        .to_string();
    let (status, bytes) = get(&format!("/{}", wasm.trim_start_matches('/')));
    assert_eq!(status, 200);
    assert_eq!(&bytes[..4], b"\0asm");
    let (status, _) = get("/sw.js");
    assert_eq!(status, 200);
    let _ = child.kill();
    let _ = child.wait();
}

/// The systemd unit of docs/deploy.md is the file beside it, and the
/// binary takes every option of its command line.
#[test]
fn the_documented_service_runs_this_binary_with_options_it_knows() {
    let docs = workspace_root().join("docs");
    let unit = std::fs::read_to_string(docs.join("deploy/papi.service")).unwrap();
    let page = std::fs::read_to_string(docs.join("deploy.md")).unwrap();
    assert!(
        page.contains(&format!("```ini\n{unit}```")),
        "docs/deploy.md shows the unit as it is"
    );
    let exec = unit
        .split("ExecStart=")
        .nth(1)
        .unwrap()
        .split("\n")
        .scan(true, |going, line| {
            let this = *going;
            *going = line.ends_with('\\');
            this.then(|| line.trim_end_matches('\\').to_string())
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/papi-server"));
    let output = std::process::Command::new(server_binary())
        .args(words)
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A service file sets switches as `1`, `yes` or `true`; each starts the
/// server as it says.
#[test]
fn switches_in_the_environment_take_the_usual_words() {
    let server = Server::start_with_env(&[], &[("PAPI_LOG_JSON", "1"), ("PAPI_PRODUCTION", "yes")]);
    let (status, _) = server.post(
        "/api/login",
        None,
        serde_json::json!({ "username": "vanphong", "password": "vanphong-demo" }),
    );
    assert_eq!(status, 401, "a production server has no demo accounts");
    server.wait_for_log("\"level\":");
}

/// The one-time passwords' file is made before anyone is imported.
#[test]
fn staff_are_not_imported_when_their_passwords_cannot_be_written() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("can-bo.csv");
    std::fs::write(
        &csv,
        "username,full_name,unit,role\nlan.tran,Trần Thị Lan,van-phong,staff\n",
    )
    .unwrap();
    let nowhere = dir.path().join("no-such-folder/mat-khau.csv");
    let refused = server_command(
        server.data_dir(),
        &[
            "import-users",
            csv.to_str().unwrap(),
            "--passwords",
            nowhere.to_str().unwrap(),
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("nobody was imported"),
        "{}",
        stderr(&refused)
    );
    let users = server_command(server.data_dir(), &["users"], None);
    assert!(!stdout(&users).contains("lan.tran"), "{}", stdout(&users));

    let passwords = dir.path().join("mat-khau.csv");
    let done = server_command(
        server.data_dir(),
        &[
            "import-users",
            csv.to_str().unwrap(),
            "--passwords",
            passwords.to_str().unwrap(),
        ],
        None,
    );
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(std::fs::read_to_string(&passwords)
        .unwrap()
        .starts_with("username,password\nlan.tran,"));
}

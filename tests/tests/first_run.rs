//! A newcomer's first run: the set-up script without root names the Debian
//! packages to install, the server says plainly when its data directory or
//! its address cannot be used, and its start-up lines say what to open,
//! where the data is and who can sign in, the same on every start.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use papi_e2e::{server_binary, workspace_root};

/// Runs `command` as the unprivileged user `nobody`.
fn as_nobody(program: &Path) -> Command {
    let mut command = Command::new("/usr/bin/setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program);
    command
}

/// A temporary folder that `nobody` may enter.
fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn assert_clean_failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "it should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "no backtrace: {stderr}");
    stderr
}

#[test]
fn set_up_without_root_or_sudo_names_the_missing_debian_packages() {
    // A PATH with none of the tools, and no sudo: only what the script needs
    // to find its own folder.
    let bin = open_tempdir();
    for tool in ["id", "dirname"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.path().join(tool)).unwrap();
    }
    let output = as_nobody(Path::new("/bin/bash"))
        .arg(workspace_root().join("scripts/setup"))
        .arg("--browser")
        .env_clear()
        .env("PATH", bin.path())
        .env("HOME", bin.path())
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(
        stderr.contains(
            "These Debian packages are missing: build-essential nodejs npm brotli chromium chromium-driver"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "apt-get install -y build-essential nodejs npm brotli chromium chromium-driver"
        ),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_dir(bin.path()).unwrap().count(),
        2,
        "nothing was installed or written"
    );
}

#[test]
fn a_data_directory_the_server_cannot_write_is_named_plainly() {
    // A folder that the server's user may read but not write.
    let parent = open_tempdir();
    let data = parent.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    let output = as_nobody(&server_binary())
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(
        stderr.contains(&format!(
            "cannot use the data directory {}: Permission denied",
            data.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--data-dir"), "{stderr}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);

    // A data directory that is a file.
    let file = parent.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let output = Command::new(server_binary())
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(file.join("data"))
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(stderr.contains("cannot use the data directory"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
}

#[test]
fn an_address_in_use_is_named_plainly_and_no_data_is_touched() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let output = Command::new(server_binary())
        .args(["--addr", &addr.to_string(), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&output);
    assert!(
        stderr.contains(&format!("the address {addr} is already in use")),
        "{stderr}"
    );
    assert!(stderr.contains("--addr"), "{stderr}");
    assert!(!data.exists(), "no data directory was made");
}

/// Starts the server on `data`, reads its start-up lines up to the address
/// line, and stops it.
fn start_up_lines(data: &Path, production: bool) -> Vec<String> {
    let mut command = Command::new(server_binary());
    command
        .args([
            "--addr",
            "127.0.0.1:0",
            "--dist-dir",
            "/nonexistent",
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if production {
        command.arg("--production");
    }
    let mut child = command.spawn().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let last = line.starts_with("Listening on ");
        lines.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    // The port changes from one start to the next.
    lines
        .into_iter()
        .map(|l| {
            l.split("127.0.0.1:")
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part.to_string()
                    } else {
                        let rest = part.trim_start_matches(|c: char| c.is_ascii_digit());
                        format!("127.0.0.1:PORT{rest}")
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn start_up_says_what_to_open_where_the_data_is_and_who_can_sign_in() {
    let data = tempfile::tempdir().unwrap();
    let first = start_up_lines(data.path(), false);
    let database = std::fs::canonicalize(data.path())
        .unwrap()
        .join("papi.sqlite3");
    let text = first.join("\n");
    assert!(text.contains("Open:  http://127.0.0.1:PORT/"), "{text}");
    assert!(
        text.contains(&format!("Data:  {}", database.display())),
        "{text}"
    );
    for user in papi_e2e::DEMO_USERS {
        assert!(
            first
                .iter()
                .any(|l| l.trim_start().starts_with(user) && l.contains(&format!("{user}-demo"))),
            "{user} is listed with its password:\n{text}"
        );
    }
    assert_eq!(first.last().unwrap(), "Listening on http://127.0.0.1:PORT/");
    assert!(database.exists());
    let again = start_up_lines(data.path(), false);
    assert_eq!(first, again, "a later start says the same");

    // A production server on a new folder says how to make the first account.
    let production = tempfile::tempdir().unwrap();
    let text = start_up_lines(production.path(), true).join("\n");
    assert!(text.contains("PAPI workspace (production)"), "{text}");
    assert!(text.contains("create-admin USERNAME"), "{text}");
    assert!(!text.contains("-demo"), "{text}");
}

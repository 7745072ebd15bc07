use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::workspace_root;

/// The real `papi-server` binary, running on loopback with a temporary data
/// directory. It is killed when dropped.
pub struct Server {
    child: Option<Child>,
    passwords: std::cell::RefCell<std::collections::HashMap<String, String>>,
    args: Vec<String>,
    /// Extra environment of the server process.
    env: Vec<(String, String)>,
    /// The built front end it serves.
    dist: PathBuf,
    port: u16,
    data: tempfile::TempDir,
    log: PathBuf,
}

impl Server {
    /// Starts a server on a free port.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server on a free port with extra command-line options.
    pub fn start_with(args: &[&str]) -> Server {
        Server::start_serving(&workspace_root().join("dist"), args)
    }

    /// Starts a server with extra environment variables (a fault to inject,
    /// say).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut server = Server::prepare(&workspace_root().join("dist"), args);
        server.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        server.spawn();
        server
    }

    /// Starts a server that serves the front end from `dist`.
    pub fn start_serving(dist: &Path, args: &[&str]) -> Server {
        let mut server = Server::prepare(dist, args);
        server.spawn();
        server
    }

    fn prepare(dist: &Path, args: &[&str]) -> Server {
        let data = tempfile::tempdir().expect("temporary data directory");
        let log = data.path().join("server.log");
        Server {
            child: None,
            passwords: Default::default(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            dist: dist.to_path_buf(),
            port: 0,
            data,
            log,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The WebSocket URL of the sync endpoint.
    pub fn sync_url(&self) -> String {
        format!("ws://127.0.0.1:{}/sync", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Adds a user through the binary's command line, with `password`.
    pub fn add_user(&self, username: &str, unit: &str, role: &str, password: &str) {
        let args = [
            "add-user", username, "--name", username, "--unit", unit, "--role", role,
        ];
        self.manage(&args, password);
        self.passwords
            .borrow_mut()
            .insert(username.to_string(), password.to_string());
    }

    /// Notes a password set some other way (a one-time password replaced in
    /// the app), for `login` and `password_of`.
    pub fn remember_password(&self, username: &str, password: &str) {
        self.passwords
            .borrow_mut()
            .insert(username.to_string(), password.to_string());
    }

    /// Resets a user's password through the command line.
    pub fn set_password(&self, username: &str, password: &str) {
        self.manage(&["reset-password", username], password);
        self.passwords
            .borrow_mut()
            .insert(username.to_string(), password.to_string());
    }

    /// Signs `username` in over HTTP with their current password; returns
    /// the answer (`token`, `peer_prefix`, `user`).
    pub fn login(&self, username: &str) -> serde_json::Value {
        let (status, body) = self.post(
            "/api/login",
            None,
            serde_json::json!({ "username": username, "password": self.password_of(username) }),
        );
        assert_eq!(status, 200, "sign in as {username}: {body}");
        body
    }

    /// Calls the API as the holder of `token` (or as nobody); the answer's
    /// status and JSON body (`null` when it has none).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let agent = crate::http();
        let url = self.url(path);
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut request = agent.get(&url);
                if let Some(b) = &bearer {
                    request = request.header("authorization", b);
                }
                request.call()
            }
            (_, body) => {
                let mut request = agent.post(&url);
                if let Some(b) = &bearer {
                    request = request.header("authorization", b);
                }
                match body {
                    Some(body) => request.send_json(body),
                    None => request.send_empty(),
                }
            }
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let value = response
            .body_mut()
            .read_json()
            .unwrap_or(serde_json::Value::Null);
        (status, value)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        self.call("GET", path, token, None)
    }

    pub fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call("POST", path, token, Some(body))
    }

    /// A session token for `username`.
    pub fn token(&self, username: &str) -> String {
        self.login(username)["token"]
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// Makes (or finds) the report of `unit` for `period` (such as
    /// `2026-h1` or `2026-year`) as the holder of `token`; returns its id.
    pub fn report(&self, token: &str, unit: &str, period: &str) -> papi::ids::DocId {
        let (status, body) = self.post(
            "/api/reports",
            Some(token),
            serde_json::json!({ "unit": unit, "period": period }),
        );
        assert_eq!(
            status, 200,
            "make the report of {unit} for {period}: {body}"
        );
        papi::ids::DocId::parse(body["url"].as_str().expect("a url")).expect("an automerge url")
    }

    /// The periods of the plan, in order: `2022-h1`, `2022-year`, … `2030-year`.
    pub fn periods() -> Vec<String> {
        (2022..=2030)
            .flat_map(|y| [format!("{y}-h1"), format!("{y}-year")])
            .collect()
    }

    /// The current password of a user: a demo account's, or the last one set.
    pub fn password_of(&self, username: &str) -> String {
        self.passwords
            .borrow()
            .get(username)
            .cloned()
            .unwrap_or_else(|| format!("{username}-demo"))
    }

    /// Runs a directory command of the binary, giving it `password` on stdin.
    fn manage(&self, args: &[&str], password: &str) {
        use std::io::Write;
        let mut child = Command::new(server_binary())
            .arg("--data-dir")
            .arg(self.data.path())
            .args(args)
            .arg("--password-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("papi-server");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{password}").expect("write the password");
        drop(stdin);
        assert!(
            child.wait().expect("papi-server").success(),
            "papi-server {args:?} failed"
        );
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle`: the server may answer a request
    /// before its log line reaches the file.
    pub fn wait_for_log(&self, needle: &str) {
        crate::wait_for(
            &format!("the log to say {needle:?}"),
            std::time::Duration::from_secs(30),
            || self.log().contains(needle).then_some(()),
        );
    }

    /// Asks the server to stop (SIGTERM) and waits for it; returns whether
    /// it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "could not signal the server"
        );
        let status = child.wait().expect("wait for the server");
        status.success()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data directory, with
    /// other extra command-line options.
    pub fn restart_with(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self.restart();
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The running server's resident memory, in kB (`VmRSS`).
    pub fn rss_kb(&self) -> u64 {
        let pid = self.pid().expect("a running server");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sets the running server's soft file-size limit (RLIMIT_FSIZE) with
    /// `prlimit`: `Some(bytes)` makes every write past that offset fail (as
    /// on a full disk), `None` lifts the limit.
    pub fn limit_file_size(&self, bytes: Option<u64>) {
        let pid = self.pid().expect("a running server").to_string();
        let limit = bytes.map_or("unlimited".to_string(), |b| b.to_string());
        let status = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--fsize={limit}:")])
            .status()
            .expect("prlimit (util-linux) is installed");
        assert!(status.success(), "prlimit --fsize={limit} failed");
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn spawn(&mut self) {
        let binary = server_binary();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log file");
        let mut child = Command::new(&binary)
            .arg("--addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(self.data.path())
            .arg("--dist-dir")
            .arg(&self.dist)
            .args(&self.args)
            // The server's own default filter, as in production: the sync
            // engine's info-level spans cost real time under load.
            .env_remove("PAPI_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // The log is written by this process, not the server, so that limits
        // set on the server's own files (see `limit_file_size`) spare it.
        let mut stderr = child.stderr.take().expect("server stderr");
        std::thread::spawn(move || {
            let mut log = log;
            let _ = std::io::copy(&mut stderr, &mut log);
        });

        // The server prints "Listening on http://ADDR/" (https with TLS)
        // once it accepts connections.
        let stdout = child.stdout.take().expect("server stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let address = line
                    .strip_prefix("Listening on http://")
                    .or_else(|| line.strip_prefix("Listening on https://"));
                if let Some(rest) = address {
                    let port = rest
                        .trim_end_matches('/')
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(port)) => self.port = port,
            _ => {
                let _ = child.kill();
                panic!("the server did not start; its log:\n{}", self.log());
            }
        }
        self.child = Some(child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command of the `papi-server` binary on the data directory
/// `data`, with `stdin` as its input; its output.
pub fn server_command(data: &Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(server_binary())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start papi-server");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write to papi-server");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("papi-server")
}

/// The `papi-server` binary under test.
pub fn server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("PAPI_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let binary = target.join("debug").join("papi-server");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p papi-server` (scripts/test does)",
        binary.display()
    );
    binary
}

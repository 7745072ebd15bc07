//! The end-to-end harness: the real server binary on a free port with its own
//! data directory, and real Chromium driven through ChromeDriver (WebDriver).

mod browser;
mod server;
mod sync_client;

pub use browser::Browser;
pub use server::{server_binary, server_command, Server};
pub use sync_client::{Closed, SyncClient, Synced};

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The workspace's top folder.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Polls `probe` until it gives a value, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The demo accounts, one per role: admin, director, coordinator, unit
/// lead, staff, viewer. Each password is the username followed by `-demo`.
pub const DEMO_USERS: [&str; 6] = [
    "quantri",
    "giamdoc",
    "vanphong",
    "truongphong",
    "chuyenvien",
    "xem",
];

/// The demo plan, as the server seeds it.
pub fn seed_plan() -> papi::schema::Plan {
    papi::plan_file::parse(include_str!("../../server/seed/demo-plan.yaml"))
        .expect("the demo plan file")
        .plan()
}

/// The key (`2026-year`, …) of the period due next under the demo plan.
/// The Budget division's report of the current period, made by the
/// Office.
pub fn budget_report(server: &Server) -> papi::ids::DocId {
    server.report(
        &server.token("vanphong"),
        "phong-ngan-sach",
        &current_period(),
    )
}

pub fn current_period() -> String {
    let plan = seed_plan();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64;
    let periods = plan
        .reporting
        .periods(plan.start_year, plan.end_year)
        .expect("the plan's periods");
    plan.reporting
        .next_due(&periods, now)
        .expect("a period still to come")
        .key()
}

/// A plain HTTP client for the server's API, with status codes as values.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The seed of a randomised test: `PAPI_SEED` when set, else the clock.
/// It is printed, so that a failure can be replayed.
pub fn seed() -> u64 {
    let seed = std::env::var("PAPI_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("seed {seed} (PAPI_SEED={seed} replays it)");
    seed
}

/// A small deterministic random source (xorshift64*) for randomised tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low).max(1))
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A report's first "results" text as the server holds it, read by a
/// separate protocol client signed in as `username`.
pub fn first_results_on_server(server: &Server, username: &str, id: papi::ids::DocId) -> String {
    use automerge::ReadDoc;
    let mut client = SyncClient::connect_as(server, username);
    assert!(client.open(id), "the server has the report");
    let doc = client.doc(id);
    let at = papi::report::TextAt::Section {
        section: 0,
        key: "results",
    };
    doc.text(at.locate(doc).expect("the results text")).unwrap()
}

//! The end-to-end harness: the real server binary on a free port with its own
//! data directory, and real Chromium driven through ChromeDriver (WebDriver).

mod browser;
mod server;
mod sync_client;

pub use browser::Browser;
pub use server::{server_binary, Server};
pub use sync_client::{Closed, SyncClient};

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

/// A plain HTTP client for the server's API, with status codes as values.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

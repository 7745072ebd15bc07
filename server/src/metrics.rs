//! The server's figures for the monitoring an agency already runs:
//! `/metrics` in Prometheus's text format, answered only to the addresses
//! of `--metrics-from` (by default this machine's own).
//!
//! Figures are recorded where they happen, through the `metrics` crate's
//! macros and the names below; the exporter keeps them for the whole
//! process.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Sync connections open now.
pub const CONNECTIONS: &str = "papi_sync_connections";
/// WebSocket messages received and sent on `/sync`, and their bytes.
pub const MESSAGES_IN: &str = "papi_sync_messages_received_total";
pub const MESSAGES_OUT: &str = "papi_sync_messages_sent_total";
pub const BYTES_IN: &str = "papi_sync_received_bytes_total";
pub const BYTES_OUT: &str = "papi_sync_sent_bytes_total";
/// Connections closed for a malformed, oversized or unauthorised message.
pub const REFUSALS: &str = "papi_sync_refusals_total";
/// Documents the sync engine holds in memory now.
pub const DOCUMENTS_LOADED: &str = "papi_documents_loaded";
/// How long one group commit of document chunks took, fsync included.
pub const COMMIT_SECONDS: &str = "papi_storage_commit_seconds";
/// Storage operations that failed (each is retried until it succeeds).
pub const STORAGE_ERRORS: &str = "papi_storage_errors_total";
/// Sign-ins refused: a wrong password, an unknown user, or throttled.
pub const SIGN_IN_FAILURES: &str = "papi_sign_in_failures_total";
/// Panics contained since the start.
pub const PANICS: &str = "papi_panics_total";
/// Scheduled backups that failed, and the time of the last good one.
pub const BACKUP_FAILURES: &str = "papi_backup_failures_total";
pub const BACKUP_LAST_SUCCESS: &str = "papi_backup_last_success_timestamp_seconds";
/// Users with a session that has not expired, read when scraped.
pub const USERS_SIGNED_IN: &str = "papi_users_signed_in";

/// Commit times from a quick SSD's to a struggling disk's.
const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process's one exporter, installed on first use.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(COMMIT_SECONDS.into()), COMMIT_BUCKETS)
                .expect("the commit buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics will be empty");
            }
            describe();
            // Every figure is there from the start, at zero: an alert on a
            // failure count has something to watch before the first one.
            for counter in [
                MESSAGES_IN,
                MESSAGES_OUT,
                BYTES_IN,
                BYTES_OUT,
                REFUSALS,
                STORAGE_ERRORS,
                SIGN_IN_FAILURES,
                PANICS,
                BACKUP_FAILURES,
            ] {
                metrics::counter!(counter).increment(0);
            }
            for gauge in [CONNECTIONS, DOCUMENTS_LOADED, USERS_SIGNED_IN] {
                metrics::gauge!(gauge).increment(0.0);
            }
            // Histograms are kept in buffers that upkeep folds in; without it
            // they grow between scrapes.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                })
                .expect("start the metrics upkeep thread");
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(CONNECTIONS, "Sync connections open now.");
    describe_counter!(MESSAGES_IN, "WebSocket messages received on /sync.");
    describe_counter!(MESSAGES_OUT, "WebSocket messages sent on /sync.");
    describe_counter!(BYTES_IN, Unit::Bytes, "Bytes received on /sync.");
    describe_counter!(BYTES_OUT, Unit::Bytes, "Bytes sent on /sync.");
    describe_counter!(REFUSALS, "Sync connections closed for a refused message.");
    describe_gauge!(
        DOCUMENTS_LOADED,
        "Documents held in memory by the sync engine."
    );
    describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "One group commit of document chunks, fsync included."
    );
    describe_counter!(
        STORAGE_ERRORS,
        "Storage operations that failed and were retried."
    );
    describe_counter!(SIGN_IN_FAILURES, "Sign-ins refused.");
    describe_counter!(PANICS, "Panics contained since the start.");
    describe_counter!(BACKUP_FAILURES, "Scheduled backups that failed.");
    describe_gauge!(
        BACKUP_LAST_SUCCESS,
        Unit::Seconds,
        "When the last scheduled backup was made and checked (Unix time)."
    );
    describe_gauge!(USERS_SIGNED_IN, "Users with an unexpired session.");
}

/// Who may read `/metrics`: addresses and networks (`10.0.0.0/8`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn loopback() -> Vec<Network> {
        vec![
            Network {
                base: IpAddr::from([127, 0, 0, 0]),
                prefix: 8,
            },
            Network {
                base: IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ]
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Network, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let base: IpAddr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IP address"))?;
        let longest = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= longest)
                .ok_or_else(|| format!("{p:?} is not a prefix length of 0 to {longest}"))?,
            None => longest,
        };
        Ok(Network { base, prefix })
    }
}

/// `GET /metrics`.
pub async fn endpoint(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let client = crate::auth::client_address(peer.ip(), &headers, &state.trusted_proxies);
    if !state.metrics_from.iter().any(|n| n.contains(client)) {
        if let Some(held_back) = state.refusals.allow("metrics") {
            tracing::warn!(address = %client, held_back, "metrics refused: address not in --metrics-from");
        }
        return (
            StatusCode::FORBIDDEN,
            "metrics are served only to the addresses of --metrics-from",
        )
            .into_response();
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    match state
        .db
        .call(move |c| {
            c.query_row(
                "SELECT COUNT(DISTINCT user_id) FROM sessions WHERE expires_ms > ?1",
                [now_ms],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
    {
        Ok(users) => metrics::gauge!(USERS_SIGNED_IN).set(users as f64),
        Err(error) => tracing::warn!(%error, "metrics: could not count the users signed in"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_hold_their_addresses_and_no_others() {
        let net: Network = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.20.30.40".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(
            net.contains("::ffff:10.1.1.1".parse().unwrap()),
            "an IPv4 client on a dual-stack socket"
        );
        let one: Network = "192.168.1.7".parse().unwrap();
        assert!(one.contains("192.168.1.7".parse().unwrap()));
        assert!(!one.contains("192.168.1.8".parse().unwrap()));
        let v6: Network = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(Network::loopback()
            .iter()
            .any(|n| n.contains("::1".parse().unwrap())));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("ten".parse::<Network>().is_err());
    }
}

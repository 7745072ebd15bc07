//! The sync engine's document storage, on the server's SQLite database.
//!
//! samod's `Storage` trait cannot report errors, so a write that fails is
//! logged and retried until it succeeds: samod waits for `put` to return
//! before it treats the data as stored, and nothing is ever silently dropped.
//! While any operation is failing, [`StorageHealth`] says so (`/api/health`
//! answers 503), and nothing waiting on it is acknowledged (see `durable`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use samod::storage::{Storage, StorageKey};

use crate::db::{Db, DbError};
use crate::durable::Durable;

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LONGEST_RETRY: Duration = Duration::from_secs(5);

/// Whether storage operations are failing now, and the last error.
#[derive(Clone, Default)]
pub struct StorageHealth {
    inner: Arc<Mutex<HealthState>>,
}

#[derive(Default)]
struct HealthState {
    /// Operations that have failed at least once and not yet succeeded.
    failing: usize,
    last_error: Option<String>,
}

impl StorageHealth {
    /// The last error, while some operation is still failing.
    pub fn failing(&self) -> Option<String> {
        let s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (s.failing > 0).then(|| s.last_error.clone().unwrap_or_default())
    }

    fn started_failing(&self, error: &DbError) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.failing += 1;
        s.last_error = Some(error.to_string());
    }

    fn failed_again(&self, error: &DbError) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.last_error = Some(error.to_string());
    }

    fn recovered(&self) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.failing = s.failing.saturating_sub(1);
    }
}

#[derive(Clone)]
pub struct SqliteStorage {
    db: Db,
    durable: Durable,
    health: StorageHealth,
}

impl SqliteStorage {
    /// Storage on `db` that reports each commit to `durable` and its
    /// failures to `health`.
    pub fn new(db: Db, durable: Durable, health: StorageHealth) -> Self {
        SqliteStorage {
            db,
            durable,
            health,
        }
    }

    /// Runs a storage operation until it succeeds, logging each failure.
    async fn until_done<R, F>(&self, what: &'static str, key: &str, op: F) -> R
    where
        R: Send + 'static,
        F: Fn(&mut rusqlite::Connection) -> rusqlite::Result<R> + Clone + Send + 'static,
    {
        let mut wait = FIRST_RETRY;
        let mut failures = 0u32;
        loop {
            match self.db.call(op.clone()).await {
                Ok(r) => {
                    if failures > 0 {
                        self.health.recovered();
                        tracing::info!(what, key, failures, "storage recovered");
                    }
                    return r;
                }
                Err(error) => {
                    failures += 1;
                    if failures == 1 {
                        self.health.started_failing(&error);
                    } else {
                        self.health.failed_again(&error);
                    }
                    log_failure(what, key, failures, &error);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(LONGEST_RETRY);
                }
            }
        }
    }
}

fn log_failure(what: &str, key: &str, failures: u32, error: &DbError) {
    tracing::error!(what, key, failures, %error, "storage failed; retrying");
}

/// Keys are stored as their parts joined by `/`, which no part contains.
fn key_text(key: &StorageKey) -> String {
    key.to_string()
}

fn parse_key(text: &str) -> Option<StorageKey> {
    StorageKey::from_parts(text.split('/')).ok()
}

impl Storage for SqliteStorage {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let k = key_text(&key);
        let k2 = k.clone();
        self.until_done("load", &k, move |c| {
            c.query_row("SELECT data FROM docs WHERE key = ?1", [&k2], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
        })
        .await
    }

    async fn load_range(&self, prefix: StorageKey) -> HashMap<StorageKey, Vec<u8>> {
        let exact = key_text(&prefix);
        // Every key under `prefix/` sorts between "prefix/" and "prefix0"
        // ('0' follows '/' in ASCII).
        let low = format!("{exact}/");
        let high = format!("{exact}0");
        let exact2 = exact.clone();
        let rows: Vec<(String, Vec<u8>)> = self
            .until_done("load_range", &exact, move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT key, data FROM docs WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
                )?;
                let rows = stmt
                    .query_map((&exact2, &low, &high), |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await;
        rows.into_iter()
            .filter_map(|(k, data)| match parse_key(&k) {
                Some(key) => {
                    self.durable.record(&key, &data);
                    Some((key, data))
                }
                None => {
                    tracing::error!(key = k, "unreadable storage key skipped");
                    None
                }
            })
            .collect()
    }

    async fn put(&self, key: StorageKey, data: Vec<u8>) {
        let k = key_text(&key);
        let k2 = k.clone();
        let data = std::sync::Arc::new(data);
        let row = data.clone();
        self.until_done("put", &k, move |c| {
            c.execute(
                "INSERT INTO docs (key, data) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (&k2, row.as_slice()),
            )
            .map(|_| ())
        })
        .await;
        self.durable.record(&key, &data);
    }

    async fn delete(&self, key: StorageKey) {
        let k = key_text(&key);
        let k2 = k.clone();
        self.until_done("delete", &k, move |c| {
            c.execute("DELETE FROM docs WHERE key = ?1", [&k2])
                .map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[&str]) -> StorageKey {
        StorageKey::from_parts(parts).unwrap()
    }

    #[tokio::test]
    async fn range_loads_only_keys_under_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let s = SqliteStorage::new(db, Durable::default(), StorageHealth::default());
        s.put(key(&["doc1", "incremental", "a"]), vec![1]).await;
        s.put(key(&["doc1", "snapshot", "b"]), vec![2]).await;
        s.put(key(&["doc10", "incremental", "c"]), vec![3]).await;
        s.put(key(&["doc1"]), vec![4]).await;
        s.put(key(&["doc0"]), vec![5]).await;

        let under = s.load_range(key(&["doc1"])).await;
        assert_eq!(under.len(), 3);
        assert_eq!(under[&key(&["doc1", "snapshot", "b"])], vec![2]);
        assert!(!under.contains_key(&key(&["doc10", "incremental", "c"])));

        s.put(key(&["doc1", "snapshot", "b"]), vec![9]).await;
        assert_eq!(s.load(key(&["doc1", "snapshot", "b"])).await, Some(vec![9]));
        s.delete(key(&["doc1", "snapshot", "b"])).await;
        assert_eq!(s.load(key(&["doc1", "snapshot", "b"])).await, None);
        assert_eq!(s.load_range(key(&["doc1", "incremental"])).await.len(), 1);
    }
}

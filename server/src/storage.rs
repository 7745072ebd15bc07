//! The sync engine's document storage, on the server's SQLite database.
//!
//! **Writes are committed in groups, without a timer.** One writer thread
//! owns a connection of its own. It takes everything queued when it is free
//! — a lone keystroke's one chunk, or a whole burst — writes it in one
//! transaction and commits it with one fsync (`synchronous=FULL`), then
//! completes every waiting `put` and marks what became durable (`durable`).
//! The engine issues a step's writes together and does not wait for one
//! before the next; they meet in the queue and share the commit. Reads go
//! through another connection, so they never wait behind a commit.
//!
//! samod's `Storage` trait cannot report errors, so a write that fails is
//! logged and retried until it succeeds: samod waits for `put` to return
//! before it treats the data as stored, and nothing is ever silently dropped.
//! While any operation is failing, [`StorageHealth`] says so (`/api/health`
//! answers 503), and nothing waiting on it is acknowledged.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use automerge::ChangeHash;
use samod::storage::{Storage, StorageKey};
use samod::DocumentId;
use tokio::sync::oneshot;

use crate::db::{Db, DbError};
use crate::durable::{snapshot_heads, Durable};

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LONGEST_RETRY: Duration = Duration::from_secs(5);
/// A group stops growing past this many bytes, so that one commit stays a
/// bounded amount of work.
const GROUP_BYTES: usize = 64 << 20;

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

    /// Runs `attempt` until it succeeds, logging each failure and saying
    /// so meanwhile; `wait` sleeps between attempts.
    fn until_done<R>(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Result<R, DbError>,
        mut wait: impl FnMut(Duration),
    ) -> R {
        let mut pause = FIRST_RETRY;
        let mut failures = 0u32;
        loop {
            match attempt() {
                Ok(r) => {
                    if failures > 0 {
                        self.recovered();
                        tracing::info!(what, failures, "storage recovered");
                    }
                    return r;
                }
                Err(error) => {
                    failures += 1;
                    metrics::counter!(crate::metrics::STORAGE_ERRORS).increment(1);
                    if failures == 1 {
                        self.started_failing(&error);
                    } else {
                        self.failed_again(&error);
                    }
                    tracing::error!(what, failures, %error, "storage failed; retrying");
                    wait(pause);
                    pause = (pause * 2).min(LONGEST_RETRY);
                }
            }
        }
    }
}

/// One write waiting for the writer.
struct Write {
    key: String,
    /// The bytes to put, or none to delete the key.
    data: Option<Arc<Vec<u8>>>,
    /// What it makes durable once committed.
    marks: Option<(DocumentId, Vec<ChangeHash>)>,
    done: oneshot::Sender<()>,
}

#[derive(Clone)]
pub struct SqliteStorage {
    /// Loads go through their own connection.
    reader: Db,
    writer: mpsc::Sender<Write>,
    durable: Durable,
    health: StorageHealth,
}

impl SqliteStorage {
    /// Storage on the database of `db`: a connection for loads and a writer
    /// thread with one for writes, which reports each commit to `durable`
    /// and its failures to `health`.
    pub fn new(db: &Db, durable: Durable, health: StorageHealth) -> Result<Self, DbError> {
        let writer_db = db.another()?;
        let (writer, queue) = mpsc::channel();
        let (d, h) = (durable.clone(), health.clone());
        std::thread::Builder::new()
            .name("papi-storage-writer".into())
            .spawn(move || write_loop(writer_db, queue, d, h))
            .map_err(|e| DbError::Task(e.to_string()))?;
        Ok(SqliteStorage {
            reader: db.another()?,
            writer,
            durable,
            health,
        })
    }

    /// Runs a load until it succeeds, logging each failure.
    async fn load_until_done<R, F>(&self, what: &'static str, op: F) -> R
    where
        R: Send + 'static,
        F: Fn(&mut rusqlite::Connection) -> rusqlite::Result<R> + Clone + Send + 'static,
    {
        let mut pause = FIRST_RETRY;
        let mut failures = 0u32;
        loop {
            match self.reader.call(op.clone()).await {
                Ok(r) => {
                    if failures > 0 {
                        self.health.recovered();
                        tracing::info!(what, failures, "storage recovered");
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
                    tracing::error!(what, failures, %error, "storage failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_RETRY);
                }
            }
        }
    }

    /// Queues a write and waits until it is committed.
    async fn write(&self, key: &StorageKey, data: Option<Vec<u8>>) {
        let marks = data.as_deref().and_then(|d| durable_marks(key, d));
        let doc = key
            .into_iter()
            .next()
            .and_then(|part| DocumentId::from_str(part).ok());
        if let Some(doc) = &doc {
            self.durable.writing(doc);
        }
        let (done, committed) = oneshot::channel();
        let write = Write {
            key: key_text(key),
            data: data.map(Arc::new),
            marks,
            done,
        };
        if self.writer.send(write).is_err() {
            // The writer is gone only if the server is going down: never
            // say a write is done when it is not.
            tracing::error!(%key, "the storage writer has stopped; this write waits forever");
            std::future::pending::<()>().await;
        }
        let _ = committed.await;
        // Here, not in the writer: the engine learns of the completion as
        // this returns, so a batch waiting for the document to settle goes
        // to the engine after it (see `Durable::settled`).
        if let Some(doc) = &doc {
            self.durable.written(doc);
        }
    }
}

/// The writer: takes everything queued, commits it in one transaction,
/// then completes it all.
fn write_loop(db: Db, queue: mpsc::Receiver<Write>, durable: Durable, health: StorageHealth) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        let mut bytes = 0;
        while bytes < GROUP_BYTES {
            match queue.try_recv() {
                Ok(w) => {
                    bytes += w.data.as_ref().map_or(0, |d| d.len());
                    group.push(w);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        health.until_done(
            "commit",
            || db.blocking(|conn| commit(conn, &group)),
            std::thread::sleep,
        );
        metrics::histogram!(crate::metrics::COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
        // Marked durable before any write is told it is done, so that a
        // writer that goes on never finds its own change unmarked.
        let mut marked: HashMap<DocumentId, Vec<ChangeHash>> = HashMap::new();
        for w in &mut group {
            if let Some((doc, hashes)) = w.marks.take() {
                marked.entry(doc).or_default().extend(hashes);
            }
        }
        for (doc, hashes) in marked {
            durable.committed(&doc, hashes);
        }
        for w in group {
            let _ = w.done.send(());
        }
    }
}

fn commit(conn: &mut rusqlite::Connection, group: &[Write]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO docs (key, data) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET data = excluded.data",
        )?;
        let mut delete = tx.prepare_cached("DELETE FROM docs WHERE key = ?1")?;
        for w in group {
            match &w.data {
                Some(data) => put.execute((&w.key, data.as_slice()))?,
                None => delete.execute([&w.key])?,
            };
        }
    }
    tx.commit()
}

/// Keys are stored as their parts joined by `/`, which no part contains.
fn key_text(key: &StorageKey) -> String {
    key.to_string()
}

fn parse_key(text: &str) -> Option<StorageKey> {
    StorageKey::from_parts(text.split('/')).ok()
}

/// What a stored chunk makes durable: an incremental chunk is the change
/// its key names; a snapshot is the document up to the heads in its header.
fn durable_marks(key: &StorageKey, data: &[u8]) -> Option<(DocumentId, Vec<ChangeHash>)> {
    let mut parts = key.into_iter();
    let doc = DocumentId::from_str(parts.next()?).ok()?;
    let hashes = match parts.next()?.as_str() {
        "incremental" => vec![ChangeHash::from_str(parts.next()?).ok()?],
        "snapshot" => match snapshot_heads(data) {
            Some(heads) => heads,
            // Not a plain document chunk: load it to learn its heads.
            None => automerge::Automerge::load(data).ok()?.get_heads(),
        },
        _ => return None,
    };
    Some((doc, hashes))
}

impl Storage for SqliteStorage {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let k = key_text(&key);
        self.load_until_done("load", move |c| {
            c.query_row("SELECT data FROM docs WHERE key = ?1", [&k], |r| r.get(0))
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
        let rows: Vec<(String, Vec<u8>)> = self
            .load_until_done("load_range", move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT key, data FROM docs WHERE key = ?1 OR (key >= ?2 AND key < ?3)",
                )?;
                let rows = stmt
                    .query_map((&exact, &low, &high), |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await;
        rows.into_iter()
            .filter_map(|(k, data)| match parse_key(&k) {
                Some(key) => {
                    // What is loaded was committed by an earlier write.
                    if let Some((doc, hashes)) = durable_marks(&key, &data) {
                        self.durable.committed(&doc, hashes);
                    }
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
        self.write(&key, Some(data)).await;
    }

    async fn delete(&self, key: StorageKey) {
        self.write(&key, None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[&str]) -> StorageKey {
        StorageKey::from_parts(parts).unwrap()
    }

    fn storage() -> (tempfile::TempDir, SqliteStorage, Durable) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let durable = Durable::default();
        let s = SqliteStorage::new(&db, durable.clone(), StorageHealth::default()).unwrap();
        (dir, s, durable)
    }

    #[tokio::test]
    async fn range_loads_only_keys_under_the_prefix() {
        let (_dir, s, _) = storage();
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_writes_shares_commits_and_marks_what_it_stored() {
        use automerge::transaction::Transactable;
        let (_dir, s, durable) = storage();
        let doc_id =
            DocumentId::from_str(&papi::ids::DocId::from_bytes([3; 16]).to_string()).unwrap();
        let mut doc = automerge::Automerge::new();
        let mut puts = Vec::new();
        for i in 0..200 {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "n", i))
                .unwrap();
            let change = doc.get_last_local_change().unwrap();
            let k = StorageKey::from_parts([
                doc_id.to_string().as_str(),
                "incremental",
                change.hash().to_string().as_str(),
            ])
            .unwrap();
            let s = s.clone();
            let bytes = change.raw_bytes().to_vec();
            puts.push(tokio::spawn(async move { s.put(k, bytes).await }));
        }
        for p in puts {
            p.await.unwrap();
        }
        assert!(durable.is_durable(&doc_id, &doc.get_heads()[0]));
        let stored = s
            .load_range(StorageKey::from_parts([doc_id.to_string().as_str()]).unwrap())
            .await;
        assert_eq!(stored.len(), 200);
    }
}

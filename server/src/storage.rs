//! Where documents are stored: the server's SQLite database (table `docs`,
//! one row per chunk, keyed by `papi_sync::Key`'s text), or memory for
//! measurements (`--in-memory`).
//!
//! **Writes are committed in groups, without a timer.** One writer thread
//! owns a connection of its own. It takes everything queued when it is free
//! — a lone keystroke's one chunk, or a whole burst — writes it in one
//! transaction and commits it with one fsync (`synchronous=FULL`), then
//! tells every write's document that it is stored. Documents issue their
//! writes without waiting for one before the next; they meet in the queue
//! and share the commit. Writes are committed in the order they are queued.
//! Loads go through another connection, so they never wait behind a commit.
//!
//! A write that fails is logged and retried until it succeeds: nothing
//! waiting on it is acknowledged meanwhile, and nothing is silently dropped.
//! While any operation is failing, [`StorageHealth`] says so (`/api/health`
//! answers 503).

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use papi::ids::DocId;
use papi_sync::{Key, Write};

use crate::db::{Db, DbError};

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LONGEST_RETRY: Duration = Duration::from_secs(5);
/// A group stops growing past this many bytes, so that one commit stays a
/// bounded amount of work.
const GROUP_BYTES: usize = 64 << 20;

/// What to call once a write is committed.
pub type Done = Box<dyn FnOnce() + Send>;

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

/// One document's write waiting for the writer.
struct Job {
    write: Write,
    done: Done,
}

/// Storage for the sync engine.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    /// Kept in memory only: for measurements, never for real data.
    Memory(Arc<Mutex<BTreeMap<String, Vec<u8>>>>),
}

#[derive(Clone)]
pub struct SqliteStore {
    /// Loads go through their own connection.
    reader: Db,
    writer: mpsc::Sender<Job>,
    health: StorageHealth,
}

impl Store {
    /// Storage on the database of `db`: a connection for loads and a writer
    /// thread with one for writes, which reports its failures to `health`.
    pub fn sqlite(db: &Db, health: StorageHealth) -> Result<Store, DbError> {
        let writer_db = db.another()?;
        let (writer, queue) = mpsc::channel();
        let h = health.clone();
        std::thread::Builder::new()
            .name("papi-storage-writer".into())
            .spawn(move || write_loop(writer_db, queue, h))
            .map_err(|e| DbError::Task(e.to_string()))?;
        Ok(Store::Sqlite(SqliteStore {
            reader: db.another()?,
            writer,
            health,
        }))
    }

    pub fn memory() -> Store {
        Store::Memory(Arc::default())
    }

    /// Every chunk of `doc` (retried until storage answers).
    pub async fn load(&self, doc: DocId) -> Vec<(Key, Vec<u8>)> {
        let prefix = Key::prefix(doc);
        let rows: Vec<(String, Vec<u8>)> = match self {
            Store::Memory(map) => {
                let map = map.lock().unwrap_or_else(|p| p.into_inner());
                map.range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
            Store::Sqlite(s) => {
                // Every key under `prefix` ("<doc>/") sorts between it and
                // "<doc>0" ('0' follows '/' in ASCII).
                let high = format!("{doc}0");
                s.load_until_done("load", move |c| {
                    let mut stmt = c.prepare_cached(
                        "SELECT key, data FROM docs WHERE key >= ?1 AND key < ?2",
                    )?;
                    let rows = stmt
                        .query_map((&prefix, &high), |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    Ok(rows)
                })
                .await
            }
        };
        rows.into_iter()
            .filter_map(|(k, data)| match Key::parse(&k) {
                Some(key) => Some((key, data)),
                None => {
                    tracing::error!(key = k, "unreadable storage key skipped");
                    None
                }
            })
            .collect()
    }

    /// Queues a write; `done` is called once it is committed.
    pub fn write(&self, write: Write, done: Done) {
        match self {
            Store::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
                for (key, bytes) in write.put {
                    map.insert(key.to_string(), bytes);
                }
                for key in write.delete {
                    map.remove(&key.to_string());
                }
                drop(map);
                done();
            }
            Store::Sqlite(s) => {
                if let Err(mpsc::SendError(job)) = s.writer.send(Job { write, done }) {
                    // The writer is gone only if the server is going down:
                    // never say a write is done when it is not.
                    tracing::error!(
                        ticket = job.write.ticket,
                        "the storage writer has stopped; this write is not stored"
                    );
                }
            }
        }
    }
}

impl SqliteStore {
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
}

/// The writer: takes everything queued, commits it in one transaction,
/// then completes it all.
fn write_loop(db: Db, queue: mpsc::Receiver<Job>, health: StorageHealth) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        let mut bytes = 0;
        while bytes < GROUP_BYTES {
            match queue.try_recv() {
                Ok(job) => {
                    bytes += job.write.put.iter().map(|(_, d)| d.len()).sum::<usize>();
                    group.push(job);
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
        for job in group {
            (job.done)();
        }
    }
}

fn commit(conn: &mut rusqlite::Connection, group: &[Job]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO docs (key, data) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET data = excluded.data",
        )?;
        let mut delete = tx.prepare_cached("DELETE FROM docs WHERE key = ?1")?;
        for job in group {
            for (key, data) in &job.write.put {
                put.execute((key.to_string(), data.as_slice()))?;
            }
            for key in &job.write.delete {
                delete.execute([key.to_string()])?;
            }
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).unwrap();
        let s = Store::sqlite(&db, StorageHealth::default()).unwrap();
        (dir, s)
    }

    async fn write(s: &Store, put: Vec<(Key, Vec<u8>)>, delete: Vec<Key>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        s.write(
            Write {
                ticket: 1,
                put,
                delete,
            },
            Box::new(move || {
                let _ = tx.send(());
            }),
        );
        rx.await.unwrap();
    }

    #[tokio::test]
    async fn a_load_reads_only_the_chunks_of_its_document() {
        let (_dir, s) = store();
        let (a, b) = (DocId::from_bytes([1; 16]), DocId::from_bytes([2; 16]));
        let h = automerge::ChangeHash([3; 32]);
        write(
            &s,
            vec![
                (Key::incremental(a, h), vec![1]),
                (Key::snapshot(a, &[h]), vec![2]),
            ],
            vec![],
        )
        .await;
        write(&s, vec![(Key::incremental(b, h), vec![3])], vec![]).await;
        let loaded = s.load(a).await;
        assert_eq!(loaded.len(), 2);
        assert!(loaded.iter().all(|(k, _)| k.doc == a));
        write(&s, vec![], vec![Key::incremental(a, h)]).await;
        assert_eq!(s.load(a).await, vec![(Key::snapshot(a, &[h]), vec![2])]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_writes_shares_commits_and_all_are_stored() {
        let (_dir, s) = store();
        let doc = DocId::from_bytes([3; 16]);
        let mut d = automerge::Automerge::new();
        let mut waits = Vec::new();
        for i in 0..200 {
            d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "n", i))
                .unwrap();
            let change = d.get_last_local_change().unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel();
            s.write(
                Write {
                    ticket: i as u64,
                    put: vec![(
                        Key::incremental(doc, change.hash()),
                        change.raw_bytes().to_vec(),
                    )],
                    delete: vec![],
                },
                Box::new(move || {
                    let _ = tx.send(());
                }),
            );
            waits.push(rx);
        }
        for w in waits {
            w.await.unwrap();
        }
        let mut loaded = automerge::Automerge::new();
        for (_, bytes) in s.load(doc).await {
            loaded.load_incremental(&bytes).unwrap();
        }
        assert_eq!(loaded.get_heads(), d.get_heads());
    }
}

//! Backups of the database, taken while the server runs, and restoring one
//! into a stopped data directory.
//!
//! A backup is SQLite's `VACUUM INTO`: one read transaction, so the copy is
//! the database as it was at one instant, and with the write-ahead log the
//! server goes on committing meanwhile. A backup is reported done only
//! after it has been checked: SQLite's `integrity_check`, every document
//! loads, and every registered document is there. The check lists each
//! document's heads, which a restore compares with what it put in place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use automerge::{Automerge, ChangeHash, LoadOptions, VerificationMode};
use rusqlite::{Connection, OpenFlags};

use crate::DB_FILE;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no database at {}", .0.display())]
    NoDatabase(PathBuf),
    #[error("{} already exists; choose a new file name", .0.display())]
    Exists(PathBuf),
    #[error("{}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is damaged: {detail}", path.display())]
    Damaged { path: PathBuf, detail: String },
    #[error("{} was written by a newer version of the server (schema {found}, this version knows {known}); use that version", path.display())]
    Newer {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("a papi-server is using the data directory {}; stop it first (systemctl stop papi)", .0.display())]
    Running(PathBuf),
    #[error(transparent)]
    Start(#[from] crate::StartError),
}

/// How many bytes of documents are loaded at once while checking.
const CHECK_BATCH_BYTES: usize = 64 << 20;

/// What a checked database holds.
#[derive(Debug)]
pub struct Checked {
    /// Every document, by id, with its heads.
    pub documents: BTreeMap<String, Vec<ChangeHash>>,
    pub bytes: u64,
}

impl Checked {
    /// One line per document: its id and its heads, sorted; the same
    /// database always gives the same text.
    pub fn heads_listing(&self) -> String {
        let mut text = String::new();
        for (id, heads) in &self.documents {
            let mut heads: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
            heads.sort();
            text.push_str(&format!("{id} {}\n", heads.join(",")));
        }
        text
    }
}

/// A finished backup.
#[derive(Debug)]
pub struct Made {
    pub file: PathBuf,
    pub checked: Checked,
    /// How long the copy took, and the check after it.
    pub copying: Duration,
    pub checking: Duration,
}

/// Copies the database of `data_dir` into `target`, which must not exist,
/// and checks the copy. The server may be running. The copy is written
/// beside the target and renamed into place only once checked, so a file
/// at `target` is always a whole, checked backup.
pub fn backup(data_dir: &Path, target: &Path) -> Result<Made, BackupError> {
    let source = data_dir.join(DB_FILE);
    if !source.exists() {
        return Err(BackupError::NoDatabase(source));
    }
    if target.exists() {
        return Err(BackupError::Exists(target.to_path_buf()));
    }
    let partial = with_suffix(target, ".partial");
    let _ = std::fs::remove_file(&partial);
    let started = Instant::now();
    let sqlite = |source| BackupError::Sqlite {
        path: partial.clone(),
        source,
    };
    let copied = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                lower_priority();
                let conn = Connection::open_with_flags(
                    &source,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(Duration::from_secs(30))?;
                conn.execute("VACUUM INTO ?1", [partial.to_string_lossy().as_ref()])
            })
            .join()
            .unwrap_or_else(|_| Err(rusqlite::Error::InvalidQuery))
    })
    .map_err(sqlite);
    // Written to the disk at once, in one burst: left to the kernel, the
    // copy is written back slowly while the check runs, and every commit
    // of the server meanwhile waits behind part of it.
    if let Err(error) = copied.and_then(|_| sync_file(&partial)) {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    let copying = started.elapsed();
    let started = Instant::now();
    let checked = match check(&partial) {
        Ok(checked) => checked,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, target).map_err(|source| BackupError::Io {
        path: target.to_path_buf(),
        source,
    })?;
    sync_parent(target)?;
    Ok(Made {
        file: target.to_path_buf(),
        checked,
        copying,
        checking: started.elapsed(),
    })
}

/// Checks a database file without changing it: SQLite's integrity check,
/// a schema this version knows, every document loads, and every
/// registered document (and the plan) has stored data.
pub fn check(path: &Path) -> Result<Checked, BackupError> {
    let sqlite = |source| BackupError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let damaged = |detail: String| BackupError::Damaged {
        path: path.to_path_buf(),
        detail,
    };
    if !path.exists() {
        return Err(BackupError::NoDatabase(path.to_path_buf()));
    }
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sqlite)?;
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| damaged(e.to_string()))?;
    if integrity != ["ok"] {
        return Err(damaged(integrity.join("; ")));
    }
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite)?;
    let known = crate::db::SCHEMA_VERSION;
    if version > known {
        return Err(BackupError::Newer {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }

    // Rows come in the order of their keys, so each document's chunks (its
    // snapshots and incremental changes) come together. Documents are
    // loaded a batch at a time on every core: a large database is never
    // all in memory, and the check takes the time of the slowest core.
    let mut documents = BTreeMap::new();
    let mut batch: Vec<(String, Vec<u8>)> = Vec::new();
    let mut batch_bytes = 0;
    let mut load = |batch: &mut Vec<(String, Vec<u8>)>| -> Result<(), BackupError> {
        use rayon::prelude::*;
        let loaded: Vec<(String, Result<Vec<ChangeHash>, String>)> = check_pool().install(|| {
            batch
                .par_drain(..)
                .map(|(id, bytes)| {
                    // Every chunk's checksum is checked and every change
                    // decoded; the hashes of the changes are not computed
                    // again (the chunks' checksums already cover their bytes).
                    let options = LoadOptions::new().verification_mode(VerificationMode::DontCheck);
                    let heads = Automerge::load_with_options(&bytes, options)
                        .map(|d| d.get_heads())
                        .map_err(|e| e.to_string());
                    (id, heads)
                })
                .collect()
        });
        for (id, heads) in loaded {
            let heads = heads.map_err(|e| damaged(format!("document {id} does not load: {e}")))?;
            documents.insert(id, heads);
        }
        Ok(())
    };
    {
        let mut rows = conn
            .prepare("SELECT key, data FROM docs ORDER BY key")
            .map_err(sqlite)?;
        let mut rows = rows.query([]).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let key: String = row.get(0).map_err(sqlite)?;
            let mut parts = key.split('/');
            let (Some(doc), Some("snapshot" | "incremental")) = (parts.next(), parts.next()) else {
                continue;
            };
            let data: Vec<u8> = row.get(1).map_err(sqlite)?;
            batch_bytes += data.len();
            match batch.last_mut() {
                Some((id, bytes)) if id == doc => bytes.extend(data),
                _ => {
                    // A batch ends only between documents.
                    if batch_bytes > CHECK_BATCH_BYTES {
                        load(&mut batch)?;
                        batch_bytes = data.len();
                    }
                    batch.push((doc.to_string(), data));
                }
            }
        }
        load(&mut batch)?;
    }
    let mut expected: Vec<String> = conn
        .prepare("SELECT doc_id FROM documents")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sqlite)?;
    let plan: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE name = 'plan_doc'",
            [],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(sqlite)?;
    expected.extend(plan);
    if let Some(missing) = expected.iter().find(|id| !documents.contains_key(*id)) {
        return Err(damaged(format!(
            "document {missing} is registered but has no data"
        )));
    }
    let bytes = std::fs::metadata(path)
        .map_err(|source| BackupError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    Ok(Checked { documents, bytes })
}

/// A restored data directory.
#[derive(Debug)]
pub struct Restored {
    pub checked: Checked,
    /// Where the database it replaced was put, if there was one.
    pub kept_aside: Option<PathBuf>,
}

/// Puts the backup `from` in place as the database of `data_dir`, which no
/// server may be using. The backup is checked first; the database it
/// replaces is renamed, never deleted.
pub fn restore(data_dir: &Path, from: &Path) -> Result<Restored, BackupError> {
    let checked = check(from)?;
    std::fs::create_dir_all(data_dir).map_err(|source| BackupError::Io {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let _lock = crate::lock_data_dir(data_dir).map_err(|e| match e {
        crate::StartError::InUse(path) => BackupError::Running(path),
        other => other.into(),
    })?;
    let live = data_dir.join(DB_FILE);
    let incoming = with_suffix(&live, ".restoring");
    std::fs::copy(from, &incoming).map_err(|source| BackupError::Io {
        path: incoming.clone(),
        source,
    })?;
    sync_file(&incoming)?;
    let kept_aside = if live.exists() {
        let stamp = papi::calendar::file_stamp(now_ms());
        let aside = with_suffix(&live, &format!(".replaced-{stamp}"));
        // The write-ahead log and its index go with their database.
        for suffix in ["-wal", "-shm", ""] {
            let from = with_suffix(&live, suffix);
            if from.exists() {
                let to = with_suffix(&aside, suffix);
                std::fs::rename(&from, &to).map_err(|source| BackupError::Io {
                    path: from.clone(),
                    source,
                })?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&incoming, &live).map_err(|source| BackupError::Io {
        path: live.clone(),
        source,
    })?;
    sync_parent(&live)?;
    Ok(Restored {
        checked,
        kept_aside,
    })
}

/// Backups made on a schedule by a running server: one every `every` into
/// `dir`, keeping the newest `keep`.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

/// The prefix and suffix of a scheduled backup's file name; the middle is
/// its time, so that names sort as the backups were made.
const SCHEDULED: (&str, &str) = ("papi-", ".sqlite3");

impl Schedule {
    /// Makes a backup now, then removes the oldest beyond `keep`: only once
    /// the new one is checked, so that a failing backup removes nothing.
    pub fn run_once(&self, data_dir: &Path) -> Result<Made, BackupError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| BackupError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let name = format!(
            "{}{}{}",
            SCHEDULED.0,
            papi::calendar::file_stamp(now_ms()),
            SCHEDULED.1
        );
        let made = backup(data_dir, &self.dir.join(name))?;
        let mut kept = self.backups()?;
        kept.sort();
        let excess = kept.len().saturating_sub(self.keep.max(1));
        for old in &kept[..excess] {
            if let Err(error) = std::fs::remove_file(old) {
                tracing::warn!(file = %old.display(), %error, "could not remove an old backup");
            }
        }
        Ok(made)
    }

    /// How long until the first backup after a start: one interval after
    /// the newest scheduled backup, so that a restart does not put the next
    /// backup off (a server restarted every few hours would otherwise make
    /// none); at once when there is none yet, or it is overdue.
    fn first_in(&self) -> Duration {
        let newest = self
            .backups()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .max();
        let age = newest.and_then(|at| at.elapsed().ok());
        match age {
            Some(age) => self.every.saturating_sub(age),
            None => Duration::ZERO,
        }
    }

    /// The scheduled backups in the folder (not other files).
    fn backups(&self) -> Result<Vec<PathBuf>, BackupError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| BackupError::Io {
            path: self.dir.clone(),
            source,
        })?;
        Ok(entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(SCHEDULED.0) && n.ends_with(SCHEDULED.1))
            })
            .collect())
    }

    /// Runs for as long as the server does. A failed backup is logged as an
    /// error (and counted by health) and tried again at the next time.
    pub fn start(self, data_dir: PathBuf, failures: BackupHealth) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let first = self.first_in();
            tracing::info!(in_secs = first.as_secs(), "the next scheduled backup");
            let mut every =
                tokio::time::interval_at(tokio::time::Instant::now() + first, self.every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let schedule = self.clone();
                let dir = data_dir.clone();
                let outcome = tokio::task::spawn_blocking(move || schedule.run_once(&dir)).await;
                match outcome {
                    Ok(Ok(made)) => {
                        failures.succeeded();
                        metrics::gauge!(crate::metrics::BACKUP_LAST_SUCCESS)
                            .set(now_ms() as f64 / 1000.0);
                        tracing::info!(
                            file = %made.file.display(),
                            documents = made.checked.documents.len(),
                            bytes = made.checked.bytes,
                            copy_ms = made.copying.as_millis() as u64,
                            check_ms = made.checking.as_millis() as u64,
                            "backup made and checked"
                        );
                    }
                    Ok(Err(error)) => {
                        metrics::counter!(crate::metrics::BACKUP_FAILURES).increment(1);
                        failures.failed(error.to_string());
                        tracing::error!(%error, "scheduled backup failed; the older backups are kept");
                    }
                    Err(error) => {
                        metrics::counter!(crate::metrics::BACKUP_FAILURES).increment(1);
                        failures.failed(error.to_string());
                        tracing::error!(%error, "scheduled backup failed");
                    }
                }
            }
        })
    }
}

/// The last scheduled backup's failure, until one succeeds.
#[derive(Clone, Default)]
pub struct BackupHealth(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl BackupHealth {
    fn failed(&self, error: String) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }

    fn succeeded(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn failing(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A duration written as a number and a unit: `90s`, `30m`, `6h`, `1d`.
pub fn parse_every(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("give a unit: s, m, h or d (such as 6h)")?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| "start with a number, such as 6h")?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    if n == 0 {
        return Err("the time must be more than zero".into());
    }
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// The threads that load documents to check them, one a core.
fn check_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("backup-check-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .expect("start the backup check threads")
    })
}

/// A backup runs beside a server that people are typing into: its
/// threads run only when no other thread wants the processor (Linux's
/// SCHED_IDLE; a lower niceness still let a server thread wait a whole
/// time slice, about 100 ms, behind a check).
fn lower_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: changes the calling thread's own scheduling policy (pid 0
    // is the calling thread on Linux); `param` outlives the call.
    let set = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if set != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the backup's priority");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|source| BackupError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Makes a rename in `path`'s folder survive a power cut.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_file(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_schedule_keeps_the_newest_and_a_failed_backup_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        crate::open_database(&data).await.unwrap();
        let backups = dir.path().join("backups");
        std::fs::create_dir_all(&backups).unwrap();
        for old in [
            "papi-20200101-000000.sqlite3",
            "papi-20210101-000000.sqlite3",
        ] {
            std::fs::write(backups.join(old), "an old backup").unwrap();
        }
        std::fs::write(backups.join("notes.txt"), "kept").unwrap();
        let schedule = Schedule {
            dir: backups.clone(),
            every: Duration::from_secs(3600),
            keep: 2,
        };

        // No database to copy: the older backups all stay.
        let empty = dir.path().join("empty");
        assert!(matches!(
            schedule.run_once(&empty),
            Err(BackupError::NoDatabase(_))
        ));
        assert_eq!(names(&backups).len(), 3);

        let made = schedule.run_once(&data).unwrap();
        let now = names(&backups);
        assert_eq!(now.len(), 3, "{now:?}");
        assert_eq!(now[0], "notes.txt");
        assert_eq!(now[1], "papi-20210101-000000.sqlite3");
        assert_eq!(backups.join(&now[2]), made.file);
        assert!(check(&made.file).unwrap().documents.is_empty());
        assert!(!with_suffix(&made.file, ".partial").exists());
    }

    #[test]
    fn the_first_backup_after_a_start_comes_one_interval_after_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let schedule = Schedule {
            dir: dir.path().to_path_buf(),
            every: Duration::from_secs(6 * 3600),
            keep: 28,
        };
        assert_eq!(schedule.first_in(), Duration::ZERO, "none yet: at once");
        let newest = dir.path().join("papi-20261207-120000.sqlite3");
        std::fs::write(&newest, "a backup").unwrap();
        let file = std::fs::File::options().write(true).open(&newest).unwrap();
        file.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        let wait = schedule.first_in();
        assert!(
            wait > Duration::from_secs(5 * 3600 - 60) && wait <= Duration::from_secs(5 * 3600),
            "{wait:?}"
        );
        file.set_modified(std::time::SystemTime::now() - Duration::from_secs(7 * 3600))
            .unwrap();
        assert_eq!(schedule.first_in(), Duration::ZERO, "overdue: at once");
    }

    #[test]
    fn times_are_a_number_and_a_unit() {
        assert_eq!(parse_every("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_every("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_every("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_every("1d"), Ok(Duration::from_secs(86400)));
        for bad in ["6", "h", "0h", "6w", "-1h", ""] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
    }
}

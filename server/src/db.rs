//! The server's SQLite database: one file in the data directory holding the
//! documents' bytes and the server's own tables.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the database file {} is read-only; the server must be able to write it", .0.display())]
    ReadOnly(PathBuf),
    #[error("the database {} is damaged ({detail}); nothing was changed. Restore it from a backup, or move it away to start anew", path.display())]
    Damaged { path: PathBuf, detail: String },
    #[error("the database file {} is gone or was replaced while the server ran; nothing more is stored until the server is restarted", .0.display())]
    Gone(PathBuf),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

/// Each migration brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: document storage for the sync engine, and server settings.
    "CREATE TABLE docs (key TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
     CREATE TABLE settings (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;",
    // 2: the directory — a tree of units, and users with a unit and a role.
    "CREATE TABLE units (
         id TEXT PRIMARY KEY NOT NULL,
         name TEXT NOT NULL,
         kind TEXT NOT NULL,
         parent TEXT REFERENCES units (id)
     );
     CREATE TABLE users (
         id INTEGER PRIMARY KEY,
         username TEXT NOT NULL UNIQUE COLLATE NOCASE,
         display_name TEXT NOT NULL,
         unit TEXT NOT NULL REFERENCES units (id),
         role TEXT NOT NULL,
         password_hash TEXT NOT NULL
     );",
    // 3: sign-in sessions; only a hash of each token is kept.
    "CREATE TABLE sessions (
         token_hash BLOB PRIMARY KEY NOT NULL,
         user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
         created_ms INTEGER NOT NULL,
         expires_ms INTEGER NOT NULL
     ) WITHOUT ROWID;",
    // 4: the documents the server made, with what access depends on.
    "CREATE TABLE documents (
         doc_id TEXT PRIMARY KEY NOT NULL,
         kind TEXT NOT NULL,
         unit TEXT REFERENCES units (id),
         period TEXT,
         status TEXT NOT NULL DEFAULT 'draft',
         UNIQUE (kind, unit, period)
     ) WITHOUT ROWID;",
    // 5: every review step of a report: who, when (server and device), why.
    "CREATE TABLE report_events (
         id INTEGER PRIMARY KEY,
         doc_id TEXT NOT NULL REFERENCES documents (doc_id),
         action TEXT NOT NULL,
         status TEXT NOT NULL,
         username TEXT NOT NULL,
         server_ms INTEGER NOT NULL,
         device_ms INTEGER,
         reason TEXT NOT NULL DEFAULT ''
     );",
    // 6: proposals to change or retire a measure of the plan, and the
    // Director's decision on each.
    "CREATE TABLE proposals (
         id INTEGER PRIMARY KEY,
         measure_id TEXT NOT NULL,
         kind TEXT NOT NULL,
         proposed_text TEXT NOT NULL DEFAULT '',
         reason TEXT NOT NULL,
         unit TEXT NOT NULL,
         username TEXT NOT NULL,
         created_ms INTEGER NOT NULL,
         status TEXT NOT NULL DEFAULT 'pending',
         decided_by TEXT,
         decided_ms INTEGER,
         note TEXT NOT NULL DEFAULT ''
     );
     CREATE INDEX proposals_by_unit ON proposals (unit, created_ms);",
    // 7: users made with a one-time password must choose their own at
    // their first sign-in.
    "ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;",
    // 8: who first delivered the changes of each actor of a document, and
    // the changes first delivered by someone else (see `authors`).
    "CREATE TABLE authors (
         doc_id TEXT NOT NULL,
         actor TEXT NOT NULL,
         user_id INTEGER NOT NULL REFERENCES users (id),
         first_seen_ms INTEGER NOT NULL,
         PRIMARY KEY (doc_id, actor)
     ) WITHOUT ROWID;
     CREATE TABLE delivered_by_other (
         hash TEXT PRIMARY KEY NOT NULL,
         doc_id TEXT NOT NULL,
         actor TEXT NOT NULL,
         start_op INTEGER NOT NULL,
         end_op INTEGER NOT NULL,
         user_id INTEGER NOT NULL REFERENCES users (id),
         first_seen_ms INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX delivered_by_other_by_doc ON delivered_by_other (doc_id);",
];

/// The schema version this server writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// A handle on the database, cheap to clone. Calls run on tokio's blocking
/// pool so that a slow disk never stalls the async workers.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    file: Arc<FileIdentity>,
}

/// Which file the connection opened, to notice when the path no longer
/// leads to it (the data directory removed or replaced while running): the
/// connection would go on writing into a file that no one can open again.
struct FileIdentity {
    path: PathBuf,
    dev_ino: (u64, u64),
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<FileIdentity> {
        let meta = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            dev_ino: (meta.dev(), meta.ino()),
        })
    }

    fn still_there(&self) -> Result<(), DbError> {
        match std::fs::metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.dev_ino => Ok(()),
            _ => Err(DbError::Gone(self.path.clone())),
        }
    }
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let open_err = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        // SQLite opens a write-protected file read-only without a word.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(open_err)? {
            return Err(DbError::ReadOnly(path.to_path_buf()));
        }
        // A damaged file is refused as it is, before anything is written
        // to it: never repaired or seeded over in silence.
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(|e| DbError::Damaged {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        if check != "ok" {
            return Err(DbError::Damaged {
                path: path.to_path_buf(),
                detail: check,
            });
        }
        // WAL with synchronous=FULL: a committed transaction survives a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        migrate(&mut conn).map_err(open_err)?;
        let file = FileIdentity::of(path).map_err(|_| DbError::Gone(path.to_path_buf()))?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            file: Arc::new(file),
        })
    }

    /// Another connection to the same file, for work that must not wait
    /// behind this one's (WAL lets readers and one writer go on at once).
    pub fn another(&self) -> Result<Db, DbError> {
        let path = &self.file.path;
        let open_err = |source| DbError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            file: self.file.clone(),
        })
    }

    /// Runs `f` with the connection on this thread (the storage writer's
    /// own), after checking that the file is still there.
    pub fn blocking<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
    ) -> Result<R, DbError> {
        self.file.still_there()?;
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(DbError::Sqlite)
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let conn = self.conn.clone();
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            file.still_there()?;
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn).map_err(DbError::Sqlite)
        })
        .await
        .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Writes the write-ahead log back into the main file, so that the data
    /// directory holds one self-contained file after a clean shutdown.
    pub async fn checkpoint(&self) -> Result<(), DbError> {
        self.call(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
            .await
    }

    pub async fn setting(&self, name: &'static str) -> Result<Option<String>, DbError> {
        self.call(move |c| {
            c.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
        })
        .await
    }

    pub async fn set_setting(&self, name: &'static str, value: String) -> Result<(), DbError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
            .map(|_| ())
        })
        .await
    }
}

/// What every connection is set to. synchronous=FULL: a committed
/// transaction survives a power cut.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settings_persist_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("papi.sqlite3");
        let db = Db::open(&path).unwrap();
        assert_eq!(db.setting("plan_doc").await.unwrap(), None);
        db.set_setting("plan_doc", "a".into()).await.unwrap();
        db.set_setting("plan_doc", "b".into()).await.unwrap();
        db.checkpoint().await.unwrap();
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.setting("plan_doc").await.unwrap().as_deref(), Some("b"));
    }

    #[test]
    fn refuses_a_file_that_is_not_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("papi.sqlite3");
        std::fs::write(
            &path,
            b"this is not sqlite, just some bytes that are long enough",
        )
        .unwrap();
        let err = Db::open(&path).err().expect("must refuse");
        assert!(err.to_string().contains("papi.sqlite3"), "{err}");
    }
}

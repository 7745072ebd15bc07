//! The directory: units and users, kept in the server's database (never in
//! documents). Units form a tree — an agency and its divisions, or a
//! province, its districts and their communes.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use papi::access::Role;
use papi::api::UnitKind;
use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::db::{Db, DbError};

pub const MIN_PASSWORD_CHARS: usize = 8;

pub use papi::api::Unit;
use papi::api::{valid_unit_id, IssuedPassword, Problem, UsersImported};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit: String,
    pub role: Role,
    /// Signed in with a one-time password not yet replaced.
    pub must_change_password: bool,
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub unit: &'a str,
    pub role: Role,
    pub password: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("a username is 3 to 32 letters, digits, '.', '_' or '-'")]
    BadUsername,
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("there is no unit {0:?}")]
    NoSuchUnit(String),
    #[error("there is no user {0:?}")]
    NoSuchUser(String),
    #[error("the username {0:?} is taken")]
    Taken(String),
    #[error("a unit id is 2 to 64 lowercase letters, digits or '-'")]
    BadUnitId,
    #[error("the workspace has its agency already ({0}); a unit added under it is a division, an office, a board or a commune")]
    SecondAgency(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// A file to import has problems; nothing was imported.
    #[error("the file has {} problem(s); nothing was imported", .0.len())]
    Problems(Vec<Problem>),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// At most this many password hashes are computed at once: each takes
/// about 19 MiB (argon2id's default), so a burst of sign-ins must not be
/// able to take the machine's memory.
const HASHING_AT_ONCE: usize = 2;
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHING_AT_ONCE);

/// Runs password hashing `work` off the async workers, a few at a time.
async fn hashing<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, DirectoryError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| DirectoryError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DirectoryError::Hash(e.to_string()))
}

/// An argon2id hash of `password`, computed a few at a time.
async fn hashed(password: &str) -> Result<String, DirectoryError> {
    let password = password.to_string();
    hashing(move || hash_password(&password)).await?
}

pub fn hash_password(password: &str) -> Result<String, DirectoryError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(DirectoryError::WeakPassword);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| DirectoryError::Hash(e.to_string()))
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub(crate) fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(4)?;
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        unit: r.get(3)?,
        // The column only ever holds keys written by `add_user`.
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        must_change_password: r.get(5)?,
    })
}

const USER_COLUMNS: &str = "id, username, display_name, unit, role, must_change_password";

/// Makes the unit tree hold `units` (parents before children): new units
/// are added and changed ones updated. Units missing from `units` stay,
/// since users and reports may refer to them. With `replace_root`, the
/// existing top unit (where the first administrator was made, before any
/// plan) gives way to the new one, and everything in it moves there.
/// Returns how many units were added and changed.
pub async fn adopt_units(
    db: &Db,
    units: Vec<Unit>,
    replace_root: bool,
) -> Result<(usize, usize), DirectoryError> {
    Ok(db
        .call(move |c| {
            // Immediate: it reads, then writes what it read decides; a
            // deferred transaction could not take the write lock after
            // another connection (the storage writer) committed meanwhile.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing = read_units(&tx)?;
            let (mut added, mut changed) = (0, 0);
            for u in &units {
                match existing.iter().find(|e| e.id == u.id) {
                    None => {
                        tx.execute(
                            "INSERT INTO units (id, name, kind, parent) VALUES (?1, ?2, ?3, ?4)",
                            (&u.id, &u.name, u.kind.key(), &u.parent),
                        )?;
                        added += 1;
                    }
                    Some(e) if e != u => {
                        tx.execute(
                            "UPDATE units SET name = ?2, kind = ?3, parent = ?4 WHERE id = ?1",
                            (&u.id, &u.name, u.kind.key(), &u.parent),
                        )?;
                        changed += 1;
                    }
                    Some(_) => {}
                }
            }
            let old_root = existing.iter().find(|e| e.parent.is_none());
            if let (true, Some(old), Some(new)) = (replace_root, old_root, units.first()) {
                if old.id != new.id {
                    for table in ["users", "documents", "proposals"] {
                        tx.execute(
                            &format!("UPDATE {table} SET unit = ?2 WHERE unit = ?1"),
                            (&old.id, &new.id),
                        )?;
                    }
                    tx.execute(
                        "UPDATE units SET parent = ?2 WHERE parent = ?1",
                        (&old.id, &new.id),
                    )?;
                    tx.execute("DELETE FROM units WHERE id = ?1", [&old.id])?;
                }
            }
            tx.commit()?;
            Ok((added, changed))
        })
        .await?)
}

fn read_units(c: &rusqlite::Connection) -> rusqlite::Result<Vec<Unit>> {
    let mut stmt = c.prepare("SELECT id, name, kind, parent FROM units ORDER BY rowid")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Unit {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: unit_kind(r, 2)?,
                parent: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>();
    rows
}

/// A unit kind column; only keys written through `Unit` are ever stored.
fn unit_kind(r: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<UnitKind> {
    let key: String = r.get(column)?;
    UnitKind::parse(&key).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            format!("unknown unit kind {key:?}").into(),
        )
    })
}

pub async fn units(db: &Db) -> Result<Vec<Unit>, DirectoryError> {
    Ok(db.call(|c| read_units(c)).await?)
}

/// Adds a unit under `parent` (or at the top).
pub async fn add_unit(db: &Db, unit: Unit) -> Result<(), DirectoryError> {
    if !valid_unit_id(&unit.id) {
        return Err(DirectoryError::BadUnitId);
    }
    let id = unit.id.clone();
    let outcome = db
        .call(move |c| {
            // One agency: the top of the tree, which a plan file names.
            if unit.kind == UnitKind::Agency {
                let agency: Option<String> = c
                    .query_row(
                        "SELECT id FROM units WHERE kind = ?1",
                        [UnitKind::Agency.key()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(agency) = agency {
                    return Ok(Err(DirectoryError::SecondAgency(agency)));
                }
            }
            if let Some(p) = &unit.parent {
                let exists: Option<i64> = c
                    .query_row("SELECT 1 FROM units WHERE id = ?1", [p], |r| r.get(0))
                    .optional()?;
                if exists.is_none() {
                    return Ok(Err(DirectoryError::NoSuchUnit(p.clone())));
                }
            }
            let inserted = c.execute(
                "INSERT OR IGNORE INTO units (id, name, kind, parent) VALUES (?1, ?2, ?3, ?4)",
                (&unit.id, &unit.name, unit.kind.key(), &unit.parent),
            )?;
            Ok(Ok(inserted))
        })
        .await?;
    match outcome {
        Err(refused) => Err(refused),
        Ok(0) => Err(DirectoryError::Taken(id)),
        Ok(_) => Ok(()),
    }
}

pub async fn add_user(db: &Db, new: NewUser<'_>) -> Result<User, DirectoryError> {
    if !valid_username(new.username) {
        return Err(DirectoryError::BadUsername);
    }
    let hash = hashed(new.password).await?;
    let (username, display_name, unit) = (
        new.username.to_string(),
        new.display_name.trim().to_string(),
        new.unit.to_string(),
    );
    let role = new.role;
    let result = db
        .call(move |c| {
            let unit_exists: Option<i64> = c
                .query_row("SELECT 1 FROM units WHERE id = ?1", [&unit], |r| r.get(0))
                .optional()?;
            if unit_exists.is_none() {
                return Ok(Err(DirectoryError::NoSuchUnit(unit)));
            }
            let inserted = c.execute(
                "INSERT OR IGNORE INTO users (username, display_name, unit, role, password_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (&username, &display_name, &unit, role.key(), &hash),
            )?;
            if inserted == 0 {
                return Ok(Err(DirectoryError::Taken(username)));
            }
            let user = c.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [c.last_insert_rowid()],
                user_from_row,
            )?;
            Ok(Ok(user))
        })
        .await?;
    result
}

/// The columns of a users file, in this order.
pub const USERS_CSV_HEADER: [&str; 4] = ["username", "full_name", "unit", "role"];
const MAX_USERS_PER_FILE: usize = 5000;

/// A row of a users file that passed its checks.
struct StaffRow {
    username: String,
    display_name: String,
    unit: String,
    role: Role,
}

/// Imports users from a CSV file (`username,full_name,unit,role`). Every
/// row is checked first; a file with any problem imports nothing. New users
/// get a one-time password, returned here once, that they must change at
/// their first sign-in. A user already there with the same details is left
/// alone, so importing the same file again changes nothing; one whose
/// name, unit or role the file changes is updated (the password stays).
pub async fn import_users(db: &Db, text: &str) -> Result<UsersImported, DirectoryError> {
    let units = units(db).await?;
    let existing = users(db).await?;
    let rows = read_staff(text, &units)?;
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let mut unchanged = 0;
    let mut to_insert = Vec::new();
    for row in rows {
        match existing
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(&row.username))
        {
            Some(u)
                if u.display_name == row.display_name
                    && u.unit == row.unit
                    && u.role == row.role =>
            {
                unchanged += 1
            }
            Some(u) => updated.push((u.username.clone(), row)),
            None => {
                let password = random_password();
                let hash = hashed(&password).await?;
                created.push(IssuedPassword {
                    username: row.username.clone(),
                    password,
                });
                to_insert.push((row, hash));
            }
        }
    }
    let updated_names: Vec<String> = updated.iter().map(|(name, _)| name.clone()).collect();
    let outcome = db
        .call(move |c| {
            let tx = c.transaction()?;
            for (row, hash) in &to_insert {
                let inserted = tx.execute(
                    "INSERT OR IGNORE INTO users
                     (username, display_name, unit, role, password_hash, must_change_password)
                     VALUES (?1, ?2, ?3, ?4, ?5, 1)",
                    (
                        &row.username,
                        &row.display_name,
                        &row.unit,
                        row.role.key(),
                        hash,
                    ),
                )?;
                if inserted == 0 {
                    // Added meanwhile by someone else: the whole file waits.
                    return Ok(Err(row.username.clone()));
                }
            }
            for (username, row) in &updated {
                tx.execute(
                    "UPDATE users SET display_name = ?2, unit = ?3, role = ?4 WHERE username = ?1",
                    (username, &row.display_name, &row.unit, row.role.key()),
                )?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
        .await?;
    if let Err(username) = outcome {
        return Err(DirectoryError::Taken(username));
    }
    Ok(UsersImported {
        created,
        updated: updated_names,
        unchanged,
    })
}

/// Reads and checks every row of a users file.
fn read_staff(text: &str, units: &[Unit]) -> Result<Vec<StaffRow>, DirectoryError> {
    let problem = |line: Option<u64>, place: &str, vi: String, en: String| Problem {
        line: line.map(|l| l as usize),
        place: place.to_string(),
        vi,
        en,
    };
    // Spreadsheets often save CSV with a byte-order mark.
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut problems = Vec::new();
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.to_lowercase()).collect(),
        Err(e) => {
            return Err(DirectoryError::Problems(vec![problem(
                Some(1),
                "",
                format!("tệp không đọc được: {e}"),
                format!("the file cannot be read: {e}"),
            )]))
        }
    };
    if header != USERS_CSV_HEADER {
        return Err(DirectoryError::Problems(vec![problem(
            Some(1),
            "header",
            format!("dòng đầu phải là {}", USERS_CSV_HEADER.join(",")),
            format!("the first line must be {}", USERS_CSV_HEADER.join(",")),
        )]));
    }
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line());
                problems.push(problem(
                    line,
                    "",
                    format!("dòng không đọc được: {e}"),
                    format!("the line cannot be read: {e}"),
                ));
                continue;
            }
        };
        let line = record.position().map(|p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != USERS_CSV_HEADER.len() {
            problems.push(problem(
                line,
                "",
                format!("có {} cột, cần 4", record.len()),
                format!("{} columns, 4 expected", record.len()),
            ));
            continue;
        }
        let (username, name, unit, role) = (&record[0], &record[1], &record[2], &record[3]);
        let before = problems.len();
        if !valid_username(username) {
            problems.push(problem(
                line,
                "username",
                format!("tên đăng nhập {username:?} phải có 3–32 chữ cái không dấu, chữ số, '.', '_' hoặc '-'"),
                format!("the username {username:?} must be 3–32 letters, digits, '.', '_' or '-'"),
            ));
        } else if !seen.insert(username.to_lowercase()) {
            problems.push(problem(
                line,
                "username",
                format!("tên đăng nhập {username:?} đã có ở dòng trước"),
                format!("the username {username:?} appears on an earlier line"),
            ));
        }
        if name.is_empty() {
            problems.push(problem(
                line,
                "full_name",
                "chưa có họ tên".into(),
                "the full name is empty".into(),
            ));
        }
        if !units.iter().any(|u| u.id == unit) {
            problems.push(problem(
                line,
                "unit",
                format!("không có đơn vị {unit:?}"),
                format!("there is no unit {unit:?}"),
            ));
        }
        let parsed_role = Role::parse(role);
        if parsed_role.is_none() {
            problems.push(problem(
                line,
                "role",
                format!("không có vai trò {role:?}; dùng admin, director, coordinator, unit_lead, staff hoặc viewer"),
                format!("no role {role:?}; use admin, director, coordinator, unit_lead, staff or viewer"),
            ));
        }
        if let (true, Some(role)) = (problems.len() == before, parsed_role) {
            rows.push(StaffRow {
                username: username.to_string(),
                display_name: name.to_string(),
                unit: unit.to_string(),
                role,
            });
        }
    }
    if rows.len() > MAX_USERS_PER_FILE {
        problems.push(problem(
            None,
            "",
            format!("tối đa {MAX_USERS_PER_FILE} người mỗi tệp"),
            format!("at most {MAX_USERS_PER_FILE} users per file"),
        ));
    }
    if problems.is_empty() && rows.is_empty() {
        problems.push(problem(
            None,
            "",
            "tệp không có người dùng nào".into(),
            "the file has no users".into(),
        ));
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(DirectoryError::Problems(problems))
    }
}

/// Sets a new password (an administrator's reset) and ends the user's
/// sessions. A user who still has a one-time password keeps having to
/// choose their own.
pub async fn set_password(db: &Db, username: &str, password: &str) -> Result<(), DirectoryError> {
    replace_password(db, username, password, false).await
}

/// The user's own new password: it ends their sessions and the duty to
/// change a one-time password.
pub async fn choose_password(
    db: &Db,
    username: &str,
    password: &str,
) -> Result<(), DirectoryError> {
    replace_password(db, username, password, true).await
}

async fn replace_password(
    db: &Db,
    username: &str,
    password: &str,
    chosen: bool,
) -> Result<(), DirectoryError> {
    let hash = hashed(password).await?;
    let name = username.to_string();
    let changed = db
        .call(move |c| {
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?1,
                     must_change_password = must_change_password AND NOT ?3
                 WHERE username = ?2",
                (&hash, &name, chosen),
            )?;
            // A new password signs the user out everywhere.
            tx.execute(
                "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
                [&name],
            )?;
            tx.commit()?;
            Ok(changed)
        })
        .await?;
    if changed == 0 {
        return Err(DirectoryError::NoSuchUser(username.to_string()));
    }
    Ok(())
}

pub async fn users(db: &Db) -> Result<Vec<User>, DirectoryError> {
    Ok(db
        .call(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY username"
            ))?;
            let rows = stmt
                .query_map([], user_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?)
}

/// The user with this username and password, if the password is right.
/// An unknown username costs the same hashing work as a wrong password, so
/// that timing does not tell which usernames exist.
pub async fn check_password(
    db: &Db,
    username: &str,
    password: &str,
) -> Result<Option<User>, DirectoryError> {
    let name = username.to_string();
    let found = db
        .call(move |c| {
            c.query_row(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"),
                [&name],
                |r| Ok((user_from_row(r)?, r.get::<_, String>(6)?)),
            )
            .optional()
        })
        .await?;
    let password = password.to_string();
    hashing(move || match found {
        Some((user, hash)) => password_matches(&password, &hash).then_some(user),
        None => {
            let _ = password_matches(&password, dummy_hash());
            None
        }
    })
    .await
}

/// The demo accounts: (username, name, unit, role). Each one's password is
/// its username followed by `-demo`.
pub const DEMO_ACCOUNTS: [(&str, &str, &str, Role); 6] = [
    ("quantri", "Quản trị hệ thống", "so-tai-chinh", Role::Admin),
    ("giamdoc", "Giám đốc Sở", "ban-giam-doc", Role::Director),
    (
        "vanphong",
        "Chuyên viên Văn phòng",
        "van-phong",
        Role::Coordinator,
    ),
    (
        "truongphong",
        "Trưởng phòng Ngân sách",
        "phong-ngan-sach",
        Role::UnitLead,
    ),
    (
        "chuyenvien",
        "Chuyên viên Phòng Ngân sách",
        "phong-ngan-sach",
        Role::Staff,
    ),
    (
        "xem",
        "Cán bộ Thanh tra (chỉ xem)",
        "thanh-tra",
        Role::Viewer,
    ),
];

/// The demo usernames, in the order of `DEMO_ACCOUNTS`.
pub const DEMO_USERNAMES: [&str; 6] = [
    DEMO_ACCOUNTS[0].0,
    DEMO_ACCOUNTS[1].0,
    DEMO_ACCOUNTS[2].0,
    DEMO_ACCOUNTS[3].0,
    DEMO_ACCOUNTS[4].0,
    DEMO_ACCOUNTS[5].0,
];

pub fn demo_password(username: &str) -> String {
    format!("{username}-demo")
}

/// Creates the demo accounts if the directory has no users yet; returns
/// whether it did.
pub async fn ensure_demo_accounts(db: &Db) -> Result<bool, DirectoryError> {
    if !users(db).await?.is_empty() {
        return Ok(false);
    }
    for (username, name, unit, role) in DEMO_ACCOUNTS {
        add_user(
            db,
            NewUser {
                username,
                display_name: name,
                unit,
                role,
                password: &demo_password(username),
            },
        )
        .await?;
    }
    Ok(true)
}

/// A new password: 16 characters from an alphabet without look-alikes.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A hash to verify against when the username does not exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such user, no such password").unwrap_or_default())
}

/// The demo agency's units, for tests that need a unit tree.
#[cfg(test)]
pub async fn seed_units(db: &Db) -> Result<(), DirectoryError> {
    adopt_units(db, crate::plan_import::demo_plan_file().units(), false).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("d.sqlite3")).unwrap();
        seed_units(&db).await.unwrap();
        (dir, db)
    }

    fn lead<'a>(username: &'a str, password: &'a str) -> NewUser<'a> {
        NewUser {
            username,
            display_name: "Nguyễn Văn An",
            unit: "phong-ngan-sach",
            role: Role::UnitLead,
            password,
        }
    }

    #[tokio::test]
    async fn the_seed_tree_holds_the_agency_and_its_units() {
        let (_d, db) = db().await;
        let units = units(&db).await.unwrap();
        let top: Vec<_> = units.iter().filter(|u| u.parent.is_none()).collect();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].name, "Sở Tài chính tỉnh Sóc Trăng");
        for name in [
            "Ban Giám đốc",
            "Văn phòng",
            "Thanh tra",
            "Phòng Quản lý Ngân sách và Tài chính hành chính sự nghiệp",
        ] {
            let u = units
                .iter()
                .find(|u| u.name == name)
                .unwrap_or_else(|| panic!("{name}"));
            assert_eq!(u.parent.as_deref(), Some("so-tai-chinh"));
        }
        // Seeding twice changes nothing.
        seed_units(&db).await.unwrap();
        assert_eq!(super::units(&db).await.unwrap().len(), units.len());
    }

    #[tokio::test]
    async fn a_province_district_commune_tree_fits_too() {
        let (_d, db) = db().await;
        let unit = |id: &str, kind: &str, parent: Option<&str>| Unit {
            id: id.into(),
            name: id.into(),
            kind: UnitKind::parse(kind).unwrap(),
            parent: parent.map(Into::into),
        };
        add_unit(&db, unit("soc-trang", "province", None))
            .await
            .unwrap();
        add_unit(&db, unit("my-xuyen", "district", Some("soc-trang")))
            .await
            .unwrap();
        add_unit(&db, unit("dai-tam", "commune", Some("my-xuyen")))
            .await
            .unwrap();
        assert!(matches!(
            add_unit(&db, unit("lac", "commune", Some("nowhere"))).await,
            Err(DirectoryError::NoSuchUnit(_))
        ));
        assert!(matches!(
            add_unit(&db, unit("dai-tam", "commune", None)).await,
            Err(DirectoryError::Taken(_))
        ));
        assert!(matches!(
            add_unit(&db, unit("Bad Id", "commune", None)).await,
            Err(DirectoryError::BadUnitId)
        ));
    }

    #[tokio::test]
    async fn passwords_are_argon2id_and_checked() {
        let (_d, db) = db().await;
        let user = add_user(&db, lead("an.nguyen", "mật khẩu dài"))
            .await
            .unwrap();
        assert_eq!(user.role, Role::UnitLead);
        let stored: String = db
            .call(|c| c.query_row("SELECT password_hash FROM users", [], |r| r.get(0)))
            .await
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("mật khẩu"));

        assert_eq!(
            check_password(&db, "an.nguyen", "mật khẩu dài")
                .await
                .unwrap(),
            Some(user)
        );
        assert_eq!(
            check_password(&db, "an.nguyen", "sai mật khẩu")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            check_password(&db, "nobody", "mật khẩu dài").await.unwrap(),
            None
        );

        set_password(&db, "an.nguyen", "mật khẩu mới!")
            .await
            .unwrap();
        assert!(check_password(&db, "an.nguyen", "mật khẩu dài")
            .await
            .unwrap()
            .is_none());
        assert!(check_password(&db, "an.nguyen", "mật khẩu mới!")
            .await
            .unwrap()
            .is_some());
        assert!(matches!(
            set_password(&db, "nobody", "12345678").await,
            Err(DirectoryError::NoSuchUser(_))
        ));
    }

    #[tokio::test]
    async fn bad_users_are_refused_and_nothing_is_stored() {
        let (_d, db) = db().await;
        assert!(matches!(
            add_user(&db, lead("a", "12345678")).await,
            Err(DirectoryError::BadUsername)
        ));
        assert!(matches!(
            add_user(&db, lead("x y", "12345678")).await,
            Err(DirectoryError::BadUsername)
        ));
        assert!(matches!(
            add_user(&db, lead("ok.name", "short")).await,
            Err(DirectoryError::WeakPassword)
        ));
        let mut no_unit = lead("ok.name", "12345678");
        no_unit.unit = "nowhere";
        assert!(matches!(
            add_user(&db, no_unit).await,
            Err(DirectoryError::NoSuchUnit(_))
        ));
        assert!(users(&db).await.unwrap().is_empty());
        add_user(&db, lead("ok.name", "12345678")).await.unwrap();
        assert!(matches!(
            add_user(&db, lead("OK.NAME", "12345678")).await,
            Err(DirectoryError::Taken(_))
        ));
        assert_eq!(users(&db).await.unwrap().len(), 1);
    }
}

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

const UNITS_SEED: &str = include_str!("../seed/units.json");
pub const MIN_PASSWORD_CHARS: usize = 8;

pub use papi::api::Unit;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub unit: String,
    pub role: Role,
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
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn valid_username(name: &str) -> bool {
    (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_unit_id(id: &str) -> bool {
    (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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
    })
}

const USER_COLUMNS: &str = "id, username, display_name, unit, role";

/// Fills the unit tree from the seed on the first start.
pub async fn seed_units(db: &Db) -> Result<(), DirectoryError> {
    let units: Vec<Unit> = serde_json::from_str(UNITS_SEED).expect("seed/units.json is valid");
    db.call(move |c| {
        let count: i64 = c.query_row("SELECT COUNT(*) FROM units", [], |r| r.get(0))?;
        if count > 0 {
            return Ok(());
        }
        let tx = c.transaction()?;
        for u in &units {
            tx.execute(
                "INSERT INTO units (id, name, kind, parent) VALUES (?1, ?2, ?3, ?4)",
                (&u.id, &u.name, u.kind.key(), &u.parent),
            )?;
        }
        tx.commit()
    })
    .await?;
    Ok(())
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
    Ok(db
        .call(|c| {
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
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?)
}

/// Adds a unit under `parent` (or at the top).
pub async fn add_unit(db: &Db, unit: Unit) -> Result<(), DirectoryError> {
    if !valid_unit_id(&unit.id) {
        return Err(DirectoryError::BadUnitId);
    }
    let parent = unit.parent.clone();
    let id = unit.id.clone();
    let outcome = db
        .call(move |c| {
            if let Some(p) = &unit.parent {
                let exists: Option<i64> = c
                    .query_row("SELECT 1 FROM units WHERE id = ?1", [p], |r| r.get(0))
                    .optional()?;
                if exists.is_none() {
                    return Ok(Err(()));
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
        Err(()) => Err(DirectoryError::NoSuchUnit(parent.unwrap_or_default())),
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

/// Sets a new password and ends the user's sessions.
pub async fn set_password(db: &Db, username: &str, password: &str) -> Result<(), DirectoryError> {
    let hash = hashed(password).await?;
    let name = username.to_string();
    let changed = db
        .call(move |c| {
            let tx = c.transaction()?;
            let changed = tx.execute(
                "UPDATE users SET password_hash = ?1 WHERE username = ?2",
                (&hash, &name),
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
                |r| Ok((user_from_row(r)?, r.get::<_, String>(5)?)),
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

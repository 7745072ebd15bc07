//! Sign-in sessions: random tokens, of which the database keeps only a
//! SHA-256 hash, so that a copy of the database signs nobody in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use crate::db::{Db, DbError};
use crate::directory::User;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new session for `user`: the token to hand to the client, and when it expires.
pub async fn create(db: &Db, user: &User, lifetime: Duration) -> Result<(String, i64), DbError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let now = now_ms();
    let expires = now + lifetime.as_millis() as i64;
    let (h, id) = (hash(&token), user.id);
    db.call(move |c| {
        // Expired sessions are cleared as new ones are made.
        c.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [now])?;
        c.execute(
            "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            (&h, id, now, expires),
        )
        .map(|_| ())
    })
    .await?;
    Ok((token, expires))
}

/// The user a token signs in, if the session exists and has not expired.
pub async fn user(db: &Db, token: &str) -> Result<Option<User>, DbError> {
    let h = hash(token);
    let now = now_ms();
    db.call(move |c| {
        c.query_row(
            "SELECT u.id, u.username, u.display_name, u.unit, u.role, u.must_change_password
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.expires_ms > ?2",
            (&h, now),
            crate::directory::user_from_row,
        )
        .optional()
    })
    .await
}

pub async fn end(db: &Db, token: &str) -> Result<(), DbError> {
    let h = hash(token);
    db.call(move |c| {
        c.execute("DELETE FROM sessions WHERE token_hash = ?1", [&h])
            .map(|_| ())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{add_user, seed_units, NewUser};
    use papi::access::Role;

    #[tokio::test]
    async fn tokens_sign_in_until_they_expire_or_end() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.sqlite3")).unwrap();
        seed_units(&db).await.unwrap();
        let user = add_user(
            &db,
            NewUser {
                username: "lan.tran",
                display_name: "Trần Thị Lan",
                unit: "van-phong",
                role: Role::Coordinator,
                password: "12345678",
            },
        )
        .await
        .unwrap();

        let (token, _) = create(&db, &user, Duration::from_secs(3600)).await.unwrap();
        assert_eq!(user_of(&db, &token).await, Some(user.clone()));
        assert_eq!(user_of(&db, "not-a-token").await, None);
        let stored: Vec<u8> = db
            .call(|c| c.query_row("SELECT token_hash FROM sessions", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_ne!(stored, token.as_bytes(), "only a hash is stored");

        end(&db, &token).await.unwrap();
        assert_eq!(user_of(&db, &token).await, None);

        let (short, _) = create(&db, &user, Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            user_of(&db, &short).await,
            None,
            "an expired session signs nobody in"
        );
    }

    async fn user_of(db: &Db, token: &str) -> Option<User> {
        user(db, token).await.unwrap()
    }
}

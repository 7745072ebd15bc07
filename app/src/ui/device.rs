//! What each user of a shared device keeps on it, apart from the others.
//!
//! Several staff of a commune often share one phone or office computer. Each
//! user has a document database of their own (IndexedDB) and their own
//! small values (review steps waiting to be sent, answers kept for reading
//! offline): signing in as another user never shows, syncs or sends them.
//! What is device-wide is only what is the same for everyone: the language,
//! who is signed in now, and the plan's address.

use std::cell::Cell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::store::{Store, StoreError};
use super::{session, settings};

/// The one database of the versions that kept every user's documents
/// together.
const SHARED_DATABASE: &str = "papi-workspace";
/// Who took over the shared database.
const SHARED_OWNER_KEY: &str = "shared_database_owner";

/// The name of `user`'s document database on this device.
///
/// The documents of the versions that kept one database for everyone go,
/// with the review steps they were waiting to send, to the first user who
/// signs in after the update: the person who was using the device then.
pub fn database(user: i64) -> String {
    match settings::get::<i64>(SHARED_OWNER_KEY) {
        Some(owner) if owner == user => SHARED_DATABASE.to_string(),
        Some(_) => format!("{SHARED_DATABASE}.u{user}"),
        // Without the mark the next user would take the database too: a
        // device that cannot keep it gives this user one of their own.
        None => match settings::set(SHARED_OWNER_KEY, &user) {
            Ok(()) => {
                adopt_shared_values(user);
                SHARED_DATABASE.to_string()
            }
            Err(_) => format!("{SHARED_DATABASE}.u{user}"),
        },
    }
}

/// Moves the values that were kept for everyone to `user`.
fn adopt_shared_values(user: i64) {
    let shared = settings::keys()
        .into_iter()
        .filter(|k| k == "outbox" || k.starts_with("kept:"));
    for key in shared {
        if let Some(value) = settings::get::<serde_json::Value>(&key) {
            if settings::set(&own_key(user, &key), &value).is_ok() {
                settings::remove(&key);
            }
        }
    }
}

/// The key under which `user` keeps the value `key`.
pub fn own_key(user: i64, key: &str) -> String {
    format!("u{user}.{key}")
}

thread_local! {
    static PAGE_USER: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Makes `user` the page's user. A page serves one user from the start of
/// their workspace to its end: another user's sign-in reloads it, so that
/// nothing of the first is still in memory or written under the second.
///
/// Another tab of the same browser may sign out and sign someone else in;
/// this page then reloads as well, before it syncs or keeps anything under
/// the new session.
pub fn bind(user: i64) {
    PAGE_USER.with(|u| u.set(Some(user)));
    let Some(window) = web_sys::window() else {
        return;
    };
    let watch =
        Closure::<dyn FnMut(web_sys::StorageEvent)>::new(move |event: web_sys::StorageEvent| {
            if event.key() != Some(settings::full(session::KEY)) {
                return;
            }
            if session::cached().map(|who| who.id) != Some(user) {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().reload();
                }
            }
        });
    let _ = window.add_event_listener_with_callback("storage", watch.as_ref().unchecked_ref());
    // Lives as long as the page, as the binding does.
    watch.forget();
}

/// The key under which the page's user keeps `key`; None before a
/// workspace has started.
pub fn page_key(key: &str) -> Option<String> {
    PAGE_USER.with(Cell::get).map(|user| own_key(user, key))
}

/// Removes everything `user` keeps on this device: their documents and
/// their own values. The caller has made sure that the server has all of it.
pub async fn remove(user: i64) -> Result<(), StoreError> {
    Store::delete_database(&database(user)).await?;
    let prefix = own_key(user, "");
    for key in settings::keys() {
        if key.starts_with(&prefix) {
            settings::remove(&key);
        }
    }
    Ok(())
}

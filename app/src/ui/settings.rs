//! Small values kept on this device, in localStorage (through gloo-storage):
//! the language, who is signed in, the plan's address, review steps waiting
//! to be sent, and answers kept for reading offline. Documents live in
//! IndexedDB (`store`), never here: localStorage holds a few megabytes of
//! strings and blocks the page.

use gloo_storage::{LocalStorage, Storage};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Every key of the app starts with it.
const PREFIX: &str = "papi.";

/// The key as the browser's storage has it (another tab's `storage` event
/// names it so).
pub fn full(key: &str) -> String {
    format!("{PREFIX}{key}")
}

/// The value kept under `key`, if there is one that reads as `T`.
pub fn get<T: DeserializeOwned>(key: &str) -> Option<T> {
    LocalStorage::get(full(key)).ok()
}

/// A text kept under `key`: as JSON, or as the bare text that the first
/// versions of the app wrote.
pub fn get_text(key: &str) -> Option<String> {
    get::<String>(key).or_else(|| LocalStorage::raw().get_item(&full(key)).ok().flatten())
}

/// Keeps `value` under `key`. A device whose storage is full or refused
/// says so in the console; the value then lives only as long as the page.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), String> {
    LocalStorage::set(full(key), value).map_err(|e| {
        let text = format!("could not keep {key} on this device: {e}");
        leptos::logging::error!("{text}");
        text
    })
}

pub fn remove(key: &str) {
    LocalStorage::delete(full(key));
}

/// Every key the app keeps on this device.
pub fn keys() -> Vec<String> {
    let storage = LocalStorage::raw();
    let count = storage.length().unwrap_or(0);
    (0..count)
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter_map(|k| k.strip_prefix(PREFIX).map(str::to_string))
        .collect()
}

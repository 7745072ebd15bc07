//! Letters typed wait in their box until typing pauses, then go into the
//! document together: on a phone, recording a keystroke (the document's
//! change, the device's write, the message to the server) takes longer than
//! a frame, and a person typing steadily should not wait for it after every
//! letter.
//!
//! They wait at most a moment: until no key has come for `PAUSE_MS`, and
//! never more than `AT_THE_LATEST_MS` after the first of them, so colleagues
//! still see the text grow while someone types on. Whatever reads a box's
//! text first puts its letters in (see `CollabText`), and a page being
//! hidden (a phone switching to another app) puts them all in at once.
//! While letters wait, the status does not say "saved".

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::repo::try_repo;

/// A pause in typing, in milliseconds.
const PAUSE_MS: f64 = 300.0;
/// The longest that letters wait while typing goes on, in milliseconds.
const AT_THE_LATEST_MS: f64 = 1000.0;

thread_local! {
    static WAITING: RefCell<Vec<Box<dyn FnOnce()>>> = RefCell::new(Vec::new());
    /// When the first of the waiting work was queued; `None` when none waits.
    static FIRST: Cell<Option<f64>> = const { Cell::new(None) };
    static LAST_KEY: Cell<f64> = const { Cell::new(0.0) };
    /// Numbers each batch, so that a timer of one already run does nothing.
    static BATCH: Cell<u64> = const { Cell::new(0) };
    static WATCHING_HIDE: Cell<bool> = const { Cell::new(false) };
}

/// A key was pressed: the pause starts again.
pub fn keystroke() {
    LAST_KEY.set(js_sys::Date::now());
}

/// Runs `f` once typing pauses (see the module's note).
pub fn when_typing_pauses(f: impl FnOnce() + 'static) {
    WAITING.with(|w| w.borrow_mut().push(Box::new(f)));
    watch_hide();
    if FIRST.get().is_some() {
        return;
    }
    let now = js_sys::Date::now();
    FIRST.set(Some(now));
    LAST_KEY.set(now);
    let batch = BATCH.get() + 1;
    BATCH.set(batch);
    if let Some(repo) = try_repo() {
        repo.refresh_status();
    }
    wake_in(PAUSE_MS, batch);
}

/// Whether typed letters wait to go into their document.
pub fn letters_waiting() -> bool {
    FIRST.get().is_some()
}

fn wake_in(ms: f64, batch: u64) {
    let wake = Closure::once_into_js(move || {
        if BATCH.get() != batch {
            return;
        }
        let Some(first) = FIRST.get() else {
            return;
        };
        let due = (LAST_KEY.get() + PAUSE_MS).min(first + AT_THE_LATEST_MS);
        let left = due - js_sys::Date::now();
        if left > 1.0 {
            wake_in(left, batch);
        } else {
            run_waiting();
        }
    });
    let armed = web_sys::window().is_some_and(|w| {
        w.set_timeout_with_callback_and_timeout_and_arguments_0(wake.unchecked_ref(), ms as i32)
            .is_ok()
    });
    if !armed {
        run_waiting();
    }
}

fn run_waiting() {
    FIRST.set(None);
    let waiting = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
    for f in waiting {
        f();
    }
    if let Some(repo) = try_repo() {
        repo.refresh_status();
    }
}

fn watch_hide() {
    if WATCHING_HIDE.replace(true) {
        return;
    }
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let on_hide = Closure::<dyn FnMut()>::new(|| {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        if hidden && letters_waiting() {
            run_waiting();
        }
    });
    let _ = document
        .add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
    // Listens for the life of the page.
    on_hide.forget();
}

//! Work that a keystroke causes but the letter on the screen does not need:
//! run once the browser has painted the frame, so a phone shows what was
//! typed first and records it a moment later.
//!
//! A page being hidden (a phone switching to another app) paints no more
//! frames; what waits is then run at once, and a timer runs it in any case
//! should no frame come, so nothing typed stays only in a text box.

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Runs when no frame has come by then (a hidden page), in milliseconds.
const AT_THE_LATEST_MS: i32 = 250;

thread_local! {
    static WAITING: RefCell<Vec<Box<dyn FnOnce()>>> = RefCell::new(Vec::new());
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    static WATCHING_HIDE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` after the next paint (see the module's note).
pub fn after_paint(f: impl FnOnce() + 'static) {
    WAITING.with(|w| w.borrow_mut().push(Box::new(f)));
    watch_hide();
    if SCHEDULED.replace(true) {
        return;
    }
    let Some(window) = web_sys::window() else {
        run_waiting();
        return;
    };
    // The frame's callback runs before the paint; a task queued from it runs
    // after.
    let after_frame = Closure::once_into_js(|| {
        let run = Closure::once_into_js(run_waiting);
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(run.unchecked_ref(), 0);
        }
    });
    if window
        .request_animation_frame(after_frame.unchecked_ref())
        .is_err()
    {
        run_waiting();
        return;
    }
    let latest = Closure::once_into_js(run_waiting);
    let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
        latest.unchecked_ref(),
        AT_THE_LATEST_MS,
    );
}

/// Runs everything waiting now: before anything reads what it would change.
pub fn run_waiting() {
    SCHEDULED.set(false);
    let waiting = WAITING.with(|w| std::mem::take(&mut *w.borrow_mut()));
    for f in waiting {
        f();
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
        if hidden {
            run_waiting();
        }
    });
    let _ = document
        .add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
    // Listens for the life of the page.
    on_hide.forget();
}

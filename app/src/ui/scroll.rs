//! A reload keeps the screen's scroll position.
//!
//! The browser's own restoration runs when the page has loaded, before the
//! app has drawn the screen from the device's documents, so it finds a page
//! too short and gives up. The app keeps the position itself as the page
//! goes away (for this tab only: session storage), and scrolls back once the
//! screen is long enough, unless the user has started to scroll meanwhile.

use std::cell::Cell;
use std::rc::Rc;

use gloo_storage::{SessionStorage, Storage};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const KEY: &str = "papi.scroll";
/// How long a restore waits for the screen to be drawn.
const PATIENCE_MS: i32 = 5_000;
const EVERY_MS: i32 = 100;

#[derive(Serialize, Deserialize)]
struct Position {
    path: String,
    y: f64,
}

fn path(window: &web_sys::Window) -> String {
    window.location().pathname().unwrap_or_default()
}

/// Keeps the position whenever the page goes away, and brings back the one
/// kept for this address.
pub fn keep_and_restore() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let keep = Closure::<dyn FnMut()>::new({
        let window = window.clone();
        move || {
            let position = Position {
                path: path(&window),
                y: window.scroll_y().unwrap_or(0.0),
            };
            // Not kept means a reload opens at the top: nothing else is lost.
            let _ = SessionStorage::set(KEY, &position);
        }
    });
    let _ = window.add_event_listener_with_callback("pagehide", keep.as_ref().unchecked_ref());
    keep.forget();

    let Ok(kept) = SessionStorage::get::<Position>(KEY) else {
        return;
    };
    SessionStorage::delete(KEY);
    if kept.path != path(&window) || kept.y <= 0.0 {
        return;
    }
    restore(window, kept.y);
}

/// Scrolls to `y` once the page is long enough; gives up on the user's
/// first scroll, touch or key, or after a while.
fn restore(window: web_sys::Window, y: f64) {
    let stop = Rc::new(Cell::new(false));
    let interrupt = Closure::<dyn FnMut()>::new({
        let stop = stop.clone();
        move || stop.set(true)
    });
    for event in ["wheel", "touchstart", "keydown", "pointerdown"] {
        let _ = window.add_event_listener_with_callback(event, interrupt.as_ref().unchecked_ref());
    }
    let tries = Rc::new(Cell::new(0));
    let handle = Rc::new(Cell::new(None::<i32>));
    let tick = Closure::<dyn FnMut()>::new({
        let window = window.clone();
        let handle = handle.clone();
        move || {
            tries.set(tries.get() + 1);
            let reached = !stop.get() && {
                window.scroll_to_with_x_and_y(0.0, y);
                window.scroll_y().unwrap_or(0.0) >= y - 1.0
            };
            if reached || stop.get() || tries.get() * EVERY_MS >= PATIENCE_MS {
                if let Some(id) = handle.take() {
                    window.clear_interval_with_handle(id);
                }
                for event in ["wheel", "touchstart", "keydown", "pointerdown"] {
                    let _ = window.remove_event_listener_with_callback(
                        event,
                        interrupt.as_ref().unchecked_ref(),
                    );
                }
            }
        }
    });
    if let Ok(id) = window.set_interval_with_callback_and_timeout_and_arguments_0(
        tick.as_ref().unchecked_ref(),
        EVERY_MS,
    ) {
        handle.set(Some(id));
    }
    // Lives as long as the page: one restore per load.
    tick.forget();
}

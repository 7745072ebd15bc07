//! A reload keeps the screen's scroll position.
//!
//! The browser's own restoration runs when the page has loaded, before the
//! app has drawn the screen from the device's documents, so it finds a page
//! too short and gives up. The app keeps the position itself as the page
//! goes away (for this tab only: session storage): the first text box or
//! section at the top of the screen and how far down it was. It scrolls
//! that one back to the same place once it is drawn, and again while what
//! is above it is still loading, until it stays put (the browser's scroll
//! anchoring keeps it there after), or the user starts to scroll.

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

/// What marks the places a screen can be scrolled back to.
const MARKS: [&str; 3] = ["data-field", "data-section", "data-dimension"];

#[derive(Serialize, Deserialize)]
struct Position {
    path: String,
    y: f64,
    /// The first marked element at the top of the screen: (attribute,
    /// value, its distance from the top of the screen).
    anchor: Option<(String, String, f64)>,
}

/// Whether `e` is drawn: not in the hidden plan (no size), nor in a closed
/// `<details>` (which keeps its size there).
fn drawn(e: &web_sys::Element) -> bool {
    e.get_bounding_client_rect().height() > 0.0
        && !matches!(
            e.closest("details:not([open]) > :not(summary)"),
            Ok(Some(_))
        )
}

/// The marked elements of the page, each with its mark.
fn marked(document: &web_sys::Document) -> Vec<(web_sys::Element, &'static str, String)> {
    let selector = MARKS.map(|m| format!("[{m}]")).join(", ");
    let Ok(all) = document.query_selector_all(&selector) else {
        return Vec::new();
    };
    (0..all.length())
        .filter_map(|i| all.item(i)?.dyn_into::<web_sys::Element>().ok())
        .filter_map(|e| {
            let (name, value) = MARKS
                .iter()
                .find_map(|m| e.get_attribute(m).map(|v| (*m, v)))?;
            Some((e, name, value))
        })
        .collect()
}

/// The first drawn marked element whose top is on the screen.
fn anchor(document: &web_sys::Document) -> Option<(String, String, f64)> {
    marked(document).into_iter().find_map(|(e, name, value)| {
        let top = e.get_bounding_client_rect().top();
        (top >= 0.0 && drawn(&e)).then(|| (name.to_string(), value, top))
    })
}

/// Where the anchor is now, from the top of the screen, once it is drawn.
fn anchor_top(document: &web_sys::Document, name: &str, value: &str) -> Option<f64> {
    marked(document).into_iter().find_map(|(e, n, v)| {
        (n == name && v == value && drawn(&e)).then(|| e.get_bounding_client_rect().top())
    })
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
                anchor: window.document().as_ref().and_then(anchor),
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
    restore(window, kept);
}

/// Scrolls the anchor back to its place (or to the same height, for a
/// screen without one) as soon as it can, until it is found in place twice
/// in a row; stops on the user's first scroll, touch or key, or after a
/// while.
fn restore(window: web_sys::Window, kept: Position) {
    let stop = Rc::new(Cell::new(false));
    let interrupt = Closure::<dyn FnMut()>::new({
        let stop = stop.clone();
        move || stop.set(true)
    });
    for event in ["wheel", "touchstart", "keydown", "pointerdown"] {
        let _ = window.add_event_listener_with_callback(event, interrupt.as_ref().unchecked_ref());
    }
    let tries = Rc::new(Cell::new(0));
    let in_place = Rc::new(Cell::new(0));
    let handle = Rc::new(Cell::new(None::<i32>));
    let tick = Closure::<dyn FnMut()>::new({
        let window = window.clone();
        let handle = handle.clone();
        move || {
            tries.set(tries.get() + 1);
            if !stop.get() {
                let off = match (&kept.anchor, window.document()) {
                    (Some((name, value, top)), Some(document)) => {
                        anchor_top(&document, name, value).map(|now| now - top)
                    }
                    _ => Some(kept.y - window.scroll_y().unwrap_or(0.0)),
                };
                match off {
                    Some(off) if off.abs() < 1.0 => in_place.set(in_place.get() + 1),
                    Some(off) => {
                        in_place.set(0);
                        window.scroll_by_with_x_and_y(0.0, off);
                    }
                    None => {}
                }
            }
            let settled = in_place.get() >= 2;
            if settled || stop.get() || tries.get() * EVERY_MS >= PATIENCE_MS {
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

//! The frame of `index.html` in plain HTML, shown while the app downloads
//! (the element `#early`). On a slow phone the wasm takes many seconds; the
//! frame lets a first visit sign in meanwhile. The app takes it over as it
//! starts: the frame goes, what was typed moves into the app's own sign-in
//! form, and the answer to a sign-in the frame sent is that form's answer.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

/// What was typed into the frame's sign-in form.
#[derive(Clone, Debug, Default)]
pub struct Typed {
    pub username: String,
    pub password: String,
    /// The sign-in the frame sent (`window.papiSignIn`): a promise of the
    /// answer's `[status, text]`, settled or not.
    pub sent: Option<js_sys::Promise>,
    /// Where the cursor was.
    pub focus: Option<Field>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Username,
    Password,
}

thread_local! {
    static TYPED: RefCell<Option<Typed>> = const { RefCell::new(None) };
}

/// Removes the frame from the page and keeps what was typed into it for the
/// first sign-in form. Called once, as the app starts.
pub fn take_over() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window.document() else {
        return;
    };
    let Some(frame) = document.get_element_by_id("early") else {
        return;
    };
    let input = |id: &str| {
        document
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
    };
    let (username, password) = (input("early-username"), input("early-password"));
    let active = document.active_element().map(|e| e.id());
    let typed = Typed {
        username: username.map(|i| i.value()).unwrap_or_default(),
        password: password.map(|i| i.value()).unwrap_or_default(),
        sent: js_sys::Reflect::get(&window, &"papiSignIn".into())
            .ok()
            .and_then(|p| p.dyn_into::<js_sys::Promise>().ok()),
        focus: match active.as_deref() {
            Some("early-username") => Some(Field::Username),
            Some("early-password") => Some(Field::Password),
            _ => None,
        },
    };
    frame.remove();
    let anything = !typed.username.is_empty()
        || !typed.password.is_empty()
        || typed.focus.is_some()
        || typed.sent.is_some();
    if anything {
        TYPED.with(|t| *t.borrow_mut() = Some(typed));
    }
}

/// What was typed into the frame, once: the first form to ask gets it, so a
/// later sign-in (after signing out, or a session that expired) starts empty.
pub fn typed() -> Option<Typed> {
    TYPED.with(|t| t.borrow_mut().take())
}

//! The frame of `index.html` in plain HTML, shown while the app downloads
//! (the element `#early`). On a slow phone the wasm takes many seconds; the
//! frame lets a first visit type its sign-in meanwhile. The app takes it over
//! as it starts: the frame goes, and what was typed moves into the app's own
//! sign-in form, which sends it at once if the person already pressed the
//! button.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;

/// What was typed into the frame's sign-in form.
#[derive(Clone, Debug, Default)]
pub struct Typed {
    pub username: String,
    pub password: String,
    /// The person pressed "sign in" before the app had started.
    pub submitted: bool,
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
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
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
        submitted: document
            .get_element_by_id("early-sign-in")
            .is_some_and(|f| f.has_attribute("data-submitted")),
        focus: match active.as_deref() {
            Some("early-username") => Some(Field::Username),
            Some("early-password") => Some(Field::Password),
            _ => None,
        },
    };
    frame.remove();
    let anything =
        !typed.username.is_empty() || !typed.password.is_empty() || typed.focus.is_some();
    if anything {
        TYPED.with(|t| *t.borrow_mut() = Some(typed));
    }
}

/// What was typed into the frame, once: the first form to ask gets it, so a
/// later sign-in (after signing out, or a session that expired) starts empty.
pub fn typed() -> Option<Typed> {
    TYPED.with(|t| t.borrow_mut().take())
}

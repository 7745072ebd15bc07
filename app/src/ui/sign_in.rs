//! The sign-in form.

use leptos::prelude::*;

use super::early::{self, Field};
use super::i18n::t;
use super::session;

/// The sign-in form. The first one shown takes over what was typed into the
/// page's frame before the app started, and the answer to a sign-in the
/// frame sent (`early`).
#[component]
pub fn SignIn(on_done: Callback<session::Identity>) -> impl IntoView {
    let typed = early::typed().unwrap_or_default();
    let username = RwSignal::new(typed.username);
    let password = RwSignal::new(typed.password);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // The answer may come when this form is gone (its signals with it):
    // `try_set`, and `on_done` last, as it may take the form away.
    let answered = move |answer: Result<session::Identity, String>| {
        busy.try_set(false);
        match answer {
            Ok(who) => {
                password.try_set(String::new());
                on_done.run(who);
            }
            Err(message) => {
                error.try_set(Some(message));
            }
        }
    };
    let send = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (u, p) = (username.get_untracked(), password.get_untracked());
        wasm_bindgen_futures::spawn_local(async move {
            answered(session::sign_in(&u, &p).await);
        });
    };
    let username_input = NodeRef::<leptos::html::Input>::new();
    let password_input = NodeRef::<leptos::html::Input>::new();
    // Once the form is on the page: the cursor goes back where it was, and
    // the answer to the frame's sign-in is awaited as this form's own.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let wanted = match typed.focus {
            Some(Field::Username) => Some(username_input),
            Some(Field::Password) => Some(password_input),
            None => None,
        };
        if let Some(wanted) = wanted {
            // Not on the page yet: this runs again when it is.
            let Some(input) = wanted.get() else {
                return false;
            };
            let _ = input.focus();
            let end = input.value().encode_utf16().count() as u32;
            let _ = input.set_selection_range(end, end);
        }
        if let Some(sent) = typed.sent.clone() {
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                answered(session::sent_sign_in(sent).await);
            });
        }
        true
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send();
    };
    view! {
        <form class="sign-in" on:submit=submit>
            <h2>{t!("sign_in.title").to_string()}</h2>
            <label for="username">{t!("sign_in.username").to_string()}</label>
            <input id="username" name="username" node_ref=username_input autocomplete="username" required
                prop:value=username on:input=move |ev| username.set(event_target_value(&ev))/>
            <label for="password">{t!("sign_in.password").to_string()}</label>
            <input id="password" name="password" node_ref=password_input type="password" autocomplete="current-password" required
                prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" disabled=move || busy.get()>
                {move || if busy.get() { t!("sign_in.busy").to_string() } else { t!("sign_in.submit").to_string() }}
            </button>
        </form>
    }
}

/// The form that replaces a one-time password with the user's own, shown
/// before anything else to a user who signed in with one.
#[component]
pub fn ChoosePassword(on_done: Callback<session::Identity>) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (c, n) = (current.get_untracked(), new.get_untracked());
        if n.chars().count() < 8 {
            error.set(Some(t!("password.too_short").to_string()));
            return;
        }
        if n != again.get_untracked() {
            error.set(Some(t!("password.mismatch").to_string()));
            return;
        }
        busy.set(true);
        error.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            let answer = session::change_password(&c, &n).await;
            // The form may be gone by now; `on_done` last, as it may take
            // the form away.
            busy.try_set(false);
            match answer {
                Ok(who) => on_done.run(who),
                Err(message) => {
                    error.try_set(Some(message));
                }
            }
        });
    };
    let field = move |id: &'static str,
                      label: String,
                      value: RwSignal<String>,
                      autocomplete: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input id=id type="password" required autocomplete=autocomplete prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev))/>
        }
    };
    view! {
        <form class="sign-in choose-password" on:submit=submit>
            <h2>{t!("password.title").to_string()}</h2>
            <p>{t!("password.why").to_string()}</p>
            {field("current-password", t!("password.current").to_string(), current, "current-password")}
            {field("new-password", t!("password.new").to_string(), new, "new-password")}
            {field("new-password-again", t!("password.again").to_string(), again, "new-password")}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" disabled=move || busy.get()>{t!("password.submit").to_string()}</button>
        </form>
    }
}

//! The sign-in form.

use leptos::prelude::*;
use rust_i18n::t;

use super::early::{self, Field};
use super::session;

/// The sign-in form. The first one shown takes over what was typed into the
/// page's frame before the app started (`early`).
#[component]
pub fn SignIn(on_done: Callback<session::Identity>) -> impl IntoView {
    let typed = early::typed().unwrap_or_default();
    let username = RwSignal::new(typed.username);
    let password = RwSignal::new(typed.password);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let send = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (u, p) = (username.get_untracked(), password.get_untracked());
        wasm_bindgen_futures::spawn_local(async move {
            match session::sign_in(&u, &p).await {
                Ok(who) => {
                    password.set(String::new());
                    on_done.run(who);
                }
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    let username_input = NodeRef::<leptos::html::Input>::new();
    let password_input = NodeRef::<leptos::html::Input>::new();
    // Once the form is on the page: the cursor goes back where it was, and a
    // sign-in pressed before the app started is sent.
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
        if typed.submitted {
            send();
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

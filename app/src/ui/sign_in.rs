//! The sign-in form.

use leptos::prelude::*;
use rust_i18n::t;

use super::session;

/// The sign-in form.
#[component]
pub fn SignIn(on_done: Callback<session::Identity>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
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
    view! {
        <form class="sign-in" on:submit=submit>
            <h2>{t!("sign_in.title").to_string()}</h2>
            <label for="username">{t!("sign_in.username").to_string()}</label>
            <input id="username" name="username" autocomplete="username" required
                prop:value=username on:input=move |ev| username.set(event_target_value(&ev))/>
            <label for="password">{t!("sign_in.password").to_string()}</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required
                prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" disabled=move || busy.get()>
                {move || if busy.get() { t!("sign_in.busy").to_string() } else { t!("sign_in.submit").to_string() }}
            </button>
        </form>
    }
}

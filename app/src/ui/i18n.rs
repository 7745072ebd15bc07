//! The interface language: Vietnamese by default, English selectable. The
//! texts themselves are in `app/locales/app.yml`.

use leptos::prelude::*;
use rust_i18n::t;

use super::settings;

const KEY: &str = "language";
pub const LANGUAGES: [(&str, &str); 2] = [("vi", "Tiếng Việt"), ("en", "English")];

/// The language chosen on this device, else Vietnamese.
pub fn saved() -> String {
    settings::get_text(KEY)
        .filter(|l| LANGUAGES.iter().any(|(k, _)| k == l))
        .unwrap_or_else(|| "vi".to_string())
}

/// Makes `lang` the language of the texts and of the page.
pub fn apply(lang: &str) {
    rust_i18n::set_locale(lang);
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", lang);
    }
    let _ = settings::set(KEY, lang);
}

/// A choice of language; the whole page follows `lang`.
#[component]
pub fn LanguagePicker(lang: RwSignal<String>) -> impl IntoView {
    view! {
        <select class="language" aria-label=move || { lang.track(); t!("app.language").to_string() }
            on:change=move |ev| {
                let chosen = event_target_value(&ev);
                apply(&chosen);
                lang.set(chosen);
            }>
            {LANGUAGES.into_iter().map(|(key, name)| view! {
                <option value=key prop:selected=move || lang.get() == key>{name}</option>
            }).collect_view()}
        </select>
    }
}

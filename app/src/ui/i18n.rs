//! The interface language: Vietnamese by default, English selectable. The
//! texts themselves are in `app/locales/app.yml` (see `papi::texts`).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Display;

use leptos::prelude::*;

use super::settings;
use crate::texts;

const KEY: &str = "language";
pub const LANGUAGES: [(&str, &str); 2] = [("vi", "Tiếng Việt"), ("en", "English")];

thread_local! {
    static ENGLISH: Cell<bool> = const { Cell::new(false) };
}

/// An interface text in the current language, by its key; its arguments
/// follow the key as `name = value`. A key without a text shows as itself.
macro_rules! t {
    ($key:expr) => {
        $crate::ui::i18n::text(&$key)
    };
    ($key:expr, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::ui::i18n::text_with(
            &$key,
            &[$((stringify!($name), &$value as &dyn ::std::fmt::Display)),+],
        )
    };
}
pub(crate) use t;

pub fn text(key: &str) -> Cow<'static, str> {
    match texts::lookup(key, english()) {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(key.to_string()),
    }
}

pub fn text_with(key: &str, args: &[(&str, &dyn Display)]) -> Cow<'static, str> {
    Cow::Owned(texts::fill(&text(key), args))
}

/// Whether the texts are in English.
pub fn english() -> bool {
    ENGLISH.with(Cell::get)
}

/// The language chosen on this device, else Vietnamese.
pub fn saved() -> String {
    settings::get_text(KEY)
        .filter(|l| LANGUAGES.iter().any(|(k, _)| k == l))
        .unwrap_or_else(|| "vi".to_string())
}

/// Makes `lang` the language of the texts and of the page.
pub fn apply(lang: &str) {
    ENGLISH.with(|e| e.set(lang == "en"));
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

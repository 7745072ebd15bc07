//! A report's history on screen: its editing sessions, newest first, each
//! with who (as the server recorded it) and when; who wrote each passage of
//! a chosen text; and restoring that text, or the whole report, as it was
//! after a session (`report::history`).

use leptos::prelude::*;

use super::format::date_time;
use super::http::get_kept;
use super::i18n::t;
use super::repo::{follow_on, repo};
use crate::api::Authorship;
use crate::ids::DocId;
use crate::report::history::{passages, restore_report, restore_text, sessions, Author};
use crate::report::{Outline, TextAt, SECTION_TEXTS};

/// What the panel shows history for: the whole report, or one text.
fn texts_of(outline: &Outline) -> Vec<(TextAt, String)> {
    let mut out = Vec::new();
    for (section, s) in outline.sections.iter().enumerate() {
        for key in SECTION_TEXTS {
            let label = t!(format!("section.{key}")).to_string();
            out.push((
                TextAt::Section { section, key },
                format!("{}. {} — {label}", s.number, s.name),
            ));
        }
    }
    out
}

fn who(author: &Option<Author>) -> String {
    match author {
        Some(a) => a.name.clone(),
        None => t!("history.unknown").to_string(),
    }
}

#[component]
pub fn HistoryPanel(doc: DocId, readonly: Signal<bool>) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <details class="history-panel" on:toggle=move |ev| {
            use wasm_bindgen::JsCast;
            let open_now = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                .is_some_and(|d| d.open());
            open.set(open_now);
        }>
            <summary>{t!("history.title").to_string()}</summary>
            // Drawn only while open: it reads the whole history.
            {move || open.get().then(|| view! { <History doc readonly/> })}
        </details>
    }
}

#[component]
fn History(doc: DocId, readonly: Signal<bool>) -> impl IntoView {
    let url = doc.url();
    let authors = LocalResource::new(move || {
        let url = url.clone();
        async move { get_kept::<Authorship>(&format!("/api/reports/authors?url={url}")).await }
    });
    let outline = follow_on(doc, repo().open(doc).shape, Outline::read);
    // "" for the whole report, else a text's key.
    let chosen = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let record = move || {
        authors
            .get()
            .and_then(|r| r.ok())
            .map(|k| k.value)
            .unwrap_or_default()
    };
    let texts = move || outline.get().map(|o| texts_of(&o)).unwrap_or_default();
    let chosen_text = move || {
        let key = chosen.get();
        texts()
            .into_iter()
            .find(|(at, _)| at.key() == key)
            .map(|(at, _)| at)
    };
    let version = repo().open(doc).version;
    let timeline = move || {
        version.track();
        let record = record();
        let mut list = repo()
            .read(doc, |d| sessions(d, &record))
            .unwrap_or_default();
        list.reverse();
        list
    };
    let written = move || {
        version.track();
        let at = chosen_text()?;
        let record = record();
        repo()
            .read(doc, |d| at.locate(d).map(|t| passages(d, &t, &record)))
            .flatten()
    };
    let restore = move |heads: Vec<automerge::ChangeHash>| {
        let at = chosen_text();
        let mut changed = false;
        repo().change(doc, |d| {
            changed = match &at {
                Some(at) => restore_text(d, at, &heads),
                None => restore_report(d, &heads),
            };
        });
        message.set(Some(
            if changed {
                t!("history.restored")
            } else {
                t!("history.nothing_to_restore")
            }
            .to_string(),
        ));
    };
    view! {
        <div class="history">
            {move || authors.get().and_then(|r| match r {
                Ok(k) if k.offline => Some(t!("history.offline").to_string()),
                Err(e) => Some(e),
                _ => None,
            }).map(|note| view! { <p class="notice">{note}</p> })}
            <label class="history-scope">
                {t!("history.scope").to_string()} " "
                <select on:change=move |ev| chosen.set(event_target_value(&ev))>
                    <option value="">{t!("history.whole").to_string()}</option>
                    {move || texts().into_iter().map(|(at, label)| view! {
                        <option value=at.key()>{label}</option>
                    }).collect_view()}
                </select>
            </label>
            {move || message.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
            {move || written().map(|runs| view! {
                <div class="authorship" role="group" aria-label=t!("history.who_wrote").to_string()>
                    {runs.into_iter().map(|p| {
                        let name = who(&p.author);
                        // Each author a colour of their own, the same on every screen.
                        let hue = name.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b.into())) % 360;
                        view! {
                            <span class="passage" data-author=name.clone() title=name
                                style=format!("--author-hue: {hue}")>{p.text}</span>
                        }
                    }).collect_view()}
                </div>
            })}
            <ol class="history-sessions">
                {move || timeline().into_iter().map(|s| {
                    let when = if s.from_s == 0 {
                        String::new()
                    } else if s.from_s == s.to_s {
                        date_time(s.from_s * 1000)
                    } else {
                        format!("{} – {}", date_time(s.from_s * 1000), date_time(s.to_s * 1000))
                    };
                    let heads = s.heads.clone();
                    view! {
                        <li class="history-session">
                            <span class="history-who">{who(&s.author)}</span>
                            " · " <span class="history-when">{when}</span>
                            " · " {t!("history.changes", n = s.changes).to_string()}
                            {move || (!readonly.get()).then(|| {
                                let heads = heads.clone();
                                view! {
                                    <button type="button" class="history-restore"
                                        on:click=move |_| restore(heads.clone())>
                                        {t!("history.restore").to_string()}
                                    </button>
                                }
                            })}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </div>
    }
}

use automerge::{ChangeHash, ObjId, ReadDoc};
use leptos::html::Textarea;
use leptos::prelude::*;

use super::comments::{Comments, CommentsAt};
use super::presence::{Presence, PresenceAt};
use super::repo::repo;
use super::typing_pause::{keystroke, when_typing_pauses};
use crate::ids::DocId;
use crate::report::TextAt;
use crate::text::{diff, move_caret};

/// Runs `apply` once typing pauses, if letters are still waiting then. A
/// word an input method is still composing is not the box's text yet: its
/// letters wait on for the next pause (and count as not saved meanwhile).
fn after_typing(
    typed: StoredValue<bool>,
    composing: StoredValue<bool>,
    apply: impl Fn() + Copy + 'static,
) {
    when_typing_pauses(move || {
        if typed.try_get_value() != Some(true) {
            return;
        }
        if composing.try_get_value() == Some(true) {
            after_typing(typed, composing, apply);
        } else {
            apply();
        }
    });
}

/// A person's text in a document (a measure, a report section, evidence
/// notes), edited in place and merged live with other editors.
///
/// Typing becomes splices into the document's text. Edits from others are
/// put into the box with the caret and selection kept in place, except while
/// an input method is composing a letter (Telex, VNI, phone keyboards): then
/// the box is left alone until the composition ends.
///
/// What the person typed is always measured against the version the box
/// last showed (its text and the document's heads then), and applied to that
/// version. When others' edits arrived meanwhile, as during a composition,
/// automerge merges the two; so neither side's letters are lost or doubled.
///
/// Keystrokes are put into the document when typing pauses, several as one
/// change (see `typing_pause`): a big report's reads and the device's write
/// take longer than a frame on a phone. Anything that reads the box's text
/// first puts them in.
#[component]
pub fn CollabText(
    doc: DocId,
    at: TextAt,
    label: String,
    readonly: Signal<bool>,
    #[prop(default = 4)] rows: u32,
) -> impl IntoView {
    let node = NodeRef::<Textarea>::new();
    let composing = StoredValue::new(false);
    // Typed, and not yet in the document.
    let typed = StoredValue::new(false);
    // The text the box last showed, and the document's heads at that moment.
    let base = StoredValue::new((String::new(), Vec::<ChangeHash>::new()));
    let signals = repo().open(doc);
    let field = at.key();
    let at = StoredValue::new(at);
    // This box's text object, and the document's version the box last read.
    let mine = StoredValue::new(None::<ObjId>);
    // (None before the first read.)
    let read_at = StoredValue::new(None::<u64>);
    // Who else is in this text, when the screen shares presence in its
    // document.
    let presence = use_context::<Presence>().filter(|p| p.doc == doc);
    let comments = use_context::<Comments>().filter(|c| c.doc == doc);
    let focused = RwSignal::new(false);

    let current = move || {
        let repo = repo();
        let obj = at.with_value(|at| repo.locate(doc, at));
        repo.read(doc, |d| {
            let text = obj
                .as_ref()
                .and_then(|t| d.text(t).ok())
                .unwrap_or_default();
            mine.set_value(obj);
            read_at.set_value(Some(signals.version.get_untracked()));
            (text, d.get_heads())
        })
        .unwrap_or_default()
    };

    // Puts the document's text into the box, keeping the caret in place.
    let show_now = move || {
        let Some(el) = node.get_untracked() else {
            return;
        };
        if composing.get_value() {
            return;
        }
        let (text, heads) = current();
        let shown = el.value();
        if shown != text {
            let start = el.selection_start().ok().flatten().unwrap_or(0) as usize;
            let end = el.selection_end().ok().flatten().unwrap_or(0) as usize;
            el.set_value(&text);
            let focused = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.active_element())
                .is_some_and(|a| a == **el);
            if focused {
                let s = move_caret(&shown, &text, start) as u32;
                let e = move_caret(&shown, &text, end) as u32;
                let _ = el.set_selection_range(s, e);
            }
        }
        base.set_value((text, heads));
    };

    // What the person typed becomes a splice of the version they saw.
    // A composition is left alone until it ends.
    let apply = move || {
        if composing.get_value() {
            return;
        }
        typed.set_value(false);
        let Some(el) = node.get_untracked() else {
            return;
        };
        let value = el.value();
        let (seen, seen_heads) = base.get_value();
        let Some(splice) = diff(&seen, &value) else {
            return;
        };
        let Some(text) = mine.get_value() else {
            // Nowhere to put it: the box goes back to the document's text.
            show_now();
            return;
        };
        repo().type_into(doc, text.clone(), |d| {
            use automerge::transaction::Transactable;
            // `text` is the box's text object in the version it last read,
            // which is the one edited here.
            let edit = |d: &mut automerge::Automerge| {
                // The time, for the report's history (automerge takes
                // seconds; it orders nothing).
                let time = (js_sys::Date::now() / 1000.0) as i64;
                let _ = d.transact_with::<_, _, automerge::AutomergeError, _>(
                    |_| automerge::transaction::CommitOptions::default().with_time(time),
                    |tx| {
                        tx.splice_text(&text, splice.at, splice.delete as isize, &splice.insert)?;
                        Ok(())
                    },
                );
            };
            if d.get_heads() == seen_heads {
                edit(d);
            } else if let Ok(mut then) = d.fork_at(&seen_heads) {
                edit(&mut then);
                if let Err(e) = d.merge(&mut then) {
                    leptos::logging::error!("an edit could not be merged: {e}");
                }
            }
        });
        // The merged text, with the caret after what was typed.
        show_now();
    };
    // What was typed goes into the document before the box shows it again.
    let show = move || {
        if typed.get_value() {
            apply();
        } else {
            show_now();
        }
    };
    // Once typing pauses; at once if the box goes first.
    let typed_now = move || {
        if typed.get_value() {
            return;
        }
        typed.set_value(true);
        after_typing(typed, composing, apply);
    };
    on_cleanup(move || {
        if typed.try_get_value() == Some(true) {
            apply();
        }
    });

    // A big report has hundreds of boxes: a keystroke in one of them, when
    // this box has read everything before it, leaves this one as it is.
    // Anything else (others' edits, a change of structure) reads it again.
    Effect::new(move |_| {
        let version = signals.version.get();
        let read = read_at.get_value();
        // This box's own keystroke, read back as it was shown.
        if read == Some(version) && !typed.get_value() {
            return;
        }
        let unchanged = signals.typed.get_value().is_some_and(|(made, text)| {
            made == version
                && read.map(|r| r + 1) == Some(version)
                && mine.with_value(|m| m.as_ref().is_some_and(|m| *m != text))
        });
        if unchanged {
            read_at.set_value(Some(version));
        } else {
            // Reads, and notes what it read, unless a composition holds it.
            show();
        }
    });

    let focus_field = field.clone();
    view! {
        <textarea
            class="collab-text"
            node_ref=node
            data-field=field.clone()
            aria-label=label
            readonly=move || readonly.get()
            rows=rows
            on:focus=move |_| {
                focused.set(true);
                if let Some(p) = presence {
                    p.focus(Some(focus_field.clone()));
                }
            }
            on:blur=move |_| {
                if typed.get_value() {
                    apply();
                }
                focused.set(false);
                if let Some(p) = presence {
                    p.focus(None);
                }
            }
            on:input=move |_| {
                keystroke();
                if let Some(p) = presence {
                    p.typed();
                }
                typed_now();
            }
            on:compositionstart=move |_| composing.set_value(true)
            on:compositionend=move |_| {
                composing.set_value(false);
                apply();
            }
        ></textarea>
        {presence.map(|presence| view! { <PresenceAt presence field/> })}
        {comments.map(|comments| view! { <CommentsAt comments at=at.get_value() node focused/> })}
    }
}

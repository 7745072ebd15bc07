//! Comments on a report's texts, on screen: under each text box, its
//! threads (the passage, who wrote, replies, resolved or not), a way to
//! comment on the passage chosen in the box, to reply and to resolve.
//! The comments live in the report (`report::comments`), so this works
//! offline; who wrote each is taken from the server's record when it has
//! one.

use leptos::prelude::*;

use super::format::date_time;
use super::http::{get_kept, Kept};
use super::i18n::t;
use super::repo::repo;
use crate::api::Authorship;
use crate::ids::DocId;
use crate::report::comments::{self, author_object, Comment, Writer};
use crate::report::TextAt;

/// A report's comments, shared by its text boxes.
#[derive(Clone, Copy)]
pub struct Comments {
    pub doc: DocId,
    /// Whether this user may comment now (the server checks too).
    may: Signal<bool>,
    /// Whether this user reviews the report, and so may resolve any thread.
    reviewer: bool,
    me: StoredValue<Writer>,
    /// Set only when the comments change: a keystroke elsewhere in the
    /// report wakes none of the hundreds of text boxes that show them.
    all: RwSignal<Vec<Comment>>,
    record: LocalResource<Result<Kept<Authorship>, String>>,
}

impl Comments {
    pub fn start(doc: DocId, me: Writer, may: Signal<bool>, reviewer: bool) -> Comments {
        let all = RwSignal::new(Vec::<Comment>::new());
        let url = doc.url();
        // Asked for once there are comments to name, not on every open
        // (a memo: not again at every change of them).
        let any = Memo::new(move |_| all.with(|a| !a.is_empty()));
        let record = LocalResource::new(move || {
            let url = url.clone();
            let wanted = any.get();
            async move {
                if !wanted {
                    return Ok(Kept {
                        value: Authorship::default(),
                        offline: false,
                    });
                }
                get_kept::<Authorship>(&format!("/api/reports/authors?url={url}")).await
            }
        });
        let version = repo().open(doc).version;
        Effect::new(move |_| {
            version.track();
            let now = repo().read(doc, comments::all).unwrap_or_default();
            all.maybe_update(|list| {
                let changed = *list != now;
                if changed {
                    *list = now;
                }
                changed
            });
        });
        Comments {
            doc,
            may,
            reviewer,
            me: StoredValue::new(me),
            all,
            record,
        }
    }

    /// Who wrote `object` (a comment or reply) by the server's record, or
    /// the name their app gave while the server has not vouched for it.
    fn writer_of(&self, object: &automerge::ObjId, claimed: &Writer) -> String {
        let vouched = self.record.with(|r| {
            let record = r.as_ref()?.as_ref().ok()?;
            let (actor, counter) = author_object(object)?;
            record
                .value
                .author_of(&actor, counter)
                .map(|(_, name, _)| name.to_string())
        });
        vouched.unwrap_or_else(|| claimed.name.clone())
    }

    fn time() -> i64 {
        (js_sys::Date::now() / 1000.0) as i64
    }
}

/// The letters `start..end` of `text`, from a text box's selection, which
/// the browser counts in UTF-16 units.
fn letters(text: &str, start: u32, end: u32) -> (usize, usize) {
    let at = |units: u32| {
        let mut seen = 0u32;
        text.chars()
            .take_while(|c| {
                seen += c.len_utf16() as u32;
                seen <= units
            })
            .count()
    };
    (at(start), at(end))
}

/// The threads of one text, and the way to start one.
#[component]
pub fn CommentsAt(
    comments: Comments,
    at: TextAt,
    node: NodeRef<leptos::html::Textarea>,
    /// Whether the text box has the focus: the way to comment shows only
    /// then, so that a report of hundreds of texts does not carry hundreds
    /// of buttons.
    focused: RwSignal<bool>,
) -> impl IntoView {
    let field = at.key();
    let here = {
        let field = field.clone();
        // Every text box filters the report's one list, without copying it.
        Memo::new(move |_| {
            comments.all.with(|all| {
                all.iter()
                    .filter(|c| c.field == field)
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })
    };
    let writing = RwSignal::new(None::<(usize, usize)>);
    let problem = RwSignal::new(None::<String>);
    let draft = RwSignal::new(String::new());
    let at = StoredValue::new(at);
    let begin = move |_| {
        let Some(el) = node.get_untracked() else {
            return;
        };
        let start = el.selection_start().ok().flatten().unwrap_or(0);
        let end = el.selection_end().ok().flatten().unwrap_or(0);
        if start == end {
            problem.set(Some(t!("comments.choose_first").to_string()));
            return;
        }
        problem.set(None);
        writing.set(Some(letters(&el.value(), start, end)));
    };
    let send = move |_| {
        let Some(range) = writing.get_untracked() else {
            return;
        };
        let body = draft.get_untracked();
        let mut result = Ok(String::new());
        repo().change(comments.doc, |d| {
            result = at.with_value(|at| {
                comments::add(
                    d,
                    at,
                    range,
                    &body,
                    &comments.me.get_value(),
                    Comments::time(),
                )
            });
        });
        match result {
            Ok(_) => {
                writing.set(None);
                draft.set(String::new());
                problem.set(None);
            }
            Err(e) => problem.set(Some(comment_error(&e))),
        }
    };
    // A memo, so that the form is drawn again only when it comes or goes,
    // not when the focus moves from the text to the comment being written.
    let shown = Memo::new(move |_| {
        comments.may.get() && (focused.get() || writing.get().is_some() || problem.get().is_some())
    });
    view! {
        <div class="comments" data-for=field>
            {move || here.get().into_iter().map(|c| view! { <Thread comments c/> }).collect_view()}
            {move || shown.get().then(|| view! {
                <div class="comment-new">
                    {move || match writing.get() {
                        None => view! {
                            <button type="button" class="comment-start" on:mousedown=|ev| ev.prevent_default() on:click=begin>
                                {t!("comments.start").to_string()}
                            </button>
                        }.into_any(),
                        Some(_) => view! {
                            <label class="comment-label">
                                {t!("comments.yours").to_string()}
                                <textarea class="comment-body" rows=2
                                    prop:value=move || draft.get()
                                    on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                            </label>
                            <button type="button" class="comment-send" on:click=send>{t!("comments.send").to_string()}</button>
                            <button type="button" class="comment-cancel" on:click=move |_| writing.set(None)>{t!("comments.cancel").to_string()}</button>
                        }.into_any(),
                    }}
                    {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
                </div>
            })}
        </div>
    }
}

fn comment_error(e: &comments::CommentError) -> String {
    use comments::CommentError::*;
    match e {
        NoPassage => t!("comments.choose_first").to_string(),
        Empty => t!("comments.empty").to_string(),
        TooLong => t!("comments.too_long", n = comments::MAX_BODY).to_string(),
        NotFound | Doc(_) => t!("comments.failed").to_string(),
    }
}

/// One thread: the passage, the comment, its replies; reply and resolve.
#[component]
fn Thread(comments: Comments, c: Comment) -> impl IntoView {
    let id = StoredValue::new(c.id.clone());
    let reply = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let resolved = c.resolved_by.clone();
    let open = resolved.is_none();
    let mine = c.writer.user_id == comments.me.with_value(|m| m.user_id);
    let may_resolve = comments.reviewer || mine;
    let send_reply = move |_| {
        let body = reply.get_untracked();
        let mut result = Ok(());
        repo().change(comments.doc, |d| {
            result = comments::reply(
                d,
                &id.get_value(),
                &body,
                &comments.me.get_value(),
                Comments::time(),
            );
        });
        match result {
            Ok(()) => {
                reply.set(String::new());
                problem.set(None);
            }
            Err(e) => problem.set(Some(comment_error(&e))),
        }
    };
    let resolve = move |_| {
        let name = comments.me.with_value(|m| m.name.clone());
        repo().change(comments.doc, |d| {
            let _ = comments::resolve(d, &id.get_value(), &name);
        });
    };
    let writer = comments.writer_of(&c.object, &c.writer);
    let quote = c.quote.clone();
    view! {
        <div class="comment-thread" data-comment=c.id.clone() data-resolved=(!open).to_string()>
            <p class="comment-passage">
                "“" <span class="comment-now">{c.passage.clone()}</span> "”"
                {(c.passage != quote).then(|| view! {
                    " " <span class="comment-then">{t!("comments.then", quote = quote.clone()).to_string()}</span>
                })}
            </p>
            <p class="comment-main">
                <strong class="comment-writer">{writer}</strong>
                " · " <span class="comment-time">{date_time(c.time_s * 1000)}</span>
                <br/>
                <span class="comment-text">{c.body.clone()}</span>
            </p>
            <ul class="comment-replies">
                {c.replies.iter().map(|r| {
                    let who = comments.writer_of(&r.object, &r.writer);
                    view! {
                        <li class="comment-reply">
                            <strong class="comment-writer">{who}</strong>
                            " · " {date_time(r.time_s * 1000)} ": "
                            <span class="comment-text">{r.body.clone()}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
            {resolved.map(|by| view! {
                <p class="comment-resolved">{t!("comments.resolved_by", name = by).to_string()}</p>
            })}
            {move || (comments.may.get() && open).then(|| view! {
                <div class="comment-answer">
                    <label class="comment-label">
                        {t!("comments.reply").to_string()}
                        <input type="text" class="comment-reply-body"
                            prop:value=move || reply.get()
                            on:input=move |ev| reply.set(event_target_value(&ev))/>
                    </label>
                    <button type="button" class="comment-reply-send" on:click=send_reply>{t!("comments.send").to_string()}</button>
                    {may_resolve.then(|| view! {
                        <button type="button" class="comment-resolve" on:click=resolve>{t!("comments.resolve").to_string()}</button>
                    })}
                    {move || problem.get().map(|p| view! { <p class="error" role="alert">{p}</p> })}
                </div>
            })}
        </div>
    }
}

//! A report's history: who wrote each passage, the editing sessions in
//! order, and restoring a text or the whole report as it was after one of
//! them.
//!
//! Authors come from the server's record (`api::Authorship`): a change is
//! the work of whoever first delivered it, whatever it claims. A restore is
//! a new change that puts the old words back; history is never rewritten.

use automerge::{Automerge, ChangeHash, ObjId, ReadDoc};

use super::{ItemAt, Outline, TextAt, SECTION_TEXTS};
use crate::api::Authorship;

/// Two changes of one author further apart than this are two sessions.
const SESSION_GAP_S: i64 = 30 * 60;

/// Who wrote something, as the server recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub user_id: i64,
    pub name: String,
    pub unit: String,
}

/// A run of a text written by one author (`None`: not on record, such as
/// the text the server itself put in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passage {
    pub text: String,
    pub author: Option<Author>,
}

/// The text at `text`, in runs by author.
pub fn passages(doc: &Automerge, text: &ObjId, authors: &Authorship) -> Vec<Passage> {
    let mut out: Vec<Passage> = Vec::new();
    for item in doc.list_range(text, ..) {
        let author =
            match item.id() {
                ObjId::Id(counter, actor, _) => authors
                    .author_of(&actor.to_hex_string(), counter)
                    .map(|(user_id, name, unit)| Author {
                        user_id,
                        name: name.to_string(),
                        unit: unit.to_string(),
                    }),
                ObjId::Root => None,
            };
        let letters = match &item.value {
            automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => s.to_string(),
            _ => continue,
        };
        match out.last_mut() {
            Some(last) if last.author == author => last.text.push_str(&letters),
            _ => out.push(Passage {
                text: letters,
                author,
            }),
        }
    }
    out
}

/// A stretch of one author's work: consecutive changes, none more than
/// `SESSION_GAP_S` after the one before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub author: Option<Author>,
    /// The time the changes claim (seconds; 0 when they claim none).
    pub from_s: i64,
    pub to_s: i64,
    pub changes: usize,
    /// The document as it was right after the session.
    pub heads: Vec<ChangeHash>,
}

/// The editing sessions of a document, oldest first.
pub fn sessions(doc: &Automerge, authors: &Authorship) -> Vec<Session> {
    let mut out: Vec<Session> = Vec::new();
    let mut applied: Vec<ChangeHash> = Vec::new();
    for change in doc.get_changes(&[]) {
        let author = authors
            .author_of(&change.actor_id().to_hex_string(), change.start_op().get())
            .map(|(user_id, name, unit)| Author {
                user_id,
                name: name.to_string(),
                unit: unit.to_string(),
            });
        // The heads after this change: it replaces those of its
        // dependencies.
        applied.retain(|h| !change.deps().contains(h));
        applied.push(change.hash());
        let time = change.timestamp();
        let joins = out.last().is_some_and(|last| {
            last.author == author
                && (time == 0 || last.to_s == 0 || time - last.to_s <= SESSION_GAP_S)
        });
        match out.last_mut() {
            Some(last) if joins => {
                last.changes += 1;
                if time != 0 {
                    if last.from_s == 0 {
                        last.from_s = time;
                    }
                    last.to_s = time;
                }
                last.heads = applied.clone();
            }
            _ => out.push(Session {
                author,
                from_s: time,
                to_s: time,
                changes: 1,
                heads: applied.clone(),
            }),
        }
    }
    out
}

/// Every text of a report, in the order of the form.
pub fn texts(outline: &Outline) -> Vec<TextAt> {
    let mut texts = Vec::new();
    for (section, s) in outline.sections.iter().enumerate() {
        for key in SECTION_TEXTS {
            texts.push(TextAt::Section { section, key });
        }
        for measure in 0..s.measures.len() {
            texts.push(TextAt::Evidence { section, measure });
        }
    }
    texts.extend((0..outline.extra_items.len()).map(TextAt::ExtraEvidence));
    texts
}

/// Every status of a report.
fn items(outline: &Outline) -> Vec<ItemAt> {
    let mut items = Vec::new();
    for (section, s) in outline.sections.iter().enumerate() {
        items.extend((0..s.measures.len()).map(|measure| ItemAt::Measure { section, measure }));
    }
    items.extend((0..outline.extra_items.len()).map(ItemAt::Extra));
    items
}

/// Puts back one text as it was at `heads`, as one new change; answers
/// whether anything changed.
pub fn restore_text(doc: &mut Automerge, at: &TextAt, heads: &[ChangeHash]) -> bool {
    restore(doc, std::slice::from_ref(at), &[], heads)
}

/// Puts back every text and status of a report as they were at `heads`, as
/// one new change; answers whether anything changed.
pub fn restore_report(doc: &mut Automerge, heads: &[ChangeHash]) -> bool {
    let Some(outline) = Outline::read(doc) else {
        return false;
    };
    restore(doc, &texts(&outline), &items(&outline), heads)
}

fn restore(doc: &mut Automerge, texts: &[TextAt], items: &[ItemAt], heads: &[ChangeHash]) -> bool {
    use automerge::transaction::Transactable;
    let mut edits = Vec::new();
    for at in texts {
        let Some(obj) = at.locate(doc) else { continue };
        let now = doc.text(&obj).unwrap_or_default();
        let then = doc.text_at(&obj, heads).unwrap_or_default();
        if let Some(splice) = crate::text::diff(&now, &then) {
            edits.push((obj, splice));
        }
    }
    let mut statuses = Vec::new();
    for at in items {
        let Some(item) = at.locate(doc) else { continue };
        let then = match doc.get_at(&item, "status", heads) {
            Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().map(str::to_string),
            _ => None,
        };
        if let Some(then) = then {
            if at.status(doc).as_deref() != Some(then.as_str()) {
                statuses.push((item, then));
            }
        }
    }
    if edits.is_empty() && statuses.is_empty() {
        return false;
    }
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        for (obj, splice) in &edits {
            tx.splice_text(obj, splice.at, splice.delete as isize, &splice.insert)?;
        }
        for (item, status) in &statuses {
            tx.put(item, "status", status.as_str())?;
        }
        Ok(())
    })
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ActorAuthor, Borrowed};
    use crate::fixtures::small_plan;
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::ActorId;

    const RESULTS: TextAt = TextAt::Section {
        section: 0,
        key: "results",
    };

    fn author(actor: &ActorId, user_id: i64, name: &str) -> ActorAuthor {
        ActorAuthor {
            actor: actor.to_hex_string(),
            user_id,
            name: name.into(),
            unit: "phong-ngan-sach".into(),
            first_seen_ms: 0,
        }
    }

    fn type_in(doc: &mut Automerge, actor: &ActorId, words: &str, time: i64) {
        doc.set_actor(actor.clone());
        let text = RESULTS.locate(doc).unwrap();
        doc.transact_with::<_, _, automerge::AutomergeError, _>(
            |_| CommitOptions::default().with_time(time),
            |tx| {
                let end = tx.length(&text);
                tx.splice_text(&text, end, 0, words)?;
                Ok(())
            },
        )
        .unwrap();
    }

    fn report() -> Automerge {
        let mut doc = Automerge::new();
        super::super::generate(&small_plan(), "phong-ngan-sach", "2026-h1", &mut doc).unwrap();
        doc
    }

    #[test]
    fn passages_and_sessions_follow_the_servers_record_not_the_actor() {
        let mut doc = report();
        let (lan, minh) = (ActorId::random(), ActorId::random());
        type_in(&mut doc, &lan, "Lan viết. ", 1_000);
        type_in(&mut doc, &lan, "Thêm. ", 1_060);
        type_in(&mut doc, &minh, "Minh viết. ", 1_100);
        // Minh's next change is made in Lan's actor id: the server saw Minh
        // deliver it, and says so.
        type_in(&mut doc, &lan, "Giả danh Lan.", 1_200);
        let change = doc.get_last_local_change().unwrap().clone();
        let mut authors = Authorship {
            actors: vec![author(&lan, 1, "Lan"), author(&minh, 2, "Minh")],
            borrowed: vec![Borrowed {
                actor: lan.to_hex_string(),
                start_op: change.start_op().get(),
                end_op: change.start_op().get() + change.len() as u64,
                user_id: 2,
                name: "Minh".into(),
                unit: "phong-ngan-sach".into(),
            }],
        };
        let text = RESULTS.locate(&doc).unwrap();
        let runs: Vec<(String, Option<String>)> = passages(&doc, &text, &authors)
            .into_iter()
            .map(|p| (p.text, p.author.map(|a| a.name)))
            .collect();
        assert_eq!(
            runs,
            vec![
                ("Lan viết. Thêm. ".into(), Some("Lan".into())),
                ("Minh viết. Giả danh Lan.".into(), Some("Minh".into())),
            ]
        );
        let sessions = sessions(&doc, &authors);
        let shape: Vec<(Option<String>, usize, i64, i64)> = sessions
            .iter()
            .map(|s| {
                (
                    s.author.as_ref().map(|a| a.name.clone()),
                    s.changes,
                    s.from_s,
                    s.to_s,
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                (None, 1, 0, 0),
                (Some("Lan".into()), 2, 1_000, 1_060),
                (Some("Minh".into()), 2, 1_100, 1_200),
            ]
        );
        // Without the record of the borrowed change, it reads as Lan's.
        authors.borrowed.clear();
        let last = passages(&doc, &text, &authors).pop().unwrap();
        assert_eq!(last.text, "Giả danh Lan.");
        assert_eq!(last.author.unwrap().name, "Lan");
    }

    #[test]
    fn a_long_pause_starts_a_new_session() {
        let mut doc = report();
        let lan = ActorId::random();
        type_in(&mut doc, &lan, "Sáng. ", 10_000);
        type_in(&mut doc, &lan, "Chiều.", 10_000 + SESSION_GAP_S + 1);
        let authors = Authorship {
            actors: vec![author(&lan, 1, "Lan")],
            borrowed: vec![],
        };
        let sessions = sessions(&doc, &authors);
        assert_eq!(
            sessions.len(),
            3,
            "the server's generation, morning, afternoon"
        );
    }

    #[test]
    fn a_restore_puts_back_old_words_as_a_new_change() {
        let mut doc = report();
        let lan = ActorId::random();
        type_in(&mut doc, &lan, "Bản đầu.", 1_000);
        let first = doc.get_heads();
        let item = ItemAt::Measure {
            section: 0,
            measure: 0,
        };
        let status_then = item.status(&doc);
        type_in(&mut doc, &lan, " Sửa sau.", 2_000);
        assert!(item.set_status(&mut doc, "done"));
        let evidence = TextAt::Evidence {
            section: 0,
            measure: 0,
        };
        let ev = evidence.locate(&doc).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.splice_text(&ev, 0, 0, "Minh chứng")?;
            Ok(())
        })
        .unwrap();
        let changes = doc.get_changes(&[]).len();

        assert!(restore_text(&mut doc, &RESULTS, &first));
        let text = RESULTS.locate(&doc).unwrap();
        assert_eq!(doc.text(&text).unwrap(), "Bản đầu.");
        assert_eq!(
            item.status(&doc).as_deref(),
            Some("done"),
            "only the one text"
        );
        assert_eq!(doc.get_changes(&[]).len(), changes + 1, "one new change");
        assert!(
            !restore_text(&mut doc, &RESULTS, &first),
            "nothing left to do"
        );

        assert!(restore_report(&mut doc, &first));
        assert_eq!(item.status(&doc), status_then);
        assert_eq!(doc.text(&ev).unwrap(), "");
        assert_eq!(doc.get_changes(&[]).len(), changes + 2);
    }
}

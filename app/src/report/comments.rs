//! Comments on a passage of a report's text, kept in the report itself
//! (`comments`, a map by comment id at the root), so that they work offline
//! and sync like the rest.
//!
//! A comment's passage is held by two automerge cursors — its first letter
//! and its last — so it stays on its words when others write before,
//! inside or after it, concurrently too. A thread is a comment and its
//! replies; the author or a reviewer resolves it, and a resolved thread
//! stays readable.
//!
//! The names written in a comment are what its writer's app claims; the
//! server's record of who delivered each change (`api::Authorship`) says
//! who really wrote it, and the screen shows that (see `author_object`).

use automerge::transaction::Transactable;
use automerge::{Automerge, Cursor, MoveCursor, ObjId, ObjType, ReadDoc, ROOT};

use super::TextAt;

/// The root key of the comments map. A change by someone who may only
/// comment must stay inside it (the server checks).
pub const KEY: &str = "comments";
/// A comment or reply longer than this is refused.
pub const MAX_BODY: usize = 4_000;

/// Who writes, as their app knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writer {
    pub user_id: i64,
    pub name: String,
    pub unit: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub writer: Writer,
    pub body: String,
    pub time_s: i64,
    /// The reply's object: its id names the change that made it.
    pub object: ObjId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
    /// The text it is on (`TextAt::key`).
    pub field: String,
    /// Where its passage is now, in letters.
    pub start: usize,
    pub end: usize,
    /// The passage as it reads now, and as it was when commented on.
    pub passage: String,
    pub quote: String,
    pub writer: Writer,
    pub body: String,
    pub time_s: i64,
    pub resolved_by: Option<String>,
    pub replies: Vec<Reply>,
    pub object: ObjId,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommentError {
    #[error("choose a passage of the text first")]
    NoPassage,
    #[error("write something first")]
    Empty,
    #[error("a comment may be at most {MAX_BODY} letters long")]
    TooLong,
    #[error("there is no such text or comment")]
    NotFound,
    #[error("{0}")]
    Doc(String),
}

impl From<automerge::AutomergeError> for CommentError {
    fn from(e: automerge::AutomergeError) -> Self {
        CommentError::Doc(e.to_string())
    }
}

fn child(doc: &Automerge, obj: &ObjId, key: &str) -> Option<ObjId> {
    match doc.get(obj, key).ok()?? {
        (automerge::Value::Object(_), id) => Some(id),
        _ => None,
    }
}

fn string(doc: &Automerge, obj: &ObjId, key: &str) -> String {
    match doc.get(obj, key) {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    }
}

fn number(doc: &Automerge, obj: &ObjId, key: &str) -> i64 {
    match doc.get(obj, key) {
        Ok(Some((automerge::Value::Scalar(s), _))) => crate::schema::whole_number(&s).unwrap_or(0),
        _ => 0,
    }
}

fn checked(body: &str) -> Result<&str, CommentError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(CommentError::Empty);
    }
    if body.chars().count() > MAX_BODY {
        return Err(CommentError::TooLong);
    }
    Ok(body)
}

fn put_writer(
    tx: &mut automerge::transaction::Transaction<'_>,
    obj: &ObjId,
    writer: &Writer,
    body: &str,
    time_s: i64,
) -> Result<(), automerge::AutomergeError> {
    tx.put(obj, "user_id", writer.user_id)?;
    tx.put(obj, "name", writer.name.as_str())?;
    tx.put(obj, "unit", writer.unit.as_str())?;
    tx.put(obj, "body", body)?;
    tx.put(obj, "time", time_s)?;
    Ok(())
}

/// The comments map, made if an older report has none yet.
fn comments_map(
    tx: &mut automerge::transaction::Transaction<'_>,
) -> Result<ObjId, automerge::AutomergeError> {
    match tx.get(ROOT, KEY)? {
        Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
        _ => tx.put_object(ROOT, KEY, ObjType::Map),
    }
}

/// Comments on letters `start..end` of the text at `at`; answers the new
/// comment's id.
pub fn add(
    doc: &mut Automerge,
    at: &TextAt,
    (start, end): (usize, usize),
    body: &str,
    writer: &Writer,
    time_s: i64,
) -> Result<String, CommentError> {
    let body = checked(body)?;
    let text = at.locate(doc).ok_or(CommentError::NotFound)?;
    let len = doc.length(&text);
    if start >= end || end > len {
        return Err(CommentError::NoPassage);
    }
    let first = doc.get_cursor_moving(&text, start, None, MoveCursor::After)?;
    let last = doc.get_cursor_moving(&text, end - 1, None, MoveCursor::Before)?;
    let quote: String = doc
        .text(&text)?
        .chars()
        .skip(start)
        .take(end - start)
        .collect();
    let id = automerge::ActorId::random().to_hex_string()[..16].to_string();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let comments = comments_map(tx)?;
        let c = tx.put_object(&comments, id.as_str(), ObjType::Map)?;
        tx.put(&c, "field", at.key())?;
        tx.put(&c, "first", first.to_string())?;
        tx.put(&c, "last", last.to_string())?;
        tx.put(&c, "quote", quote.as_str())?;
        put_writer(tx, &c, writer, body, time_s)?;
        tx.put_object(&c, "replies", ObjType::List)?;
        Ok(())
    })
    .map_err(|f| CommentError::from(f.error))?;
    Ok(id)
}

fn comment_object(doc: &Automerge, id: &str) -> Option<ObjId> {
    child(doc, &child(doc, &ROOT, KEY)?, id)
}

/// Replies to the comment `id`.
pub fn reply(
    doc: &mut Automerge,
    id: &str,
    body: &str,
    writer: &Writer,
    time_s: i64,
) -> Result<(), CommentError> {
    let body = checked(body)?;
    let c = comment_object(doc, id).ok_or(CommentError::NotFound)?;
    let replies = child(doc, &c, "replies").ok_or(CommentError::NotFound)?;
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let at = tx.length(&replies);
        let r = tx.insert_object(&replies, at, ObjType::Map)?;
        put_writer(tx, &r, writer, body, time_s)
    })
    .map_err(|f| CommentError::from(f.error))?;
    Ok(())
}

/// Marks the thread `id` resolved by `by` (a name); it stays readable.
pub fn resolve(doc: &mut Automerge, id: &str, by: &str) -> Result<(), CommentError> {
    let c = comment_object(doc, id).ok_or(CommentError::NotFound)?;
    doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(&c, "resolved_by", by))
        .map_err(|f| CommentError::from(f.error))?;
    Ok(())
}

fn writer(doc: &Automerge, obj: &ObjId) -> Writer {
    Writer {
        user_id: number(doc, obj, "user_id"),
        name: string(doc, obj, "name"),
        unit: string(doc, obj, "unit"),
    }
}

/// Every comment of the document, with where its passage is now, oldest
/// first.
pub fn all(doc: &Automerge) -> Vec<Comment> {
    let Some(comments) = child(doc, &ROOT, KEY) else {
        return Vec::new();
    };
    if doc.length(&comments) == 0 {
        return Vec::new();
    }
    let texts: Vec<TextAt> = super::Outline::read(doc)
        .map(|o| super::history::texts(&o))
        .unwrap_or_default();
    let mut out: Vec<Comment> = doc
        .map_range(&comments, ..)
        .filter_map(|item| {
            let c = match item.value {
                automerge::ValueRef::Object(ObjType::Map) => item.id(),
                _ => return None,
            };
            let field = string(doc, &c, "field");
            let text = texts.iter().find(|at| at.key() == field)?.locate(doc)?;
            let first = Cursor::try_from(string(doc, &c, "first").as_str()).ok()?;
            let last = Cursor::try_from(string(doc, &c, "last").as_str()).ok()?;
            let start = doc.get_cursor_position(&text, &first, None).ok()?;
            let end = (doc.get_cursor_position(&text, &last, None).ok()? + 1).max(start);
            let passage = doc
                .text(&text)
                .ok()?
                .chars()
                .skip(start)
                .take(end - start)
                .collect();
            let replies = child(doc, &c, "replies")
                .map(|list| {
                    (0..doc.length(&list))
                        .filter_map(|i| child_at(doc, &list, i))
                        .map(|r| Reply {
                            writer: writer(doc, &r),
                            body: string(doc, &r, "body"),
                            time_s: number(doc, &r, "time"),
                            object: r,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let resolved_by = Some(string(doc, &c, "resolved_by")).filter(|s| !s.is_empty());
            Some(Comment {
                id: item.key.to_string(),
                field,
                start,
                end,
                passage,
                quote: string(doc, &c, "quote"),
                writer: writer(doc, &c),
                body: string(doc, &c, "body"),
                time_s: number(doc, &c, "time"),
                resolved_by,
                replies,
                object: c,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.time_s, &a.id).cmp(&(b.time_s, &b.id)));
    out
}

fn child_at(doc: &Automerge, list: &ObjId, i: usize) -> Option<ObjId> {
    match doc.get(list, i).ok()?? {
        (automerge::Value::Object(ObjType::Map), id) => Some(id),
        _ => None,
    }
}

/// The actor and operation that made a comment or reply, to look its
/// author up in the server's record.
pub fn author_object(object: &ObjId) -> Option<(String, u64)> {
    match object {
        ObjId::Id(counter, actor, _) => Some((actor.to_hex_string(), *counter)),
        ObjId::Root => None,
    }
}

/// Whether `changes`, applied to `doc`, change nothing but its comments
/// (making the comments map of an older report included): what the server
/// lets through from someone who may only comment. Changes that cannot be
/// applied yet (their history is missing) are refused too, since what they
/// change cannot be known.
pub fn only_comments(doc: &Automerge, changes: Vec<automerge::Change>) -> bool {
    comment_edits(doc, changes).is_some()
}

/// What `changes` do to `doc`'s comments: the threads they mark resolved
/// (each thread's object, whose id names the change that made it), or
/// `None` if they change anything but the comments (see `only_comments`).
pub fn comment_edits(doc: &Automerge, changes: Vec<automerge::Change>) -> Option<Vec<ObjId>> {
    let hashes: Vec<automerge::ChangeHash> = changes.iter().map(|c| c.hash()).collect();
    let had_map = child(doc, &ROOT, KEY).is_some();
    let mut fork = doc.fork();
    let before = fork.get_heads();
    if fork.apply_changes(changes).is_err()
        || hashes.iter().any(|h| fork.get_change_by_hash(h).is_none())
    {
        return None;
    }
    let after = fork.get_heads();
    let mut resolved = Vec::new();
    for patch in fork.diff(&before, &after) {
        let inside = match patch.path.first() {
            Some((obj, automerge::Prop::Map(key))) => *obj == ROOT && key == KEY,
            Some(_) => false,
            None => {
                !had_map
                    && patch.obj == ROOT
                    && matches!(&patch.action, automerge::PatchAction::PutMap { key, value: (automerge::Value::Object(ObjType::Map), _), .. } if key == KEY)
            }
        };
        if !inside {
            return None;
        }
        // A thread is a map right under `comments`; its `resolved_by`.
        if patch.path.len() == 2 {
            if let automerge::PatchAction::PutMap { key, .. } = &patch.action {
                if key == "resolved_by" {
                    resolved.push(patch.obj.clone());
                }
            }
        }
    }
    Some(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::small_plan;

    const RESULTS: TextAt = TextAt::Section {
        section: 0,
        key: "results",
    };

    fn lan() -> Writer {
        Writer {
            user_id: 1,
            name: "Lan".into(),
            unit: "phong-ngan-sach".into(),
        }
    }

    fn report_with(words: &str) -> Automerge {
        let mut doc = Automerge::new();
        super::super::generate(&small_plan(), "phong-ngan-sach", "2026-h1", &mut doc).unwrap();
        splice(&mut doc, 0, 0, words);
        doc
    }

    fn splice(doc: &mut Automerge, at: usize, delete: isize, words: &str) {
        let text = RESULTS.locate(doc).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.splice_text(&text, at, delete, words)?;
            Ok(())
        })
        .unwrap();
    }

    fn passage(doc: &Automerge) -> String {
        all(doc)[0].passage.clone()
    }

    #[test]
    fn a_comment_stays_on_its_words_through_concurrent_edits() {
        let mut doc = report_with("Đã tiếp 40 lượt công dân trong quý.");
        // "40 lượt" is letters 8..15.
        add(&mut doc, &RESULTS, (8, 15), "Số liệu từ đâu?", &lan(), 100).unwrap();
        assert_eq!(passage(&doc), "40 lượt");
        let mut before = doc.fork();
        let mut inside = doc.fork();
        let mut after = doc.fork();
        splice(&mut before, 0, 0, "Quý II: ");
        splice(&mut inside, 10, 0, "0"); // "400 lượt"
        splice(&mut after, 15, 0, " (có biên bản)");
        for other in [&mut before, &mut inside, &mut after] {
            doc.merge(other).unwrap();
        }
        assert_eq!(
            doc.text(RESULTS.locate(&doc).unwrap()).unwrap(),
            "Quý II: Đã tiếp 400 lượt (có biên bản) công dân trong quý."
        );
        assert_eq!(passage(&doc), "400 lượt");
        assert_eq!(all(&doc)[0].quote, "40 lượt", "the words as commented on");
    }

    #[test]
    fn deleting_the_ends_of_a_passage_keeps_what_is_left() {
        let mut doc = report_with("một hai ba bốn");
        add(&mut doc, &RESULTS, (4, 10), "?", &lan(), 1).unwrap(); // "hai ba"
        splice(&mut doc, 4, 1, ""); // "ai ba"
        splice(&mut doc, 8, 1, ""); // "ai b"
        assert_eq!(passage(&doc), "ai b");
    }

    #[test]
    fn threads_have_replies_and_stay_readable_once_resolved() {
        let mut doc = report_with("Văn bản.");
        let minh = Writer {
            user_id: 2,
            name: "Minh".into(),
            unit: "van-phong".into(),
        };
        let id = add(&mut doc, &RESULTS, (0, 3), "Sửa lại?", &minh, 10).unwrap();
        reply(&mut doc, &id, "Đã sửa.", &lan(), 20).unwrap();
        resolve(&mut doc, &id, "Minh").unwrap();
        let c = &all(&doc)[0];
        assert_eq!(
            (c.body.as_str(), c.writer.name.as_str()),
            ("Sửa lại?", "Minh")
        );
        assert_eq!(c.replies.len(), 1);
        assert_eq!(c.replies[0].body, "Đã sửa.");
        assert_eq!(c.resolved_by.as_deref(), Some("Minh"));
        assert!(author_object(&c.object).is_some());
    }

    #[test]
    fn the_threads_a_change_resolves_are_named() {
        let mut doc = report_with("abc");
        let id = add(&mut doc, &RESULTS, (0, 2), "Sửa lại?", &lan(), 0).unwrap();
        let thread = all(&doc)[0].object.clone();
        let step = |doc: &Automerge, f: &dyn Fn(&mut Automerge)| {
            let mut fork = doc.fork();
            f(&mut fork);
            let changes = fork.get_changes(&doc.get_heads());
            comment_edits(doc, changes)
        };
        assert_eq!(
            step(&doc, &|d| resolve(d, &id, "Minh").unwrap()),
            Some(vec![thread])
        );
        assert_eq!(
            step(&doc, &|d| reply(d, &id, "Đã sửa.", &lan(), 1).unwrap()),
            Some(vec![])
        );
        assert_eq!(step(&doc, &|d| splice(d, 0, 0, "x")), None);
        // A new thread resolved at once: its own object.
        let both = step(&doc, &|d| {
            let own = add(d, &RESULTS, (1, 3), "Rõ.", &lan(), 2).unwrap();
            resolve(d, &own, "Lan").unwrap();
        });
        assert_eq!(both.map(|r| r.len()), Some(1));
    }

    #[test]
    fn bad_comments_are_refused_and_change_nothing() {
        let mut doc = report_with("abc");
        let heads = doc.get_heads();
        assert_eq!(
            add(&mut doc, &RESULTS, (1, 1), "x", &lan(), 0),
            Err(CommentError::NoPassage)
        );
        assert_eq!(
            add(&mut doc, &RESULTS, (0, 9), "x", &lan(), 0),
            Err(CommentError::NoPassage)
        );
        assert_eq!(
            add(&mut doc, &RESULTS, (0, 1), "  ", &lan(), 0),
            Err(CommentError::Empty)
        );
        let long = "x".repeat(MAX_BODY + 1);
        assert_eq!(
            add(&mut doc, &RESULTS, (0, 1), &long, &lan(), 0),
            Err(CommentError::TooLong)
        );
        assert_eq!(
            reply(&mut doc, "nope", "x", &lan(), 0),
            Err(CommentError::NotFound)
        );
        assert_eq!(doc.get_heads(), heads);
    }

    #[test]
    fn only_changes_inside_the_comments_pass_for_a_commenter() {
        let server = report_with("Văn bản.");
        let mut reviewer = server.fork();
        let heads = server.get_heads();
        add(&mut reviewer, &RESULTS, (0, 3), "?", &lan(), 1).unwrap();
        let id = all(&reviewer)[0].id.clone();
        reply(&mut reviewer, &id, "!", &lan(), 2).unwrap();
        resolve(&mut reviewer, &id, "Lan").unwrap();
        let comments = reviewer.get_changes(&heads);
        assert!(only_comments(&server, comments));

        let mut writer = server.fork();
        splice(&mut writer, 0, 0, "Sửa: ");
        let edit: Vec<_> = writer.get_changes(&heads);
        assert!(!only_comments(&server, edit.clone()));
        // A comment and an edit together are refused as a whole.
        let mut both = reviewer.fork();
        splice(&mut both, 0, 0, "x");
        let mixed = both.get_changes(&heads);
        assert!(!only_comments(&server, mixed));
        // A change whose history the server lacks cannot be judged.
        let mut later = writer.fork();
        add(&mut later, &RESULTS, (0, 3), "?", &lan(), 3).unwrap();
        let orphan = later.get_changes(&writer.get_heads());
        assert!(!only_comments(&server, orphan));
    }

    #[test]
    fn an_older_report_gets_its_comments_map_from_a_commenter() {
        let mut old = report_with("abc");
        old.transact::<_, _, automerge::AutomergeError>(|tx| tx.delete(ROOT, KEY))
            .unwrap();
        let heads = old.get_heads();
        let mut reviewer = old.fork();
        add(&mut reviewer, &RESULTS, (0, 1), "?", &lan(), 1).unwrap();
        let changes = reviewer.get_changes(&heads);
        assert!(only_comments(&old, changes));
        let mut other = old.fork();
        other
            .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "kind", "plan"))
            .unwrap();
        let changes = other.get_changes(&heads);
        assert!(!only_comments(&old, changes));
    }

    /// What comments cost a report: printed, for the README.
    #[test]
    fn the_size_comments_add() {
        // Varied words, as people write: repeated ones would compress away.
        const WORDS: [&str; 12] = [
            "số liệu",
            "bổ sung",
            "đề nghị",
            "kết quả",
            "công dân",
            "thủ tục",
            "hồ sơ",
            "đúng hạn",
            "trễ hạn",
            "phường",
            "xã",
            "minh chứng",
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut sentence = |n: usize| {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    WORDS[(x % 12) as usize]
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut doc = report_with(&sentence(2_000));
        let bare = doc.save().len();
        for i in 0..100 {
            let body = sentence(12);
            let id = add(
                &mut doc,
                &RESULTS,
                (i * 10, i * 10 + 8),
                &body,
                &lan(),
                i as i64,
            )
            .unwrap();
            let answer = sentence(6);
            reply(&mut doc, &id, &answer, &lan(), i as i64).unwrap();
        }
        let with = doc.save().len();
        println!(
            "a report of {bare} bytes grows by {} bytes with 100 comments and 100 replies ({} bytes each thread)",
            with - bare,
            (with - bare) / 100
        );
        assert!(with > bare);
    }
}

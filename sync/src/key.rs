//! Where a document's bytes are stored: the keys of its chunks.
//!
//! The layout is automerge-repo's, so that a database written by earlier
//! releases (and by samod) opens unchanged:
//! - `<doc>/incremental/<change hash>`: one change's bytes;
//! - `<doc>/snapshot/<hash of heads>`: the whole document (`Automerge::save`)
//!   up to those heads; the name is the SHA-256 of the heads, in order.
//!
//! Chunks are content-addressed, so two writers of the same document never
//! overwrite each other's data with something different.

use std::fmt;

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

use crate::DocId;

/// One stored chunk of one document.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub doc: DocId,
    pub chunk: Chunk,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Chunk {
    /// One change, by its hash.
    Incremental(ChangeHash),
    /// The whole document, named by the hash of its heads (64 hex digits).
    Snapshot(String),
}

impl Key {
    pub fn incremental(doc: DocId, change: ChangeHash) -> Key {
        Key {
            doc,
            chunk: Chunk::Incremental(change),
        }
    }

    /// The key of a snapshot of `doc` at `heads`.
    pub fn snapshot(doc: DocId, heads: &[ChangeHash]) -> Key {
        let mut hasher = Sha256::new();
        for head in heads {
            hasher.update(head.as_ref());
        }
        let name = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Key {
            doc,
            chunk: Chunk::Snapshot(name),
        }
    }

    /// Reads a key in its stored form; `None` for anything that is not a
    /// document chunk (a store may hold other keys, such as its own id).
    pub fn parse(text: &str) -> Option<Key> {
        let mut parts = text.split('/');
        let doc = DocId::parse(parts.next()?).ok()?;
        let chunk = match (parts.next()?, parts.next()?) {
            ("incremental", hash) => Chunk::Incremental(hash.parse().ok()?),
            ("snapshot", name)
                if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Chunk::Snapshot(name.to_ascii_lowercase())
            }
            _ => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Key { doc, chunk })
    }

    /// The prefix every key of `doc` starts with, in stored form: what a
    /// store selects to load the document.
    pub fn prefix(doc: DocId) -> String {
        format!("{doc}/")
    }

    pub fn is_snapshot(&self) -> bool {
        matches!(self.chunk, Chunk::Snapshot(_))
    }
}

/// The stored form: parts joined by `/`, which no part contains.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.chunk {
            Chunk::Incremental(hash) => write!(f, "{}/incremental/{hash}", self.doc),
            Chunk::Snapshot(name) => write!(f, "{}/snapshot/{name}", self.doc),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_stored_form() {
        let doc = DocId::from_bytes([5; 16]);
        let change = ChangeHash([7; 32]);
        for key in [
            Key::incremental(doc, change),
            Key::snapshot(doc, &[change, ChangeHash([1; 32])]),
        ] {
            assert_eq!(Key::parse(&key.to_string()), Some(key.clone()));
            assert!(key.to_string().starts_with(&Key::prefix(doc)));
        }
        assert_eq!(Key::parse("storage-adapter-id"), None);
        assert_eq!(Key::parse(&format!("{doc}/snapshot/xyz")), None);
        assert_eq!(
            Key::parse(&format!("{doc}/incremental/{change}/more")),
            None
        );
    }

    #[test]
    fn a_snapshot_is_named_by_the_sha256_of_its_heads_as_automerge_repo_names_it() {
        // The SHA-256 of no bytes: a snapshot of an empty document.
        let empty = Key::snapshot(DocId::from_bytes([0; 16]), &[]);
        assert_eq!(
            empty.chunk,
            Chunk::Snapshot(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()
            )
        );
    }
}

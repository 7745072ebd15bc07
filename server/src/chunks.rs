//! The chunks in a sync message's `changes`: a run of change chunks, or a
//! whole document (`Automerge::save`), as automerge-repo clients send a
//! morning's offline edits. What the sync guard reads to record who
//! delivered which change and to check what one who may only comment sends.

fn uleb(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// One chunk of a sync message's changes.
pub enum Chunk<'a> {
    Change(Box<automerge::Change>),
    /// A whole document (`Automerge::save`).
    Document(&'a [u8]),
}

/// The chunks in a sync message's bytes (a run of change chunks, or a
/// whole document); what does not parse is left out. Every automerge chunk
/// starts with a magic number (4 bytes), a checksum (4), the chunk's type
/// (1: 0 a document, 1 a change, 2 a compressed change) and its length.
pub fn chunks_in(bytes: &[u8]) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let mut end = at + 9;
        let (Some(kind), Some(len)) = (bytes.get(at + 8), uleb(bytes, &mut end)) else {
            break;
        };
        let Some(stop) = usize::try_from(len).ok().and_then(|l| end.checked_add(l)) else {
            break;
        };
        let Some(chunk) = bytes.get(at..stop) else {
            break;
        };
        if *kind == 0 {
            out.push(Chunk::Document(chunk));
        } else if let Ok(change) = automerge::Change::try_from(chunk) {
            out.push(Chunk::Change(Box::new(change)));
        }
        at = stop;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::Automerge;

    #[test]
    fn a_run_of_changes_and_a_whole_document_are_told_apart() {
        let mut doc = Automerge::new();
        for i in 0..3 {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "n", i as i64)
            })
            .unwrap();
        }
        let run: Vec<u8> = doc
            .get_changes(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let hashes: Vec<_> = chunks_in(&run)
            .into_iter()
            .map(|c| match c {
                Chunk::Change(c) => c.hash(),
                Chunk::Document(_) => panic!("a change"),
            })
            .collect();
        assert_eq!(
            hashes,
            doc.get_changes(&[])
                .iter()
                .map(|c| c.hash())
                .collect::<Vec<_>>()
        );
        let saved = doc.save();
        assert!(matches!(&chunks_in(&saved)[..], [Chunk::Document(_)]));
        assert!(chunks_in(b"noise").is_empty());
    }
}

//! Text edits between the DOM and automerge.
//!
//! The DOM counts UTF-16 code units; automerge (as built here) counts Unicode
//! code points. Vietnamese letters may be one code point (`ệ`, U+1EC7) or
//! several (`e` + U+0323 + U+0302); both are one UTF-16 unit per code point,
//! but other scripts and emoji are not, so every conversion goes through
//! these helpers.

/// One splice: at `at` (code points), remove `delete` code points, insert `insert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Splice {
    pub at: usize,
    pub delete: usize,
    pub insert: String,
}

/// The smallest splice that turns `old` into `new`, or None if they are equal.
pub fn diff(old: &str, new: &str) -> Option<Splice> {
    if old == new {
        return None;
    }
    let old_chars: Vec<char> = old.chars().collect();
    let new_chars: Vec<char> = new.chars().collect();
    let prefix = old_chars
        .iter()
        .zip(&new_chars)
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = old_chars.len().min(new_chars.len()) - prefix;
    let suffix = old_chars
        .iter()
        .rev()
        .zip(new_chars.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    Some(Splice {
        at: prefix,
        delete: old_chars.len() - prefix - suffix,
        insert: new_chars[prefix..new_chars.len() - suffix].iter().collect(),
    })
}

/// Code points before a UTF-16 offset into `text`.
pub fn utf16_to_chars(text: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (i, c) in text.chars().enumerate() {
        if units >= utf16 {
            return i;
        }
        units += c.len_utf16();
    }
    text.chars().count()
}

/// The UTF-16 offset of a code-point position in `text`.
pub fn chars_to_utf16(text: &str, chars: usize) -> usize {
    text.chars().take(chars).map(char::len_utf16).sum()
}

/// Where a caret at `caret` (UTF-16, in `old`) belongs once `old` has become
/// `new` by someone else's edit: it keeps its place in the text around it.
pub fn move_caret(old: &str, new: &str, caret: usize) -> usize {
    let Some(s) = diff(old, new) else {
        return caret;
    };
    let caret = utf16_to_chars(old, caret);
    let inserted = s.insert.chars().count();
    let moved = if caret <= s.at {
        caret
    } else if caret >= s.at + s.delete {
        caret + inserted - s.delete
    } else {
        s.at + inserted
    };
    chars_to_utf16(new, moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(old: &str, s: &Splice) -> String {
        let mut chars: Vec<char> = old.chars().collect();
        chars.splice(s.at..s.at + s.delete, s.insert.chars());
        chars.into_iter().collect()
    }

    #[test]
    fn diff_finds_the_smallest_splice() {
        assert_eq!(diff("abc", "abc"), None);
        let s = diff("Kết quả", "Kết quả tốt").unwrap();
        assert_eq!(
            s,
            Splice {
                at: 7,
                delete: 0,
                insert: " tốt".into()
            }
        );
        let s = diff("aaa", "aa").unwrap();
        assert_eq!(apply("aaa", &s), "aa");
        assert_eq!(s.delete, 1);
    }

    #[test]
    fn composed_and_decomposed_vietnamese_round_trip() {
        let composed = "Việt Nam";
        let decomposed = "Vie\u{323}\u{302}t Nam";
        for (old, new) in [
            (composed, decomposed),
            (decomposed, composed),
            ("Vie", "Vie\u{323}"),
            ("Vie\u{323}", "Vie\u{323}\u{302}"),
            ("thu tuc", "thủ tục"),
            ("", "Quản trị điện tử"),
            ("Quản trị điện tử", ""),
        ] {
            let s = diff(old, new).unwrap();
            assert_eq!(apply(old, &s), new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn offsets_convert_between_utf16_and_code_points() {
        let text = "a😀ệe\u{302}";
        assert_eq!(chars_to_utf16(text, 2), 3);
        assert_eq!(utf16_to_chars(text, 3), 2);
        assert_eq!(utf16_to_chars(text, 99), 5);
        // Vietnamese alone: one unit per code point.
        let vn = "Tiếng Việt";
        for i in 0..=vn.chars().count() {
            assert_eq!(utf16_to_chars(vn, chars_to_utf16(vn, i)), i);
        }
    }

    #[test]
    fn caret_keeps_its_place_when_others_type() {
        // Someone types before the caret: it moves right.
        assert_eq!(move_caret("tồn tại", "Các tồn tại", 4), 8);
        // Someone types after the caret: it stays.
        assert_eq!(move_caret("tồn tại", "tồn tại, hạn chế", 3), 3);
        // Text around the caret is deleted: it lands where the deletion was.
        assert_eq!(move_caret("nguyên nhân", "nhân", 3), 1);
        // Emoji before the caret count two UTF-16 units.
        assert_eq!(move_caret("ab", "😀ab", 1), 3);
    }
}

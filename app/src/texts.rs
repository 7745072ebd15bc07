//! The interface texts of `app/locales/app.yml`, in Vietnamese and English:
//! a table made when the app is built (`app/build.rs`). Arguments are
//! written `%{name}` in the texts.

use std::fmt::Display;

include!(concat!(env!("OUT_DIR"), "/texts.rs"));

/// The text of `key` in Vietnamese, or in English when `english`.
pub fn lookup(key: &str, english: bool) -> Option<&'static str> {
    let at = TEXTS.binary_search_by(|(k, _, _)| (*k).cmp(key)).ok()?;
    let (_, vi, en) = TEXTS[at];
    Some(if english { en } else { vi })
}

/// `text` with each `%{name}` replaced by its value.
pub fn fill(text: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut out = text.to_string();
    for (name, value) in args {
        out = out.replace(&format!("%{{{name}}}"), &value.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(text: &str) -> Vec<&str> {
        let mut names: Vec<&str> = text
            .split("%{")
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn keys_are_sorted_and_found_in_both_languages() {
        assert!(TEXTS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(lookup("app.title", false), Some("Không gian làm việc PAPI"));
        assert_eq!(lookup("app.title", true), Some("PAPI workspace"));
        assert_eq!(lookup("app.no_such_text", false), None);
    }

    #[test]
    fn both_languages_take_the_same_arguments() {
        for (key, vi, en) in TEXTS {
            assert_eq!(arguments(vi), arguments(en), "{key}");
        }
    }

    #[test]
    fn arguments_are_filled_in() {
        let text = lookup("sign_out.unsynced", true).unwrap();
        assert!(fill(text, &[("n", &3)]).starts_with("3 changes are only on this device"));
    }

    /// Every key written out in the app's code (`t!("…")`) has a text.
    #[test]
    fn every_key_in_the_code_has_a_text() {
        let ui = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
        let mut missing = Vec::new();
        let mut seen = 0;
        for file in std::fs::read_dir(&ui).unwrap() {
            let path = file.unwrap().path();
            let code = std::fs::read_to_string(&path).unwrap();
            for (at, _) in code.match_indices("t!(\"") {
                // Not `assert!("…` and the like.
                if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let key = code[at + 4..].split('"').next().unwrap();
                seen += 1;
                if lookup(key, false).is_none() {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        assert!(seen > 100, "only {seen} keys found in the code");
        assert!(missing.is_empty(), "{missing:#?}");
    }
}

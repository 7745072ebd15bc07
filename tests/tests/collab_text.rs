//! Two people typing into the same text at once, in real Chromium: each
//! keeps their caret where they type, and letters composed by an input
//! method (Telex, VNI, phone keyboards) are neither lost nor doubled.

use std::time::Duration;

use papi_e2e::{wait_for, Browser, Server};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(60);
const FIELD: &str = "textarea[data-field=\"plan/d1-m1\"]";

/// Two people of the Office on the plan's first measure, which holds `text`.
fn two_on_one_text(server: &Server, text: &str) -> (Browser, Browser) {
    let an = Browser::on_the_first_dimension(server, "vanphong");
    let binh = Browser::on_the_first_dimension(server, "vanphong");
    start_from(&an, &binh, text);
    (an, binh)
}

/// Focuses the field and puts the caret after `chars` characters.
fn place_caret(browser: &Browser, chars: usize) {
    browser.execute(
        "const e = document.querySelector(arguments[0]); e.focus();
         const at = [...e.value].slice(0, arguments[1]).join('').length;
         e.setSelectionRange(at, at);",
        json!([FIELD, chars]),
    );
}

fn caret(browser: &Browser) -> u64 {
    browser
        .execute(
            "const e = document.querySelector(arguments[0]); return e.selectionStart;",
            json!([FIELD]),
        )
        .as_u64()
        .expect("a caret")
}

/// Sets the field to `text` through one typed replacement, in both sessions.
fn start_from(a: &Browser, b: &Browser, text: &str) {
    a.execute(
        "const e = document.querySelector(arguments[0]); e.focus(); e.select();",
        json!([FIELD]),
    );
    a.cdp("Input.insertText", json!({ "text": text }));
    b.wait_for_value(FIELD, LIMIT, |v| v == text);
}

#[test]
fn carets_stay_where_each_person_types() {
    let server = Server::start();
    let (an, binh) = two_on_one_text(&server, "Họp dân xong.");

    // An types in the middle, Bình at the end, letter by letter, in turns.
    place_caret(&an, 3);
    place_caret(&binh, "Họp dân xong.".chars().count());
    for (a, b) in "abcdefgh".chars().zip("12345678".chars()) {
        an.cdp("Input.insertText", json!({ "text": a.to_string() }));
        binh.cdp("Input.insertText", json!({ "text": b.to_string() }));
    }
    let expected = "Họpabcdefgh dân xong.12345678";
    an.wait_for_value(FIELD, LIMIT, |v| v == expected);
    binh.wait_for_value(FIELD, LIMIT, |v| v == expected);
    // Each caret is right after what that person typed.
    assert_eq!(caret(&an), "Họpabcdefgh".encode_utf16().count() as u64);
    assert_eq!(caret(&binh), expected.encode_utf16().count() as u64);
}

#[test]
fn composed_vietnamese_letters_are_not_lost_or_doubled() {
    let server = Server::start();
    let (an, binh) = two_on_one_text(&server, "Xã .");
    place_caret(&an, 3);

    // Telex: "tieesng" becomes "tiếng" while the letters are composed.
    for step in ["t", "ti", "tie", "tiê", "tiês", "tiến", "tiếng"] {
        let n = step.encode_utf16().count();
        an.cdp(
            "Input.imeSetComposition",
            json!({ "text": step, "selectionStart": n, "selectionEnd": n }),
        );
        if step == "tiê" {
            // Someone else's edit arrives in the middle of the composition.
            binh.execute(
                "const e = document.querySelector(arguments[0]); e.focus();
                 e.setSelectionRange(0, 0);",
                json!([FIELD]),
            );
            binh.cdp("Input.insertText", json!({ "text": "[B] " }));
            wait_for("Bình's edit to be saved", LIMIT, || {
                (binh.value(FIELD).starts_with("[B] ")).then_some(())
            });
        }
    }
    an.cdp("Input.insertText", json!({ "text": "tiếng" }));
    let expected = "[B] Xã tiếng.";
    an.wait_for_value(FIELD, LIMIT, |v| v == expected);
    binh.wait_for_value(FIELD, LIMIT, |v| v == expected);
    assert_eq!(an.value(FIELD).matches("tiếng").count(), 1);
}

/// Letters go into the document after the frame that shows them: typed and
/// followed at once, in the same task, by a move to another page, they are
/// still put in, kept and sent.
#[test]
fn letters_typed_just_before_leaving_the_page_are_kept() {
    let server = Server::start();
    let an = Browser::on_the_first_dimension(&server, "vanphong");
    let binh = Browser::on_the_first_dimension(&server, "vanphong");
    an.execute(
        "const e = document.querySelector(arguments[0]); e.focus();
         e.value = e.value + ' Đã xong.';
         e.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: ' Đã xong.' }));
         document.querySelector('a[data-page=\"reports\"]').click();",
        json!([FIELD]),
    );
    an.find("a[data-page=\"reports\"].active");
    binh.wait_for_value(FIELD, LIMIT, |v| v.ends_with(" Đã xong."));
    an.open_page("plan");
    an.click_on("li.dimension:first-child summary");
    an.wait_for_value(FIELD, LIMIT, |v| v.ends_with(" Đã xong."));
    assert_eq!(an.value(FIELD).matches("Đã xong.").count(), 1);
}

/// A word an input method is still composing is on screen but not yet in
/// the document: for as long as the composition lasts, the status does not
/// say "saved"; once it ends, the word is put in, saved and sent.
#[test]
fn a_word_still_being_composed_is_not_called_saved() {
    let server = Server::start();
    let (an, binh) = two_on_one_text(&server, "Xã .");
    an.wait_for_sync_state("saved");
    // Every state the status shows from here on.
    an.execute(
        "const s = document.querySelector('.sync-status');
         window.__states = [];
         new MutationObserver(() => window.__states.push(s.dataset.state))
             .observe(s, { attributes: true, attributeFilter: ['data-state'] });",
        json!([]),
    );
    place_caret(&an, 3);
    an.cdp(
        "Input.imeSetComposition",
        json!({ "text": "tiê", "selectionStart": 3, "selectionEnd": 3 }),
    );
    an.wait_for_sync_state("syncing");
    // The composition outlasts the longest wait for a pause in typing (1 s),
    // after which typed letters would go in: these wait on.
    std::thread::sleep(Duration::from_millis(2_500));
    assert_eq!(an.sync_state(), "syncing", "while the word is composed");
    an.cdp("Input.insertText", json!({ "text": "tiếng" }));
    an.wait_for_sync_state("saved");
    let states = an.execute("return window.__states;", json!([]));
    let states: Vec<&str> = states
        .as_array()
        .expect("states")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    let first_saved = states.iter().position(|s| *s == "saved");
    assert_eq!(
        first_saved,
        Some(states.len() - 1),
        "\"saved\" only once the word is in: {states:?}"
    );
    binh.wait_for_value(FIELD, LIMIT, |v| v == "Xã tiếng.");
}

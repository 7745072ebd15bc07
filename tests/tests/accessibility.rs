//! Every main screen checked by axe-core (from npm) in real Chromium, in
//! Vietnamese and in English: no serious or critical finding.

use std::time::Duration;

use papi_e2e::{current_period, workspace_root, Browser, Server};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(60);

/// axe-core's findings on the page as it is, serious or critical only, one
/// line each.
fn serious_findings(browser: &Browser, axe: &str, screen: &str) -> Vec<String> {
    browser.execute(axe, json!([]));
    let answer = browser.execute_async(
        "const done = arguments[arguments.length - 1];
         axe.run(document, { resultTypes: ['violations'] })
           .then((r) => done(r.violations))
           .catch((e) => done(String(e)));",
        json!([]),
    );
    let Value::Array(violations) = answer else {
        panic!("axe-core did not run on {screen}: {answer}");
    };
    let lesser: Vec<&str> = violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("minor" | "moderate")))
        .filter_map(|v| v["id"].as_str())
        .collect();
    println!(
        "{screen}: {} findings; minor or moderate: {lesser:?}",
        violations.len()
    );
    violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| {
            let targets: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| n["target"].to_string())
                .take(5)
                .collect();
            format!(
                "{screen}: {} ({}) {}: {}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or(""),
                targets.join(", ")
            )
        })
        .collect()
}

/// Switches the app's language (kept on the device) and reloads.
fn speak(browser: &Browser, lang: &str) {
    browser.execute(
        "localStorage.setItem('papi.language', JSON.stringify(arguments[0])); location.reload();",
        json!([lang]),
    );
}

/// Opens `path` and waits for `ready` to be on the page.
fn show(browser: &Browser, server: &Server, path: &str, ready: &str) {
    browser.goto(&server.url(path));
    browser.find(ready);
}

#[test]
fn every_main_screen_passes_axe_core_in_both_languages() {
    let server = Server::start();
    let axe =
        std::fs::read_to_string(workspace_root().join("tests/js/node_modules/axe-core/axe.min.js"))
            .expect("axe-core from npm (scripts/setup --browser installs it)");
    let period = current_period();
    server.report(&server.token("chuyenvien"), "phong-ngan-sach", &period);
    let office_token = server.token("vanphong");
    let (status, _) = server.post(
        "/api/consolidated",
        Some(&office_token),
        json!({ "period": period }),
    );
    assert_eq!(status, 200);

    let mut findings = Vec::new();
    for lang in ["vi", "en"] {
        // Signed out: the sign-in form.
        let visitor = Browser::start();
        visitor.goto(&server.url("/"));
        visitor.find("#username");
        speak(&visitor, lang);
        // The app's own form, once it has taken over the early frame.
        papi_e2e::wait_for("the app to start", LIMIT, || {
            (visitor.execute(
                "return !document.getElementById('early') && !!document.querySelector('form.sign-in');",
                json!([]),
            ) == json!(true))
            .then_some(())
        });
        findings.extend(serious_findings(&visitor, &axe, &format!("{lang} sign-in")));
        if lang == "vi" {
            // The check itself works: a picture without a text is found.
            visitor.execute(
                "document.body.insertAdjacentHTML('beforeend', '<img src=\"/icons/icon-192.png\" id=\"canary\">');",
                json!([]),
            );
            let found = serious_findings(&visitor, &axe, "canary");
            assert!(
                found
                    .iter()
                    .any(|f| f.contains("image-alt") && f.contains("#canary")),
                "{found:?}"
            );
            visitor.execute("document.getElementById('canary').remove();", json!([]));
        }

        let report = format!("/reports/{period}/phong-ngan-sach");
        let consolidated = format!("/consolidated/{period}");
        let screens: [(&str, Vec<(&str, &str)>); 3] = [
            (
                "chuyenvien",
                vec![
                    ("/plan", "li.dimension"),
                    ("/plan/2", "li.dimension[data-dimension=\"2\"] textarea"),
                    ("/reports", "li.period .open-report"),
                    (&report, "article.report textarea"),
                    ("/proposals", "form.proposal-form"),
                    ("/khong-co", "section.not-found"),
                ],
            ),
            (
                "vanphong",
                vec![
                    ("/reports", "li.unit-report"),
                    (&consolidated, "article.consolidated textarea"),
                    ("/dashboard", "li.period-summary"),
                ],
            ),
            ("quantri", vec![("/admin", "section.admin")]),
        ];
        for (user, pages) in screens {
            let browser = Browser::signed_in(&server, user);
            speak(&browser, lang);
            browser.wait_for_text(&[if lang == "en" { "Plan" } else { "Kế hoạch" }], LIMIT);
            for (path, ready) in pages {
                show(&browser, &server, path, ready);
                findings.extend(serious_findings(
                    &browser,
                    &axe,
                    &format!("{lang} {user} {path}"),
                ));
            }
            // The sign-out panel, open.
            browser.open_sign_out();
            findings.extend(serious_findings(
                &browser,
                &axe,
                &format!("{lang} {user} sign-out"),
            ));
        }
    }
    assert!(
        findings.is_empty(),
        "axe-core found:\n{}",
        findings.join("\n")
    );
}

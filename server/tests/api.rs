//! The HTTP API in process: the router with a real database in a temporary
//! folder and the real sync engine, driven with `tower`'s `oneshot`. Fast
//! checks of status codes and error bodies, every role gate, the review
//! steps, idempotent report creation and bad input. The end-to-end suite
//! (`tests/`) covers the same server as a built binary.

mod common;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use common::Api;
use papi::api::{ReportMade, Session};
use papi_server::{Config, Limits};
use serde_json::{json, Value};

/// A demo server (the seed plan, units and demo accounts) in a new folder.
async fn api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        unload_after: papi_server::DEFAULT_UNLOAD_AFTER,
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        dist_dir: Some(dir.path().join("no-front-end")),
        limits: Limits::default(),
        session_lifetime: std::time::Duration::from_secs(3600),
        production: false,
        secure_cookies: false,
        trusted_proxies: Vec::new(),
        in_memory: false,
        tls: None,
        http_redirect: None,
        public_url: None,
        backups: None,
        metrics_from: Vec::new(),
    };
    Api::open(&config, dir).await
}

impl Api {
    /// Sends a JSON request; the answer's status and body.
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Body,
    ) -> (StatusCode, Value) {
        self.send_as(method, path, token, body, "application/json")
            .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(Method::GET, path, token, Body::empty()).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, token, Body::from(body.to_string()))
            .await
    }

    /// Signs a demo account in; its session token.
    async fn token(&self, username: &str) -> String {
        let (status, body) = self
            .post(
                "/api/login",
                None,
                json!({ "username": username, "password": format!("{username}-demo") }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let session: Session = serde_json::from_value(body).expect("a session");
        session.token
    }

    async fn report(&self, token: &str, unit: &str, period: &str) -> String {
        let (status, body) = self
            .post(
                "/api/reports",
                Some(token),
                json!({ "unit": unit, "period": period }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_value::<ReportMade>(body).unwrap().url
    }

    async fn step(
        &self,
        token: &str,
        url: &str,
        action: &str,
        reason: &str,
    ) -> (StatusCode, Value) {
        self.post(
            "/api/reports/transition",
            Some(token),
            json!({ "url": url, "action": action, "reason": reason, "device_time_ms": null }),
        )
        .await
    }
}

/// The demo accounts, one per role: admin, director, coordinator, unit
/// lead, staff, viewer.
const ROLES: [&str; 6] = papi_server::directory::DEMO_USERNAMES;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_and_error_bodies() {
    let api = api().await;
    let (status, body) = api.get("/api/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "error": "not found" }));

    let (status, body) = api.get("/api/reports", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].is_string(), "{body}");
    let (status, _) = api.get("/api/reports", Some("made-up-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = api
        .post(
            "/api/login",
            None,
            json!({ "username": "xem", "password": "wrong" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"],
        "wrong username or password, or not signed in"
    );

    let (status, body) = api.get("/api/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["storage"], "ok");
    let (status, body) = api.get("/api/plan", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["url"].as_str().unwrap().starts_with("automerge:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_wrong_types_and_oversized_bodies_are_refused_and_change_nothing() {
    let api = api().await;
    let token = api.token("truongphong").await;
    let cases = [
        ("{not json", StatusCode::BAD_REQUEST),
        (
            r#"{"unit": 7, "period": "2026-h1"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (r#"{"unit": "phong-ngan-sach"}"#, StatusCode::BAD_REQUEST),
        (r#""phong-ngan-sach 2026-h1""#, StatusCode::BAD_REQUEST),
        (
            r#"{"unit": "phong-ngan-sach", "period": "2026-q3"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"unit": "phong-ngan-sach", "period": "2040-h1"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (
            r#"{"unit": "no-such-unit", "period": "2026-h1"}"#,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = api
            .send(Method::POST, "/api/reports", Some(&token), Body::from(body))
            .await;
        assert_eq!(status, expected, "{body} → {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
    }
    let huge = format!(
        r#"{{"unit": "phong-ngan-sach", "period": "{}"}}"#,
        "x".repeat(3 << 20)
    );
    let (status, answer) = api
        .send(Method::POST, "/api/reports", Some(&token), Body::from(huge))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let (status, answer) = api
        .post(
            "/api/reports/transition",
            Some(&token),
            json!({ "url": "automerge:x", "action": "approve-everything" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, list) = api.get("/api/reports", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([]), "nothing was made");
}

/// Every gate, role by role, written out by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gate() {
    let api = api().await;
    let mut tokens = Vec::new();
    for user in ROLES {
        tokens.push(api.token(user).await);
    }
    let office = &tokens[2];
    let url = api.report(office, "phong-ngan-sach", "2026-h1").await;
    // An accepted report, so that a consolidated report has something.
    let lead = &tokens[3];
    assert_eq!(api.step(lead, &url, "submit", "").await.0, StatusCode::OK);
    assert_eq!(api.step(office, &url, "accept", "").await.0, StatusCode::OK);

    use StatusCode as S;
    const OK: S = S::OK;
    const NO: S = S::FORBIDDEN;
    // admin, director, coordinator, unit lead, staff, viewer
    let get_rows: [(&str, [S; 6]); 6] = [
        ("/api/dashboard", [OK, OK, OK, NO, NO, NO]),
        ("/api/consolidated", [NO, OK, OK, NO, NO, NO]),
        ("/api/admin/users", [OK, NO, NO, NO, NO, NO]),
        ("/api/admin/units", [OK, NO, NO, NO, NO, NO]),
        ("/api/units", [OK, OK, OK, OK, OK, OK]),
        ("/api/proposals", [OK, OK, OK, OK, OK, OK]),
    ];
    for (path, expected) in get_rows {
        for (i, want) in expected.into_iter().enumerate() {
            let (status, body) = api.get(path, Some(&tokens[i])).await;
            assert_eq!(status, want, "GET {path} as {}: {body}", ROLES[i]);
        }
    }
    // Starting reports: the own unit's for its lead and staff, any for the
    // Office and admins.
    for (unit, expected) in [
        ("phong-ngan-sach", [OK, NO, OK, OK, OK, NO]),
        ("thanh-tra", [OK, NO, OK, NO, NO, NO]),
    ] {
        for (i, want) in expected.into_iter().enumerate() {
            let (status, body) = api
                .post(
                    "/api/reports",
                    Some(&tokens[i]),
                    json!({ "unit": unit, "period": "2025-year" }),
                )
                .await;
            assert_eq!(status, want, "start {unit} as {}: {body}", ROLES[i]);
        }
    }
    // The consolidated report: only the Office makes and assembles it.
    for (i, want) in [NO, NO, OK, NO, NO, NO].into_iter().enumerate() {
        for path in ["/api/consolidated", "/api/consolidated/assemble"] {
            let period = json!({ "period": "2026-h1" });
            let (status, body) = api.post(path, Some(&tokens[i]), period).await;
            assert_eq!(status, want, "{path} as {}: {body}", ROLES[i]);
        }
    }
    // Proposals: units and the Office propose; the Director decides.
    let measure = json!({ "measure_id": "d1-m1", "kind": "retire", "reason": "Không còn phù hợp" });
    let mut first = None;
    for (i, want) in [NO, NO, OK, OK, OK, NO].into_iter().enumerate() {
        let (status, body) = api
            .post("/api/proposals", Some(&tokens[i]), measure.clone())
            .await;
        assert_eq!(status, want, "propose as {}: {body}", ROLES[i]);
        first = first.or(body["id"].as_i64());
    }
    let decision = json!({ "id": first.unwrap(), "accept": false, "note": "Giữ nguyên" });
    for (i, want) in [NO, OK, NO, NO, NO, NO].into_iter().enumerate() {
        let (status, body) = api
            .post("/api/proposals/decide", Some(&tokens[i]), decision.clone())
            .await;
        assert_eq!(status, want, "decide as {}: {body}", ROLES[i]);
    }
    // Approval: the Director alone; then it is done.
    let (_, list) = api.get("/api/consolidated", Some(office)).await;
    let consolidated = list[0]["url"].as_str().unwrap().to_string();
    for (i, want) in [NO, OK, NO, NO, NO, NO].into_iter().enumerate() {
        let (status, body) = api
            .post(
                "/api/consolidated/approve",
                Some(&tokens[i]),
                json!({ "url": consolidated }),
            )
            .await;
        assert_eq!(status, want, "approve as {}: {body}", ROLES[i]);
    }
    let (status, _) = api
        .post(
            "/api/consolidated/approve",
            Some(&tokens[1]),
            json!({ "url": consolidated }),
        )
        .await;
    assert_eq!(status, S::CONFLICT, "approved once only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_steps_follow_the_rules() {
    let api = api().await;
    let staff = api.token("chuyenvien").await;
    let lead = api.token("truongphong").await;
    let office = api.token("vanphong").await;
    let viewer = api.token("xem").await;
    let url = api.report(&staff, "phong-ngan-sach", "2026-h1").await;
    let history = |token: String| {
        let (api, url) = (&api, url.clone());
        async move {
            let (status, body) = api
                .get(&format!("/api/reports/history?url={url}"), Some(&token))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };

    // (who, action, reason, expected status, the report's status after)
    let steps = [
        (&staff, "submit", "", StatusCode::CONFLICT, "draft"),
        (&office, "accept", "", StatusCode::CONFLICT, "draft"),
        (&lead, "submit", "", StatusCode::OK, "submitted"),
        (&lead, "submit", "", StatusCode::CONFLICT, "submitted"),
        (&office, "return", "  ", StatusCode::CONFLICT, "submitted"),
        (
            &office,
            "return",
            "Thiếu số liệu quý II",
            StatusCode::OK,
            "returned",
        ),
        (&office, "accept", "", StatusCode::CONFLICT, "returned"),
        (&lead, "submit", "", StatusCode::OK, "submitted"),
        (&office, "accept", "", StatusCode::OK, "accepted"),
        (&lead, "submit", "", StatusCode::CONFLICT, "accepted"),
    ];
    for (token, action, reason, expected, after) in steps {
        let (status, body) = api.step(token, &url, action, reason).await;
        assert_eq!(status, expected, "{action}: {body}");
        assert_eq!(
            history(lead.clone()).await["status"],
            after,
            "after {action}"
        );
    }
    let h = history(office.clone()).await;
    let actions: Vec<&str> = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["submit", "return", "submit", "accept"]);
    assert_eq!(h["events"][1]["reason"], "Thiếu số liệu quý II");
    assert!(h["first_submission"]["timeliness"].is_string(), "{h}");

    // Someone who may not read it learns nothing, not even that it exists.
    let (status, body) = api
        .get(&format!("/api/reports/history?url={url}"), Some(&viewer))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = api.step(&viewer, &url, "submit", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .step(
            &lead,
            "automerge:2nTjXgBnZ7ovgWkShDYGzHDEcsXH",
            "submit",
            "",
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn making_a_report_twice_finds_the_first() {
    let api = api().await;
    let staff = api.token("chuyenvien").await;
    let lead = api.token("truongphong").await;
    let first = api.report(&staff, "phong-ngan-sach", "2026-year").await;
    assert_eq!(
        api.report(&lead, "phong-ngan-sach", "2026-year").await,
        first
    );
    // At the same moment, too.
    let (a, b) = tokio::join!(
        api.report(&staff, "phong-ngan-sach", "2025-h1"),
        api.report(&lead, "phong-ngan-sach", "2025-h1"),
    );
    assert_eq!(a, b);
    let (_, list) = api.get("/api/reports", Some(&staff)).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    api.state.stop().await.unwrap();
}

//! Signing in over HTTP against the real server: cookies, tokens, sign-out,
//! expiry of what is refused, and the limit on failed attempts.

use papi_e2e::{http, Server};
use serde_json::{json, Value};

const PASSWORD: &str = "mật khẩu của Lan";

fn server_with_user() -> Server {
    let server = Server::start();
    server.add_user("lan.tran", "van-phong", "coordinator", PASSWORD);
    server
}

fn login(server: &Server, username: &str, password: &str) -> ureq::http::Response<ureq::Body> {
    http()
        .post(server.url("/api/login"))
        .send_json(json!({ "username": username, "password": password }))
        .unwrap()
}

#[test]
fn signing_in_sets_a_safe_cookie_and_returns_a_token() {
    let server = server_with_user();
    let mut ok = login(&server, "lan.tran", PASSWORD);
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    let body: Value = ok.body_mut().read_json().unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(body["user"]["role"], "coordinator");
    assert_eq!(body["user"]["unit"], "van-phong");
    assert!(
        cookie.starts_with(&format!("papi_session={token};")),
        "{cookie}"
    );
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: not Secure"
    );

    // Behind a TLS proxy the cookie is Secure.
    let secure = http()
        .post(server.url("/api/login"))
        .header("x-forwarded-proto", "https")
        .send_json(json!({ "username": "lan.tran", "password": PASSWORD }))
        .unwrap();
    assert!(secure.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    // The cookie and the bearer token both sign in.
    let me = http()
        .get(server.url("/api/me"))
        .header("cookie", format!("papi_session={token}"))
        .call()
        .unwrap();
    assert_eq!(me.status(), 200);
    let (status, who) = server.get("/api/me", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(who["user"]["username"], "lan.tran");
    assert_eq!(who["peer_prefix"], format!("user{}.", who["user"]["id"]));

    // The token is never written to the log.
    assert!(!server.log().contains(&token));

    // Signing out ends the session, and the cookie.
    let out = http()
        .post(server.url("/api/logout"))
        .header("cookie", format!("papi_session={token}"))
        .send_empty()
        .unwrap();
    assert_eq!(out.status(), 204);
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(server.get("/api/me", Some(&token)).0, 401);
}

#[test]
fn wrong_passwords_are_refused_then_rate_limited() {
    let server = server_with_user();
    assert_eq!(login(&server, "lan.tran", "sai").status(), 401);
    assert_eq!(login(&server, "không.có", PASSWORD).status(), 401);
    for _ in 0..4 {
        assert_eq!(login(&server, "lan.tran", "sai mật khẩu").status(), 401);
    }
    // Five failures for the account: now even the right password waits.
    let blocked = login(&server, "lan.tran", PASSWORD);
    assert_eq!(blocked.status(), 429);
    let wait: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0);
    server.wait_for_log("too many failures");
}

#[test]
fn malformed_sign_in_requests_get_a_clear_error() {
    let server = server_with_user();
    let bad = http()
        .post(server.url("/api/login"))
        .header("content-type", "application/json")
        .send("{\"username\": 5")
        .unwrap();
    assert_eq!(bad.status(), 400);
    let missing = server.post("/api/login", None, json!({ "username": "lan.tran" }));
    assert_eq!(missing.0, 400);
    assert_eq!(server.get("/api/me", None).0, 401);
}

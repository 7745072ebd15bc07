//! The admin page and the directory API behind it.

use std::time::Duration;

use papi_e2e::{http, Browser, Server};
use serde_json::{json, Value};

#[test]
fn only_admins_may_manage_the_directory() {
    let server = Server::start();
    let admin = server.token("quantri");
    let coordinator = server.token("vanphong");
    let new_user = json!({ "username": "mai.pham", "display_name": "Phạm Thị Mai", "unit": "thanh-tra", "role": "staff" });

    let anonymous = http()
        .post(server.url("/api/admin/users"))
        .send_json(&new_user)
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let refused = http()
        .post(server.url("/api/admin/users"))
        .header("authorization", format!("Bearer {coordinator}"))
        .send_json(&new_user)
        .unwrap();
    assert_eq!(refused.status(), 403);
    let listed = http()
        .get(server.url("/api/admin/users"))
        .header("authorization", format!("Bearer {coordinator}"))
        .call()
        .unwrap();
    assert_eq!(listed.status(), 403);

    let mut added = http()
        .post(server.url("/api/admin/users"))
        .header("authorization", format!("Bearer {admin}"))
        .send_json(&new_user)
        .unwrap();
    assert_eq!(added.status(), 200);
    let answer: Value = added.body_mut().read_json().unwrap();
    let password = answer["password"].as_str().unwrap();
    let login = http()
        .post(server.url("/api/login"))
        .send_json(json!({ "username": "mai.pham", "password": password }))
        .unwrap();
    assert_eq!(
        login.status(),
        200,
        "the new user signs in with the given password"
    );

    let duplicate = http()
        .post(server.url("/api/admin/users"))
        .header("authorization", format!("Bearer {admin}"))
        .send_json(&new_user)
        .unwrap();
    assert_eq!(duplicate.status(), 400);
    let bad_unit = http()
        .post(server.url("/api/admin/units"))
        .header("authorization", format!("Bearer {admin}"))
        .send_json(json!({ "id": "xa-dai-tam", "name": "Xã Đại Tâm", "kind": "commune", "parent": "khong-co" }))
        .unwrap();
    assert_eq!(bad_unit.status(), 400);
}

#[test]
fn an_admin_adds_a_user_on_the_admin_page_who_can_then_sign_in() {
    let server = Server::start();
    let browser = Browser::start();
    browser.sign_in(&server.url("/"), "quantri", "quantri-demo");
    browser.click_on("button[data-page=\"admin\"]");
    browser.wait_for_text(
        &["Quản trị người dùng và đơn vị", "truongphong"],
        Duration::from_secs(60),
    );

    browser.type_into(&browser.find("#new-username"), "hung.vo");
    browser.type_into(&browser.find("#new-name"), "Võ Văn Hùng");
    browser.execute(
        "const s = document.querySelector('#new-unit'); s.value = 'thanh-tra'; s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    browser.click(&browser.find("form.add-user button[type=submit]"));
    // The notice and the reloaded list may appear one after the other.
    let text = browser.wait_for_text(
        &["Đã thêm hung.vo. Mật khẩu: ", "Võ Văn Hùng"],
        Duration::from_secs(60),
    );
    let password = text
        .split("Mật khẩu: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the new password is shown")
        .to_string();
    assert!(text.contains("Võ Văn Hùng"), "the list shows the new user");

    let login = http()
        .post(server.url("/api/login"))
        .send_json(json!({ "username": "hung.vo", "password": password }))
        .unwrap();
    assert_eq!(login.status(), 200);
}

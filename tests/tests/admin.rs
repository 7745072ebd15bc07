//! The admin page and the directory API behind it.

use std::time::Duration;

use papi_e2e::{Browser, Server};
use serde_json::json;

#[test]
fn only_admins_may_manage_the_directory() {
    let server = Server::start();
    let admin = server.token("quantri");
    let coordinator = server.token("vanphong");
    let new_user = json!({ "username": "mai.pham", "display_name": "Phạm Thị Mai", "unit": "thanh-tra", "role": "staff" });

    assert_eq!(
        server.post("/api/admin/users", None, new_user.clone()).0,
        401
    );
    assert_eq!(
        server
            .post("/api/admin/users", Some(&coordinator), new_user.clone())
            .0,
        403
    );
    assert_eq!(server.get("/api/admin/users", Some(&coordinator)).0, 403);

    let (status, answer) = server.post("/api/admin/users", Some(&admin), new_user.clone());
    assert_eq!(status, 200, "{answer}");
    let password = answer["password"].as_str().unwrap();
    let login = json!({ "username": "mai.pham", "password": password });
    assert_eq!(
        server.post("/api/login", None, login).0,
        200,
        "the new user signs in with the given password"
    );

    assert_eq!(
        server.post("/api/admin/users", Some(&admin), new_user).0,
        400
    );
    let bad_unit = json!({ "id": "xa-dai-tam", "name": "Xã Đại Tâm", "kind": "commune", "parent": "khong-co" });
    assert_eq!(
        server.post("/api/admin/units", Some(&admin), bad_unit).0,
        400
    );
}

#[test]
fn an_admin_adds_a_user_on_the_admin_page_who_can_then_sign_in() {
    let server = Server::start();
    let browser = Browser::signed_in(&server, "quantri");
    browser.open_page("admin");
    browser.wait_for_text(
        &["Quản trị kế hoạch, người dùng và đơn vị", "truongphong"],
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

    let login = json!({ "username": "hung.vo", "password": password });
    assert_eq!(server.post("/api/login", None, login).0, 200);
}

//! Text that people type is shown as text, never run as HTML.

use std::time::Duration;

use papi_e2e::{Browser, Server};
use serde_json::json;

#[test]
fn names_and_measure_text_are_rendered_escaped() {
    let server = Server::start();
    let markup = "<img src=x onerror=\"document.title='pwned'\"><b>Lan</b>";
    server.add_user("lan.html", "van-phong", "coordinator", "mật khẩu của Lan");
    let browser = Browser::start();
    browser.sign_in(&server.url("/"), "lan.html", "mật khẩu của Lan");
    browser.click(&browser.find("li.dimension:first-child summary"));
    let field = browser.find("textarea[data-field=\"plan/d1-m1\"]");
    browser.type_into(&field, markup);

    let other = Browser::signed_in(&server, "xem");
    other.click(&other.find("li.dimension:first-child summary"));
    other.wait_for_value(
        "textarea[data-field=\"plan/d1-m1\"]",
        Duration::from_secs(60),
        |v| v.ends_with(markup),
    );
    let injected = other.execute(
        "return document.querySelectorAll('main img, main b').length + (document.title === 'pwned' ? 100 : 0);",
        json!([]),
    );
    assert_eq!(injected, json!(0), "no element was made from typed text");
}

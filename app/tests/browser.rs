//! Browser unit tests, run in headless Chromium by wasm-bindgen-test.
#![cfg(all(target_arch = "wasm32", feature = "ui"))]

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ReadDoc, ROOT};
use leptos::prelude::*;
use papi::schema::{Dimension, Plan};
use papi::ui::PlanView;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn plan_with(names: &[&str]) -> Plan {
    let mut plan = Plan {
        title: "Kế hoạch cải thiện Chỉ số PAPI".into(),
        agency: "Sở Tài chính tỉnh Sóc Trăng".into(),
        province: "Sóc Trăng".into(),
        start_year: 2022,
        end_year: 2030,
        ..Plan::empty()
    };
    plan.dimensions = names
        .iter()
        .enumerate()
        .map(|(i, name)| Dimension {
            number: i as u8 + 1,
            name: name.to_string(),
            name_en: String::new(),
            measures: Vec::new(),
        })
        .collect();
    plan
}

#[wasm_bindgen_test]
fn plan_view_renders_each_dimension_read_back_from_a_document() {
    let plan = plan_with(&[
        "Quản trị điện tử",
        "Kiểm soát tham nhũng trong khu vực công",
    ]);
    let mut doc = Automerge::new();
    plan.write_new(&mut doc).unwrap();
    let read = Plan::read(&Automerge::load(&doc.save()).unwrap()).unwrap();

    let document = web_sys::window().unwrap().document().unwrap();
    let host: web_sys::HtmlElement = document.create_element("div").unwrap().dyn_into().unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let _mounted = leptos::mount::mount_to(
        host.clone(),
        move || view! { <PlanView plan=read.clone()/> },
    );

    let items = host.query_selector_all(".dimension-name").unwrap();
    assert_eq!(items.length(), 2);
    let text = host.text_content().unwrap();
    assert!(text.contains("Quản trị điện tử"), "{text}");
    assert!(
        text.contains("Kiểm soát tham nhũng trong khu vực công"),
        "{text}"
    );
}

#[wasm_bindgen_test]
fn vietnamese_text_splices_by_code_point_in_the_browser() {
    // "Việt" written with a decomposed ệ: e + U+0323 + U+0302.
    let mut doc = Automerge::new();
    let text = doc
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            let t = tx.put_object(ROOT, "t", ObjType::Text)?;
            tx.splice_text(&t, 0, 0, "Vie\u{323}\u{302}t Nam")?;
            Ok(t)
        })
        .unwrap()
        .result;
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        // Insert after the whole decomposed letter.
        let at = "Vie\u{323}\u{302}".chars().count();
        tx.splice_text(&text, at, 0, "\u{323}")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(doc.text(&text).unwrap(), "Vie\u{323}\u{302}\u{323}t Nam");
}

//! Browser unit tests of device storage (IndexedDB), in headless Chromium.
#![cfg(all(target_arch = "wasm32", feature = "ui"))]

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ReadDoc, ROOT};
use papi::ids::DocId;
use papi::ui::store::{DocMeta, Store, Write};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn text(doc: &Automerge) -> String {
    let (_, t) = doc.get(ROOT, "t").unwrap().unwrap();
    doc.text(&t).unwrap()
}

fn meta(heads: &[automerge::ChangeHash], unsynced: usize) -> DocMeta {
    DocMeta {
        server_heads: heads.iter().map(|h| h.to_string()).collect(),
        unsynced: Some(unsynced),
        name: "Báo cáo".into(),
    }
}

#[wasm_bindgen_test]
async fn chunks_and_snapshots_rebuild_the_document() {
    let store = Store::open("papi-test-store").await.unwrap();
    let id = DocId::from_bytes([0x11; 16]);
    let other = DocId::from_bytes([0x12; 16]);
    assert!(
        store.load(&id).await.unwrap().is_none(),
        "a fresh id has nothing stored"
    );

    let mut doc = Automerge::new();
    let t = doc
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put_object(ROOT, "t", ObjType::Text))
        .unwrap()
        .result;
    let mut saved = Vec::new();
    for (i, word) in ["Báo cáo ", "sáu tháng ", "năm 2026"].iter().enumerate() {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            let end = tx.length(&t);
            tx.splice_text(&t, end, 0, word)
        })
        .unwrap();
        let chunk = doc.save_after(&saved);
        saved = doc.get_heads();
        store
            .write(
                &id,
                &format!("{i:04}"),
                Write::Changes(&chunk),
                &meta(&saved, i),
            )
            .await
            .unwrap();
    }
    store
        .write(
            &other,
            "0000",
            Write::Changes(&Automerge::new().save()),
            &meta(&[], 0),
        )
        .await
        .unwrap();

    let stored = store.load(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.chunks.len(),
        3,
        "other documents' chunks are not mixed in"
    );
    assert_eq!(stored.meta, meta(&saved, 2), "the last write's meta");
    let mut loaded = Automerge::new();
    for c in &stored.chunks {
        loaded.load_incremental(c).unwrap();
    }
    assert_eq!(text(&loaded), "Báo cáo sáu tháng năm 2026");

    // The scan reads every document's meta without its chunks.
    let scanned = store.scan().await.unwrap();
    assert!(scanned.contains(&(id, meta(&saved, 2))), "{scanned:?}");
    assert!(scanned.contains(&(other, meta(&[], 0))), "{scanned:?}");

    // A snapshot replaces the chunks it covers, and only those.
    store
        .write(&id, "snap", Write::Snapshot(&doc.save()), &meta(&saved, 0))
        .await
        .unwrap();
    let compacted = store.load(&id).await.unwrap().unwrap();
    assert_eq!(compacted.chunks.len(), 1);
    assert_eq!(compacted.meta.unsynced, Some(0));
    assert_eq!(
        text(&Automerge::load(&compacted.chunks[0]).unwrap()),
        "Báo cáo sáu tháng năm 2026"
    );
    assert_eq!(store.load(&other).await.unwrap().unwrap().chunks.len(), 1);
}

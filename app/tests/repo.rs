//! Browser unit tests of the repository (`papi::ui::repo`) in headless
//! Chromium: real IndexedDB, with the server played by an automerge document
//! behind a test link.
#![cfg(all(target_arch = "wasm32", feature = "ui"))]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ReadDoc, ROOT};
use leptos::prelude::GetUntracked;
use papi::ids::DocId;
use papi::ui::link::{Link, LinkEvent};
use papi::ui::repo::{Phase, Repo};
use papi::ui::store::{DocMeta, Store, Write};
use papi::wire::{DocMessage, Message};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = "server";

/// A connection that the test drives: it records what the repository sends
/// and delivers what the test says.
#[derive(Clone, Default)]
struct TestLink {
    sent: Rc<RefCell<Vec<Message>>>,
    on_event: Rc<RefCell<Option<Rc<dyn Fn(LinkEvent)>>>>,
}

impl Link for TestLink {
    fn open(&self, on_event: Rc<dyn Fn(LinkEvent)>) -> bool {
        *self.on_event.borrow_mut() = Some(on_event);
        true
    }
    fn send(&self, frame: &[u8]) {
        self.sent
            .borrow_mut()
            .push(Message::decode(frame).expect("the repository sends valid frames"));
    }
    fn close(&self) {
        self.on_event.borrow_mut().take();
    }
}

impl TestLink {
    fn deliver(&self, event: LinkEvent) {
        let handler = self
            .on_event
            .borrow()
            .clone()
            .expect("a connection is open");
        handler(event);
    }

    fn take_sent(&self) -> Vec<Message> {
        std::mem::take(&mut *self.sent.borrow_mut())
    }
}

/// Lets the browser run its tasks (IndexedDB, spawned futures) for `ms`.
async fn pause(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// Waits until `condition` holds, or fails the test after `limit`.
async fn until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = js_sys::Date::now();
    while !condition() {
        assert!(
            js_sys::Date::now() - start < limit.as_millis() as f64,
            "timed out waiting for {what}"
        );
        pause(10).await;
    }
}

fn random_id() -> DocId {
    let mut bytes = [0u8; 16];
    for b in &mut bytes {
        *b = (js_sys::Math::random() * 256.0) as u8;
    }
    DocId::from_bytes(bytes)
}

fn text_of(doc: &Automerge) -> String {
    let (_, t) = doc.get(ROOT, "t").unwrap().unwrap();
    doc.text(&t).unwrap()
}

fn append(doc: &mut Automerge, words: &str) {
    let (_, t) = doc.get(ROOT, "t").unwrap().unwrap();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let end = tx.length(&t);
        tx.splice_text(&t, end, 0, words)
    })
    .unwrap();
}

/// Plays the server's side of the sync protocol for one document until
/// neither side has anything more to say.
async fn serve(
    link: &TestLink,
    client: &str,
    id: DocId,
    doc: &mut Automerge,
    state: &mut sync::State,
) {
    for _ in 0..50 {
        pause(20).await;
        let mut heard = false;
        for m in link.take_sent() {
            if let Message::Sync(m) | Message::Request(m) = m {
                assert_eq!(m.document_id, id);
                doc.receive_sync_message(state, sync::Message::decode(&m.data).unwrap())
                    .unwrap();
                heard = true;
            }
        }
        let mut answered = false;
        while let Some(reply) = doc.generate_sync_message(state) {
            answered = true;
            link.deliver(LinkEvent::Received(
                Message::Sync(DocMessage {
                    sender_id: SERVER.into(),
                    target_id: client.into(),
                    document_id: id,
                    data: reply.encode(),
                })
                .encode(),
            ));
        }
        if !heard && !answered {
            return;
        }
    }
    panic!("the sync exchange did not settle");
}

/// The guard against stranded edits: a change that a repository wrote to the
/// device but never sent is counted and sent by the next repository on the
/// same device, whether or not any screen opens its document.
#[wasm_bindgen_test]
async fn a_change_never_sent_is_counted_and_sent_by_a_fresh_repository() {
    let limit = Duration::from_secs(20);
    let db = format!("papi-test-repo-{}", js_sys::Math::random());
    let id = random_id();

    // The server's copy, already synced to this device.
    let mut server = Automerge::new();
    server
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "kind", "plan")?;
            let t = tx.put_object(ROOT, "t", ObjType::Text)?;
            tx.splice_text(&t, 0, 0, "Báo cáo")
        })
        .unwrap();
    let synced = DocMeta {
        server_heads: server.get_heads().iter().map(|h| h.to_string()).collect(),
        unsynced: Some(0),
        name: "Kế hoạch".into(),
    };
    let store = Store::open(&db).await.unwrap();
    store
        .write(&id, "0", Write::Changes(&server.save()), &synced)
        .await
        .unwrap();

    // The first repository never connects: it edits and goes away.
    let first = Repo::new(store, Box::new(TestLink::default()), "user1.first".into())
        .await
        .unwrap();
    assert_eq!(first.status.get_untracked().unsynced, 0);
    assert!(
        first.read(id, |_| ()).is_none(),
        "a fully synced document is not loaded until asked for"
    );
    let signals = first.open(id);
    until("the document to load", limit, || {
        signals.phase.get_untracked() == Phase::Ready
    })
    .await;
    first.change(id, |d| append(d, " sáu tháng"));
    until("the device write", limit, || {
        !first.status.get_untracked().writing
    })
    .await;
    assert_eq!(first.status.get_untracked().unsynced, 1);
    drop(first);

    // A fresh repository on the same device database.
    let link = TestLink::default();
    let second = Repo::new(
        Store::open(&db).await.unwrap(),
        Box::new(link.clone()),
        "user1.second".into(),
    )
    .await
    .unwrap();
    let status = second.status.get_untracked();
    assert_eq!(status.unsynced, 1, "counted before anything asks for it");
    assert!(!status.all_saved());
    assert_eq!(second.unsynced_by_document(), vec![("plan".to_string(), 1)]);

    second.connect();
    link.deliver(LinkEvent::Opened);
    assert!(
        matches!(link.take_sent().as_slice(), [Message::Join { .. }]),
        "the handshake starts"
    );
    link.deliver(LinkEvent::Received(
        Message::Peer {
            sender_id: SERVER.into(),
            target_id: "user1.second".into(),
            selected_protocol_version: "1".into(),
            metadata: None,
        }
        .encode(),
    ));
    let mut state = sync::State::new();
    serve(&link, "user1.second", id, &mut server, &mut state).await;
    assert_eq!(
        text_of(&server),
        "Báo cáo sáu tháng",
        "the server got the change"
    );
    until("everything to be saved", limit, || {
        second.status.get_untracked().all_saved()
    })
    .await;
    assert_eq!(second.status.get_untracked().unsynced, 0);
    drop(second);

    // The device now records the change as confirmed.
    let scanned = Store::open(&db).await.unwrap().scan().await.unwrap();
    let (_, meta) = scanned.iter().find(|(d, _)| *d == id).unwrap();
    assert_eq!(meta.unsynced, Some(0));
    assert_eq!(
        meta.server_heads,
        server
            .get_heads()
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
    );
    Store::delete_database(&db).await.unwrap();
}

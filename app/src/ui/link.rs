//! The repository's connection to the server: a WebSocket carrying binary
//! automerge-repo frames. Behind a small trait, so that the repository's own
//! logic can be tested in the browser without a server.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// What happens on a connection.
pub enum LinkEvent {
    Opened,
    Received(Vec<u8>),
    Closed,
}

/// One connection at a time to the server.
pub trait Link {
    /// Starts connecting; every event of this connection goes to `on_event`.
    /// False when a connection cannot even be started.
    fn open(&self, on_event: Rc<dyn Fn(LinkEvent)>) -> bool;
    /// Sends one frame if the connection is open.
    fn send(&self, frame: &[u8]);
    /// Drops the connection; no event of it arrives after this.
    fn close(&self);
}

/// The WebSocket to `/sync`.
pub struct WsLink {
    url: String,
    socket: RefCell<Option<Socket>>,
}

struct Socket {
    ws: WebSocket,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl WsLink {
    pub fn new(url: String) -> WsLink {
        WsLink {
            url,
            socket: RefCell::new(None),
        }
    }
}

impl Link for WsLink {
    fn open(&self, on_event: Rc<dyn Fn(LinkEvent)>) -> bool {
        self.close();
        let Ok(ws) = WebSocket::new(&self.url) else {
            return false;
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| on_event(LinkEvent::Opened))
        };
        let on_message = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let Ok(event) = event.dyn_into::<MessageEvent>() else {
                    return;
                };
                let Ok(buffer) = event.data().dyn_into::<ArrayBuffer>() else {
                    return;
                };
                on_event(LinkEvent::Received(Uint8Array::new(&buffer).to_vec()));
            })
        };
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            if let Ok(e) = event.dyn_into::<CloseEvent>() {
                if !e.reason().is_empty() {
                    leptos::logging::warn!("sync connection closed: {} {}", e.code(), e.reason());
                }
            }
            on_event(LinkEvent::Closed);
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *self.socket.borrow_mut() = Some(Socket {
            ws,
            _handlers: vec![on_open, on_message, on_close],
        });
        true
    }

    fn send(&self, frame: &[u8]) {
        if let Some(socket) = &*self.socket.borrow() {
            if socket.ws.ready_state() == WebSocket::OPEN {
                let _ = socket.ws.send_with_u8_array(frame);
            }
        }
    }

    fn close(&self) {
        if let Some(socket) = self.socket.borrow_mut().take() {
            socket.ws.set_onopen(None);
            socket.ws.set_onmessage(None);
            socket.ws.set_onclose(None);
            let _ = socket.ws.close();
        }
    }
}

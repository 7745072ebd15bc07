//! Review steps (submit, return, accept) taken on this device, kept until
//! the server has them.
//!
//! A unit may submit while offline: the step is recorded at once with the
//! device's clock, kept in localStorage, and sent when a connection returns.
//! It is sent only once the report's own changes have reached the server, so
//! that what is reviewed is what the unit wrote. The server records both
//! times; `papi::punctuality` decides from them whether it was on time.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::http::{post, Failure};
use super::repo::{repo, Phase};
use super::{device, settings};
use crate::api::{TransitionDone, TransitionRequest};
use crate::ids::DocId;
use crate::workflow::Action;

const KEY: &str = "outbox";

thread_local! {
    /// The page's outbox, and the owner that keeps its signals alive.
    static OUTBOX: std::cell::RefCell<Option<(Outbox, Owner)>> = const { std::cell::RefCell::new(None) };
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub url: String,
    pub action: Action,
    pub reason: String,
    pub device_time_ms: i64,
}

/// The steps not yet on the server, and what became of the sent ones.
#[derive(Clone, Copy)]
pub struct Outbox {
    pub pending: RwSignal<Vec<Step>>,
    /// The server's refusal of a step, by report URL.
    pub refused: RwSignal<Vec<(String, String)>>,
    /// Counts the steps the server has taken, so that views can refresh.
    pub landed: RwSignal<u64>,
    busy: StoredValue<bool>,
}

/// The page's user's steps: another user of the device neither sees nor
/// sends them.
fn load() -> Vec<Step> {
    device::page_key(KEY)
        .and_then(|key| settings::get(&key))
        .unwrap_or_default()
}

/// Keeps the steps on the device; a failure shows in the status bar, since
/// the steps then live only as long as the page.
fn store(steps: &[Step]) {
    let kept = match device::page_key(KEY) {
        Some(key) => settings::set(&key, steps),
        None => Err("no one is signed in".to_string()),
    };
    if let Err(e) = kept {
        repo().status.update(|s| s.storage_error = Some(e));
    }
}

impl Outbox {
    /// Makes the outbox for this page (once: it outlives the views) and
    /// starts sending whenever the connection allows.
    pub fn start() -> Outbox {
        if let Some(outbox) = OUTBOX.with(|o| o.borrow().as_ref().map(|(outbox, _)| *outbox)) {
            provide_context(outbox);
            return outbox;
        }
        let owner = Owner::new_root(None);
        let outbox = owner.with(|| {
            let outbox = Outbox {
                pending: RwSignal::new(load()),
                refused: RwSignal::new(Vec::new()),
                landed: RwSignal::new(0),
                busy: StoredValue::new(false),
            };
            let status = repo().status;
            // Steps waiting here count among the changes only on this device.
            Effect::new(move |_| repo().set_pending_steps(outbox.pending.with(Vec::len)));
            Effect::new(move |_| {
                // Runs again on every change of the connection or sync state.
                let s = status.get();
                if s.connected && !s.signed_out {
                    outbox.flush();
                }
            });
            outbox
        });
        OUTBOX.with(|o| *o.borrow_mut() = Some((outbox, owner)));
        provide_context(outbox);
        outbox
    }

    /// Records a step taken now, and tries to send it.
    pub fn take(&self, url: &str, action: Action, reason: &str) {
        let step = Step {
            url: url.to_string(),
            action,
            reason: reason.trim().to_string(),
            device_time_ms: js_sys::Date::now() as i64,
        };
        self.refused
            .update(|r| r.retain(|(u, _)| u.as_str() != url));
        self.pending.update(|p| {
            p.push(step);
            store(p);
        });
        self.flush();
    }

    pub fn pending_for(&self, url: &str) -> Option<Step> {
        self.pending.get().into_iter().find(|s| s.url == url)
    }

    /// Sends the oldest step whose report is fully on the server, then the next.
    fn flush(self) {
        if self.busy.get_value() {
            return;
        }
        let Some(step) = self.pending.get_untracked().into_iter().next() else {
            return;
        };
        let Ok(doc) = DocId::parse(&step.url) else {
            self.pending.update(|p| {
                p.retain(|s| s != &step);
                store(p);
            });
            return;
        };
        // The report's own edits go first; the sync status wakes us again.
        let signals = repo().open(doc);
        if signals.phase.get_untracked() == Phase::Loading || signals.unsynced.get_untracked() > 0 {
            return;
        }
        self.busy.set_value(true);
        wasm_bindgen_futures::spawn_local(async move {
            let request = TransitionRequest {
                url: step.url.clone(),
                action: step.action,
                reason: step.reason.clone(),
                device_time_ms: Some(step.device_time_ms),
            };
            let answer = post::<TransitionDone>("/api/reports/transition", &request).await;
            self.busy.set_value(false);
            let done = match answer {
                Err(Failure::NoConnection) => return,
                // Lost sign-in: kept until the person signs in again.
                Err(Failure::Refused { status: 401, .. }) => return,
                Err(refused) => Some(String::from(refused)),
                Ok(_) => None,
            };
            self.pending.update(|p| {
                p.retain(|s| s != &step);
                store(p);
            });
            if let Some(reason) = done {
                self.refused.update(|r| r.push((step.url.clone(), reason)));
            }
            self.landed.update(|n| *n += 1);
            self.flush();
        });
    }
}

pub fn outbox() -> Outbox {
    expect_context::<Outbox>()
}

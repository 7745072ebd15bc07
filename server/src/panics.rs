//! Panics in document work, contained and reported.
//!
//! The sync engine runs each document's work on a thread pool whose panic
//! handler records the panic: the document whose work panicked stops, the
//! server and every other document go on. The server's own work on a
//! document (assembling a report, applying a decision) runs through
//! `contain`, which turns a panic into a 500 for that one request without
//! leaving the document locked. `/api/health` reports the count and the last
//! one.

use std::any::Any;
use std::sync::{Arc, Mutex};

use crate::error::ApiError;

#[derive(Clone, Default)]
pub struct Panics {
    inner: Arc<Mutex<Record>>,
}

#[derive(Default)]
struct Record {
    count: u64,
    last: Option<String>,
}

/// What a panic said, if it said anything readable.
fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

impl Panics {
    pub fn record(&self, during: &str, payload: &(dyn Any + Send)) {
        let text = format!("{during}: {}", message(payload));
        tracing::error!(panic = %text, "a panic was contained");
        metrics::counter!(crate::metrics::PANICS).increment(1);
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        r.count += 1;
        r.last = Some(text);
    }

    /// How many panics there were, and what the last one said.
    pub fn summary(&self) -> Option<(u64, String)> {
        let r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        r.last.clone().map(|last| (r.count, last))
    }

    /// Runs `work` (the server's own work on a document); a panic becomes an
    /// internal error of this request, and is recorded.
    pub fn contain<R>(&self, during: &str, work: impl FnOnce() -> R) -> Result<R, ApiError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
            self.record(during, &*payload);
            ApiError::internal(format!("{during} failed"))
        })
    }
}

/// Whether the fault `name` is switched on for a test (`PAPI_FAULT=name`);
/// only debug builds, which the end-to-end tests run, read it.
pub fn fault(name: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("PAPI_FAULT").is_ok_and(|f| f == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contained_panic_is_an_error_and_is_counted() {
        let panics = Panics::default();
        assert_eq!(panics.contain("adding", || 2 + 2).unwrap(), 4);
        assert!(panics.summary().is_none());
        let outcome: Result<(), _> = panics.contain("assembling", || panic!("bad section"));
        assert!(outcome.is_err());
        assert_eq!(
            panics.summary(),
            Some((1, "assembling: bad section".to_string()))
        );
    }
}

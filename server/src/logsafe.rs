//! Values that come from clients, made safe to log, and refusals logged at a
//! limited rate: a client can neither forge log lines (control characters
//! are escaped) nor flood the log (values are cut short, and a refusal that
//! repeats is logged once in a while with a count).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most characters of a client's value that reach the log.
pub const MAX_CHARS: usize = 64;

/// `text` with control characters escaped (`\n`, `\u{1b}`, …) and cut to
/// `MAX_CHARS` characters, saying how long it was.
pub fn clean(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push_str(&format!("…({} bytes)", text.len()));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One kind of refusal, logged at most once per interval.
#[derive(Debug)]
pub struct Quiet {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Quiet {
    pub fn new(every: Duration) -> Quiet {
        Quiet {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// Whether to log now; if so, how many were not logged since the last.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|at| now.duration_since(at) < self.every)
        {
            self.held_back += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

/// `Quiet` per key (an account, an address), for refusals that are not
/// tied to one connection. Keeps at most `MAX_KEYS` keys: past that the
/// oldest are forgotten, which can only make a refusal logged sooner.
pub struct QuietKeys {
    every: Duration,
    keys: Mutex<HashMap<String, Quiet>>,
}

const MAX_KEYS: usize = 4096;

impl QuietKeys {
    pub fn new(every: Duration) -> QuietKeys {
        QuietKeys {
            every,
            keys: Mutex::new(HashMap::new()),
        }
    }

    pub fn allow(&self, key: &str) -> Option<u64> {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            let every = self.every;
            keys.retain(|_, q| q.last.is_some_and(|at| now.duration_since(at) < every));
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
        }
        keys.entry(key.to_string())
            .or_insert_with(|| Quiet::new(self.every))
            .allow(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_values_cut() {
        assert_eq!(clean("an.nguyen"), "an.nguyen");
        assert_eq!(clean("x\r\nINFO forged line"), "x\\r\\nINFO forged line");
        assert_eq!(clean("\u{1b}[31mred"), "\\u{1b}[31mred");
        let long = "ư".repeat(1_000_000);
        let cut = clean(&long);
        assert!(cut.chars().count() < MAX_CHARS + 30, "{}", cut.len());
        assert!(cut.ends_with("…(2000000 bytes)"), "{cut}");
    }

    #[test]
    fn a_repeated_refusal_is_logged_once_per_interval_with_a_count() {
        let start = Instant::now();
        let mut q = Quiet::new(Duration::from_secs(10));
        assert_eq!(q.allow(start), Some(0));
        for _ in 0..5 {
            assert_eq!(q.allow(start + Duration::from_secs(1)), None);
        }
        assert_eq!(q.allow(start + Duration::from_secs(11)), Some(5));
        let keys = QuietKeys::new(Duration::from_secs(10));
        assert_eq!(keys.allow("a"), Some(0));
        assert_eq!(keys.allow("a"), None);
        assert_eq!(keys.allow("b"), Some(0), "keys are apart");
    }
}

//! Who else has a document open, and where in it: the presence messages of
//! automerge-repo 2.5.6 (its `Presence` class), so that a JavaScript client's
//! presence shows in the app and the app's in it.
//!
//! A message is the payload of an ephemeral message about the document: a
//! CBOR map `{"__presence": {"type": …}}` of one of four kinds — `snapshot`
//! (the sender's whole state), `update` (one key of it, a "channel"),
//! `heartbeat` (still here) and `goodbye` (gone). A peer not heard from for
//! `PEER_TTL_MS` is forgotten. Presence is never stored.
//!
//! Our state has four keys: `name` and `unit` (who), `field` (the text they
//! are in, a `report::TextAt::key`, or null) and `typing`. Keys other
//! clients add are ignored; values of the wrong kind read as absent.

use std::collections::BTreeMap;

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

pub const MARKER: &str = "__presence";
/// How often a peer says it is still there (automerge-repo's default).
pub const HEARTBEAT_MS: f64 = 15_000.0;
/// How long a silent peer is kept (automerge-repo's default).
pub const PEER_TTL_MS: f64 = 3.0 * HEARTBEAT_MS;
/// Nesting deeper than this in a message is refused.
const MAX_DEPTH: u32 = 8;

/// What one person shares while they have a document open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub name: String,
    /// Their unit's id.
    pub unit: String,
    /// The text they are in.
    pub field: Option<String>,
    pub typing: bool,
}

impl State {
    /// Sets one channel, as an `update` message does.
    fn set(&mut self, channel: &str, value: &Value) {
        match channel {
            "name" => self.name = value.text().unwrap_or_default(),
            "unit" => self.unit = value.text().unwrap_or_default(),
            "field" => self.field = value.text(),
            "typing" => self.typing = matches!(value, Value::Bool(true)),
            _ => {}
        }
    }

    fn from_map(value: &Value) -> State {
        let mut state = State::default();
        if let Value::Map(entries) = value {
            for (key, value) in entries {
                state.set(key, value);
            }
        }
        state
    }
}

/// One presence message.
#[derive(Clone, Debug, PartialEq)]
pub enum Presence {
    Snapshot(State),
    /// One channel of the sender's state.
    Update(Channel),
    Heartbeat,
    Goodbye,
}

/// The channels of our state, each with its value.
#[derive(Clone, Debug, PartialEq)]
pub enum Channel {
    Field(Option<String>),
    Typing(bool),
    /// A channel someone else's client uses, or a value of the wrong kind.
    Other(String, Value),
}

impl Channel {
    fn name_and_value(&self) -> (&str, Value) {
        match self {
            Channel::Field(field) => ("field", field.clone().map_or(Value::Null, Value::Text)),
            Channel::Typing(typing) => ("typing", Value::Bool(*typing)),
            Channel::Other(name, value) => (name, value.clone()),
        }
    }

    fn from(name: String, value: Value) -> Channel {
        match (name.as_str(), &value) {
            ("field", Value::Text(t)) => Channel::Field(Some(t.clone())),
            ("field", Value::Null) => Channel::Field(None),
            ("typing", Value::Bool(b)) => Channel::Typing(*b),
            _ => Channel::Other(name, value),
        }
    }
}

/// The CBOR values a presence message may hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Number(f64),
    Null,
    Map(Vec<(String, Value)>),
    List(Vec<Value>),
    /// Bytes, tags and other values this module has no use for.
    Unread,
}

impl Value {
    fn text(&self) -> Option<String> {
        match self {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PresenceError {
    #[error("not CBOR of the expected shape: {0}")]
    Cbor(String),
    #[error("not a presence message")]
    NotPresence,
    #[error("an unknown kind of presence message: {0}")]
    UnknownKind(String),
    #[error("nested too deeply")]
    TooDeep,
}

impl From<minicbor::decode::Error> for PresenceError {
    fn from(e: minicbor::decode::Error) -> Self {
        PresenceError::Cbor(e.to_string())
    }
}

impl Presence {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = self.write(&mut e);
        e.into_writer()
    }

    fn write(
        &self,
        e: &mut Encoder<Vec<u8>>,
    ) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
        e.map(1)?.str(MARKER)?;
        match self {
            Presence::Snapshot(state) => {
                e.map(2)?.str("type")?.str("snapshot")?.str("state")?;
                e.map(4)?;
                e.str("name")?.str(&state.name)?;
                e.str("unit")?.str(&state.unit)?;
                e.str("field")?;
                match &state.field {
                    Some(f) => e.str(f)?,
                    None => e.null()?,
                };
                e.str("typing")?.bool(state.typing)?;
            }
            Presence::Update(channel) => {
                let (name, value) = channel.name_and_value();
                e.map(3)?.str("type")?.str("update")?;
                e.str("channel")?.str(name)?.str("value")?;
                write_value(e, &value)?;
            }
            Presence::Heartbeat => {
                e.map(1)?.str("type")?.str("heartbeat")?;
            }
            Presence::Goodbye => {
                e.map(1)?.str("type")?.str("goodbye")?;
            }
        }
        Ok(())
    }

    /// Reads an ephemeral message's payload. Anything that is not a
    /// presence message (other ephemeral traffic) is `NotPresence`.
    pub fn decode(bytes: &[u8]) -> Result<Presence, PresenceError> {
        let mut d = Decoder::new(bytes);
        let envelope = read_value(&mut d, 0)?;
        let message = envelope.get(MARKER).ok_or(PresenceError::NotPresence)?;
        let kind = message
            .get("type")
            .and_then(Value::text)
            .ok_or(PresenceError::NotPresence)?;
        Ok(match kind.as_str() {
            "snapshot" => Presence::Snapshot(State::from_map(
                message.get("state").unwrap_or(&Value::Null),
            )),
            "update" => {
                let channel = message
                    .get("channel")
                    .and_then(Value::text)
                    .ok_or(PresenceError::NotPresence)?;
                let value = message.get("value").cloned().unwrap_or(Value::Null);
                Presence::Update(Channel::from(channel, value))
            }
            "heartbeat" => Presence::Heartbeat,
            "goodbye" => Presence::Goodbye,
            other => return Err(PresenceError::UnknownKind(other.into())),
        })
    }
}

fn write_value(
    e: &mut Encoder<Vec<u8>>,
    value: &Value,
) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
    match value {
        Value::Text(t) => e.str(t)?,
        Value::Bool(b) => e.bool(*b)?,
        Value::Number(n) => e.f64(*n)?,
        Value::Null | Value::Unread => e.null()?,
        Value::Map(entries) => {
            e.map(entries.len() as u64)?;
            for (k, v) in entries {
                e.str(k)?;
                write_value(e, v)?;
            }
            e
        }
        Value::List(items) => {
            e.array(items.len() as u64)?;
            for v in items {
                write_value(e, v)?;
            }
            e
        }
    };
    Ok(())
}

/// Reads any CBOR value, keeping what presence uses. Maps and lists may be
/// of known or unknown length (cbor-x writes either).
fn read_value(d: &mut Decoder, depth: u32) -> Result<Value, PresenceError> {
    if depth > MAX_DEPTH {
        return Err(PresenceError::TooDeep);
    }
    Ok(match d.datatype()? {
        Type::String | Type::StringIndef => {
            let mut text = String::new();
            for part in d.str_iter()? {
                text.push_str(part?);
            }
            Value::Text(text)
        }
        Type::Bool => Value::Bool(d.bool()?),
        Type::Null | Type::Undefined => {
            d.skip()?;
            Value::Null
        }
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::Number(d.u64()? as f64),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => Value::Number(d.i64()? as f64),
        Type::F32 | Type::F64 => Value::Number(d.f64()?),
        Type::Map | Type::MapIndef => {
            let len = d.map()?;
            let mut entries = Vec::new();
            each(d, len, |d| {
                let key = read_value(d, depth + 1)?;
                let value = read_value(d, depth + 1)?;
                if let Value::Text(key) = key {
                    entries.push((key, value));
                }
                Ok(())
            })?;
            Value::Map(entries)
        }
        Type::Array | Type::ArrayIndef => {
            let len = d.array()?;
            let mut items = Vec::new();
            each(d, len, |d| {
                items.push(read_value(d, depth + 1)?);
                Ok(())
            })?;
            Value::List(items)
        }
        _ => {
            d.skip()?;
            Value::Unread
        }
    })
}

/// Reads the items of a map or list: `len` of them, or up to the break
/// when the length is not given.
fn each(
    d: &mut Decoder,
    len: Option<u64>,
    mut item: impl FnMut(&mut Decoder) -> Result<(), PresenceError>,
) -> Result<(), PresenceError> {
    let mut i = 0u64;
    loop {
        match len {
            Some(n) if i >= n => return Ok(()),
            None if d.datatype()? == Type::Break => {
                d.skip()?;
                return Ok(());
            }
            _ => item(d)?,
        }
        i += 1;
    }
}

/// One other peer in a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Peer {
    /// `None` until its state (a snapshot or an update) has arrived.
    pub state: Option<State>,
    pub last_seen_ms: f64,
}

/// The other peers in one document, by peer id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Peers {
    peers: BTreeMap<String, Peer>,
}

impl Peers {
    /// Takes in one message from `peer`; answers whether the peer was not
    /// known before, when the receiver should send its own state to it.
    pub fn receive(&mut self, peer: &str, message: Presence, now_ms: f64) -> bool {
        let known = self.peers.contains_key(peer);
        if message == Presence::Goodbye {
            self.peers.remove(peer);
            return false;
        }
        let entry = self.peers.entry(peer.to_string()).or_insert(Peer {
            state: None,
            last_seen_ms: now_ms,
        });
        entry.last_seen_ms = now_ms;
        match message {
            Presence::Snapshot(state) => entry.state = Some(state),
            Presence::Update(channel) => {
                let (name, value) = channel.name_and_value();
                entry
                    .state
                    .get_or_insert_with(State::default)
                    .set(name, &value);
            }
            Presence::Heartbeat | Presence::Goodbye => {}
        }
        !known
    }

    /// Forgets the peers not heard from for `ttl_ms`; answers whether any
    /// were.
    pub fn prune(&mut self, now_ms: f64, ttl_ms: f64) -> bool {
        let before = self.peers.len();
        self.peers.retain(|_, p| now_ms - p.last_seen_ms <= ttl_ms);
        self.peers.len() != before
    }

    /// The people present, each once (one person may have the document open
    /// on two devices), in order of name: the state of the liveliest of
    /// their peers, typing before merely there.
    pub fn people(&self) -> Vec<State> {
        let mut by_person: BTreeMap<(String, String), State> = BTreeMap::new();
        for state in self.peers.values().filter_map(|p| p.state.as_ref()) {
            let key = (state.name.clone(), state.unit.clone());
            let rank = |s: &State| (s.typing, s.field.is_some());
            match by_person.get(&key) {
                Some(kept) if rank(kept) >= rank(state) => {}
                _ => {
                    by_person.insert(key, state.clone());
                }
            }
        }
        by_person.into_values().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(name: &str, field: Option<&str>, typing: bool) -> State {
        State {
            name: name.into(),
            unit: "phong-ngan-sach".into(),
            field: field.map(str::to_string),
            typing,
        }
    }

    #[test]
    fn every_kind_round_trips() {
        for message in [
            Presence::Snapshot(state("Nguyễn Văn A", Some("section/0/results"), true)),
            Presence::Snapshot(state("B", None, false)),
            Presence::Update(Channel::Field(Some("x".into()))),
            Presence::Update(Channel::Field(None)),
            Presence::Update(Channel::Typing(true)),
            Presence::Heartbeat,
            Presence::Goodbye,
        ] {
            assert_eq!(Presence::decode(&message.encode()), Ok(message));
        }
    }

    /// The bytes cbor-x (automerge-repo's encoder, `useRecords: false`)
    /// writes for `{__presence: {type: "snapshot", state: {name: "JS",
    /// unit: "u", extra: [1, 2.5], field: undefined}}}`: other keys, a float
    /// and `undefined` are read without fuss.
    #[test]
    fn a_javascript_snapshot_is_read() {
        let mut e = Encoder::new(Vec::new());
        e.map(1).unwrap().str(MARKER).unwrap();
        e.map(2)
            .unwrap()
            .str("type")
            .unwrap()
            .str("snapshot")
            .unwrap();
        e.str("state").unwrap().begin_map().unwrap();
        e.str("name").unwrap().str("JS").unwrap();
        e.str("unit").unwrap().str("u").unwrap();
        e.str("extra")
            .unwrap()
            .array(2)
            .unwrap()
            .u8(1)
            .unwrap()
            .f64(2.5)
            .unwrap();
        e.str("field").unwrap().undefined().unwrap();
        e.end().unwrap();
        let message = Presence::decode(&e.into_writer()).unwrap();
        assert_eq!(
            message,
            Presence::Snapshot(State {
                name: "JS".into(),
                unit: "u".into(),
                field: None,
                typing: false,
            })
        );
    }

    #[test]
    fn other_ephemeral_messages_and_garbage_are_refused() {
        assert_eq!(
            Presence::decode(&[0xa1, 0x61, 0x78, 0x01]),
            Err(PresenceError::NotPresence)
        );
        assert!(matches!(
            Presence::decode(&[0xa1, 0x61]),
            Err(PresenceError::Cbor(_))
        ));
        let mut deep = vec![0x81; 100];
        deep.push(0x01);
        assert_eq!(Presence::decode(&deep), Err(PresenceError::TooDeep));
        let mut e = Encoder::new(Vec::new());
        e.map(1).unwrap().str(MARKER).unwrap();
        e.map(1).unwrap().str("type").unwrap().str("dance").unwrap();
        assert_eq!(
            Presence::decode(&e.into_writer()),
            Err(PresenceError::UnknownKind("dance".into()))
        );
    }

    #[test]
    fn peers_come_change_and_go() {
        let mut peers = Peers::default();
        assert!(peers.receive("a", Presence::Heartbeat, 0.0), "new");
        assert!(peers.people().is_empty(), "no state yet");
        assert!(!peers.receive("a", Presence::Snapshot(state("A", None, false)), 1.0));
        peers.receive("a", Presence::Update(Channel::Field(Some("f".into()))), 2.0);
        peers.receive("a", Presence::Update(Channel::Typing(true)), 3.0);
        assert_eq!(peers.people(), vec![state("A", Some("f"), true)]);
        peers.receive("b", Presence::Snapshot(state("B", None, false)), 4.0);
        assert_eq!(peers.people().len(), 2);
        peers.receive("b", Presence::Goodbye, 5.0);
        assert_eq!(peers.people(), vec![state("A", Some("f"), true)]);
        // Silent for longer than the time-out: forgotten.
        assert!(!peers.prune(3.0 + PEER_TTL_MS, PEER_TTL_MS));
        assert!(peers.prune(3.1 + PEER_TTL_MS, PEER_TTL_MS));
        assert!(peers.is_empty());
    }

    #[test]
    fn one_person_on_two_devices_is_listed_once_where_they_type() {
        let mut peers = Peers::default();
        peers.receive("a1", Presence::Snapshot(state("A", Some("f"), true)), 0.0);
        peers.receive("a2", Presence::Snapshot(state("A", None, false)), 0.0);
        assert_eq!(peers.people(), vec![state("A", Some("f"), true)]);
    }
}

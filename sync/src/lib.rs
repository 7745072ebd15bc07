//! The automerge-repo sync protocol (version 1) as a state machine without
//! I/O: no threads, sockets, timers or runtime. The server and the browser
//! app each wrap it in a thin shell that owns the network and the storage.
//!
//! - [`wire`]: the messages and their CBOR encoding;
//! - [`Key`]: where a document's chunks are stored;
//! - [`Document`]: one document, the peers syncing it, and its storage
//!   (what to write, when to compact, when an answer may go);
//! - [`Repo`]: documents and connections together, with the handshake.

mod document;
mod id;
mod key;
mod repo;
pub mod wire;

pub use document::{Conn, Document, Effect, Phase, Settings, SyncError, Write};
pub use id::{DocId, IdError};
pub use key::{Chunk, Key};
pub use repo::{accept_join, Output, Refused, Repo, Role};

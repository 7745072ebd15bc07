//! The automerge-repo wire protocol, version 1: CBOR maps sent as binary
//! WebSocket frames. Shared by the browser's sync client, the server (which
//! checks every frame before the sync engine sees it) and the test clients.
//!
//! One message of our own rides on the same socket: `papi-keepalive`, which a
//! browser sends because it cannot send WebSocket pings, and which the server
//! answers itself. Other automerge-repo peers never send it.

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

use crate::DocId;

pub const PROTOCOL_VERSION: &str = "1";
pub const KEEPALIVE: &str = "papi-keepalive";

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PeerMetadata {
    pub storage_id: Option<String>,
    pub is_ephemeral: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Join {
        sender_id: String,
        supported_protocol_versions: Vec<String>,
        metadata: Option<PeerMetadata>,
    },
    Peer {
        sender_id: String,
        target_id: String,
        selected_protocol_version: String,
        metadata: Option<PeerMetadata>,
    },
    Leave {
        sender_id: String,
    },
    /// The first sync message about a document the sender does not have.
    Request(DocMessage),
    Sync(DocMessage),
    DocUnavailable {
        sender_id: String,
        target_id: String,
        document_id: DocId,
    },
    Ephemeral {
        sender_id: String,
        target_id: String,
        document_id: DocId,
        count: u64,
        session_id: String,
        data: Vec<u8>,
    },
    Error {
        message: String,
    },
    Keepalive,
    /// A message type this codec does not interpret (heads gossip, say);
    /// passed on untouched.
    Other {
        kind: String,
    },
}

/// A `request` or `sync`: automerge sync-protocol bytes for one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocMessage {
    pub sender_id: String,
    pub target_id: String,
    pub document_id: DocId,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("not CBOR of the expected shape: {0}")]
    Cbor(String),
    #[error("a message must be a map of known length")]
    NotAMap,
    #[error("message has no {0}")]
    Missing(&'static str),
    #[error("bad document id")]
    BadDocumentId,
    #[error("the sync data does not decode: {0}")]
    BadSyncData(String),
    #[error("bytes left over after the message")]
    TrailingBytes,
}

impl From<minicbor::decode::Error> for WireError {
    fn from(e: minicbor::decode::Error) -> Self {
        WireError::Cbor(e.to_string())
    }
}

#[derive(Default)]
struct Fields {
    kind: Option<String>,
    sender_id: Option<String>,
    target_id: Option<String>,
    selected_protocol_version: Option<String>,
    supported_protocol_versions: Option<Vec<String>>,
    metadata: Option<PeerMetadata>,
    document_id: Option<DocId>,
    data: Option<Vec<u8>>,
    count: Option<u64>,
    session_id: Option<String>,
    message: Option<String>,
}

impl Message {
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        let mut d = Decoder::new(bytes);
        let len = d.map()?.ok_or(WireError::NotAMap)?;
        let mut f = Fields::default();
        for _ in 0..len {
            let key = d.str()?;
            match key {
                "type" => f.kind = Some(d.str()?.to_string()),
                "senderId" => f.sender_id = Some(d.str()?.to_string()),
                "targetId" => f.target_id = Some(d.str()?.to_string()),
                "selectedProtocolVersion" => {
                    f.selected_protocol_version = Some(d.str()?.to_string())
                }
                "supportedProtocolVersions" => {
                    let n = d.array()?.ok_or(WireError::NotAMap)?;
                    let mut versions = Vec::new();
                    for _ in 0..n {
                        versions.push(d.str()?.to_string());
                    }
                    f.supported_protocol_versions = Some(versions);
                }
                "peerMetadata" | "metadata" => f.metadata = Some(decode_metadata(&mut d)?),
                "documentId" => {
                    let id = if d.datatype()? == Type::Bytes {
                        let b: [u8; 16] = d
                            .bytes()?
                            .try_into()
                            .map_err(|_| WireError::BadDocumentId)?;
                        DocId::from_bytes(b)
                    } else {
                        DocId::parse(d.str()?).map_err(|_| WireError::BadDocumentId)?
                    };
                    f.document_id = Some(id);
                }
                "data" => f.data = Some(d.bytes()?.to_vec()),
                "count" => {
                    f.count = Some(match d.datatype()? {
                        Type::F16 | Type::F32 | Type::F64 => d.f64()? as u64,
                        _ => d.u64()?,
                    })
                }
                "sessionId" => f.session_id = Some(d.str()?.to_string()),
                "message" => f.message = Some(d.str()?.to_string()),
                _ => d.skip()?,
            }
        }
        if d.position() != bytes.len() {
            return Err(WireError::TrailingBytes);
        }
        let kind = f.kind.take().ok_or(WireError::Missing("type"))?;
        let sender = |f: &mut Fields| f.sender_id.take().ok_or(WireError::Missing("senderId"));
        let target = |f: &mut Fields| f.target_id.take().ok_or(WireError::Missing("targetId"));
        let doc = |f: &mut Fields| f.document_id.take().ok_or(WireError::Missing("documentId"));
        let doc_message = |f: &mut Fields| -> Result<DocMessage, WireError> {
            Ok(DocMessage {
                sender_id: sender(f)?,
                target_id: target(f)?,
                document_id: doc(f)?,
                data: f.data.take().ok_or(WireError::Missing("data"))?,
            })
        };
        Ok(match kind.as_str() {
            "join" => Message::Join {
                sender_id: sender(&mut f)?,
                supported_protocol_versions: f
                    .supported_protocol_versions
                    .take()
                    .ok_or(WireError::Missing("supportedProtocolVersions"))?,
                metadata: f.metadata.take(),
            },
            "peer" => Message::Peer {
                sender_id: sender(&mut f)?,
                target_id: target(&mut f)?,
                selected_protocol_version: f
                    .selected_protocol_version
                    .take()
                    .ok_or(WireError::Missing("selectedProtocolVersion"))?,
                metadata: f.metadata.take(),
            },
            "leave" => Message::Leave {
                sender_id: sender(&mut f)?,
            },
            "request" => Message::Request(doc_message(&mut f)?),
            "sync" => Message::Sync(doc_message(&mut f)?),
            "doc-unavailable" => Message::DocUnavailable {
                sender_id: sender(&mut f)?,
                target_id: target(&mut f)?,
                document_id: doc(&mut f)?,
            },
            "ephemeral" => Message::Ephemeral {
                sender_id: sender(&mut f)?,
                target_id: target(&mut f)?,
                document_id: doc(&mut f)?,
                count: f.count.take().ok_or(WireError::Missing("count"))?,
                session_id: f.session_id.take().ok_or(WireError::Missing("sessionId"))?,
                data: f.data.take().ok_or(WireError::Missing("data"))?,
            },
            "error" => Message::Error {
                message: f.message.take().unwrap_or_default(),
            },
            KEEPALIVE => Message::Keepalive,
            _ => Message::Other { kind },
        })
    }

    /// Decodes a message and, for `request` and `sync`, the automerge sync
    /// message inside it too: what the server insists on before passing a
    /// frame to the sync engine.
    pub fn decode_checked(bytes: &[u8]) -> Result<Message, WireError> {
        let message = Message::decode(bytes)?;
        if let Message::Request(m) | Message::Sync(m) = &message {
            automerge::sync::Message::decode(&m.data)
                .map_err(|e| WireError::BadSyncData(e.to_string()))?;
        }
        Ok(message)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        // Writing into a Vec cannot fail.
        let _ = self.encode_into(&mut e);
        e.into_writer()
    }

    fn encode_into(
        &self,
        e: &mut Encoder<Vec<u8>>,
    ) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
        match self {
            Message::Join {
                sender_id,
                supported_protocol_versions,
                metadata,
            } => {
                e.map(3 + u64::from(metadata.is_some()))?;
                e.str("type")?.str("join")?;
                e.str("senderId")?.str(sender_id)?;
                e.str("supportedProtocolVersions")?
                    .array(supported_protocol_versions.len() as u64)?;
                for v in supported_protocol_versions {
                    e.str(v)?;
                }
                if let Some(m) = metadata {
                    e.str("peerMetadata")?;
                    encode_metadata(e, m)?;
                }
            }
            Message::Peer {
                sender_id,
                target_id,
                selected_protocol_version,
                metadata,
            } => {
                e.map(4 + u64::from(metadata.is_some()))?;
                e.str("type")?.str("peer")?;
                e.str("senderId")?.str(sender_id)?;
                e.str("targetId")?.str(target_id)?;
                e.str("selectedProtocolVersion")?
                    .str(selected_protocol_version)?;
                if let Some(m) = metadata {
                    e.str("peerMetadata")?;
                    encode_metadata(e, m)?;
                }
            }
            Message::Leave { sender_id } => {
                e.map(2)?.str("type")?.str("leave")?;
                e.str("senderId")?.str(sender_id)?;
            }
            Message::Request(m) | Message::Sync(m) => {
                let kind = if matches!(self, Message::Request(_)) {
                    "request"
                } else {
                    "sync"
                };
                e.map(5)?.str("type")?.str(kind)?;
                e.str("senderId")?.str(&m.sender_id)?;
                e.str("targetId")?.str(&m.target_id)?;
                e.str("documentId")?.str(&m.document_id.to_string())?;
                e.str("data")?.bytes(&m.data)?;
            }
            Message::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            } => {
                e.map(4)?.str("type")?.str("doc-unavailable")?;
                e.str("senderId")?.str(sender_id)?;
                e.str("targetId")?.str(target_id)?;
                e.str("documentId")?.str(&document_id.to_string())?;
            }
            Message::Ephemeral {
                sender_id,
                target_id,
                document_id,
                count,
                session_id,
                data,
            } => {
                e.map(7)?.str("type")?.str("ephemeral")?;
                e.str("senderId")?.str(sender_id)?;
                e.str("targetId")?.str(target_id)?;
                e.str("documentId")?.str(&document_id.to_string())?;
                e.str("count")?.u64(*count)?;
                e.str("sessionId")?.str(session_id)?;
                e.str("data")?.bytes(data)?;
            }
            Message::Error { message } => {
                e.map(2)?.str("type")?.str("error")?;
                e.str("message")?.str(message)?;
            }
            Message::Keepalive => {
                e.map(1)?.str("type")?.str(KEEPALIVE)?;
            }
            Message::Other { kind } => {
                e.map(1)?.str("type")?.str(kind)?;
            }
        }
        Ok(())
    }
}

fn decode_metadata(d: &mut Decoder<'_>) -> Result<PeerMetadata, WireError> {
    let len = d.map()?.ok_or(WireError::NotAMap)?;
    let mut m = PeerMetadata::default();
    for _ in 0..len {
        match d.str()? {
            "storageId" => match d.datatype()? {
                Type::Undefined | Type::Null => d.skip()?,
                _ => m.storage_id = Some(d.str()?.to_string()),
            },
            "isEphemeral" => m.is_ephemeral = d.bool()?,
            _ => d.skip()?,
        }
    }
    Ok(m)
}

fn encode_metadata(
    e: &mut Encoder<Vec<u8>>,
    m: &PeerMetadata,
) -> Result<(), minicbor::encode::Error<std::convert::Infallible>> {
    e.map(1 + u64::from(m.storage_id.is_some()))?;
    if let Some(id) = &m.storage_id {
        e.str("storageId")?.str(id)?;
    }
    e.str("isEphemeral")?.bool(m.is_ephemeral)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_id() -> DocId {
        DocId::from_bytes([3; 16])
    }

    fn sync_data() -> Vec<u8> {
        let doc = automerge::Automerge::new();
        let mut state = automerge::sync::State::new();
        use automerge::sync::SyncDoc;
        doc.generate_sync_message(&mut state).unwrap().encode()
    }

    #[test]
    fn every_message_round_trips() {
        let messages = vec![
            Message::Join {
                sender_id: "browser-1".into(),
                supported_protocol_versions: vec!["1".into()],
                metadata: Some(PeerMetadata {
                    storage_id: Some("s".into()),
                    is_ephemeral: false,
                }),
            },
            Message::Peer {
                sender_id: "server".into(),
                target_id: "browser-1".into(),
                selected_protocol_version: "1".into(),
                metadata: None,
            },
            Message::Leave {
                sender_id: "a".into(),
            },
            Message::Request(DocMessage {
                sender_id: "a".into(),
                target_id: "b".into(),
                document_id: doc_id(),
                data: sync_data(),
            }),
            Message::Sync(DocMessage {
                sender_id: "a".into(),
                target_id: "b".into(),
                document_id: doc_id(),
                data: sync_data(),
            }),
            Message::DocUnavailable {
                sender_id: "a".into(),
                target_id: "b".into(),
                document_id: doc_id(),
            },
            Message::Ephemeral {
                sender_id: "a".into(),
                target_id: "b".into(),
                document_id: doc_id(),
                count: 4,
                session_id: "s".into(),
                data: vec![1, 2],
            },
            Message::Error {
                message: "no".into(),
            },
            Message::Keepalive,
        ];
        for m in messages {
            assert_eq!(Message::decode_checked(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert!(Message::decode(&[]).is_err());
        assert!(Message::decode(&[0xff, 0x00, 0x13]).is_err());
        // A CBOR array, not a map.
        assert!(Message::decode(&[0x80]).is_err());
        // A map of unknown length.
        assert_eq!(Message::decode(&[0xbf, 0xff]), Err(WireError::NotAMap));
        // A map without a type.
        let mut e = Encoder::new(Vec::new());
        e.map(1).unwrap().str("senderId").unwrap().str("x").unwrap();
        assert_eq!(Message::decode(e.writer()), Err(WireError::Missing("type")));
        // A sync message whose document id has a bad checksum.
        let mut e = Encoder::new(Vec::new());
        e.map(5).unwrap();
        e.str("type").unwrap().str("sync").unwrap();
        e.str("senderId").unwrap().str("a").unwrap();
        e.str("targetId").unwrap().str("b").unwrap();
        e.str("documentId")
            .unwrap()
            .str("automerge:1111111111111111111")
            .unwrap();
        e.str("data").unwrap().bytes(&[]).unwrap();
        assert_eq!(Message::decode(e.writer()), Err(WireError::BadDocumentId));
        // Trailing garbage after a valid message.
        let mut bytes = Message::Keepalive.encode();
        bytes.push(0);
        assert_eq!(Message::decode(&bytes), Err(WireError::TrailingBytes));
    }

    #[test]
    fn checked_decoding_refuses_sync_data_that_is_not_automerge() {
        let m = Message::Sync(DocMessage {
            sender_id: "a".into(),
            target_id: "b".into(),
            document_id: doc_id(),
            data: vec![0x42, 1, 2, 3],
        });
        assert!(Message::decode(&m.encode()).is_ok());
        assert!(matches!(
            Message::decode_checked(&m.encode()),
            Err(WireError::BadSyncData(_))
        ));
    }

    #[test]
    fn unknown_types_and_keys_pass() {
        let mut e = Encoder::new(Vec::new());
        e.map(2).unwrap();
        e.str("type").unwrap().str("remote-heads-changed").unwrap();
        e.str("newHeads").unwrap().map(0).unwrap();
        assert_eq!(
            Message::decode(e.writer()).unwrap(),
            Message::Other {
                kind: "remote-heads-changed".into()
            }
        );
    }
}

//! Documents on the device, in IndexedDB.
//!
//! Object store `chunks`, keyed `[doc id, kind, name]`: `inc` chunks hold the
//! changes made since the previous write; a `snap` chunk holds the whole
//! document and replaces the chunks it covers, in the same transaction.
//! Object store `meta`, keyed by doc id: the heads the server last said it
//! has, so that "changes only on this device" survives a reload offline.

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::ids::DocId;

const DB_NAME: &str = "papi-workspace";
const DB_VERSION: u32 = 1;
const CHUNKS: &str = "chunks";
const META: &str = "meta";

#[derive(Debug, Clone, thiserror::Error)]
#[error("device storage: {0}")]
pub struct StoreError(String);

impl From<JsValue> for StoreError {
    fn from(v: JsValue) -> Self {
        let text = v
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| v.dyn_ref::<web_sys::DomException>().map(|e| e.message()))
            .or_else(|| v.as_string())
            .unwrap_or_else(|| format!("{v:?}"));
        StoreError(text)
    }
}

/// A stored document: its chunks, their keys, and the server's last heads.
pub struct Stored {
    pub chunks: Vec<Vec<u8>>,
    pub keys: Vec<JsValue>,
    pub server_heads: Vec<String>,
}

#[derive(Clone)]
pub struct Store {
    db: IdbDatabase,
}

/// Resolves when `request` succeeds, with its result.
async fn done(request: &IdbRequest) -> Result<JsValue, StoreError> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise).await?;
    Ok(request.result()?)
}

/// Resolves when `tx` has committed.
async fn committed(tx: &IdbTransaction) -> Result<(), StoreError> {
    let promise = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    JsFuture::from(promise)
        .await
        .map_err(|e| StoreError::from(tx.error().map(JsValue::from).unwrap_or(e)))?;
    Ok(())
}

fn chunk_key(doc: &DocId, kind: &str, name: &str) -> JsValue {
    Array::of3(&doc.to_string().into(), &kind.into(), &name.into()).into()
}

fn bytes(data: &[u8]) -> JsValue {
    Uint8Array::from(data).into()
}

impl Store {
    pub async fn open() -> Result<Store, StoreError> {
        let factory = web_sys::window()
            .ok_or_else(|| StoreError("no window".into()))?
            .indexed_db()?
            .ok_or_else(|| StoreError("IndexedDB is not available in this browser".into()))?;
        let request = factory.open_with_u32(DB_NAME, DB_VERSION)?;
        let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(db) = event
                .target()
                .and_then(|t| t.dyn_into::<IdbRequest>().ok())
                .and_then(|r| r.result().ok())
                .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
            else {
                return;
            };
            let names = db.object_store_names();
            for store in [CHUNKS, META] {
                if !names.contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
        });
        request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let db = done(&request).await?;
        drop(upgrade);
        Ok(Store { db: db.dyn_into()? })
    }

    fn tx(&self, mode: IdbTransactionMode) -> Result<IdbTransaction, StoreError> {
        let names = Array::of2(&CHUNKS.into(), &META.into());
        Ok(self
            .db
            .transaction_with_str_sequence_and_mode(&names, mode)?)
    }

    /// Everything stored for one document, or None if nothing is.
    pub async fn load(&self, doc: &DocId) -> Result<Option<Stored>, StoreError> {
        let tx = self.tx(IdbTransactionMode::Readonly)?;
        let chunks = tx.object_store(CHUNKS)?;
        // Every key [doc, …] sorts between [doc] and [doc, []] (arrays sort after strings).
        let id: JsValue = doc.to_string().into();
        let range = IdbKeyRange::bound(
            &Array::of1(&id).into(),
            &Array::of2(&id, &Array::new()).into(),
        )?;
        let keys = done(&chunks.get_all_keys_with_key(&range)?).await?;
        let values = done(&chunks.get_all_with_key(&range)?).await?;
        let meta = done(&tx.object_store(META)?.get(&id)?).await?;
        let values: Array = values.dyn_into()?;
        if values.length() == 0 {
            return Ok(None);
        }
        let server_heads = if meta.is_undefined() {
            Vec::new()
        } else {
            Array::from(&meta)
                .iter()
                .filter_map(|h| h.as_string())
                .collect()
        };
        Ok(Some(Stored {
            chunks: values
                .iter()
                .map(|v| Uint8Array::new(&v).to_vec())
                .collect(),
            keys: Array::from(&keys).iter().collect(),
            server_heads,
        }))
    }

    /// Adds one chunk of changes, and the server's heads, in one commit.
    pub async fn append(
        &self,
        doc: &DocId,
        name: &str,
        chunk: &[u8],
        server_heads: &[String],
    ) -> Result<(), StoreError> {
        let tx = self.tx(IdbTransactionMode::Readwrite)?;
        if !chunk.is_empty() {
            tx.object_store(CHUNKS)?
                .put_with_key(&bytes(chunk), &chunk_key(doc, "inc", name))?;
        }
        self.put_heads(&tx, doc, server_heads)?;
        committed(&tx).await
    }

    /// Replaces `old` chunks with one snapshot of the whole document.
    pub async fn compact(
        &self,
        doc: &DocId,
        name: &str,
        snapshot: &[u8],
        old: &[JsValue],
    ) -> Result<(), StoreError> {
        let tx = self.tx(IdbTransactionMode::Readwrite)?;
        let chunks = tx.object_store(CHUNKS)?;
        chunks.put_with_key(&bytes(snapshot), &chunk_key(doc, "snap", name))?;
        for key in old {
            chunks.delete(key)?;
        }
        committed(&tx).await
    }

    fn put_heads(
        &self,
        tx: &IdbTransaction,
        doc: &DocId,
        heads: &[String],
    ) -> Result<(), StoreError> {
        let array: Array = heads.iter().map(|h| JsValue::from(h.as_str())).collect();
        tx.object_store(META)?
            .put_with_key(&array, &doc.to_string().into())?;
        Ok(())
    }

    /// The keys of a document's chunks, to replace them after a snapshot.
    pub async fn chunk_keys(&self, doc: &DocId) -> Result<Vec<JsValue>, StoreError> {
        Ok(self.load(doc).await?.map(|s| s.keys).unwrap_or_default())
    }
}

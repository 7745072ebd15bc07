//! Documents on the device, in IndexedDB.
//!
//! Object store `chunks`, keyed `[doc id, kind, name]`: `inc` chunks hold the
//! changes made since the previous write; a `snap` chunk holds the whole
//! document and replaces the chunks it covers, in the same transaction.
//!
//! Object store `meta`, keyed by doc id, written in the same transaction as
//! every chunk: the heads the server last confirmed, how many of the stored
//! changes the server has not confirmed, and the document's name. Reading
//! `meta` alone tells which documents hold changes only this device has,
//! without loading any document.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::ids::DocId;

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

/// What the device knows of a document without loading it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocMeta {
    /// The heads the server last announced.
    pub server_heads: Vec<String>,
    /// Stored changes the server has not confirmed; `None` when the record
    /// predates this count, so that only loading the document can tell.
    pub unsynced: Option<usize>,
    /// A short name for lists ("Kế hoạch", "Báo cáo …").
    pub name: String,
}

/// What a write adds to a document's chunks.
pub enum Write<'a> {
    /// The changes made since the previous write (none when only the
    /// document's `meta` changed).
    Changes(&'a [u8]),
    /// The whole document, which replaces every chunk it had.
    Snapshot(&'a [u8]),
}

/// A stored document: its chunks and what `meta` says of it.
pub struct Stored {
    pub chunks: Vec<Vec<u8>>,
    pub meta: DocMeta,
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

/// Every chunk key of `doc`: `[doc, …]` sorts between `[doc]` and `[doc, []]`
/// (arrays sort after strings).
fn doc_range(doc: &DocId) -> Result<JsValue, StoreError> {
    let id: JsValue = doc.to_string().into();
    Ok(IdbKeyRange::bound(
        &Array::of1(&id).into(),
        &Array::of2(&id, &Array::new()).into(),
    )?
    .into())
}

fn bytes(data: &[u8]) -> JsValue {
    Uint8Array::from(data).into()
}

fn strings(value: &JsValue) -> Vec<String> {
    if !Array::is_array(value) {
        return Vec::new();
    }
    Array::from(value)
        .iter()
        .filter_map(|h| h.as_string())
        .collect()
}

impl DocMeta {
    fn to_js(&self) -> Result<JsValue, StoreError> {
        let o = Object::new();
        let heads: Array = self
            .server_heads
            .iter()
            .map(|h| JsValue::from(h.as_str()))
            .collect();
        Reflect::set(&o, &"server_heads".into(), &heads)?;
        let unsynced = self.unsynced.map_or(JsValue::NULL, |n| (n as f64).into());
        Reflect::set(&o, &"unsynced".into(), &unsynced)?;
        Reflect::set(&o, &"name".into(), &self.name.as_str().into())?;
        Ok(o.into())
    }

    fn from_js(value: &JsValue) -> DocMeta {
        // The first records were a bare array of the server's heads.
        if Array::is_array(value) {
            return DocMeta {
                server_heads: strings(value),
                unsynced: None,
                name: String::new(),
            };
        }
        let get = |k: &str| Reflect::get(value, &k.into()).unwrap_or(JsValue::UNDEFINED);
        DocMeta {
            server_heads: strings(&get("server_heads")),
            unsynced: get("unsynced").as_f64().map(|n| n as usize),
            name: get("name").as_string().unwrap_or_default(),
        }
    }
}

impl Store {
    /// Opens (or creates) the device database `name`.
    pub async fn open(name: &str) -> Result<Store, StoreError> {
        let factory = web_sys::window()
            .ok_or_else(|| StoreError("no window".into()))?
            .indexed_db()?
            .ok_or_else(|| StoreError("IndexedDB is not available in this browser".into()))?;
        let request = factory.open_with_u32(name, DB_VERSION)?;
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
        let db: IdbDatabase = done(&request).await?.dyn_into()?;
        drop(upgrade);
        // Another page deleting or upgrading the database waits for every
        // open connection to close; this one steps aside at once.
        let closing = db.clone();
        let on_change = Closure::once_into_js(move || closing.close());
        db.set_onversionchange(Some(on_change.unchecked_ref()));
        Ok(Store { db })
    }

    fn tx(&self, mode: IdbTransactionMode) -> Result<IdbTransaction, StoreError> {
        let names = Array::of2(&CHUNKS.into(), &META.into());
        Ok(self
            .db
            .transaction_with_str_sequence_and_mode(&names, mode)?)
    }

    /// What the device holds of every document, without loading any.
    pub async fn scan(&self) -> Result<Vec<(DocId, DocMeta)>, StoreError> {
        let tx = self.tx(IdbTransactionMode::Readonly)?;
        let meta = tx.object_store(META)?;
        let keys = done(&meta.get_all_keys()?).await?;
        let values = done(&meta.get_all()?).await?;
        Ok(Array::from(&keys)
            .iter()
            .zip(Array::from(&values).iter())
            .filter_map(|(k, v)| {
                let id = DocId::parse(&k.as_string()?).ok()?;
                Some((id, DocMeta::from_js(&v)))
            })
            .collect())
    }

    /// Everything stored for one document, or None if nothing is.
    pub async fn load(&self, doc: &DocId) -> Result<Option<Stored>, StoreError> {
        let tx = self.tx(IdbTransactionMode::Readonly)?;
        let chunks = tx.object_store(CHUNKS)?;
        let values = done(&chunks.get_all_with_key(&doc_range(doc)?)?).await?;
        let meta = done(&tx.object_store(META)?.get(&doc.to_string().into())?).await?;
        let values: Array = values.dyn_into()?;
        if values.length() == 0 {
            return Ok(None);
        }
        Ok(Some(Stored {
            chunks: values
                .iter()
                .map(|v| Uint8Array::new(&v).to_vec())
                .collect(),
            meta: DocMeta::from_js(&meta),
        }))
    }

    /// Writes `what` and `meta` of a document in one commit.
    pub async fn write(
        &self,
        doc: &DocId,
        name: &str,
        what: Write<'_>,
        meta: &DocMeta,
    ) -> Result<(), StoreError> {
        let tx = self.tx(IdbTransactionMode::Readwrite)?;
        let chunks = tx.object_store(CHUNKS)?;
        match what {
            Write::Changes(chunk) => {
                if !chunk.is_empty() {
                    chunks.put_with_key(&bytes(chunk), &chunk_key(doc, "inc", name))?;
                }
            }
            Write::Snapshot(snapshot) => {
                let old = done(&chunks.get_all_keys_with_key(&doc_range(doc)?)?).await?;
                for key in Array::from(&old).iter() {
                    chunks.delete(&key)?;
                }
                chunks.put_with_key(&bytes(snapshot), &chunk_key(doc, "snap", name))?;
            }
        }
        tx.object_store(META)?
            .put_with_key(&meta.to_js()?, &doc.to_string().into())?;
        committed(&tx).await
    }

    /// Removes a whole database from the device.
    pub async fn delete_database(name: &str) -> Result<(), StoreError> {
        let factory = web_sys::window()
            .ok_or_else(|| StoreError("no window".into()))?
            .indexed_db()?
            .ok_or_else(|| StoreError("IndexedDB is not available in this browser".into()))?;
        let request: IdbRequest = factory.delete_database(name)?.into();
        done(&request).await?;
        Ok(())
    }
}

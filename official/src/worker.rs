//! The export worker's wasm module: an official document (JSON) in, its
//! DOCX file out. `app/official-worker.js` loads it in a web worker on the
//! first export, so the writer never weighs on the app's first load.

use wasm_bindgen::prelude::*;

/// The DOCX file of the official document given as JSON.
#[wasm_bindgen]
pub fn official_docx(json: &str) -> Result<Vec<u8>, JsError> {
    let doc: papi_official::OfficialDocument =
        serde_json::from_str(json).map_err(|e| JsError::new(&format!("bad document: {e}")))?;
    papi_official::docx(&doc).map_err(|e| JsError::new(&e.to_string()))
}

fn main() {}

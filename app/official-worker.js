// The export worker: turns an official document (JSON) into its DOCX file
// off the page's thread. Its wasm module (built from official/, the DOCX
// writer) is fetched on the first export and kept by the service worker,
// so exporting works offline after that.
importScripts("/papi-official-worker.js");
const ready = wasm_bindgen({ module_or_path: "/papi-official-worker_bg.wasm" });

onmessage = async (event) => {
  try {
    await ready;
    const bytes = wasm_bindgen.official_docx(event.data);
    postMessage({ bytes }, [bytes.buffer]);
  } catch (error) {
    postMessage({ error: String(error && error.message ? error.message : error) });
  }
};

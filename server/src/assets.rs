//! The built front end (Trunk's `dist/` folder), served from memory.
//!
//! Files are sent compressed with brotli or gzip as the browser accepts:
//! the copies the build wrote beside them (`name.br`, `name.gz`, made by
//! `scripts/compress` at brotli's highest quality), or, for a file without
//! them, compressed once on first request. Files whose names carry Trunk's
//! content hash are cached for a year; everything else, `index.html` above
//! all, is revalidated on every load so that a new version is picked up at
//! once.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

struct Asset {
    raw: Vec<u8>,
    content_type: &'static str,
    hashed_name: bool,
    etag: String,
    gzip: OnceLock<Vec<u8>>,
    brotli: OnceLock<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

/// The front end's files by URL path (`/index.html`, `/papi-app-….wasm`).
#[derive(Clone, Default)]
pub struct Assets {
    files: Arc<HashMap<String, Arc<Asset>>>,
}

/// The front end built into the binary (see `build.rs`): URL paths and
/// bytes; empty when the binary was built before the front end.
static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/embedded_dist.rs"));

impl Assets {
    /// Reads every file under `dir`. A missing folder gives an empty set: the
    /// server still serves its API, and the page explains what is missing.
    pub fn load(dir: &Path) -> std::io::Result<Assets> {
        let mut raw = HashMap::new();
        if dir.is_dir() {
            read_dir_into(dir, dir, &mut raw)?;
        }
        Ok(Assets::from_files(raw))
    }

    /// The front end built into the binary.
    pub fn embedded() -> Assets {
        Assets::from_files(
            EMBEDDED
                .iter()
                .map(|(url, bytes)| (url.to_string(), bytes.to_vec()))
                .collect(),
        )
    }

    fn from_files(mut raw: HashMap<String, Vec<u8>>) -> Assets {
        // A file's compressed copies are not files of their own.
        let mut copies = HashMap::new();
        for suffix in [".br", ".gz"] {
            let names: Vec<String> = raw
                .keys()
                .filter(|url| {
                    url.strip_suffix(suffix)
                        .is_some_and(|base| raw.contains_key(base))
                })
                .cloned()
                .collect();
            for url in names {
                let bytes = raw.remove(&url).unwrap_or_default();
                copies.insert(url, bytes);
            }
        }
        let files = raw
            .into_iter()
            .map(|(url, raw)| {
                let name = last_segment(&url).to_string();
                let mut kept = |suffix: &str| {
                    let lock = OnceLock::new();
                    if let Some(bytes) = copies.remove(&format!("{url}{suffix}")) {
                        // A copy left from an older build, or a file changed
                        // by hand after it, would send the wrong file.
                        if unpacks_to(suffix, &bytes, &raw) {
                            let _ = lock.set(bytes);
                        } else {
                            tracing::warn!(file = %url, suffix, "a compressed copy does not match its file; compressing it anew");
                        }
                    }
                    lock
                };
                let asset = Asset {
                    etag: format!("\"{:016x}\"", fnv1a(&raw)),
                    content_type: content_type(&name),
                    hashed_name: has_content_hash(&name),
                    gzip: kept(".gz"),
                    brotli: kept(".br"),
                    raw,
                };
                (url, Arc::new(asset))
            })
            .collect();
        Assets {
            files: Arc::new(files),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The response for a GET of `path`. Unknown paths that look like app
    /// routes (no file extension) get `index.html`, so that deep links work.
    pub async fn respond(&self, path: &str, request: &HeaderMap) -> Response {
        let asset = match self.files.get(path) {
            Some(a) => a.clone(),
            None if path == "/" || !last_segment(path).contains('.') => {
                match self.files.get("/index.html") {
                    Some(a) => a.clone(),
                    None => return not_built(),
                }
            }
            None => return (StatusCode::NOT_FOUND, "not found").into_response(),
        };

        let cache = if asset.hashed_name {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
            headers.insert(header::ETAG, etag);
        }
        if request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag))
        {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }

        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        let encoding = if is_compressible(asset.content_type) {
            choose_encoding(request)
        } else {
            Encoding::Identity
        };
        let body = match encoding {
            Encoding::Identity => asset.raw.clone(),
            other => {
                let a = asset.clone();
                // Compression of a large wasm file takes a while: keep it off
                // the async workers. It happens once per file and encoding.
                match tokio::task::spawn_blocking(move || a.encoded(other).to_vec()).await {
                    Ok(body) => {
                        let name = if other == Encoding::Brotli {
                            "br"
                        } else {
                            "gzip"
                        };
                        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
                        body
                    }
                    Err(error) => {
                        tracing::error!(%error, path, "compression failed");
                        asset.raw.clone()
                    }
                }
            }
        };
        (StatusCode::OK, headers, Body::from(body)).into_response()
    }
}

impl Asset {
    fn encoded(&self, encoding: Encoding) -> &[u8] {
        match encoding {
            Encoding::Identity => &self.raw,
            Encoding::Gzip => self.gzip.get_or_init(|| {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                // Writing into a Vec cannot fail.
                let _ = e.write_all(&self.raw);
                e.finish().unwrap_or_default()
            }),
            Encoding::Brotli => self.brotli.get_or_init(|| {
                let mut out = Vec::new();
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 9,
                    ..Default::default()
                };
                let _ = brotli::BrotliCompress(&mut &self.raw[..], &mut out, &params);
                out
            }),
        }
    }
}

fn not_built() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The front end has not been built. Run scripts/run, or set --dist-dir.\n",
    )
        .into_response()
}

/// Reads every file under `dir` into `files`, by URL path.
fn read_dir_into(
    root: &Path,
    dir: &Path,
    files: &mut HashMap<String, Vec<u8>>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            read_dir_into(root, &path, files)?;
            continue;
        }
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
        files.insert(url, std::fs::read(&path)?);
    }
    Ok(())
}

/// Whether `copy`, compressed as its `suffix` says, holds exactly `file`.
fn unpacks_to(suffix: &str, copy: &[u8], file: &[u8]) -> bool {
    let mut unpacked = Vec::with_capacity(file.len());
    let read = if suffix == ".br" {
        brotli::Decompressor::new(copy, 64 * 1024).read_to_end(&mut unpacked)
    } else {
        flate2::read::GzDecoder::new(copy).read_to_end(&mut unpacked)
    };
    read.is_ok() && unpacked == file
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Trunk names built files `name-<16 hex digits>[_bg].ext`.
fn has_content_hash(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    // Trunk writes its 64-bit hash in hex without leading zeros: 16 digits,
    // or fewer for one build in sixteen.
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 12 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn is_compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/wasm" | "application/json" | "application/manifest+json" | "image/svg+xml"
        )
}

fn choose_encoding(request: &HeaderMap) -> Encoding {
    let accepted = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let name = parts.next()?.trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (!refused).then_some(name)
        })
        .collect::<Vec<_>>();
    if accepted.iter().any(|e| e == "br") {
        Encoding::Brotli
    } else if accepted.iter().any(|e| e == "gzip") {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn recognises_trunk_hashed_names() {
        assert!(has_content_hash("papi-app-1a2b3c4d5e6f7a8b_bg.wasm"));
        // A hash whose first hex digit was 0 is written one digit shorter.
        assert!(has_content_hash("papi-app-20ab15ad6ae1afd_bg.wasm"));
        assert!(!has_content_hash("papi-official-worker_bg.wasm"));
        assert!(has_content_hash("papi-app-1a2b3c4d5e6f7a8b.js"));
        assert!(has_content_hash("main-00112233445566ff.css"));
        assert!(!has_content_hash("index.html"));
        assert!(!has_content_hash("papi-app.js"));
        assert!(!has_content_hash("my-style.css"));
    }

    #[test]
    fn prefers_brotli_then_gzip_and_honours_refusals() {
        assert_eq!(
            choose_encoding(&headers(&[("accept-encoding", "gzip, deflate, br")])),
            Encoding::Brotli
        );
        assert_eq!(
            choose_encoding(&headers(&[("accept-encoding", "gzip")])),
            Encoding::Gzip
        );
        assert_eq!(
            choose_encoding(&headers(&[("accept-encoding", "br;q=0, gzip")])),
            Encoding::Gzip
        );
        assert_eq!(choose_encoding(&headers(&[])), Encoding::Identity);
    }

    #[tokio::test]
    async fn serves_compressed_with_cache_headers_and_falls_back_to_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.html"),
            "<!doctype html><title>PAPI</title>".repeat(20),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("papi-app-1a2b3c4d5e6f7a8b_bg.wasm"),
            vec![0u8; 4096],
        )
        .unwrap();
        let assets = Assets::load(dir.path()).unwrap();
        let gz = headers(&[("accept-encoding", "gzip")]);

        let wasm = assets
            .respond("/papi-app-1a2b3c4d5e6f7a8b_bg.wasm", &gz)
            .await;
        assert_eq!(wasm.status(), StatusCode::OK);
        assert_eq!(wasm.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(wasm.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(wasm.headers()[header::CONTENT_TYPE], "application/wasm");

        let route = assets.respond("/reports/2026-h1", &gz).await;
        assert_eq!(route.status(), StatusCode::OK);
        assert_eq!(route.headers()[header::CACHE_CONTROL], REVALIDATE);
        let etag = route.headers()[header::ETAG].clone();

        let mut again = gz.clone();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            assets.respond("/", &again).await.status(),
            StatusCode::NOT_MODIFIED
        );

        assert_eq!(
            assets.respond("/missing.js", &gz).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    fn brotli_of(bytes: &[u8], quality: i32) -> Vec<u8> {
        let mut out = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).unwrap();
        out
    }

    fn gzip_of(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    async fn body(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn sends_the_compressed_copies_the_build_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let js = "console.log('PAPI');".repeat(50);
        // Made differently from how the server compresses, so that the
        // bytes show which was sent.
        let (br_copy, gz_copy) = (brotli_of(js.as_bytes(), 2), gzip_of(js.as_bytes()));
        std::fs::write(dir.path().join("app-1a2b3c4d5e6f7a8b.js"), &js).unwrap();
        std::fs::write(dir.path().join("app-1a2b3c4d5e6f7a8b.js.br"), &br_copy).unwrap();
        std::fs::write(dir.path().join("app-1a2b3c4d5e6f7a8b.js.gz"), &gz_copy).unwrap();
        // A copy without its file is served as it is.
        std::fs::write(dir.path().join("lone.txt.br"), b"lone").unwrap();
        let assets = Assets::load(dir.path()).unwrap();

        let br = headers(&[("accept-encoding", "gzip, br")]);
        let answer = assets.respond("/app-1a2b3c4d5e6f7a8b.js", &br).await;
        assert_eq!(answer.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(body(answer).await, br_copy);

        let gz = headers(&[("accept-encoding", "gzip")]);
        let answer = assets.respond("/app-1a2b3c4d5e6f7a8b.js", &gz).await;
        assert_eq!(answer.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(body(answer).await, gz_copy);

        let answer = assets
            .respond("/app-1a2b3c4d5e6f7a8b.js", &HeaderMap::new())
            .await;
        assert!(answer.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body(answer).await, js.as_bytes());

        assert_eq!(
            assets
                .respond("/app-1a2b3c4d5e6f7a8b.js.br", &br)
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "a copy is not a file of its own"
        );
        assert_eq!(
            assets.respond("/lone.txt.br", &br).await.status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn a_copy_that_does_not_match_its_file_is_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let old = "self.version = 1;".repeat(20);
        let new = "self.version = 2;".repeat(20);
        std::fs::write(dir.path().join("sw.js"), &new).unwrap();
        std::fs::write(dir.path().join("sw.js.br"), brotli_of(old.as_bytes(), 11)).unwrap();
        std::fs::write(dir.path().join("sw.js.gz"), b"not gzip at all").unwrap();
        let assets = Assets::load(dir.path()).unwrap();
        for accept in ["br", "gzip"] {
            let mut request = HeaderMap::new();
            request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(accept));
            let answer = assets.respond("/sw.js", &request).await;
            let sent = body(answer).await;
            assert!(unpacks_to(
                if accept == "br" { ".br" } else { ".gz" },
                &sent,
                new.as_bytes()
            ));
            assert_ne!(
                sent,
                brotli_of(old.as_bytes(), 11),
                "{accept}: the stale copy"
            );
        }
    }

    #[tokio::test]
    async fn says_plainly_when_the_front_end_is_not_built() {
        let dir = tempfile::tempdir().unwrap();
        let assets = Assets::load(&dir.path().join("nowhere")).unwrap();
        assert!(assets.is_empty());
        let page = assets.respond("/", &HeaderMap::new()).await;
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}

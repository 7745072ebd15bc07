//! Puts the built front end (`dist/`, which Trunk makes) into the binary,
//! so that one file is all a deployment copies. Built before the front
//! end, the binary holds none and serves only what `--dist-dir` names.

use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dist = root.join("../dist");
    // Cargo looks through the whole folder for a changed file.
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    if dist.is_dir() {
        walk(&dist, &dist, &mut files);
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (url, path) in &files {
        code.push_str(&format!("    ({url:?}, include_bytes!({path:?})),\n"));
    }
    code.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("embedded_dist.rs"), code).expect("write the embedded file list");
}

/// Every file under `dir` but hidden ones (the build's stamp), by URL path.
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).expect("read dist/");
    for entry in entries {
        let path = entry.expect("read dist/").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under dist/");
            let url = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
            let absolute = path.canonicalize().expect("a file of dist/");
            files.push((url, absolute.to_string_lossy().into_owned()));
        }
    }
}

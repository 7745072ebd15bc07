//! Turns the interface texts (`locales/app.yml`) into a table compiled into
//! the app: looked up by key, nothing to parse or insert when it starts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

fn main() {
    const SOURCE: &str = "locales/app.yml";
    println!("cargo:rerun-if-changed={SOURCE}");
    let yaml = std::fs::read_to_string(SOURCE).expect("locales/app.yml can be read");
    let entries: BTreeMap<String, serde_norway::Value> =
        serde_norway::from_str(&yaml).expect("locales/app.yml is a map of texts");
    let mut table = String::from(
        "/// Every interface text as (key, Vietnamese, English), sorted by key.\n\
         pub static TEXTS: &[(&str, &str, &str)] = &[\n",
    );
    for (key, value) in &entries {
        if key.starts_with('_') {
            continue;
        }
        let text = |lang: &str| {
            value
                .get(lang)
                .and_then(|v| v.as_str())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| panic!("{SOURCE}: `{key}` has no {lang} text"))
                .to_string()
        };
        writeln!(table, "    ({key:?}, {:?}, {:?}),", text("vi"), text("en")).unwrap();
    }
    table.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("texts.rs");
    std::fs::write(out, table).expect("the texts table can be written");
}

//! Embeds every `policies/<rule>/metadata.yml`, so the playground knows which
//! resources each rule's webhook matches and which lookups its engine grants.

use std::fmt::Write;
use std::path::Path;

fn main() {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    println!("cargo:rerun-if-changed={}", policies.display());
    let mut entries: Vec<(String, String)> = std::fs::read_dir(&policies)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path().join("metadata.yml"))
                .filter(|path| path.is_file())
                .filter_map(|path| {
                    let name = path.parent()?.file_name()?.to_string_lossy().into_owned();
                    println!("cargo:rerun-if-changed={}", path.display());
                    Some((name, path.canonicalize().ok()?.display().to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    let mut code = String::from(
        "/// `(rule, metadata.yml)` of every policy.\npub const METADATA: &[(&str, &str)] = &[\n",
    );
    for (name, path) in entries {
        let _ = writeln!(code, "    ({name:?}, include_str!({path:?})),");
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("metadata.rs");
    if let Err(error) = std::fs::write(&out, code) {
        panic!("cannot write {}: {error}", out.display());
    }
}

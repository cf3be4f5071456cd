//! The crash-guard bundle module: waPC wiring only. Its metadata is the root metadata.yml.
crash_guard::export_bundle!();

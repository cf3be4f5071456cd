//! object-count policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::object_count::ObjectCount);

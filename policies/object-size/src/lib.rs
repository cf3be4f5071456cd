//! object-size policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::object_size::ObjectSize);

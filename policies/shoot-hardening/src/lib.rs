//! shoot-hardening policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::shoot_hardening::ShootHardening);

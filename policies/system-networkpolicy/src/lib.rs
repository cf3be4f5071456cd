//! system-networkpolicy policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::system_networkpolicy::SystemNetworkPolicy);

//! daemonset-guard policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::daemonset_guard::DaemonSetGuard);

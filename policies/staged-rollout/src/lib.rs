//! staged-rollout policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::staged_rollout::StagedRollout);

//! webhook-safety policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::webhook_safety::WebhookSafety);

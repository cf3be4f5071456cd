//! api-rate-limit policy module: waPC wiring only.
crash_guard::export_policy!(crash_guard::api_rate_limit::ApiRateLimit);

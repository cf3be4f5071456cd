//! `harness bench`: module size, compile, instantiate and per-evaluation
//! latency of every module on every fixture, against the same rule run natively.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::suite::{self, Prepared, Suite};

pub struct Options {
    pub only: Vec<String>,
    /// Time spent measuring each figure.
    pub budget: Duration,
    pub out: PathBuf,
}

/// Median and 99th percentile of repeated runs.
#[derive(Debug, Clone, Copy)]
struct Timing {
    median: Duration,
    p99: Duration,
    runs: usize,
}

fn measure(budget: Duration, min_runs: usize, max_runs: usize, mut f: impl FnMut()) -> Timing {
    for _ in 0..3 {
        f();
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < max_runs && (samples.len() < min_runs || start.elapsed() < budget) {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Timing {
        median: at(0.5),
        p99: at(0.99),
        runs: samples.len(),
    }
}

/// Requests below this size count as typical objects.
const TYPICAL_KIB: f64 = 16.0;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct CaseRow {
    case: String,
    request_kib: f64,
    /// Lookup answers the rule read, per evaluation.
    lookup_kib: f64,
    wasm: Timing,
    /// A fresh instance plus one evaluation: what policy-server pays.
    fresh: Timing,
    native: Option<Timing>,
    parse: Timing,
}

struct ModuleRow {
    module: String,
    size: usize,
    compile: Duration,
    instantiate: Timing,
    per_request: Timing,
    round_trip: Timing,
    scaling: Option<Scaling>,
    cases: Vec<CaseRow>,
}

pub fn run(engine: &Engine, root: &Path, options: &Options) -> Result<bool> {
    let mut rows = Vec::new();
    for suite in suite::discover(root)? {
        if suite.module == "*" || (!options.only.is_empty() && !options.only.contains(&suite.rule))
        {
            continue;
        }
        eprintln!("bench {} ...", suite.rule);
        rows.push(bench_suite(engine, root, &suite, options)?);
    }
    let report = render(&rows, options);
    print!("{report}");
    std::fs::write(&options.out, &report)
        .with_context(|| format!("cannot write {}", options.out.display()))?;
    eprintln!("written to {}", options.out.display());
    Ok(true)
}

fn bench_suite(
    engine: &Engine,
    root: &Path,
    suite: &Suite,
    options: &Options,
) -> Result<ModuleRow> {
    let path = root.join("dist").join(format!("{}.wasm", suite.module));
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let compile = (0..3)
        .map(|_| {
            let t = Instant::now();
            engine.compile(&bytes).map(|_| t.elapsed())
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .min()
        .unwrap_or_default();
    let module = engine.compile(&bytes)?;
    let allowed = suite::context_aware_resources(root, &suite.module)?;
    let native = crash_guard::registry::find(&suite.module);
    let empty = smallest_case(suite, &allowed)?;
    empty.host.set_quiet(true);
    let instantiate = measure(options.budget, 20, 2_000, || {
        let _ = module.instantiate(empty.host.clone());
    });
    let per_request = measure(options.budget, 20, 2_000, || {
        if let Ok(instance) = module.instantiate(empty.host.clone()) {
            let _ = instance.call("validate", &empty.payload);
        }
    });
    let warm = module.instantiate(empty.host.clone())?;
    let round_trip = measure(options.budget, 20, 20_000, || {
        let _ = warm.call("protocol_version", b"");
    });
    let mut cases = Vec::new();
    for case in suite.cases.iter().filter(|c| c.expect.settings_valid) {
        let prepared = suite.prepare(case, allowed.clone())?;
        prepared.host.set_quiet(true);
        cases.push(bench_case(&module, native, &prepared, &case.name, options)?);
    }
    let scaling = scaling(engine, &module, suite, allowed, options)?;
    let module_label = if suite.module == suite.rule {
        suite.module.clone()
    } else {
        format!("{} ({} suite)", suite.module, suite.rule)
    };
    Ok(ModuleRow {
        module: module_label,
        size: bytes.len(),
        compile,
        instantiate,
        per_request,
        round_trip,
        scaling,
        cases,
    })
}

/// The smallest accepted request: what a typical request costs.
fn smallest_case(suite: &Suite, allowed: &[crate::cluster::ResourceType]) -> Result<Prepared> {
    let mut best: Option<Prepared> = None;
    for case in suite.cases.iter().filter(|c| {
        c.expect.settings_valid && c.raw_payload.is_none() && c.expect.allowed == Some(true)
    }) {
        let prepared = suite.prepare(case, allowed.to_vec())?;
        if best
            .as_ref()
            .is_none_or(|b| prepared.payload.len() < b.payload.len())
        {
            best = Some(prepared);
        }
    }
    best.ok_or_else(|| anyhow!("suite {} has no accepted case to benchmark", suite.rule))
}

fn bench_case(
    module: &crate::engine::Module,
    native: Option<&crash_guard::registry::RuleEntry>,
    prepared: &Prepared,
    name: &str,
    options: &Options,
) -> Result<CaseRow> {
    let instance = module.instantiate(prepared.host.clone())?;
    prepared.host.take_served_bytes();
    instance
        .call("validate", &prepared.payload)
        .map_err(|e| anyhow!("{name}: {e}"))?;
    let lookup_kib = prepared.host.take_served_bytes() as f64 / 1024.0;
    let wasm = measure(options.budget, 30, 20_000, || {
        warm_validate(&instance, &prepared.payload)
    });
    let fresh = measure(options.budget / 2, 20, 5_000, || {
        if let Ok(instance) = module.instantiate(prepared.host.clone()) {
            let _ = instance.call("validate", &prepared.payload);
        }
    });
    let native = native.map(|entry| {
        let host: &dyn crash_guard::host::Host = prepared.host.as_ref();
        measure(options.budget, 30, 200_000, || {
            native_validate(entry, &prepared.payload, host)
        })
    });
    let parse = measure(options.budget / 2, 30, 200_000, || {
        std::hint::black_box(
            serde_json::from_slice::<Value>(std::hint::black_box(&prepared.payload)).ok(),
        );
    });
    Ok(CaseRow {
        case: name.to_string(),
        request_kib: prepared.payload.len() as f64 / 1024.0,
        lookup_kib,
        wasm,
        fresh,
        native,
        parse,
    })
}

/// One timed evaluation on a warm instance; a named frame, so that
/// `valgrind --tool=callgrind --toggle-collect=harness::bench::warm_validate`
/// counts the instructions of exactly these calls.
#[inline(never)]
fn warm_validate(instance: &crate::engine::Instance, payload: &[u8]) {
    let _ = instance.call("validate", payload);
}

/// One timed native evaluation; a named frame, as `warm_validate` is.
#[inline(never)]
fn native_validate(
    entry: &crash_guard::registry::RuleEntry,
    payload: &[u8],
    host: &dyn crash_guard::host::Host,
) {
    std::hint::black_box((entry.validate)(std::hint::black_box(payload), host));
}

/// How a module copes with request size.
struct Scaling {
    /// Extra latency per KiB: padding of 0 vs 1024 KiB.
    us_per_kib: f64,
    /// A 1.5 MiB request (the largest the API server admits).
    largest: Timing,
    /// The smallest memory cap under which the 1.5 MiB request still succeeds.
    largest_memory: usize,
}

/// The first case with an object, padded with an annotation no rule reads.
fn padded_payload(prepared: &Prepared, kib: usize) -> Result<Vec<u8>> {
    let mut request = prepared.request.clone();
    if let Some(metadata) = request
        .pointer_mut("/object/metadata")
        .and_then(Value::as_object_mut)
    {
        let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
        if let Some(map) = annotations.as_object_mut() {
            map.insert(
                "crash-guard.io/padding".into(),
                json!("x".repeat(kib * 1024)),
            );
        }
    }
    crate::suite::validate_payload(&request, &prepared.settings)
}

fn scaling(
    engine: &Engine,
    module: &crate::engine::Module,
    suite: &Suite,
    allowed: Vec<crate::cluster::ResourceType>,
    options: &Options,
) -> Result<Option<Scaling>> {
    let Some(case) = suite
        .cases
        .iter()
        .find(|c| c.expect.settings_valid && c.raw_payload.is_none() && c.object.is_some())
    else {
        return Ok(None);
    };
    let prepared = suite.prepare(case, allowed)?;
    prepared.host.set_quiet(true);
    let time = |payload: &[u8]| -> Result<Timing> {
        let instance = module.instantiate(prepared.host.clone())?;
        Ok(measure(options.budget, 20, 5_000, || {
            let _ = instance.call("validate", payload);
        }))
    };
    let small = time(&padded_payload(&prepared, 0)?)?;
    let large = time(&padded_payload(&prepared, 1024)?)?;
    let room = 1536usize.saturating_sub(prepared.payload.len() / 1024 + 1);
    let largest_payload = padded_payload(&prepared, room)?;
    let largest = time(&largest_payload)?;
    let largest_memory = min_memory(engine, module, &prepared, &largest_payload)?;
    Ok(Some(Scaling {
        us_per_kib: (micros(large.median) - micros(small.median)) / 1024.0,
        largest,
        largest_memory,
    }))
}

/// Bisects the memory cap (in 64 KiB wasm pages) at which `payload` still evaluates.
fn min_memory(
    engine: &Engine,
    module: &crate::engine::Module,
    prepared: &Prepared,
    payload: &[u8],
) -> Result<usize> {
    const PAGE: usize = 64 * 1024;
    let passes = |pages: usize| -> bool {
        engine
            .with_memory_cap(module, pages * PAGE)
            .and_then(|m| m.instantiate(prepared.host.clone()))
            .is_ok_and(|instance| instance.call("validate", payload).is_ok())
    };
    let (mut low, mut high) = (1usize, 4096usize);
    if !passes(high) {
        return Err(anyhow!(
            "a 1.5 MiB request fails even with {} MiB",
            (high * PAGE) >> 20
        ));
    }
    while high - low > 1 {
        let mid = (low + high) / 2;
        if passes(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    Ok(high * PAGE)
}

fn render(rows: &[ModuleRow], options: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# crash-guard benchmark\n");
    let _ = writeln!(
        out,
        "Written by `make bench` (`harness bench`) on {} core(s). Each figure is measured for up to {:?} \
         after warm-up, by a harness built optimised (`--profile bench-host`), as policy-server is. \
         Evaluation latency is one `validate` call on a warm instance (policy-server's deadline and \
         memory guards on; lookups answered from the host's cache, as policy-server caches them); \
         *per request* (and, per case, *fresh instance + validate*, timed for half as long) is a fresh \
         instance plus one `validate`, which is what policy-server pays per request; the waPC round trip is a `protocol_version` call, the floor of any call. Native is \
         the same rule called in-process on the same payload, optimised the same way; parse is \
         `serde_json::from_slice::<Value>` of the payload, what a policy that decodes whole requests \
         pays before judging. Typical objects are requests whose size plus the lookup answers the rule \
         reads stays under 16 KiB; the rest (the 1 MiB Secret, 1,000 and 10,000 listed objects) are \
         the large inputs. Growth is the extra latency \
         per KiB of request when the object carries a 1 MiB annotation no rule reads; the 1.5 MiB \
         request pads the same object to the largest request the API server admits, and its memory \
         is the smallest linear-memory cap (64 KiB pages, found by bisection) under which it still \
         evaluates.\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        options.budget
    );
    let _ = writeln!(out, "Reference, from the Kubewarden hub on this kind of machine (pod-privileged): 1.7 MB module, \
        ~52 µs per small Pod on a warm instance, ~20 µs per KiB of request, ~410 µs per request with a fresh instance.\n");
    let _ = writeln!(out, "## Modules\n");
    let _ = writeln!(out, "| module | size | compile | instantiate (median / p99) | per request: fresh instance + validate of the smallest accepted case | waPC round trip (`protocol_version`) | growth per KiB | 1.5 MiB request (median / p99) | memory for 1.5 MiB |");
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {:.1} KiB | {:.1} ms | {:.0} µs / {:.0} µs | {:.0} µs | {:.1} µs | {} | {} | {} |",
            row.module,
            row.size as f64 / 1024.0,
            row.compile.as_secs_f64() * 1e3,
            micros(row.instantiate.median),
            micros(row.instantiate.p99),
            micros(row.per_request.median),
            micros(row.round_trip.median),
            row.scaling
                .as_ref()
                .map_or("n/a".to_string(), |g| format!("{:.2} µs", g.us_per_kib)),
            row.scaling.as_ref().map_or("n/a".to_string(), |g| format!(
                "{:.2} ms / {:.2} ms",
                g.largest.median.as_secs_f64() * 1e3,
                g.largest.p99.as_secs_f64() * 1e3
            )),
            row.scaling.as_ref().map_or("n/a".to_string(), |g| format!(
                "{:.1} MiB",
                g.largest_memory as f64 / 1_048_576.0
            )),
        );
    }
    let _ = writeln!(
        out,
        "\n## Typical objects (request and lookup answers under 16 KiB)\n"
    );
    let _ = writeln!(out, "| module | cases | median of case medians | cases under 10 µs | worst p99 | wasm / native: median, worst | cases within 3x of native | per request (fresh instance + validate): median of case medians, worst |");
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let typical: Vec<&CaseRow> = row
            .cases
            .iter()
            .filter(|c| c.request_kib + c.lookup_kib < TYPICAL_KIB)
            .collect();
        let mut medians: Vec<f64> = typical.iter().map(|c| micros(c.wasm.median)).collect();
        let mut ratios: Vec<f64> = typical
            .iter()
            .filter_map(|c| {
                c.native
                    .map(|n| micros(c.wasm.median) / micros(n.median).max(0.001))
            })
            .collect();
        let mut fresh: Vec<f64> = typical.iter().map(|c| micros(c.fresh.median)).collect();
        let worst_p99 = typical
            .iter()
            .map(|c| micros(c.wasm.p99))
            .fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} µs | {} | {:.0} µs | {:.1}x, {:.1}x | {} | {:.0} µs, {:.0} µs |",
            row.module,
            typical.len(),
            median(&mut medians),
            medians.iter().filter(|m| **m < 10.0).count(),
            worst_p99,
            median(&mut ratios),
            ratios.iter().copied().fold(0.0, f64::max),
            ratios.iter().filter(|r| **r <= 3.0).count(),
            median(&mut fresh),
            fresh.iter().copied().fold(0.0, f64::max),
        );
    }
    for row in rows {
        let _ = writeln!(out, "\n## {}\n", row.module);
        let _ = writeln!(out, "| case | request | lookups | wasm median | wasm p99 | native median | wasm / native | JSON parse | fresh instance + validate | runs |");
        let _ = writeln!(
            out,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for case in &row.cases {
            let native = case.native.map(|n| micros(n.median));
            let _ = writeln!(
                out,
                "| {} | {:.1} KiB | {:.1} KiB | {:.1} µs | {:.1} µs | {} | {} | {:.1} µs | {:.0} µs | {} |",
                case.case,
                case.request_kib,
                case.lookup_kib,
                micros(case.wasm.median),
                micros(case.wasm.p99),
                native.map_or("n/a".into(), |n| format!("{n:.1} µs")),
                native.map_or("n/a".into(), |n| format!(
                    "{:.1}x",
                    micros(case.wasm.median) / n.max(0.001)
                )),
                micros(case.parse.median),
                micros(case.fresh.median),
                case.wasm.runs,
            );
        }
    }
    out
}

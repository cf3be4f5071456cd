//! `harness bench`: module size, compile, instantiate and per-evaluation
//! latency of every module on every fixture, against the same rule run natively.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use crate::engine::{Engine, HostSlot};
use crate::suite::{self, Prepared, Suite};

mod reference;

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

/// How many times the schedule visits every figure. Each figure is sampled
/// in short slices spread over the whole run, so a machine that slows down
/// for a while (as shared VMs do, by up to 2x for minutes) slows every
/// module and case alike instead of whichever was measured then.
const ROUNDS: usize = 10;

/// One timed figure: the code it times and how long and how often to sample
/// it, split evenly over the rounds.
struct Figure<'a> {
    budget: Duration,
    min_runs: usize,
    max_runs: usize,
    run: Box<dyn FnMut() + 'a>,
    /// Untimed, before each slice: makes the figure's state current and warms
    /// it up. By default, one untimed `run`.
    enter: Option<Box<dyn FnMut() + 'a>>,
    samples: Vec<Duration>,
}

impl<'a> Figure<'a> {
    fn new(budget: Duration, min_runs: usize, max_runs: usize, run: impl FnMut() + 'a) -> Self {
        Self {
            budget,
            min_runs,
            max_runs,
            run: Box::new(run),
            enter: None,
            samples: Vec::new(),
        }
    }

    fn entered_by(mut self, enter: impl FnMut() + 'a) -> Self {
        self.enter = Some(Box::new(enter));
        self
    }

    /// One slice: the untimed entry, then samples until the round's share of
    /// the budget is spent (within the round's share of runs).
    fn sample_slice(&mut self) {
        match &mut self.enter {
            Some(enter) => enter(),
            None => (self.run)(),
        }
        let min_runs = self.min_runs.div_ceil(ROUNDS);
        let max_runs = self.max_runs.div_ceil(ROUNDS);
        let budget = self.budget / ROUNDS as u32;
        let start = Instant::now();
        let mut runs = 0;
        while runs < max_runs && (runs < min_runs || start.elapsed() < budget) {
            let t = Instant::now();
            (self.run)();
            self.samples.push(t.elapsed());
            runs += 1;
        }
    }

    fn timing(mut self) -> Timing {
        self.samples.sort();
        let samples = &self.samples;
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
}

/// Samples every figure, round after round, and returns their timings in order.
fn sample(mut figures: Vec<Figure<'_>>) -> Vec<Timing> {
    for round in 1..=ROUNDS {
        eprintln!("bench round {round}/{ROUNDS} ...");
        for figure in &mut figures {
            figure.sample_slice();
        }
    }
    figures.into_iter().map(Figure::timing).collect()
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
    adversarial: bool,
    request_kib: f64,
    /// Lookup answers the rule read, per evaluation.
    lookup_kib: f64,
    wasm: Timing,
    /// A fresh instance plus one evaluation: what policy-server pays.
    fresh: Timing,
    native: Option<Timing>,
    parse: Timing,
    /// A validating skip of the payload and of the lookup answers read.
    skip: Timing,
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
    let mut suites = Vec::new();
    for suite in suite::discover(root)? {
        if suite.module == "*" || (!options.only.is_empty() && !options.only.contains(&suite.rule))
        {
            continue;
        }
        eprintln!("bench {}: setting up ...", suite.rule);
        suites.push(SuiteBench::new(engine, root, &suite)?);
    }
    let hub = if options.only.is_empty() || options.only.iter().any(|o| o == reference::NAME) {
        reference::ReferenceBench::load(engine, root)?
    } else {
        None
    };
    if hub.is_none() && options.only.is_empty() {
        eprintln!(
            "bench: {} not built, the hub reference is left out",
            reference::MODULE
        );
    }
    let (rows, hub) = measure_all(&suites, hub.as_ref(), options)?;
    let report = render(&rows, hub.as_ref(), options);
    print!("{report}");
    std::fs::write(&options.out, &report)
        .with_context(|| format!("cannot write {}", options.out.display()))?;
    eprintln!("written to {}", options.out.display());
    Ok(true)
}

/// A module, its compiled code and warm instances, ready to be timed.
struct SuiteBench {
    label: String,
    size: usize,
    compile: Duration,
    module: crate::engine::Module,
    native: Option<&'static crash_guard::registry::RuleEntry>,
    /// The smallest accepted case: what a fresh instance is given.
    smallest: Prepared,
    /// One warm instance serves every case of the module (the rule's own
    /// latency); `slot` holds the host of the case being timed.
    slot: Arc<HostSlot>,
    warm: crate::engine::Instance,
    cases: Vec<CaseBench>,
    scaling: Option<ScalingBench>,
}

struct CaseBench {
    name: String,
    adversarial: bool,
    prepared: Prepared,
    lookup_kib: f64,
    /// The bodies of the lookup answers the rule read.
    answers: Vec<Vec<u8>>,
}

/// The payloads of the growth figures: one case's object padded.
struct ScalingBench {
    prepared: Prepared,
    padded: Vec<Vec<u8>>,
    largest_memory: usize,
}

impl SuiteBench {
    fn new(engine: &Engine, root: &Path, suite: &Suite) -> Result<Self> {
        let path = root.join("dist").join(format!("{}.wasm", suite.module));
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
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
        let smallest = smallest_case(suite, &allowed)?;
        smallest.host.set_quiet(true);
        let slot = Arc::new(HostSlot::new(smallest.host.clone()));
        let warm = module.instantiate_in(slot.clone())?;
        let mut cases = Vec::new();
        for case in suite.cases.iter().filter(|c| c.expect.settings_valid) {
            let prepared = suite.prepare(case, allowed.clone())?;
            prepared.host.set_quiet(true);
            prepared.host.take_served_bytes();
            serve(&slot, &warm, &prepared, &prepared.payload)
                .map_err(|e| anyhow!("{}: {e}", case.name))?;
            let lookup_kib = prepared.host.take_served_bytes() as f64 / 1024.0;
            let answers = prepared.host.served_answers();
            cases.push(CaseBench {
                name: case.name.clone(),
                adversarial: case.adversarial,
                prepared,
                lookup_kib,
                answers,
            });
        }
        let scaling = ScalingBench::new(engine, &module, suite, allowed)?;
        if let Some(scaling) = &scaling {
            for payload in &scaling.padded {
                serve(&slot, &warm, &scaling.prepared, payload).map_err(|e| {
                    anyhow!(
                        "{}: {} KiB padded request: {e}",
                        suite.rule,
                        payload.len() / 1024
                    )
                })?;
            }
        }
        let label = if suite.module == suite.rule {
            suite.module.clone()
        } else {
            format!("{} ({} suite)", suite.module, suite.rule)
        };
        Ok(Self {
            label,
            size: bytes.len(),
            compile,
            module,
            native: crash_guard::registry::find(&suite.module),
            smallest,
            slot,
            warm,
            cases,
            scaling,
        })
    }

    /// Every timed figure of the module, in the order `row` reads them back.
    fn figures<'a>(&'a self, budget: Duration, figures: &mut Vec<Figure<'a>>) {
        let smallest = &self.smallest;
        let module = &self.module;
        figures.push(Figure::new(budget, 20, 2_000, move || {
            let _ = module.instantiate(smallest.host.clone());
        }));
        figures.push(Figure::new(budget, 20, 2_000, move || {
            fresh_validate(module, smallest)
        }));
        figures.push(Figure::new(budget, 20, 20_000, || {
            let _ = self.warm.call("protocol_version", b"");
        }));
        for case in &self.cases {
            let prepared = &case.prepared;
            figures.push(
                Figure::new(budget, 30, 20_000, || {
                    warm_validate(&self.warm, &prepared.payload)
                })
                .entered_by(|| self.enter(prepared, &prepared.payload)),
            );
            figures.push(Figure::new(budget / 2, 20, 5_000, move || {
                fresh_validate(module, prepared)
            }));
            if let Some(entry) = self.native {
                let host: &dyn crash_guard::host::Host = prepared.host.as_ref();
                figures.push(Figure::new(budget, 30, 200_000, move || {
                    native_validate(entry, &prepared.payload, host)
                }));
            }
            figures.push(Figure::new(budget / 2, 30, 200_000, || {
                std::hint::black_box(
                    serde_json::from_slice::<Value>(std::hint::black_box(&prepared.payload)).ok(),
                );
            }));
            let answers = &case.answers;
            figures.push(Figure::new(budget / 2, 30, 200_000, move || {
                skip_json(&prepared.payload, answers)
            }));
        }
        if let Some(scaling) = &self.scaling {
            for payload in &scaling.padded {
                figures.push(
                    Figure::new(budget, 20, 5_000, || {
                        let _ = self.warm.call("validate", payload);
                    })
                    .entered_by(|| self.enter(&scaling.prepared, payload)),
                );
            }
        }
    }

    /// The untimed entry of a slice: `serve`, outside `warm_validate`, so
    /// callgrind counts timed calls only.
    fn enter(&self, prepared: &Prepared, payload: &[u8]) {
        let _ = serve(&self.slot, &self.warm, prepared, payload);
    }

    /// The module's row, from the timings of its figures, read back in order.
    fn row(&self, timings: &mut std::vec::IntoIter<Timing>) -> Result<ModuleRow> {
        let mut next = || {
            timings
                .next()
                .ok_or_else(|| anyhow!("bench: {} read more timings than it timed", self.label))
        };
        let instantiate = next()?;
        let per_request = next()?;
        let round_trip = next()?;
        let mut cases = Vec::new();
        for case in &self.cases {
            cases.push(CaseRow {
                case: case.name.clone(),
                adversarial: case.adversarial,
                request_kib: case.prepared.payload.len() as f64 / 1024.0,
                lookup_kib: case.lookup_kib,
                wasm: next()?,
                fresh: next()?,
                native: self.native.map(|_| next()).transpose()?,
                parse: next()?,
                skip: next()?,
            });
        }
        let scaling = match &self.scaling {
            Some(s) => {
                let (small, large, largest) = (next()?, next()?, next()?);
                Some(Scaling {
                    us_per_kib: (micros(large.median) - micros(small.median)) / 1024.0,
                    largest,
                    largest_memory: s.largest_memory,
                })
            }
            None => None,
        };
        Ok(ModuleRow {
            module: self.label.clone(),
            size: self.size,
            compile: self.compile,
            instantiate,
            per_request,
            round_trip,
            scaling,
            cases,
        })
    }
}

/// Evaluates `payload` on the module's warm instance with `prepared`'s lookups.
fn serve(
    slot: &HostSlot,
    warm: &crate::engine::Instance,
    prepared: &Prepared,
    payload: &[u8],
) -> std::result::Result<Vec<u8>, crate::engine::GuestFailure> {
    slot.set(prepared.host.clone());
    warm.call("validate", payload)
}

/// Times every figure of every module, and the hub reference's, in one
/// interleaved schedule.
fn measure_all(
    suites: &[SuiteBench],
    hub: Option<&reference::ReferenceBench>,
    options: &Options,
) -> Result<(Vec<ModuleRow>, Option<reference::Reference>)> {
    let mut figures = Vec::new();
    for suite in suites {
        suite.figures(options.budget, &mut figures);
    }
    if let Some(hub) = hub {
        hub.figures(options.budget, &mut figures);
    }
    let mut timings = sample(figures).into_iter();
    let rows = suites
        .iter()
        .map(|s| s.row(&mut timings))
        .collect::<Result<Vec<_>>>()?;
    let hub = hub.map(|h| h.reference(&mut timings)).transpose()?;
    if timings.len() != 0 {
        return Err(anyhow!("bench: {} timings were never read", timings.len()));
    }
    Ok((rows, hub))
}

/// The smallest accepted request, with the cluster state its lookups read:
/// what a typical request costs.
fn smallest_case(suite: &Suite, allowed: &[crate::cluster::ResourceType]) -> Result<Prepared> {
    let mut best: Option<(usize, Prepared)> = None;
    for case in suite.cases.iter().filter(|c| {
        c.expect.settings_valid && c.raw_payload.is_none() && c.expect.allowed == Some(true)
    }) {
        let prepared = suite.prepare(case, allowed.to_vec())?;
        let size = prepared.payload.len() + prepared.host.cluster_bytes();
        if best.as_ref().is_none_or(|(smallest, _)| size < *smallest) {
            best = Some((size, prepared));
        }
    }
    best.map(|(_, prepared)| prepared)
        .ok_or_else(|| anyhow!("suite {} has no accepted case to benchmark", suite.rule))
}

/// One timed evaluation on a warm instance; a named frame, so that
/// `valgrind --tool=callgrind --toggle-collect=harness::bench::warm_validate`
/// counts the instructions of exactly these calls.
#[inline(never)]
fn warm_validate(instance: &crate::engine::Instance, payload: &[u8]) {
    let _ = instance.call("validate", payload);
}

/// A fresh instance and one evaluation: what policy-server pays per request.
fn fresh_validate(module: &crate::engine::Module, prepared: &Prepared) {
    if let Ok(instance) = module.instantiate(prepared.host.clone()) {
        let _ = instance.call("validate", &prepared.payload);
    }
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

/// A validating scan of the payload and the lookup answers that keeps
/// nothing: what any rule decoding them with serde_json pays at least.
fn skip_json(payload: &[u8], answers: &[Vec<u8>]) {
    for json in std::iter::once(payload).chain(answers.iter().map(Vec::as_slice)) {
        std::hint::black_box(
            serde_json::from_slice::<serde::de::IgnoredAny>(std::hint::black_box(json)).ok(),
        );
    }
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

impl ScalingBench {
    /// Growth: the first case with an object, padded by 0 and 1024 KiB and to
    /// the largest request the API server admits. `None` if no case has an object.
    fn new(
        engine: &Engine,
        module: &crate::engine::Module,
        suite: &Suite,
        allowed: Vec<crate::cluster::ResourceType>,
    ) -> Result<Option<Self>> {
        let Some(case) = suite
            .cases
            .iter()
            .find(|c| c.expect.settings_valid && c.raw_payload.is_none() && c.object.is_some())
        else {
            return Ok(None);
        };
        let prepared = suite.prepare(case, allowed)?;
        prepared.host.set_quiet(true);
        let room = 1536usize.saturating_sub(prepared.payload.len() / 1024 + 1);
        let padded = [0, 1024, room]
            .into_iter()
            .map(|kib| padded_payload(&prepared, kib))
            .collect::<Result<Vec<_>>>()?;
        let largest = padded.last().map(Vec::as_slice).unwrap_or_default();
        let largest_memory = min_memory(engine, module, &prepared, largest)?;
        Ok(Some(Self {
            prepared,
            padded,
            largest_memory,
        }))
    }
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

/// A module's cases whose request and lookup answers stay under 16 KiB,
/// except those built to exhaust a budget.
fn typical(row: &ModuleRow) -> Vec<&CaseRow> {
    row.cases
        .iter()
        .filter(|c| !c.adversarial && c.request_kib + c.lookup_kib < TYPICAL_KIB)
        .collect()
}

fn typical_medians(row: &ModuleRow) -> Vec<f64> {
    typical(row).iter().map(|c| micros(c.wasm.median)).collect()
}

fn typical_native_medians(row: &ModuleRow) -> Vec<f64> {
    typical(row)
        .iter()
        .filter_map(|c| c.native.map(|n| micros(n.median)))
        .collect()
}

/// Ratios as their median and worst, `1.6x, 2.1x`, or `n/a` when there are none.
fn median_and_worst(ratios: &mut [f64]) -> String {
    if ratios.is_empty() {
        return "n/a".into();
    }
    let worst = ratios.iter().copied().fold(0.0, f64::max);
    format!("{:.1}x, {worst:.1}x", median(ratios))
}

fn render(rows: &[ModuleRow], hub: Option<&reference::Reference>, options: &Options) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# crash-guard benchmark\n");
    let _ = writeln!(
        out,
        "Written by `make bench` (`harness bench`) on {} core(s). Each figure is measured for up to {:?} \
         after warm-up, in {ROUNDS} slices: the schedule visits every figure of every module once per round, \
         so a short slowdown of the machine is spread over every figure; longer swings still move modules \
         unevenly between runs, and machines of this kind differ by about 2x, so compare wasm / native ratios \
         (instruction counts for changes, see the README). \
         The harness is built optimised (`--profile bench-host`), as policy-server is. \
         Evaluation latency is one `validate` call on a warm instance (one per module serves every case: \
         the rule's own cost; policy-server's deadline and memory guards on; lookups answered from the host's cache, as policy-server caches them); \
         *per request* (and, per case, *fresh instance + validate*, timed for half as long) is a fresh \
         instance plus one `validate`, which is what policy-server pays per request, since it rehydrates a fresh instance for every evaluation; the waPC round trip is a `protocol_version` call, the floor of any call. Native is \
         the same rule called in-process on the same payload, at the same opt-level but without the \
         modules' LTO (callgrind: about 8% more instructions for a staged-rollout case); parse is \
         `serde_json::from_slice::<Value>` of the payload, what a policy that decodes whole requests \
         pays before judging; skip is `serde_json::from_slice::<IgnoredAny>` of the payload and of \
         each lookup answer the rule read, a validating scan that keeps nothing: the floor of any \
         rule that reads them with serde_json, since their fields can come in any order. Typical objects are requests whose size plus the lookup answers the rule \
         reads stays under 16 KiB; the rest (the 1 MiB Secret, 1,000 and 10,000 listed objects, and \
         small requests built to exhaust a bound such as an expansion budget or a warning cap, marked \
         *adversarial*) are the large inputs. Growth is the extra latency \
         per KiB of request when the object carries a 1 MiB annotation no rule reads; the 1.5 MiB \
         request pads the same object to the largest request the API server admits, and its memory \
         is the smallest linear-memory cap (64 KiB pages, found by bisection) under which it still \
         evaluates.\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        options.budget
    );
    let _ = writeln!(out, "The issue's reference, the hub's pod-privileged on the issue's machine: 1.7 MB module, \
        ~52 µs per small Pod on a warm instance, ~20 µs per KiB of request, ~410 µs per request with a fresh instance; \
        \"The hub's way on this machine\" below times a policy written the same way here.\n");
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
    let _ = writeln!(out, "| module | cases | median of case medians | cases under 10 µs | worst p99 | wasm / native: median, worst | cases within 3x of native | native / JSON skip: median, worst | per request (fresh instance + validate): median of case medians, worst |");
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let typical = typical(row);
        let mut medians = typical_medians(row);
        let mut ratios: Vec<f64> = typical
            .iter()
            .filter_map(|c| {
                c.native
                    .map(|n| micros(c.wasm.median) / micros(n.median).max(0.001))
            })
            .collect();
        let mut over_skip: Vec<f64> = typical
            .iter()
            .filter_map(|c| {
                c.native
                    .map(|n| micros(n.median) / micros(c.skip.median).max(0.001))
            })
            .collect();
        let mut fresh: Vec<f64> = typical.iter().map(|c| micros(c.fresh.median)).collect();
        let worst_p99 = typical
            .iter()
            .map(|c| micros(c.wasm.p99))
            .fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} µs | {} | {:.0} µs | {} | {} | {} | {:.0} µs, {:.0} µs |",
            row.module,
            typical.len(),
            median(&mut medians),
            medians.iter().filter(|m| **m < 10.0).count(),
            worst_p99,
            median_and_worst(&mut ratios),
            ratios.iter().filter(|r| **r <= 3.0).count(),
            median_and_worst(&mut over_skip),
            median(&mut fresh),
            fresh.iter().copied().fold(0.0, f64::max),
        );
    }
    let medians: Vec<reference::Medians> = rows
        .iter()
        .map(|row| {
            let mut native = typical_native_medians(row);
            reference::Medians {
                module: row.module.clone(),
                wasm: median(&mut typical_medians(row)),
                native: (!native.is_empty()).then(|| median(&mut native)),
            }
        })
        .collect();
    let _ = write!(out, "\n{}", reference::render(hub, &medians));
    for row in rows {
        let _ = writeln!(out, "\n## {}\n", row.module);
        let _ = writeln!(out, "| case | request | lookups | wasm median | wasm p99 | native median | wasm / native | JSON parse | JSON skip | native / JSON skip | fresh instance + validate | runs |");
        let _ = writeln!(
            out,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for case in &row.cases {
            let native = case.native.map(|n| micros(n.median));
            let _ = writeln!(
                out,
                "| {}{} | {:.1} KiB | {:.1} KiB | {:.1} µs | {:.1} µs | {} | {} | {:.1} µs | {:.1} µs | {} | {:.0} µs | {} |",
                case.case,
                if case.adversarial { " (*adversarial*)" } else { "" },
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
                micros(case.skip.median),
                native.map_or("n/a".into(), |n| format!(
                    "{:.1}x",
                    n / micros(case.skip.median).max(0.001)
                )),
                micros(case.fresh.median),
                case.wasm.runs,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn every_round_visits_every_figure_in_turn() {
        let log = RefCell::new(String::new());
        let figure = |name: char| {
            let log = &log;
            Figure::new(Duration::ZERO, 30, 20_000, move || {
                log.borrow_mut().push(name)
            })
        };
        let entered = figure('b').entered_by(|| log.borrow_mut().push('B'));
        let timings = sample(vec![figure('a'), entered]);
        // Each slice: one untimed call (or the entry), then its share of the runs.
        assert_eq!(*log.borrow(), "aaaaBbbb".repeat(ROUNDS));
        assert_eq!(timings.iter().map(|t| t.runs).collect::<Vec<_>>(), [30, 30]);
    }

    #[test]
    fn a_round_stops_at_its_share_of_the_runs() {
        let calls = RefCell::new(0);
        let figure = Figure::new(Duration::from_secs(60), 1, 50, || *calls.borrow_mut() += 1);
        let timings = sample(vec![figure]);
        assert_eq!(timings.first().map(|t| t.runs), Some(50));
        assert_eq!(*calls.borrow(), 50 + ROUNDS);
    }
}

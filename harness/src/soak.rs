//! `harness soak`: each built module, on one warm instance (so that state one
//! input leaves behind meets the next), fed mutations of its fixture payloads
//! and settings.
//!
//! The native fuzzer (`fuzz/`) runs the rules' Rust. This runs what ships:
//! the arena allocator, the in-place response writers and `wasm-opt`'s
//! rewrites exist only in the `.wasm`. An input fails the soak when the call
//! traps, returns a guest error or runs out its deadline (each a 500 under
//! policy-server), when the answer is not a ValidationResponse (or a settings
//! answer), or when a fresh instance answers it differently. Failing inputs
//! are written out as the exact bytes of the call; the same seed repeats a run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};

use crate::engine::{Engine, HostSlot, Instance, Module};
use crate::suite::{self, Prepared};

#[derive(Args)]
pub struct SoakArgs {
    /// Project root holding e2e-tests/, dist/ and policies/.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Only these suites (folder names).
    #[arg(long = "only")]
    pub only: Vec<String>,
    /// Mutated inputs per fixture case and module.
    #[arg(long, default_value_t = 24)]
    pub per_case: u64,
    /// Seed of the mutations; the same seed gives the same inputs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Every n-th input is also evaluated on a fresh instance and compared.
    #[arg(long, default_value_t = 6)]
    pub fresh_every: u64,
    /// Where failing inputs are written.
    #[arg(long, default_value = "target/soak-failures")]
    pub failures: PathBuf,
    /// Also write every answer, one line per input, to compare two builds'
    /// answers to the same inputs (the same seed).
    #[arg(long)]
    pub answers: Option<PathBuf>,
}

/// The waPC function an input is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Validate,
    ValidateSettings,
}

impl Function {
    fn name(self) -> &'static str {
        match self {
            Function::Validate => "validate",
            Function::ValidateSettings => "validate_settings",
        }
    }

    /// The answer's field that must be a boolean.
    fn verdict_field(self) -> &'static str {
        match self {
            Function::Validate => "accepted",
            Function::ValidateSettings => "valid",
        }
    }
}

pub fn run(engine: &Engine, args: &SoakArgs) -> Result<bool> {
    use std::io::Write;
    let (mut inputs, mut failed) = (0u64, 0u64);
    let mut answers = match &args.answers {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    for suite in suite::discover(&args.root)? {
        for module_name in suite.modules(&args.root, &args.only)? {
            let module = suite::load_module(engine, &args.root, &module_name)?;
            let allowed = suite::context_aware_resources(&args.root, &module_name)?;
            let slot = Arc::new(HostSlot::new(Default::default()));
            let mut warm = module.instantiate_in(slot.clone())?;
            let (mut module_inputs, mut module_failed) = (0u64, 0u64);
            let mut tally = [0u64; 3];
            for case in &suite.cases {
                let id = suite.case_id(case, &module_name);
                let prepared =
                    suite.prepare_for(case, allowed.clone(), id.clone(), &module_name)?;
                prepared.host.set_quiet(true);
                slot.set(prepared.host.clone());
                let mut rng = Rng::new(args.seed ^ fnv(&id));
                for n in 0..args.per_case {
                    let (function, input) = mutate(&prepared, &mut rng);
                    module_inputs += 1;
                    let fresh = args.fresh_every > 0 && n % args.fresh_every == 0;
                    let reason = match soak_one(&module, &warm, &prepared, function, &input, fresh)
                    {
                        Ok((verdict, answer)) => {
                            tally[verdict as usize] += 1;
                            if let Some(out) = answers.as_mut() {
                                writeln!(
                                    out,
                                    "{id} #{n} {}: {}",
                                    function.name(),
                                    String::from_utf8_lossy(&answer)
                                )?;
                            }
                            continue;
                        }
                        Err(reason) => reason,
                    };
                    module_failed += 1;
                    let file = write_failure(&args.failures, &id, n, function, &input)?;
                    println!(
                        "FAIL {id} #{n} `{}`: {reason} (input: {})",
                        function.name(),
                        file.display()
                    );
                    // A trap can leave the instance unusable: start a new one.
                    warm = module.instantiate_in(slot.clone())?;
                }
            }
            println!(
                "soak {module_name} ({}): {module_inputs} inputs, {module_failed} failed; answers: {} accepted or valid, {} refused as malformed, {} refused or invalid",
                suite.rule, tally[0], tally[1], tally[2]
            );
            inputs += module_inputs;
            failed += module_failed;
        }
    }
    if let Some(out) = answers.as_mut() {
        out.flush()?;
    }
    println!("{inputs} inputs, {failed} failed");
    Ok(failed == 0 && inputs > 0)
}

/// Evaluates one input on the warm instance and, when `fresh`, on a new one.
fn soak_one(
    module: &Module,
    warm: &Instance,
    prepared: &Prepared,
    function: Function,
    input: &[u8],
    fresh: bool,
) -> std::result::Result<(Verdict, Vec<u8>), String> {
    let answer = warm
        .call(function.name(), input)
        .map_err(|e| format!("warm instance: {e}"))?;
    let verdict = check_answer(function, &answer)?;
    if fresh {
        let instance = module
            .instantiate(prepared.host.clone())
            .map_err(|e| format!("cannot instantiate: {e:#}"))?;
        let again = instance
            .call(function.name(), input)
            .map_err(|e| format!("fresh instance: {e}"))?;
        if again != answer {
            return Err(format!(
                "a warm instance answered {}, a fresh one {}",
                lossy_head(&answer),
                lossy_head(&again)
            ));
        }
    }
    Ok((verdict, answer))
}

/// What an answer said, tallied to show how far the inputs reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Accepted, or valid settings.
    Yes,
    /// Refused as undecodable (code 400).
    Malformed,
    /// Refused by a rule, or invalid settings.
    No,
}

/// The answer must be a JSON object whose verdict field is a boolean.
fn check_answer(function: Function, answer: &[u8]) -> std::result::Result<Verdict, String> {
    let value: Value = serde_json::from_slice(answer)
        .map_err(|e| format!("the answer is not JSON ({e}): {}", lossy_head(answer)))?;
    match value.get(function.verdict_field()) {
        Some(Value::Bool(true)) => Ok(Verdict::Yes),
        Some(Value::Bool(false)) if value.get("code") == Some(&json!(400)) => {
            Ok(Verdict::Malformed)
        }
        Some(Value::Bool(false)) => Ok(Verdict::No),
        _ => Err(format!(
            "the answer has no boolean `{}`: {}",
            function.verdict_field(),
            lossy_head(answer)
        )),
    }
}

/// The start of an answer, as the harness shortens text elsewhere.
fn lossy_head(bytes: &[u8]) -> String {
    crate::shorten(&String::from_utf8_lossy(bytes))
}

fn write_failure(
    dir: &Path,
    id: &str,
    n: u64,
    function: Function,
    input: &[u8],
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file = dir.join(format!("{name}-{n}-{}.json", function.name()));
    std::fs::write(&file, input).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(file)
}

/// One mutated input of the case: its `validate` payload broken at the byte
/// level or changed as a JSON document, or its settings changed.
fn mutate(prepared: &Prepared, rng: &mut Rng) -> (Function, Vec<u8>) {
    let payload = &prepared.payload;
    match rng.below(10) {
        0 => (Function::Validate, replace_byte(payload, rng)),
        1 => (Function::Validate, truncate(payload, rng)),
        2 => (Function::Validate, delete_span(payload, rng)),
        3 => (Function::Validate, duplicate_span(payload, rng)),
        4..=6 => {
            let mut request = prepared.request.clone();
            change_node(&mut request, rng);
            (Function::Validate, payload_of(&request, &prepared.settings))
        }
        7 => {
            let mut settings = prepared.settings.clone();
            change_node(&mut settings, rng);
            (Function::Validate, payload_of(&prepared.request, &settings))
        }
        _ => {
            let mut settings = prepared.settings.clone();
            change_node(&mut settings, rng);
            let bytes = serde_json::to_vec(&settings).unwrap_or_default();
            if rng.below(3) == 0 {
                (Function::ValidateSettings, replace_byte(&bytes, rng))
            } else {
                (Function::ValidateSettings, bytes)
            }
        }
    }
}

fn payload_of(request: &Value, settings: &Value) -> Vec<u8> {
    suite::validate_payload(request, settings).unwrap_or_default()
}

/// Bytes that change what a JSON reader sees.
const TROUBLE: &[u8] = b"\"{}[],:\\0-.eE+nft \n\x00\x7f\xff9";

fn replace_byte(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = rng.below(out.len() as u64) as usize;
    let byte = TROUBLE[rng.below(TROUBLE.len() as u64) as usize];
    if let Some(slot) = out.get_mut(at) {
        *slot = byte;
    }
    out
}

fn truncate(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let at = rng.below(bytes.len() as u64) as usize;
    bytes[..at].to_vec()
}

fn span(len: usize, rng: &mut Rng) -> (usize, usize) {
    let start = rng.below(len as u64) as usize;
    let length = 1 + rng.below(64) as usize;
    (start, (start + length).min(len))
}

fn delete_span(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let (start, end) = span(bytes.len(), rng);
    [&bytes[..start], &bytes[end..]].concat()
}

fn duplicate_span(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let (start, end) = span(bytes.len(), rng);
    let at = rng.below(bytes.len() as u64 + 1) as usize;
    [&bytes[..at], &bytes[start..end], &bytes[at..]].concat()
}

/// Changes one node of `document`, chosen uniformly among all its nodes.
fn change_node(document: &mut Value, rng: &mut Rng) {
    let count = count_nodes(document);
    let target = rng.below(count);
    let mut seen = 0;
    let Some(node) = nth_node(document, target, &mut seen) else {
        return;
    };
    match rng.below(3) {
        0 => *node = odd_value(rng),
        1 => match node {
            // Drop one key, or turn the object into the list of its values.
            Value::Object(fields) if !fields.is_empty() && rng.below(2) == 0 => {
                let key = fields
                    .keys()
                    .nth(rng.below(fields.len() as u64) as usize)
                    .cloned();
                if let Some(key) = key {
                    fields.remove(&key);
                }
            }
            Value::Object(fields) => {
                *node = Value::Array(std::mem::take(fields).into_iter().map(|(_, v)| v).collect())
            }
            Value::Array(items) if !items.is_empty() => {
                let index = rng.below(items.len() as u64) as usize;
                let copy = items[index].clone();
                items.push(copy);
            }
            other => *other = odd_value(rng),
        },
        _ => *node = json!([node.take()]),
    }
}

fn count_nodes(value: &Value) -> u64 {
    1 + match value {
        Value::Object(fields) => fields.values().map(count_nodes).sum(),
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `target`-th node in pre-order.
fn nth_node<'v>(value: &'v mut Value, target: u64, seen: &mut u64) -> Option<&'v mut Value> {
    if *seen == target {
        return Some(value);
    }
    *seen += 1;
    match value {
        Value::Object(fields) => fields.values_mut().find_map(|v| nth_node(v, target, seen)),
        Value::Array(items) => items.iter_mut().find_map(|v| nth_node(v, target, seen)),
        _ => None,
    }
}

/// Values that sit at the edges of what rules expect.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(u64::MAX),
        5 => json!(1.5e300),
        6 => json!(""),
        7 => json!("x".repeat(70_000)),
        8 => json!("ü\u{0}\"\\\n"),
        9 => json!([]),
        10 => json!({}),
        11 => json!("-1"),
        12 => json!("999999999999999999999Ki"),
        _ => {
            // Deeper than serde_json's recursion limit of 128.
            let mut deep = json!(0);
            for _ in 0..200 {
                deep = json!([deep]);
            }
            deep
        }
    }
}

/// FNV-1a, to seed each case's mutations from its id.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// xorshift64*: small, and the same inputs for the same seed on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `0..n`; 0 when `n` is 0.
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::CaseHost;

    fn prepared() -> Prepared {
        let request = json!({
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
            "operation": "CREATE", "namespace": "apps",
            "object": {"metadata": {"name": "a", "labels": {"k": "v"}}, "data": {"x": "1"}}
        });
        let settings = json!({"limit": 3});
        Prepared {
            id: "suite/case".into(),
            payload: payload_of(&request, &settings),
            settings,
            request,
            host: Arc::new(CaseHost::default()),
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let prepared = prepared();
        let inputs = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|_| mutate(&prepared, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(inputs(7), inputs(7));
        assert_ne!(inputs(7), inputs(8));
    }

    #[test]
    fn inputs_differ_from_the_case_and_cover_both_functions() {
        let prepared = prepared();
        let mut rng = Rng::new(1);
        let inputs: Vec<_> = (0..200).map(|_| mutate(&prepared, &mut rng)).collect();
        let changed = inputs
            .iter()
            .filter(|(f, input)| *f == Function::ValidateSettings || *input != prepared.payload)
            .count();
        assert!(
            changed > 180,
            "{changed} of 200 inputs differ from the case"
        );
        assert!(inputs.iter().any(|(f, _)| *f == Function::Validate));
        assert!(inputs.iter().any(|(f, _)| *f == Function::ValidateSettings));
        let unparsable = inputs
            .iter()
            .filter(|(_, input)| serde_json::from_slice::<Value>(input).is_err())
            .count();
        assert!(
            unparsable > 10 && unparsable < 150,
            "{unparsable} unparsable"
        );
    }

    #[test]
    fn every_node_can_be_chosen() {
        let document = json!({"a": [1, {"b": null}], "c": "d"});
        let count = count_nodes(&document);
        assert_eq!(count, 6);
        for target in 0..count {
            let mut copy = document.clone();
            assert!(
                nth_node(&mut copy, target, &mut 0).is_some(),
                "node {target}"
            );
        }
        assert!(nth_node(&mut document.clone(), count, &mut 0).is_none());
    }

    #[rstest::rstest]
    #[case::accepted("validate", r#"{"accepted":true}"#, true)]
    #[case::refused("validate", r#"{"accepted":false,"message":"m","code":400}"#, true)]
    #[case::not_json("validate", "nope", false)]
    #[case::no_verdict("validate", r#"{"message":"m"}"#, false)]
    #[case::settings_valid("validate_settings", r#"{"valid":true}"#, true)]
    #[case::settings_string("validate_settings", r#"{"valid":"yes"}"#, false)]
    fn answers_are_checked(#[case] function: &str, #[case] answer: &str, #[case] ok: bool) {
        let function = if function == "validate" {
            Function::Validate
        } else {
            Function::ValidateSettings
        };
        assert_eq!(check_answer(function, answer.as_bytes()).is_ok(), ok);
    }

    #[test]
    fn verdicts_are_told_apart() {
        let verdict = |answer: &str| check_answer(Function::Validate, answer.as_bytes());
        assert_eq!(verdict(r#"{"accepted":true}"#), Ok(Verdict::Yes));
        assert_eq!(
            verdict(r#"{"accepted":false,"code":400}"#),
            Ok(Verdict::Malformed)
        );
        assert_eq!(verdict(r#"{"accepted":false,"code":403}"#), Ok(Verdict::No));
    }
}

#!/usr/bin/env python3
"""Runs every fuzz target against every rule of the registry and writes RESULTS.md.

Each (target, rule) runs for --seconds in total; after a crash the crash is minimised,
saved under regressions/<rule>/<target>/ and fuzzing resumes for the time left
(at most --max-crashes times). Logs go to logs/<target>-<rule>.log.
Usage: run.py --bin DIR [--seconds 60] [--targets a,b] [--rules x,y]
"""
import argparse
import datetime
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
TARGETS = ["validate", "validate_structured", "validate_settings"]
STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.M)
PROGRESS = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)/")
PANIC = re.compile(r"^thread .* panicked at (.*):\n(.*)$", re.M)


def rules_from(binary):
    env = dict(os.environ, CRASH_GUARD_LIST_RULES="1")
    out = subprocess.run([str(binary)], env=env, capture_output=True, text=True, check=True)
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def fuzz_once(binary, rule, target, seconds, log, work):
    corpus = work / "corpus" / target / rule
    seeds = HERE / "seeds" / target / rule
    artifacts = work / "artifacts" / target / rule
    for d in (corpus, artifacts):
        d.mkdir(parents=True, exist_ok=True)
    before = set(artifacts.iterdir())
    args = [str(binary), f"-max_total_time={seconds}", "-print_final_stats=1",
            "-timeout=10", "-rss_limit_mb=2048", "-max_len=65536",
            f"-artifact_prefix={artifacts}/"]
    dictionary = HERE / "dict" / f"{rule}.dict"
    if dictionary.exists() and target != "validate_settings":
        args.append(f"-dict={dictionary}")
    args.append(str(corpus))
    if seeds.is_dir():
        args.append(str(seeds))
    env = dict(os.environ, CRASH_GUARD_RULE=rule, RUST_BACKTRACE="1")
    with open(log, "a") as out:
        out.write(f"$ CRASH_GUARD_RULE={rule} {' '.join(args)}\n")
        out.flush()
        subprocess.run(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=HERE)
    new = sorted(set(artifacts.iterdir()) - before)
    return new


def parse_run(text):
    """Stats of the last libFuzzer run in a log."""
    stats = {k: int(v) for k, v in STAT.findall(text)}
    progress = PROGRESS.findall(text)
    cov, ft, corp = (int(x) for x in progress[-1]) if progress else (0, 0, 0)
    return stats, cov, ft, corp


def minimise(binary, rule, artifact, log):
    env = dict(os.environ, CRASH_GUARD_RULE=rule)
    minimised = artifact.with_name("minimised-" + artifact.name)
    if artifact.name.startswith("crash-"):
        with open(log, "a") as out:
            subprocess.run([str(binary), "-minimize_crash=1", "-runs=20000",
                            f"-exact_artifact_path={minimised}", str(artifact)],
                           env=env, stdout=out, stderr=subprocess.STDOUT, cwd=HERE)
    return minimised if minimised.exists() else artifact


def panic_of(binary, rule, artifact):
    env = dict(os.environ, CRASH_GUARD_RULE=rule, RUST_BACKTRACE="0")
    out = subprocess.run([str(binary), str(artifact)], env=env, capture_output=True,
                         text=True, errors="replace", cwd=HERE)
    match = PANIC.search(out.stderr)
    if match:
        return f"{match.group(2)} at {match.group(1)}"
    tail = [l for l in out.stderr.splitlines() if "ERROR" in l or "SUMMARY" in l]
    return tail[-1] if tail else "no panic message (see the log)"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", type=pathlib.Path, required=True)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--rules", default="")
    parser.add_argument("--max-crashes", type=int, default=5)
    parser.add_argument("--results", type=pathlib.Path, default=HERE / "RESULTS.md")
    parser.add_argument("--work", type=pathlib.Path, default=HERE,
                        help="where corpus/, artifacts/, logs/ and regressions/ live")
    args = parser.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    rules = [r for r in args.rules.split(",") if r] or rules_from(args.bin / targets[0])
    work = args.work.resolve()
    (work / "logs").mkdir(parents=True, exist_ok=True)
    rows, crashes_found = [], []
    for rule in rules:
        for target in targets:
            binary = args.bin / target
            log = work / "logs" / f"{target}-{rule}.log"
            log.write_text("")
            execs, crashes, started = 0, 0, time.monotonic()
            cov = ft = corp = 0
            while True:
                left = args.seconds - int(time.monotonic() - started)
                if left <= 0:
                    break
                offset = len(log.read_text(errors="replace"))
                new = fuzz_once(binary, rule, target, left, log, work)
                stats, c, f, p = parse_run(log.read_text(errors="replace")[offset:])
                execs += stats.get("number_of_executed_units", 0)
                cov, ft, corp = max(cov, c), max(ft, f), max(corp, p)
                for artifact in new:
                    if artifact.name.startswith("minimised-"):
                        continue
                    crashes += 1
                    small = minimise(binary, rule, artifact, log)
                    keep = work / "regressions" / rule / target
                    keep.mkdir(parents=True, exist_ok=True)
                    data = small.read_bytes()
                    kind = artifact.name.split("-")[0]
                    saved = keep / f"{kind}-{hashlib.sha1(data).hexdigest()[:12]}"
                    shutil.copyfile(small, saved)
                    crashes_found.append((rule, target, saved.relative_to(work),
                                          panic_of(binary, rule, saved)))
                if not new or crashes >= args.max_crashes:
                    break
            seconds = int(time.monotonic() - started)
            rate = execs // max(seconds, 1)
            rows.append((rule, target, seconds, execs, rate, cov, ft, corp, crashes))
            print(f"{rule:24} {target:20} {seconds:5}s {execs:11} execs {rate:7}/s "
                  f"cov {cov:5} ft {ft:6} corpus {corp:5} crashes {crashes}", flush=True)
    write_results(args.results, rows, crashes_found, args.seconds)
    return 1 if crashes_found else 0


def write_results(path, rows, crashes, seconds):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Fuzzing results",
        "",
        f"`make fuzz FUZZ_SECONDS={seconds}` on {now}, {os.cpu_count()} cores, one libFuzzer "
        "process at a time. cov = covered edges (inline 8-bit counters), ft = features, "
        "corpus = inputs kept. The corpus persists in fuzz/corpus/, so later runs start "
        "where this one stopped.",
        "",
        "| rule | target | seconds | executions | exec/s | cov | ft | corpus | crashes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(x) for x in row) + " |")
    lines += ["", "## Crashes", ""]
    if crashes:
        for rule, target, saved, message in crashes:
            lines.append(f"- {rule} / {target}: `{saved}`: {message}")
    else:
        lines.append("None.")
    saved = sorted(p.relative_to(HERE) for p in (HERE / "regressions").glob("*/*/*"))
    lines += ["", "## Saved regression inputs (`make regress` replays them)", ""]
    lines += [f"- `{p}`" for p in saved] or ["None."]
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())

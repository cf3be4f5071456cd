#!/usr/bin/env python3
"""Times an earlier commit's modules beside today's, in one `harness bench` run.

Two runs of `make bench` minutes apart can differ by 2x on a shared VM. Here
both versions share one schedule: each round visits every figure of both, so a
slowdown hits them alike. Both run today's fixtures; the earlier modules are
replayed first, and cases they no longer pass are listed.

  make bench-against REV=<commit>, or, after `make policies hub-reference` and
  `cargo build --profile bench-host -p harness`:
  scripts/bench-against.py REV [--budget-ms N] [--only SUITE ...] [--out FILE]

REV's modules are built by REV's own `make policies` in a worktree under
target/bench-against/<rev>/, where the report goes unless --out says
otherwise. Its suites are named `<suite>-<rev>`. The bench cannot run REV's
rule natively, so its native columns read n/a. At the end of the report, a
table gives each module's figures as before → after.
"""

import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
HARNESS = TARGET / "bench-host" / "harness"


def run(*args, cwd=ROOT, env=None, capture=False):
    return subprocess.run(
        args, cwd=cwd, env=env, check=True, text=True,
        stdout=subprocess.PIPE if capture else None,
    ).stdout


def build_earlier(rev, work):
    tree = work / "tree"
    if not (tree / "dist").is_dir():
        if tree.exists():
            run("git", "worktree", "remove", "--force", str(tree))
        run("git", "worktree", "add", "--detach", str(tree), rev)
        env = dict(os.environ, CARGO_TARGET_DIR=str(work / "target"))
        run("make", "policies", cwd=tree, env=env)
    return tree / "dist"


def suite_module(cases):
    found = re.search(r"^module:\s*(\S+)\s*$", cases.read_text(), re.M)
    return found.group(1).strip("\"'") if found else None


def combined_root(tag, earlier_dist, root):
    if root.exists():
        shutil.rmtree(root)
    for sub in ("e2e-tests", "policies", "dist"):
        (root / sub).mkdir(parents=True)
    # Fixtures may refer to files outside their folder (../../deploy).
    for entry in ROOT.iterdir():
        if entry.name not in ("e2e-tests", "policies", "dist", "target", ".git"):
            (root / entry.name).symlink_to(entry)
    if (ROOT / "dist" / "reference").is_dir():
        (root / "dist" / "reference").symlink_to(ROOT / "dist" / "reference")
    modules = set()
    for suite in sorted((ROOT / "e2e-tests").iterdir()):
        cases = suite / "cases.yaml"
        if not cases.is_file():
            continue
        module = suite_module(cases) or suite.name
        if module == "*" or not (earlier_dist / f"{module}.wasm").is_file():
            continue
        modules.add(module)
        (root / "e2e-tests" / suite.name).symlink_to(suite)
        twin = root / "e2e-tests" / f"{suite.name}-{tag}"
        twin.mkdir()
        for entry in suite.iterdir():
            if entry.name != "cases.yaml":
                (twin / entry.name).symlink_to(entry)
        text = cases.read_text()
        line = f"module: {module}-{tag}"
        if suite_module(cases):
            text = re.sub(r"^module:.*$", line, text, count=1, flags=re.M)
        else:
            text = f"{line}\n{text}"
        (twin / "cases.yaml").write_text(text)
    for module in sorted(modules):
        (root / "policies" / module).symlink_to(ROOT / "policies" / module)
        (root / "policies" / f"{module}-{tag}").symlink_to(ROOT / "policies" / module)
        (root / "dist" / f"{module}.wasm").symlink_to(ROOT / "dist" / f"{module}.wasm")
        (root / "dist" / f"{module}-{tag}.wasm").symlink_to(earlier_dist / f"{module}.wasm")


def table_rows(report, heading):
    """The rows of the first table under `## heading`, keyed by their first cell."""
    rows = {}
    lines = report.splitlines()
    try:
        start = lines.index(f"## {heading}")
    except ValueError:
        return rows
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and not set(cells[0]) <= {"-", " "}:
            rows.setdefault(cells[0], cells)
        elif rows and not line.startswith("|"):
            break
    return rows


def before_after(report, tag):
    modules = table_rows(report, "Modules")
    typical = table_rows(report, "Typical objects (request and lookup answers under 16 KiB)")
    out = [
        f"## Before ({tag}) → after, this run",
        "",
        "| module | size | typical median of case medians | typical cases under 10 µs | "
        "worst typical p99 | per request: fresh instance + validate, median of cases | "
        "growth per KiB | 1.5 MiB request, median |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, after in typical.items():
        earlier = re.sub(r"^(\S+)( \((\S+) suite\))?$",
                         lambda m: f"{m.group(1)}-{tag}"
                         + (f" ({m.group(3)}-{tag} suite)" if m.group(3) else ""), name)
        before = typical.get(earlier)
        if name == "module" or name.split(" ")[0].endswith(f"-{tag}") or not before:
            continue
        mod_a, mod_b = modules.get(name), modules.get(earlier)
        if not (mod_a and mod_b):
            continue
        pairs = [
            (mod_b[1], mod_a[1]),
            (before[2], after[2]),
            (f"{before[3]} of {before[1]}", f"{after[3]} of {after[1]}"),
            (before[4], after[4]),
            (before[-1].split(",")[0], after[-1].split(",")[0]),
            (mod_b[6], mod_a[6]),
            (mod_b[7].split(" / ")[0], mod_a[7].split(" / ")[0]),
        ]
        out.append("| " + " | ".join([name] + [f"{b} → {a}" for b, a in pairs]) + " |")
    if len(out) == 4:
        out.append("\nNo module found in both versions' rows: has the report's layout changed?")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--budget-ms", default="200")
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--out")
    args = parser.parse_args()
    if not HARNESS.is_file():
        sys.exit(f"{HARNESS} is missing: cargo build --profile bench-host -p harness")
    tag = run("git", "rev-parse", "--short=7", args.rev, capture=True).strip()
    work = TARGET / "bench-against" / tag
    earlier_dist = build_earlier(tag, work)
    root = work / "root"
    combined_root(tag, earlier_dist, root)
    only = [f"--only={s}" for s in args.only for s in (s, f"{s}-{tag}")]
    replay = subprocess.run([str(HARNESS), "replay", "--root", str(root), *only],
                            text=True, capture_output=True)
    failed = [line for line in replay.stdout.splitlines() if line.startswith("FAIL")]
    summary = (replay.stdout.strip().splitlines() or ["no replay output"])[-1]
    print(f"replay of both versions on today's fixtures: {summary}")
    for line in failed:
        print(line)
    out = pathlib.Path(args.out).resolve() if args.out else work / "BENCHMARKS.md"
    run(str(HARNESS), "bench", "--root", str(root), "--budget-ms", args.budget_ms,
        "--out", str(out), *only, cwd=root)
    report = out.read_text()
    extra = before_after(report, tag)
    if failed:
        extra += "\nCases the earlier modules fail on today's fixtures:\n\n" + "".join(
            f"- {line}\n" for line in failed)
    out.write_text(report.rstrip("\n") + "\n\n" + extra)
    print(extra)
    print(f"written to {out}")


if __name__ == "__main__":
    main()

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
    try:
        return subprocess.run(
            args, cwd=cwd, env=env, check=True, text=True,
            stdout=subprocess.PIPE if capture else None,
        ).stdout
    except subprocess.CalledProcessError as error:
        sys.exit(f"{' '.join(map(str, args))} failed with exit code {error.returncode}")


def build_earlier(rev, work):
    """REV's worktree, with its modules built by its own Makefile (reused once complete)."""
    tree = work / "tree"
    # Inside the tree, so that removing the tree forgets the build.
    built = tree / ".bench-against-built"
    if not built.is_file():
        run("git", "worktree", "prune")
        if tree.exists():
            run("git", "worktree", "remove", "--force", str(tree))
        run("git", "worktree", "add", "--detach", str(tree), rev)
        env = dict(os.environ, CARGO_TARGET_DIR=str(work / "target"))
        for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(inherited, None)
        run("make", "policies", cwd=tree, env=env)
        built.write_text(rev + "\n")
    return tree


MODULE_LINE = re.compile(r"^module:[ \t]*[\"']?([^\s\"'#]+)[\"']?[ \t]*(#.*)?$", re.M)


def combined_root(tag, tree, root):
    """Every suite twice: today's, and `<suite>-<tag>` on REV's module and metadata.

    Returns the suites left out because REV has no module for them."""
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
    modules, left_out = set(), []
    for suite in sorted((ROOT / "e2e-tests").iterdir()):
        cases = suite / "cases.yaml"
        if not cases.is_file():
            continue
        text = cases.read_text()
        named = MODULE_LINE.search(text)
        module = named.group(1) if named else suite.name
        if module == "*":
            continue
        if not (tree / "dist" / f"{module}.wasm").is_file():
            left_out.append(suite.name)
            continue
        modules.add(module)
        (root / "e2e-tests" / suite.name).symlink_to(suite)
        twin = root / "e2e-tests" / f"{suite.name}-{tag}"
        twin.mkdir()
        for entry in suite.iterdir():
            if entry.name != "cases.yaml":
                (twin / entry.name).symlink_to(entry)
        line = f"module: {module}-{tag}"
        if named:
            text = MODULE_LINE.sub(line, text, count=1)
        else:
            text = f"{line}\n{text}"
        (twin / "cases.yaml").write_text(text)
    for module in sorted(modules):
        earlier_policy = tree / "policies" / module
        if not (earlier_policy / "metadata.yml").is_file():
            earlier_policy = ROOT / "policies" / module
        (root / "policies" / module).symlink_to(ROOT / "policies" / module)
        (root / "policies" / f"{module}-{tag}").symlink_to(earlier_policy)
        (root / "dist" / f"{module}.wasm").symlink_to(ROOT / "dist" / f"{module}.wasm")
        (root / "dist" / f"{module}-{tag}.wasm").symlink_to(tree / "dist" / f"{module}.wasm")
    return left_out


def table(report, heading):
    """The first table under `## heading`: rows keyed by their first cell, each a
    dict from column header to cell."""
    lines = report.splitlines()
    if f"## {heading}" not in lines:
        sys.exit(f"the report has no section `## {heading}`: has its layout changed?")
    header, rows = None, {}
    for line in lines[lines.index(f"## {heading}") + 1:]:
        if line.startswith("## ") or (header and not line.startswith("|")):
            break
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(cells[0]) <= {"-", ":", " "}:
            rows[cells[0]] = dict(zip(header, cells))
    return rows


def cell(row, column):
    if column not in row:
        sys.exit(f"the report has no column `{column}`: has its layout changed?")
    return row[column]


def earlier_label(label, tag):
    """`m` → `m-tag`; `m (s suite)` → `m-tag (s-tag suite)`, as the bench labels them."""
    found = re.fullmatch(r"(\S+)( \((\S+) suite\))?", label)
    if not found:
        return None
    suite = f" ({found.group(3)}-{tag} suite)" if found.group(3) else ""
    return f"{found.group(1)}-{tag}{suite}"


def before_after(report, tag):
    modules = table(report, "Modules")
    typical = table(report, "Typical objects (request and lookup answers under 16 KiB)")
    columns = [
        ("size", modules, lambda r: cell(r, "size")),
        ("typical median of case medians", typical,
         lambda r: cell(r, "median of case medians")),
        ("typical cases under 10 µs", typical,
         lambda r: f"{cell(r, 'cases under 10 µs')} of {cell(r, 'cases')}"),
        ("worst typical p99", typical, lambda r: cell(r, "worst p99")),
        ("per request: fresh instance + validate, median of cases", typical,
         lambda r: cell(r, "per request (fresh instance + validate): median of case medians, "
                           "worst").split(",")[0]),
        ("growth per KiB", modules, lambda r: cell(r, "growth per KiB")),
        ("1.5 MiB request, median", modules,
         lambda r: cell(r, "1.5 MiB request (median / p99)").split(" / ")[0]),
    ]
    out = [
        f"## Before ({tag}) → after, this run",
        "",
        "| module | " + " | ".join(title for title, _, _ in columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for label in typical:
        earlier = earlier_label(label, tag)
        if not all(name in rows for name in (label, earlier) for rows in (typical, modules)):
            continue
        pairs = [f"{pick(rows[earlier])} → {pick(rows[label])}" for _, rows, pick in columns]
        out.append("| " + " | ".join([label] + pairs) + " |")
    if len(out) == 4:
        out.append("\nNo module was timed in both versions.")
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
    tree = build_earlier(tag, work)
    root = work / "root"
    left_out = combined_root(tag, tree, root)
    for suite in left_out:
        print(f"{suite}: {tag} has no module for it; left out")
    only = []
    for suite in args.only:
        only += [f"--only={suite}", f"--only={suite}-{tag}"]
    replay = subprocess.run([str(HARNESS), "replay", "--root", str(root), *only],
                            text=True, capture_output=True)
    lines = replay.stdout.strip().splitlines()
    if not lines or not re.fullmatch(r"\d+ passed, \d+ failed", lines[-1]):
        sys.exit(f"the replay did not finish:\n{replay.stderr}")
    failed = [line for line in lines if line.startswith("FAIL ")]
    print(f"replay of both versions on today's fixtures: {lines[-1]}")
    for line in failed:
        print(line)
    out = pathlib.Path(args.out).resolve() if args.out else work / "BENCHMARKS.md"
    run(str(HARNESS), "bench", "--root", str(root), "--budget-ms", args.budget_ms,
        "--out", str(out), *only, cwd=root)
    report = out.read_text()
    extra = before_after(report, tag)
    if left_out:
        extra += f"\nSuites left out ({tag} has no module for them): {', '.join(left_out)}.\n"
    if failed:
        extra += "\nCases that fail on today's fixtures (those of `<suite>-" + tag + \
            "` are the earlier modules'):\n\n" + "".join(f"- {line}\n" for line in failed)
    out.write_text(report.rstrip("\n") + "\n\n" + extra)
    print(extra)
    print(f"written to {out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the daemonset-guard large fixtures: Pods whose `sh -c` script is
about 128 KiB (two larger) of shapes that once made the fork-bomb detector quadratic
(each took longer than policy-server's deadline) or run out of memory, none of them a fork bomb;
and one with more nested scripts than the detector reads.

    python3 e2e-tests/daemonset-guard/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 128 * 1024

SCRIPTS = {
    # Openers never closed by their own kind: each closer searched the stack.
    "unmatched-brackets": lambda n: "(" * (n // 2) + "}" * (n // 2) + " &",
    # Definitions whose body never balances: each scan ran to the end.
    "unbalanced-definitions": lambda n: "f(){ f((}; " * (n // 11) + "&",
    # Definitions nested in each other: each looked at the calls of all inner ones.
    "nested-definitions": lambda n: "f(){ f ( " * (n // 10) + "}" * (n // 10) + " &",
    # Here-documents opened on one line: each word searched every one of them.
    "here-documents": lambda n: "<<a " * (n // 6) + "b " * (n // 6) + "&(",
    # `$(` never closed (text to the kubelet): each searched the rest for a `)`.
    "unclosed-references": lambda n: "$(A$(" * (n // 5),
    # Newlines before a closer: each was followed by a scan of the rest of the run.
    "blank-lines-before-closer": lambda n: "f(){ f" + "\n" * (n - 12) + "}\nf &",
    # `;` before a closer, likewise.
    "semicolons-before-closer": lambda n: "f(){ f" + " ;" * ((n - 12) // 2) + "}\nf &",
    # One value evaluated many times: each `$B` was read (and kept) again.
    "eval-of-one-value": lambda n: "B='" + "x|{ " * (n // 8) + "'\n" + "eval $B\n" * (n // 16) + "f(){ :; } &",
    "sh-c-of-one-value": lambda n: "B='" + "x|{ " * (n // 8) + "'\n" + "sh -c $B\n" * (n // 20) + "f(){ :; } &",
    # Many words after `eval`: each was read as a script of its own.
    "eval-of-many-words": lambda n: "eval " + "a " * (n // 2) + "&(",
    # More scripts than are read (each word may hold a bomb): refused, unread.
    "eval-of-too-many-scripts": lambda n: "eval " + "'a|{' " * 10_001,
}

# Sizes other than SIZE: at 128 KiB this one still made the deadline.
SIZES = {
    "unclosed-references": 256 * 1024,
    # As large as the API server admits (1.5 MiB a request).
    "eval-of-many-words": 1400 * 1000,
}


# Containers built to exceed the deadline through the env: each element of
# the command once read the env value again.
CONTAINERS = {
    # 2,000 elements `eval $B`, B a 10 KB value that may hold a bomb (32 KB).
    "env-value-evaluated-by-every-element": {
        "command": ["sh", "-c", 'eval "$B"', "x"] + ["eval $B"] * 2000,
        "env": [{"name": "B", "value": "x|{ " * 2500}],
    },
    # 50,000 elements `$x` and a 100 KB value without `|` or `&` (400 KB):
    # each element once scanned every value.
    "env-scanned-for-every-element": {
        "command": ["/app"],
        "args": ["$x"] * 50_000,
        "env": [{"name": "BIG", "value": "a" * 100_000}],
    },
}


def pod(name: str, container: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": "busybox", **container}]},
    }


def main() -> None:
    objects = {name: {"command": ["sh", "-c", script(SIZES.get(name, SIZE))]} for name, script in SCRIPTS.items()}
    for name, container in {**objects, **CONTAINERS}.items():
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(pod(name, container)) + "\n")
        print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

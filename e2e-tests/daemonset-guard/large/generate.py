#!/usr/bin/env python3
"""Writes the daemonset-guard large fixtures: Pods whose `sh -c` script is
about 128 KiB (one 256 KiB) of shapes that once made the fork-bomb detector quadratic
(each took longer than policy-server's deadline), none of them a fork bomb.

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
}

# Sizes other than SIZE: at 128 KiB this one still made the deadline.
SIZES = {"unclosed-references": 256 * 1024}


def pod(name: str, script: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]},
    }


def main() -> None:
    for name, script in SCRIPTS.items():
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(pod(name, script(SIZES.get(name, SIZE)))) + "\n")
        print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

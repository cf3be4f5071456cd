#!/usr/bin/env python3
"""Writes the api-rate-limit large fixtures: a Pod whose one argument is about
128 KiB of here-document openers and words, which once made the shell reader
quadratic (longer than policy-server's deadline); and a Deployment whose env A
holds `-qps=-1` 1,000 times, used by its script 131 times (within the 1 MiB
`$(VAR)` budget): 131,000 settings, each once made a violation of 1.2 KB
(over 256 MiB on UPDATE); and a Pod whose script assigns A 10,000 values and then
uses $A 10,000 times, which once copied every value at every reference (over 256 MiB).

    python3 e2e-tests/api-rate-limit/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 128 * 1024


def main() -> None:
    argument = "<<a " * (SIZE // 6) + "b " * (SIZE // 6)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "here-documents", "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": "example/manager", "command": ["/manager", argument]}]},
    }
    write("here-documents.json", pod)
    repeated = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "repeated", "namespace": "apps"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "manager",
            "image": "example/manager",
            "command": ["sh", "-c", "$(A)" * 131],
            "env": [{"name": "A", "value": "-qps=-1 " * 1000}],
        }]}}},
    }
    write("repeated-unlimited-qps.json", repeated)
    script = " ".join(f"A={i}" for i in range(10_000)) + " " + " ".join(["$A"] * 10_000)
    references = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "references", "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": "example/manager", "command": ["sh", "-c", script]}]},
    }
    write("many-values-many-references.json", references)


def write(name: str, obj: dict) -> None:
    path = HERE / name
    path.write_text(json.dumps(obj) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the object-count scale fixtures: 100, 1,000 and 10,000 ConfigMaps in
namespace `scale`, and 1,000 in `kube-system`, minimal (only what the harness
matches on), one per line.

    python3 e2e-tests/object-count/scale/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = [
    ("scale", 100, "configmaps-100.json"),
    ("scale", 1_000, "configmaps-1000.json"),
    ("scale", 10_000, "configmaps-10000.json"),
    ("kube-system", 1_000, "configmaps-1000-kube-system.json"),
]


def config_map(index: int, namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{index:05d}", "namespace": namespace},
    }


def main() -> None:
    for namespace, count, name in FILES:
        lines = [
            json.dumps(config_map(i, namespace), separators=(",", ":")) for i in range(count)
        ]
        path = HERE / name
        path.write_text("[\n" + ",\n".join(lines) + "\n]\n")
        print(f"{path.name}: {count} ConfigMaps, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the object-count scale fixtures: 100, 1,000 and 10,000 ConfigMaps in
namespace `scale`, minimal (only what the harness matches on), one per line.

    python3 e2e-tests/object-count/scale/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMESPACE = "scale"


def config_map(index: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{index:05d}", "namespace": NAMESPACE},
    }


def main() -> None:
    for count in (100, 1_000, 10_000):
        lines = [json.dumps(config_map(i), separators=(",", ":")) for i in range(count)]
        path = HERE / f"configmaps-{count}.json"
        path.write_text("[\n" + ",\n".join(lines) + "\n]\n")
        print(f"{path.name}: {count} ConfigMaps, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

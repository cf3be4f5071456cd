#!/usr/bin/env python3
"""Writes the shoot-hardening many-pool fixtures: the valid Shoot with 150
pools whose maxUnavailable is invalid (pre-existing on UPDATE: each once made
a warning, 24,400 of them an OOM), and with 120 pools over three zones on
Gardener's defaults (each a zone-split warning).

    python3 e2e-tests/shoot-hardening/large/generate.py
"""
import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def main() -> None:
    base = yaml.safe_load((HERE.parent / "objects" / "shoot-valid.yaml").read_text())
    invalid = [{"name": f"p{i}", "minimum": 1, "maximum": 4, "maxUnavailable": "x"} for i in range(150)]
    write("shoot-150-invalid-pools.json", with_workers(base, invalid))
    zoned = [{"name": f"z{i}", "minimum": 3, "maximum": 3, "zones": ["a", "b", "c"]} for i in range(120)]
    write("shoot-120-zoned-pools.json", with_workers(base, zoned))


def with_workers(base: dict, workers: list) -> dict:
    shoot = json.loads(json.dumps(base))
    shoot["spec"]["provider"]["workers"] = workers
    return shoot


def write(name: str, obj: dict) -> None:
    path = HERE / name
    path.write_text(json.dumps(obj, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

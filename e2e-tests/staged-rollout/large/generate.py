#!/usr/bin/env python3
"""Writes the staged-rollout large fixtures: a prod Shoot whose update adopts
1,000 machine image versions (one per pool) that one canary runs while its
last operation has a 100,000-character state, which made one refusal per
version, each with the whole state, and ran out of memory (a 500); and 100
failed canaries on one version, which the refusal once listed whole.

    python3 e2e-tests/staged-rollout/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
POOLS = 1_000
CANARIES = 100


def shoot(name, namespace, stage, versions, state):
    return {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Shoot",
        "metadata": {"name": name, "namespace": namespace, "labels": {"crash-guard.io/stage": stage}},
        "spec": {
            "kubernetes": {"version": "1.31.2"},
            "provider": {
                "type": "aws",
                "workers": [
                    {"name": f"p{i}", "minimum": 1, "maximum": 3,
                     "machine": {"type": "m6i.large", "image": {"name": "gardenlinux", "version": v}}}
                    for i, v in enumerate(versions)
                ],
            },
            "maintenance": {"autoUpdate": {"kubernetesVersion": True, "machineImageVersion": False}},
        },
        "status": {"lastOperation": {"type": "Reconcile", "state": state},
                   "conditions": [{"type": "EveryNodeReady", "status": "True"}]},
    }


def main() -> None:
    old = [f"1999.{i}.0" for i in range(POOLS)]
    new = [f"2000.{i}.0" for i in range(POOLS)]
    write("many-versions-old", shoot("wide", "garden-shop", "prod", old, "Succeeded"))
    write("many-versions-new", shoot("wide", "garden-shop", "prod", new, "Succeeded"))
    write("long-state-canary", [shoot("long-state", "garden-qa", "canary", new, "Processing" + "x" * 100_000)])
    failed = [shoot(f"failed-{i:03}", "garden-qa", "canary", ["1592.2.0"], "Failed") for i in range(CANARIES)]
    write("failed-canaries", failed)


def write(name: str, document) -> None:
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(document) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

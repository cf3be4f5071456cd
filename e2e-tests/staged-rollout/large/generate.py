#!/usr/bin/env python3
"""Writes the staged-rollout large fixtures: a prod Shoot whose update adopts
1,000 machine image versions (one per pool) that one canary runs while its
last operation has a 100,000-character state, which made one refusal per
version, each with the whole state, and ran out of memory (a 500); and 100
failed canaries on one version, which the refusal once listed whole; and 21 pools replaced by one
whose providerConfig nests a 300,000-item array 31 levels deep, which each removed
pool's description read again at every level (a missed deadline, a 500).

    python3 e2e-tests/staged-rollout/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
POOLS = 1_000
CANARIES = 100
REMOVED = 21
DEEP = 31


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
    removed = [pool(f"p{i}", nested({"k": 1})) for i in range(REMOVED)]
    write("deep-config-old", with_pools(shoot("deep", "garden-shop", "prod", [], "Succeeded"), removed))
    added = [pool("general-v2", nested({"k": [1] * 300_000}))]
    write("deep-config-new", with_pools(shoot("deep", "garden-shop", "prod", [], "Succeeded"), added), (",", ":"))


def nested(leaf):
    for _ in range(DEEP):
        leaf = {"a": leaf}
    return {"apiVersion": "aws.provider.extensions.gardener.cloud/v1alpha1", "kind": "WorkerConfig", "x": leaf}


def pool(name, config):
    return {"name": name, "minimum": 1, "maximum": 3, "providerConfig": config,
            "machine": {"type": "m6i.xlarge", "image": {"name": "gardenlinux", "version": "1592.1.0"}}}


def with_pools(document, pools):
    document["spec"]["provider"]["workers"] = pools
    return document


def write(name: str, document, separators=None) -> None:
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(document, separators=separators) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the system-networkpolicy large fixture: a kube-system egress policy
to 0.0.0.0/0 except 2,000 single addresses, none of them the API server's.
Subtracting them one at a time once ran out of memory.

    python3 e2e-tests/system-networkpolicy/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXCEPTS = 2_000


def main() -> None:
    excepts = [f"10.{i >> 8 & 255}.{i & 255}.1/32" for i in range(EXCEPTS)]
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "egress-blocklist", "namespace": "kube-system"},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": excepts}}]}],
        },
    }
    path = HERE / "thousands-of-excepts.json"
    path.write_text(json.dumps(policy) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

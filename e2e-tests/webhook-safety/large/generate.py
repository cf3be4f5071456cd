#!/usr/bin/env python3
"""Writes the webhook-safety large fixture: a ValidatingWebhookConfiguration
whose one rule names 25,000 resources, which once made listing them quadratic
(longer than policy-server's deadline).

    python3 e2e-tests/webhook-safety/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESOURCES = 25_000


def main() -> None:
    configuration = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "many-resources"},
        "webhooks": [
            {
                "name": "w.example.com",
                "clientConfig": {"url": "https://w.example.com/"},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": ["example.com"],
                        "apiVersions": ["v1"],
                        "resources": [f"r{i}" for i in range(RESOURCES)],
                    }
                ],
                "failurePolicy": "Ignore",
                "timeoutSeconds": 5,
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    path = HERE / "many-resources.json"
    path.write_text(json.dumps(configuration) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the webhook-safety large fixtures: a ValidatingWebhookConfiguration
whose one rule names 25,000 resources, which once made listing them quadratic
(longer than policy-server's deadline), and one whose selector has 4,000
values, which messages once repeated whole.

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
    write("many-resources", configuration)

    # A selector of 4,000 values, shown in each violation's value and fix:
    # messages clip such texts.
    long_selector = json.loads(json.dumps(configuration))
    long_selector["metadata"]["name"] = "long-selector"
    webhook = long_selector["webhooks"][0]
    webhook["rules"][0]["resources"] = ["pods"]
    webhook["rules"][0]["apiGroups"] = [""]
    webhook["namespaceSelector"] = {
        "matchExpressions": [
            {"key": "team", "operator": "NotIn", "values": [f"team-{i:04}" for i in range(4000)]}
        ]
    }
    write("long-selector", long_selector)


def write(name: str, configuration: dict) -> None:
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(configuration) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

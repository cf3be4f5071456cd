#!/usr/bin/env python3
"""Writes the webhook-safety large fixtures: a ValidatingWebhookConfiguration
whose one rule names 25,000 resources, which once made listing them quadratic
(longer than policy-server's deadline), and one whose selector has 4,000
values, which messages once repeated whole. Then Kubewarden policies whose
rules pair many groups with many resources: an UPDATE once built a finding per
group, resource and operation (out of memory at 300 x 1,000), a CREATE once
judged each pair's scope against every known cluster-scoped resource.

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

    # 300 groups x 1,000 resources x 4 operations, no selector: as is, one
    # resource fewer (narrower, within the old rule) and one more (wider).
    policy = cluster_policy(
        "crd-labels",
        [f"g{i}.example.com" for i in range(300)],
        [f"r{i}" for i in range(1000)],
        ["CREATE", "UPDATE", "DELETE", "CONNECT"],
    )
    write("policy-300x1000", policy)
    narrower = json.loads(json.dumps(policy))
    narrower["spec"]["rules"][0]["resources"].pop()
    write("policy-300x1000-narrower", narrower)
    wider = json.loads(json.dumps(policy))
    wider["spec"]["rules"][0]["resources"].append("r1000")
    write("policy-300x1000-wider", wider)

    # Crossplane-style: 200 provider groups x 1,000 kinds; the UPDATE changes only timeoutSeconds.
    services = ["ec2", "s3", "iam", "rds", "eks", "lambda", "sqs", "sns", "route53", "kms"]
    crossplane = cluster_policy(
        "crossplane-tags",
        [f"{services[i % 10]}{i // 10 or ''}.aws.upbound.io" for i in range(200)],
        [f"resource{i}s" for i in range(1000)],
        ["CREATE", "UPDATE"],
    )
    crossplane["spec"]["namespaceSelector"] = {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-public", "kube-node-lease"]}
        ]
    }
    write("crossplane-timeout-5", crossplane)
    crossplane["spec"]["timeoutSeconds"] = 4
    write("crossplane-timeout-4", crossplane)

    # A namespaced policy pairing 6,000 built-in-looking groups with 6,000
    # cluster-scoped resource names (198 KB).
    names = ["nodes", "namespaces", "persistentvolumes", "clusterroles", "storageclasses"]
    namespaced = cluster_policy(
        "cluster-things",
        [f"g{i}.k8s.io" for i in range(6000)],
        [names[i % len(names)] for i in range(6000)],
        ["CREATE", "UPDATE"],
    )
    namespaced["kind"] = "AdmissionPolicy"
    namespaced["metadata"]["namespace"] = "apps"
    write("admission-policy-6000x6000", namespaced)


def cluster_policy(name: str, groups: list, resources: list, operations: list) -> dict:
    rule = {"apiGroups": groups, "apiVersions": ["v1"], "resources": resources, "operations": operations}
    return {
        "apiVersion": "policies.kubewarden.io/v1",
        "kind": "ClusterAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "module": "registry://ghcr.io/example/audit:v1",
            "mutating": False,
            "rules": [rule],
            "failurePolicy": "Ignore",
            "timeoutSeconds": 5,
        },
    }


def write(name: str, configuration: dict) -> None:
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(configuration) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the system-networkpolicy large fixtures: a kube-system egress policy
to 0.0.0.0/0 except 2,000 single addresses, none of them the API server's
(subtracting them one at a time once ran out of memory); and a cluster of 64
CoreDNS pods with distinct labels, three API server endpoints and four such
policies of 6,000 excepts each (rebuilding the address set for every pod,
endpoint and side of the change once ran past the deadline); and 1,000 pods
of a StatefulSet with distinct labels that need DNS, under a policy of
3,000 podSelector rules each way (judging every pair of pods at both ends
against every rule once ran past the deadline); 500 StatefulSet pods
with an egress policy each and a blocklist of 30,000 excepts (rebuilding
the address set for each pod's list of policies ran past the deadline);
and a policy of 1,000 rules on each pod's own name label, 200 values each
against 2,500 pods with their own name label (judging every far-end pod by
scanning every rule's values ran past it).

    python3 e2e-tests/system-networkpolicy/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXCEPTS = 2_000
PODS = 64
BLOCKLISTS = 4
BLOCKLIST_EXCEPTS = 6_000
STS_PODS = 1_000
POD_RULES = 3_000
OWN_POLICY_PODS = 500
BLOCKLIST_24S = 30_000
NAME_RULES = 1_000
NAME_VALUES = 200
NAME_PODS = 2_500


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
    cluster = [{
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [f"172.18.0.{i}"]} for i in (2, 3, 4)],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }]
    for i in range(PODS):
        cluster.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"coredns-{i}", "namespace": "kube-system",
                         "labels": {"k8s-app": "kube-dns", "pod-index": str(i)}},
            "spec": {},
        })
    for p in range(BLOCKLISTS):
        excepts = [f"10.{p}.{i >> 8 & 255}.{i & 255}/32" for i in range(BLOCKLIST_EXCEPTS)]
        cluster.append({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"blocklist-{p}", "namespace": "kube-system"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"namespaceSelector": {}}],
                             "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}],
                "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": excepts}}]}],
            },
        })
    path = HERE / "many-pods-many-excepts-cluster.json"
    path.write_text(json.dumps(cluster) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")
    pods = [{
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"coredns-{i}", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "pod-template-hash": f"h{i}"}},
        "spec": {},
    } for i in range(2)]
    pods += [{
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"sts-{i}", "namespace": "kube-system",
                     "labels": {"app": "sts", "statefulset.kubernetes.io/pod-name": f"sts-{i}",
                                "apps.kubernetes.io/pod-index": str(i)}},
        "spec": {},
    } for i in range(STS_PODS)]
    path = HERE / "many-sts-pods-cluster.json"
    path.write_text(json.dumps(pods) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")
    egress = [{"to": [{"podSelector": {"matchLabels": {"app": f"x{i}"}}}]} for i in range(POD_RULES)]
    ingress = [{"from": [{"podSelector": {"matchLabels": {"app": f"x{i}"}}}]} for i in range(POD_RULES)]
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "pod-rules", "namespace": "kube-system"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                 "egress": egress, "ingress": ingress},
    }
    path = HERE / "thousands-of-pod-rules.json"
    path.write_text(json.dumps(policy, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")

    cluster = [{
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"coredns-{i}", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns"}},
        "spec": {},
    } for i in range(2)]
    for i in range(OWN_POLICY_PODS):
        cluster.append({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"sts-{i}", "namespace": "kube-system",
                         "labels": {"app": "sts", "statefulset.kubernetes.io/pod-name": f"sts-{i}"}},
            "spec": {},
        })
        cluster.append({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"sts-{i}", "namespace": "kube-system"},
            "spec": {
                "podSelector": {"matchLabels": {"statefulset.kubernetes.io/pod-name": f"sts-{i}"}},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "172.18.0.2/32"}}], "ports": [{"port": 6443}]},
                           {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]}],
            },
        })
    path = HERE / "own-policy-pods-cluster.json"
    path.write_text(json.dumps(cluster, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")
    excepts = [f"10.{i >> 8 & 255}.{i & 255}.0/24" for i in range(BLOCKLIST_24S)]
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "egress-blocklist", "namespace": "kube-system"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"],
                 "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": excepts}}]}]},
    }
    path = HERE / "blocklist-of-24s.json"
    path.write_text(json.dumps(policy, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")
    ingress = [{"from": [{"podSelector": {"matchExpressions": [{
        "key": "statefulset.kubernetes.io/pod-name", "operator": "In",
        "values": [str(i + j) for j in range(NAME_VALUES)]}]}}]} for i in range(NAME_RULES)]
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "pod-name-rules", "namespace": "kube-system"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": ingress},
    }
    path = HERE / "pod-name-rules.json"
    path.write_text(json.dumps(policy, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")
    pods = [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"coredns-{i}", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
    } for i in range(2)]
    pods += [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"sts-{i}", "namespace": "kube-system",
                     "labels": {"app": "sts", "statefulset.kubernetes.io/pod-name": f"sts-{i}"}},
    } for i in range(NAME_PODS)]
    path = HERE / "pod-name-sts-cluster.json"
    path.write_text(json.dumps(pods, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

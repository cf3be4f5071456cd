#!/usr/bin/env python3
"""Rewrites the rules and contextAwareResources of the root metadata.yml (the
bundle) as the union of policies/*/metadata.yml. harness/tests/metadata.rs
checks the result."""
import pathlib
import re
import yaml

root = pathlib.Path(__file__).resolve().parent.parent
grouped = {}
resources = set()
for path in sorted(root.glob("policies/*/metadata.yml")):
    meta = yaml.safe_load(path.read_text())
    for rule in meta.get("rules", []):
        for group in rule["apiGroups"]:
            for version in rule["apiVersions"]:
                key = (group, version, tuple(sorted(rule["operations"])))
                grouped.setdefault(key, set()).update(rule["resources"])
    for r in meta.get("contextAwareResources", []) or []:
        resources.add((r["apiVersion"], r["kind"]))


def flow(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


lines = ["rules:"]
for (group, version, operations), names in sorted(grouped.items()):
    lines += [f"  - apiGroups: {flow([group])}", f"    apiVersions: {flow([version])}",
              f"    resources: {flow(sorted(names))}", f"    operations: {flow(operations)}"]
lines.append("contextAwareResources:")
for api_version, kind in sorted(resources):
    lines += [f"  - apiVersion: {api_version}", f"    kind: {kind}"]
block = "\n".join(lines) + "\n"

path = root / "metadata.yml"
text = path.read_text()
text = re.sub(r"^rules:\n(?:[ -].*\n)*(?:contextAwareResources:\n(?:[ -].*\n)*)?", block, text, flags=re.M)
path.write_text(text)
print(block)

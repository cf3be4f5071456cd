#!/usr/bin/env python3
"""Writes the large inputs of the bad-input corpus into objects/ (committed; rerun to refresh)."""
import json
import pathlib

out = pathlib.Path(__file__).parent / "objects"
out.mkdir(exist_ok=True)


def widget(name, spec):
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": "apps"}, "spec": spec}


# The API server admits requests up to about 1.5 MiB (etcd's default request limit).
(out / "huge-string.json").write_text(json.dumps(widget("huge", {"blob": "x" * (1536 * 1024 - 200)})))
(out / "ten-thousand-items.json").write_text(
    json.dumps(widget("many", {"items": [{"name": f"item-{i}", "value": i} for i in range(10_000)]})))
# Found by fuzzing object-size: stringData keys shadowing data keys were matched
# pairwise (20,000 x 20,000), which blew the 2 s deadline.
keys = [f"k{i:05d}" for i in range(20_000)]
(out / "wide-secret.json").write_text(json.dumps({
    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "wide", "namespace": "apps"},
    "data": {k: "YQ==" for k in keys}, "stringData": {k: "b" for k in keys}}))
# Found by review: each shell function definition scanned every call of its name.
(out / "many-shell-functions-pod.json").write_text(json.dumps({
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "many-functions", "namespace": "apps"},
    "spec": {"containers": [{"name": "c", "image": "busybox",
                             "command": ["sh", "-c", "f(){ f; }; " * 40_000 + "f"]}]}}))

#!/usr/bin/env python3
"""Seed corpora and dictionaries for the fuzz targets, from the fixture suites.

For every e2e-tests/<rule>/cases.yaml, writes one file per case into
  seeds/validate/<rule>/             the validate payload, built as the harness builds it
  seeds/validate_structured/<rule>/  op byte, host byte, object\\0oldObject\\0settings\\0userInfo\\0hostBody
  seeds/validate_settings/<rule>/    the settings document
and dict/<rule>.dict, a libFuzzer dictionary of the JSON keys and short strings the
fixtures use. Seeds above --max-bytes are skipped (libFuzzer would truncate them).
Usage: seed.py [--root ..] [--max-bytes 65536] [rule...]
"""
import argparse
import hashlib
import json
import pathlib
import sys

import yaml

OPERATIONS = ["CREATE", "UPDATE", "DELETE", "CONNECT"]
DEFAULT_USER = {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
JSON_TOKENS = ['"{"', '"}"', '"["', '"]"', '":"', '","', '"\\""', '"null"', '"true"', '"false"',
               '"0"', '"-1"', '"1e999"', '"\\\\u0000"', '"\\\\ud800"']


def load(source, suite_dir):
    """A case's object: inline, or a JSON/YAML file relative to the suite."""
    if isinstance(source, str):
        path = suite_dir / source
        text = path.read_text()
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return source


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def plural(kind):
    lower = kind.lower()
    if lower == "endpoints":
        return lower
    if lower.endswith("y") and not lower[:-1].endswith(("a", "e", "o", "u")):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


def shorthand_request(case, obj, old, name):
    """Mirror of harness/src/suite.rs Suite::shorthand_request."""
    subject = obj if obj is not None else old
    if not isinstance(subject, dict):
        subject = {}
    api_version = str(subject.get("apiVersion", ""))
    kind = str(subject.get("kind", ""))
    group, _, version = api_version.rpartition("/")
    metadata = subject.get("metadata") if isinstance(subject.get("metadata"), dict) else {}
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": plural(kind)}
    request = {
        "uid": name, "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": metadata.get("name", ""), "operation": case.get("operation", "CREATE"),
        "userInfo": case.get("userInfo", DEFAULT_USER), "object": obj, "oldObject": old,
        "dryRun": False,
    }
    namespace = case.get("namespace", metadata.get("namespace", ""))
    if namespace:
        request["namespace"] = namespace
    return request


def strings_in(value, out):
    if isinstance(value, dict):
        for key, item in value.items():
            out.add(str(key))
            strings_in(item, out)
    elif isinstance(value, list):
        for item in value:
            strings_in(item, out)
    elif isinstance(value, str) and len(value) <= 64:
        out.add(value)


def write(directory, data, max_bytes, counts):
    if len(data) > max_bytes:
        counts["skipped"] += 1
        return
    directory.mkdir(parents=True, exist_ok=True)
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)
    counts["written"] += 1


def seed_rule(suite_path, out, max_bytes):
    suite_dir = suite_path.parent
    rule = suite_dir.name
    suite = yaml.safe_load(suite_path.read_text())
    counts = {"written": 0, "skipped": 0}
    words = set()
    suite_cluster = suite.get("cluster") or []
    for case in suite.get("cases", []):
        settings = case.get("settings", suite.get("settings"))
        settings_json = compact(settings)
        write(out / "validate_settings" / rule, settings_json, max_bytes, counts)
        strings_in(settings, words)
        if "rawPayload" in case:
            write(out / "validate" / rule, case["rawPayload"].encode(), max_bytes, counts)
            continue
        if "request" in case:
            request = load(case["request"], suite_dir)
            if isinstance(request, dict) and request.get("kind") == "AdmissionReview":
                request = request.get("request")
            obj = request.get("object") if isinstance(request, dict) else None
            old = request.get("oldObject") if isinstance(request, dict) else None
        elif "object" in case or "oldObject" in case:
            obj = load(case.get("object"), suite_dir)
            old = load(case.get("oldObject"), suite_dir)
            request = shorthand_request(case, obj, old, f"{rule}/{case['name']}")
        else:
            continue  # a settings-only case
        strings_in(obj, words)
        strings_in(old, words)
        write(out / "validate" / rule,
              compact({"request": request, "settings": settings}), max_bytes, counts)

        operation = case.get("operation", "CREATE")
        op_byte = OPERATIONS.index(operation) if operation in OPERATIONS else 4
        cluster = [load(s, suite_dir) for s in case.get("cluster", suite_cluster)]
        items = []
        for item in cluster:
            items.extend(item if isinstance(item, list) else [item])
        if "lookupError" in case:
            host_byte, body = 1, b""
        elif "lookupBody" in case:
            host_byte, body = 0, case["lookupBody"].encode()
        else:
            host_byte, body = 0, compact({"apiVersion": "v1", "kind": "List", "items": items})
        for item in items:
            strings_in(item, words)
        user_info = case.get("userInfo")
        sections = [b"" if obj is None else compact(obj), b"" if old is None else compact(old),
                    compact(settings), b"" if user_info is None else compact(user_info), body]
        write(out / "validate_structured" / rule,
              bytes([op_byte, host_byte]) + b"\0".join(sections), max_bytes, counts)

    dictionary = out.parent / "dict" / f"{rule}.dict"
    dictionary.parent.mkdir(parents=True, exist_ok=True)
    entries = list(JSON_TOKENS) + [json.dumps(json.dumps(w)) for w in sorted(words) if w]
    dictionary.write_text("\n".join(entries) + "\n")
    print(f"{rule}: {counts['written']} seeds written, {counts['skipped']} over "
          f"{max_bytes} bytes skipped, {len(words)} dictionary words")


def main():
    here = pathlib.Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=pathlib.Path, default=here.parent)
    parser.add_argument("--out", type=pathlib.Path, default=here / "seeds")
    parser.add_argument("--max-bytes", type=int, default=65536)
    parser.add_argument("rules", nargs="*")
    args = parser.parse_args()
    suites = sorted(args.root.glob("e2e-tests/*/cases.yaml"))
    if args.rules:
        suites = [s for s in suites if s.parent.name in args.rules]
    if not suites:
        sys.exit("no fixture suites found")
    for suite in suites:
        seed_rule(suite, args.out, args.max_bytes)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the api-rate-limit large fixture: a Pod whose one argument is about
128 KiB of here-document openers and words, which once made the shell reader
quadratic (longer than policy-server's deadline).

    python3 e2e-tests/api-rate-limit/large/generate.py
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 128 * 1024


def main() -> None:
    argument = "<<a " * (SIZE // 6) + "b " * (SIZE // 6)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "here-documents", "namespace": "apps"},
        "spec": {"containers": [{"name": "c", "image": "example/manager", "command": ["/manager", argument]}]},
    }
    path = HERE / "here-documents.json"
    path.write_text(json.dumps(pod) + "\n")
    print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

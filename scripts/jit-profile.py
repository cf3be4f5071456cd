#!/usr/bin/env python3
"""Instructions per function of a module's compiled wasm code.

Callgrind counts the instructions of wasmtime's compiled code but cannot name
them; wasmtime's perf map (written when HARNESS_PERF_MAP is set) can. Build the
module unstripped (CARGO_PROFILE_RELEASE_STRIP=false, then `wasm-opt -g`), then:

  HARNESS_PERF_MAP=1 valgrind --tool=callgrind --dump-instr=yes \
    --callgrind-out-file=cg.out --toggle-collect=harness::bench::warm_validate \
    target/bench-host/harness bench --root <root> --only <suite> --budget-ms 0 --out /dev/null
  scripts/jit-profile.py cg.out /tmp/perf-<pid>.map [rows]

The bench compiles each module several times; only the last compile's map
entries are used, as the warm evaluations run on that one. Names need
`wasm-opt -g`; compare totals only between stripped builds.

The split is a lead, not a measurement: in session 21 it gave 15.5% of
system-networkpolicy to `response::write_str`, and a build that skipped the
message's escaping ran as many instructions, with that share unchanged.
Confirm a cost by counting a build without it.
"""

import bisect
import collections
import re
import sys


def last_compile(map_path):
    lines = [line.rstrip("\n").split(" ", 2) for line in open(map_path)]
    lines = [entry for entry in lines if len(entry) == 3]
    if not lines:
        return []
    first_name = lines[0][2]
    starts = [i for i, entry in enumerate(lines) if entry[2] == first_name]
    return lines[starts[-1]:]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    callgrind_out, map_path = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    ranges = sorted(
        (int(start, 16), int(size, 16), re.sub(r"::h[0-9a-f]{16}$", "", name))
        for start, size, name in last_compile(map_path)
    )
    starts = [start for start, _, _ in ranges]

    def name_of(address):
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0:
            start, size, name = ranges[i]
            if address < start + size:
                return name
        return "(harness, wasmtime and libc)"

    costs = collections.Counter()
    address = 0
    skip_call_cost = False
    for line in open(callgrind_out):
        fields = line.split()
        if not fields or fields[0][0].isalpha() or fields[0][0] == "#":
            skip_call_cost = skip_call_cost or line.startswith("calls=")
            continue
        position = fields[0]
        if position.startswith("0x"):
            address = int(position, 16)
        elif position[0] in "+-":
            address += int(position, 0)
        elif position != "*":
            continue
        if skip_call_cost:
            skip_call_cost = False
            continue
        costs[name_of(address)] += int(fields[-1])
    total = sum(costs.values())
    print(f"{total:>14,} instructions")
    for name, cost in costs.most_common(rows):
        print(f"{cost:>14,} {100 * cost / total:5.1f}%  {name[:140]}")


if __name__ == "__main__":
    main()

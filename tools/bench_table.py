#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The Markdown table of `make bench` (tools/bench.sh) from the guest's
"VPA-BENCH:" lines (tools/testing/vfio_pci_alias/vpa_bench.c).

    bench_table.py [--base vfio-pci] [--test vfio-pci-alias] [FILE]

FILE (default stdin) holds lines "VPA-BENCH: round=N driver=NAME op=OP
ns=NS[ faults=F]"; anything else is ignored. One row per op: each driver's
median time over the rounds (µs, or ms for ops of a millisecond and more;
with the median minor faults per iteration where measured), then the ratio
TEST/BASE taken per round (a round is one batch of vpa_bench, in which both
drivers ran the op one right after the other), its median, its
interquartile range and its min-max over the rounds. A "-" time means the
driver has no such op (alias-set on vfio-pci); an op missing altogether, or
failed, shows "n/a".

Exit status 0, or 1 if FILE has no VPA-BENCH line.
"""
import argparse
import re
import statistics
import sys

LINE = re.compile(r"VPA-BENCH: round=(\d+) driver=(\S+) op=(\S+) ns=(\S+)(?: faults=(\S+))?")
# vpa_bench's order; ops it may grow later follow in order of appearance.
ORDER = ["pread", "pwrite", "config-pread", "region-info", "get-info",
         "mmap-fault", "fault-64m", "dmabuf-mmap-fault", "dmabuf-fault-64m",
         "pread-4t", "alias-set",
         "get-info-aliased", "pread-alias"]


def parse(lines):
    """{op: {driver: {round: (ns or None, faults or None)}}}, ops in order seen."""
    data = {}
    for line in lines:
        m = LINE.search(line.replace("\r", ""))
        if not m:
            continue
        rnd, drv, op, ns, faults = m.groups()
        ns = None if ns == "-" else float(ns)
        faults = None if faults is None else float(faults)
        data.setdefault(op, {}).setdefault(drv, {})[int(rnd)] = (ns, faults)
    return data


def number(x):
    return f"{x:.0f}" if x == int(x) else f"{x:.1f}"


def cell(runs, unit):
    """A driver's median over its rounds, in @unit (("µs", 1e3) or ("ms", 1e6))."""
    if not runs:
        return "n/a"
    times = [ns for ns, _ in runs.values() if ns is not None]
    if not times:
        return "-"
    text = f"{statistics.median(times) / unit[1]:.2f} {unit[0]}"
    faults = [f for _, f in runs.values() if f is not None]
    if faults:
        text += f" ({number(statistics.median(faults))} faults)"
    return text


def ratios(base, test):
    """TEST/BASE per round in which both have a time."""
    out = []
    for rnd in sorted(set(base) & set(test)):
        b, t = base[rnd][0], test[rnd][0]
        if b and t is not None:
            out.append(t / b)
    return out


def table(data, base, test):
    ops = [op for op in ORDER if op in data] + [op for op in data if op not in ORDER]
    rows = [["op", base, test, "ratio (median)", "ratio p25–p75", "ratio min–max"]]
    for op in ops:
        b, t = data[op].get(base, {}), data[op].get(test, {})
        medians = [statistics.median(v) for v in
                   ([ns for ns, _ in r.values() if ns is not None] for r in (b, t)) if v]
        unit = ("ms", 1e6) if medians and max(medians) >= 1e6 else ("µs", 1e3)
        r = ratios(b, t)
        if r:
            ratio = f"{statistics.median(r):.2f}"
            if len(r) > 1:
                q = statistics.quantiles(r, n=4)
                iqr = f"{q[0]:.2f}–{q[2]:.2f}"
            else:
                iqr = "-"
            spread = f"{min(r):.2f}–{max(r):.2f} ({len(r)} round{'s' if len(r) > 1 else ''})"
        else:
            ratio = iqr = spread = "-"
        rows.append([op, cell(b, unit), cell(t, unit), ratio, iqr, spread])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("|" + "|".join(["-" * (widths[0] + 2)] +
                                        ["-" * (w + 1) + ":" for w in widths[1:]]) + "|")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="Markdown table of VPA-BENCH lines")
    ap.add_argument("--base", default="vfio-pci")
    ap.add_argument("--test", default="vfio-pci-alias")
    ap.add_argument("file", nargs="?")
    args = ap.parse_args()
    if args.file:
        with open(args.file, encoding="utf-8", errors="replace") as f:
            data = parse(f)
    else:
        data = parse(sys.stdin)
    if not data:
        print("no VPA-BENCH lines", file=sys.stderr)
        return 1
    print(table(data, args.base, args.test))
    return 0


if __name__ == "__main__":
    sys.exit(main())

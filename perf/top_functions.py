#!/usr/bin/env python3
"""The report of perf/profile.sh: per stage thread, its share of the profile and its top
functions by self cost (samples with perf, instructions with callgrind), as Markdown.

usage: top_functions.py folded STACKS.folded TOP SUMMARY.json COMMAND
       top_functions.py callgrind WORKDIR TOP SUMMARY.json COMMAND
"""
import collections
import glob
import json
import re
import sys

# A thread's entry function -> its name (callgrind's per-thread profiles carry no thread name).
ENTRIES = [
    ("replay_source::run", "src:replay"),
    ("http_poll_source::run", "src:http"),
    ("transform_stage::run", "transform"),
    ("spool_stage::run", "spool"),
    ("dead_letter", "sink:dead-lettr"),
    ("sink_stage::run", "sink"),
]


def short(fn, width=90):
    """A readable function name: no argument lists, no return types, no abi tags."""
    fn = re.sub(r"\[abi:[^\]]*\]", "", fn)
    depth, out = 0, []
    for ch in fn:  # drop everything inside parentheses (argument lists)
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(ch)
    fn = "".join(out).strip()
    return fn if len(fn) <= width else fn[: width - 3] + "..."


def summary_line(path):
    try:
        with open(path) as f:
            lines = [l for l in f if l.startswith("{")]
        s = json.loads(lines[-1])
        return (f"{s.get('records', 0):,} records from {s.get('payloads', 0):,} payloads in "
                f"{s.get('seconds', 0):.3f} s (the run being profiled, so slower than a plain run)")
    except (OSError, ValueError, IndexError):
        return "no replay summary"


def table(threads, top, unit):
    grand = sum(t for t, _ in threads.values()) or 1
    out = [f"| thread | share | top functions by self {unit} (share of the thread) |", "|---|---|---|"]
    for name, (total, selfs) in sorted(threads.items(), key=lambda kv: -kv[1][0]):
        if total * 200 < grand:  # under 0.5% of the whole: not worth a row
            continue
        best = sorted(selfs.items(), key=lambda kv: -kv[1])[:top]
        fns = "<br>".join(f"`{short(fn)}` {100.0 * c / total:.1f}%" for fn, c in best)
        out.append(f"| {name} | {100.0 * total / grand:.1f}% | {fns} |")
    return "\n".join(out)


def from_folded(path):
    threads = collections.defaultdict(lambda: [0, collections.Counter()])
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            t = threads[frames[0]]
            t[0] += int(count)
            t[1][frames[-1] if len(frames) > 1 else "(no stack)"] += int(count)
    return {k: (v[0], v[1]) for k, v in threads.items()}


def from_callgrind(work):
    threads = {}
    for self_file in sorted(glob.glob(f"{work}/callgrind.out-*.self")):
        with open(self_file) as f:
            text = f.read()
        with open(self_file[: -len(".self")] + ".inclusive") as f:
            inclusive = f.read()
        m = re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", text, re.M)
        total = int(m.group(1).replace(",", "")) if m else 0
        # The thread is the one whose entry function holds most of its instructions.
        name, best = "main", 0
        for entry, thread in ENTRIES:
            for row in re.finditer(r"^\s*([\d,]+) \([\s\d.]+%\)\s+[^\s:]+:\S*" + re.escape(entry),
                                   inclusive, re.M):
                cost = int(row.group(1).replace(",", ""))
                if cost > best and cost * 2 > total:
                    name, best = thread, cost
        selfs = collections.Counter()
        for row in re.finditer(r"^\s*([\d,]+) \([\s\d.]+%\)\s+[^\s:]+:(.+?)(?: \[[^\]]*\])?$", text, re.M):
            selfs[row.group(2)] += int(row.group(1).replace(",", ""))
        key = name
        n = 2
        while key in threads:
            key = f"{name} ({n})"
            n += 1
        threads[key] = (total, selfs)
    return threads


def main():
    mode, path, top, summary, command = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    if mode == "folded":
        threads, unit = from_folded(path), "samples"
    else:
        threads, unit = from_callgrind(path), "instructions"
    print(f"Profiled with `{command}`: {summary_line(summary)}.\n")
    print(table(threads, top, unit))


if __name__ == "__main__":
    main()

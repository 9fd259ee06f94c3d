#!/usr/bin/env python3
"""Exactly-once vs at-least-once Kafka sink, alternating runs in one session (issue 22 item 1).

For ROUNDS rounds, `edgepipe replay` of one CoinGecko trace (spool on, one Kafka sink, a fresh
topic and spool per run) with `exactly_once = false` and `= true` (and, with INTERVALS, more
transaction_interval values), swapping which goes first each round. Prints per mode the median
[min .. max] of records/s and of the confirm-latency p99 (payload received -> Kafka confirmed:
for exactly once, its transaction committed), and the per-round throughput ratio EOS / ALO.
With OLD_BINARY, its exactly-once runs (mode `old-eos@<interval>`) join the rotation: the same
broker, trace and settings, so old and new exactly once are compared in the same session; with
OLD_ALO=1 its at-least-once runs too (mode `old-alo`), so that each binary's EOS / ALO ratio
comes from the same rounds. With BROKER_PID (the broker's JVM: `cat $EDGEPIPE_STACK_DIR/kafka.pid`)
each run also reports the CPU seconds the broker spent during it, beside edgepipe's own (user +
system): on a shared machine CPU per run moves far less with the load than records/s does.

usage: benchmarks/kafka_exactly_once_ab.py
env:   EDGEPIPE_BINARY (build/edgepipe)  BROKERS (127.0.0.1:19092: a private broker, e.g.
       EDGEPIPE_STACK_DIR=/tmp/eos-stack EDGEPIPE_KAFKA_PORT=19092 scripts/stack.sh up)
       ROUNDS (6)  CG_PAYLOADS (400, x250 records)  INTERVALS ("100ms")
       TXN_RECORDS (unset: the binary's default transaction_records)
       OLD_BINARY (unset: no old-eos runs)  OLD_ALO (unset: no old-alo runs)  BROKER_PID (unset)
       EXTRA, EXTRA_EOS (unset: more sink keys, `;`-separated, for every run / the exactly-once
       runs, e.g. EXTRA_EOS="max_in_flight = 65536")
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.environ.get("EDGEPIPE_BINARY", os.path.join(HERE, "..", "build", "edgepipe"))
BROKERS = os.environ.get("BROKERS", "127.0.0.1:19092")
ROUNDS = int(os.environ.get("ROUNDS", "6"))
CG_PAYLOADS = os.environ.get("CG_PAYLOADS", "400")
INTERVALS = os.environ.get("INTERVALS", "100ms").split()
TXN_RECORDS = os.environ.get("TXN_RECORDS", "")  # transaction_records; empty: the default
OLD_BINARY = os.environ.get("OLD_BINARY", "")
OLD_ALO = os.environ.get("OLD_ALO", "") not in ("", "0")
BROKER_PID = os.environ.get("BROKER_PID", "")
# More keys for the Kafka sink's table, e.g. "max_in_flight = 65536"; EXTRA_EOS: for the
# exactly-once runs only.
EXTRA = os.environ.get("EXTRA", "").replace(";", "\n")
EXTRA_EOS = os.environ.get("EXTRA_EOS", "").replace(";", "\n")


# The coingecko source of the embedded default config (config/default.toml), keyed by coin id.
SOURCE = """
[sources.coingecko]
records = ""
key = "/id"
fields = [
  { name = "id", from = "/id", type = "string", required = true },
  { name = "symbol", from = "/symbol", type = "string" },
  { name = "current_price", from = "/current_price", type = "double" },
  { name = "market_cap", from = "/market_cap", type = "double" },
  { name = "last_updated", from = "/last_updated", type = "string" },
]
"""


def config(tmp, mode, interval):
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    eos = "alo" not in mode
    records = f"transaction_records = {TXN_RECORDS}\n" if TXN_RECORDS else ""
    text = (f'[dead_letter]\npath = "{tmp}/dl.jsonl"\n'
            f'[spool]\ndir = "{tmp}/spool-{topic}"\n'
            f'[sinks.kafka]\ntype = "kafka"\nbrokers = "{BROKERS}"\ntopic = "{topic}"\n'
            f'partitions = 3\nexactly_once = {"true" if eos else "false"}\n'
            f'transaction_interval = "{interval}"\n{records}'
            f'state_topic = "bench-state"\n' + (EXTRA + "\n" if EXTRA else "")
            + (EXTRA_EOS + "\n" if EXTRA_EOS and eos else "") + SOURCE)
    path = os.path.join(tmp, f"{mode}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def broker_cpu():
    """CPU seconds (user + system) of the broker so far, or None without BROKER_PID."""
    if not BROKER_PID:
        return None
    with open(f"/proc/{BROKER_PID}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(tmp, trace, mode, interval):
    cfg = config(tmp, mode, interval)
    binary = OLD_BINARY if mode.startswith("old-") else BINARY
    b0, r0 = broker_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([binary, "replay", "-c", cfg, "--trace", trace], capture_output=True,
                       text=True, check=True)
    b1, r1 = broker_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN)
    s = json.loads([line for line in p.stdout.splitlines() if line.startswith("{")][-1])
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return (s["records_per_second"], s.get("confirm_latency_us", {}).get("p99"), s["records"],
            cpu, None if b0 is None else b1 - b0)


def spread(xs, fmt=",.0f"):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return f"{statistics.median(xs):{fmt}} [{min(xs):{fmt}} .. {max(xs):{fmt}}]"


def main():
    modes = ["alo"] + [f"eos@{i}" for i in INTERVALS]
    if OLD_BINARY:
        modes += (["old-alo"] if OLD_ALO else []) + [f"old-eos@{i}" for i in INTERVALS]
    with tempfile.TemporaryDirectory(prefix="edgepipe-eos-bench-") as tmp:
        trace = os.path.join(tmp, "cg.trace")
        subprocess.run([BINARY, "synth", "--api", "coingecko", "--payloads", CG_PAYLOADS,
                        "--out", trace, "--seed", "7"], check=True, capture_output=True)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"# {os.cpu_count()} CPUs, load {load}; {ROUNDS} rounds; broker {BROKERS}; "
              f"transaction_records {TXN_RECORDS or 'default'}")
        res = {m: [] for m in modes}
        for r in range(ROUNDS):
            order = modes if r % 2 == 0 else list(reversed(modes))
            for m in order:
                interval = m.split("@")[1] if "@" in m else "100ms"
                res[m].append(run(tmp, trace, m, interval))
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]
            print(f"round {r + 1} (load {load}): " + ", ".join(
                f"{m} {res[m][-1][0]:,.0f}/s p99 {res[m][-1][1]} us cpu {res[m][-1][3]:.2f} s"
                + ("" if res[m][-1][4] is None else f" broker {res[m][-1][4]:.2f} s")
                for m in modes), flush=True)
        n = res["alo"][0][2]
        print(f"\n{n} records per run")
        for m in modes:
            print(f"  {m:>10}: records/s {spread([x[0] for x in res[m]])}, confirm p99 us "
                  f"{spread([x[1] for x in res[m]])}, edgepipe cpu s "
                  f"{spread([x[3] for x in res[m]], '.2f')}, broker cpu s "
                  f"{spread([x[4] for x in res[m]], '.2f')}")
        for m in modes[1:]:
            base = "old-alo" if m.startswith("old-") and OLD_ALO else "alo"
            if m == base:
                continue
            ratios = [e[0] / a[0] for e, a in zip(res[m], res[base])]
            print(f"  {m} / {base} throughput per round: median {statistics.median(ratios):.3f} "
                  f"[{min(ratios):.3f} .. {max(ratios):.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""edgepipe's postgres_cdc source (`edgepipe cdc-print`) against Debezium 3.6.1.Final's PostgreSQL
connector (embedded engine, benchmarks/peers/debezium/DebeziumRunner.java, Java 17) on the same
PostgreSQL, the same table and the same workload, alternating.

Every run: a fresh table, a fresh slot for the capture under test (no snapshot: edgepipe
--snapshot never, Debezium snapshot.mode=no_data), the capture started and streaming (its slot
active) BEFORE the workload, its JSON lines read from a pipe by this harness and thrown away
after two numbers were taken from each: the time the line was read and source.ts_ms (the
commit time). Per run it reports
  events/s   (events - 1) / (time the last event was read - time the first was read)
  lag p50/p99/max  read time - source.ts_ms, ms (commit -> the event's line in our hands)
  peak RSS   VmHWM of the capture process (/proc/PID/status) just before it is stopped
Workloads (each run is one of them on its own):
  batches   ROWS single-row changes in transactions of BATCH rows: ROWS/2 inserts then ROWS/2
            updates (REPLICA IDENTITY DEFAULT: one event per change)
  large     the same ROWS changes in two transactions (one INSERT of ROWS/2 rows, one UPDATE)
  backlog   the batches workload committed while the capture is NOT running (its slot created
            before, with pg_create_logical_replication_slot), then the capture started: how fast
            it drains WAL when the workload cannot be the limit (lag here = the backlog's age)
Rounds alternate which capture goes first. Both use their defaults otherwise (Debezium:
max.batch.size 2048, max.queue.size 8192, the JVM's default heap; edgepipe: the defaults), both
with decimal.handling.mode=string, tombstones on. Results go to stdout as one JSON line per run
and a summary table (median [min .. max]) at the end.

usage: benchmarks/cdc_vs_debezium.py [--rounds 3] [--rows 200000] [--batch 1000]
                                      [--workloads batches,large] [--together]
  --together  also one extra round per workload with both captures on the same workload at
              once (each on its own slot), to see both in one run
  --java-opts JVM options for Debezium (default none: the JVM's default heap, 1/4 of RAM)
env: EDGEPIPE_BINARY (build/edgepipe), EDGEPIPE_PG_HOST/PORT/PASSWORD
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BINARY = os.environ.get("EDGEPIPE_BINARY", os.path.join(ROOT, "build", "edgepipe"))
PG_HOST = os.environ.get("EDGEPIPE_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("EDGEPIPE_PG_PORT", "5432")
PG_PASSWORD = os.environ.get("EDGEPIPE_PG_PASSWORD", "edgepipe")
CONNINFO = f"host={PG_HOST} port={PG_PORT} dbname=edgepipe user=edgepipe"
TAG = str(os.getpid())
SCHEMA = f"dbz_bench_{TAG}"


def psql(sql, timeout=600):
    env = dict(os.environ, PGPASSWORD=PG_PASSWORD)
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO],
                       input=sql, capture_output=True, text=True, env=env, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"psql failed: {p.stderr}\n{sql[:300]}")
    return p.stdout


def drop_slot(slot):
    deadline = time.time() + 30
    while time.time() < deadline:
        if psql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name='{slot}' AND active;").strip() == "0":
            break
        time.sleep(0.1)
    psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
         f"WHERE slot_name = '{slot}' AND NOT active;")


def vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    """utime + stime of a live process (every thread), seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class capture:
    """A capture process whose stdout this harness reads line by line in a thread."""

    def __init__(self, name, args, env, stderr_path):
        self.name = name
        self.err = open(stderr_path, "wb")
        self.err_path = stderr_path
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.err, env=env, bufsize=0)
        self.cpu_s = None
        self.reads = []   # time.time() per line
        self.commits = []  # source.ts_ms per line (None for tombstones)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        # Big reads, not readline: a Python loop per line would be slower than edgepipe and make
        # the harness the bottleneck. Every line of one read gets that read's time.
        reads, commits = self.reads, self.commits
        fd = self.proc.stdout.fileno()
        rest = b""
        src, key = b'"source":', b'"ts_ms":'
        klen = len(key)
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            now = time.time()
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                # source.ts_ms: the first "ts_ms" after "source" (the source block comes before
                # the envelope's own ts_ms in both writers); no full JSON parse.
                i = line.find(src)
                ts = None
                if i >= 0:
                    j = line.find(key, i) + klen
                    k = line.find(b",", j)
                    ts = int(line[j:k])
                commits.append(ts)
            reads.extend([now] * len(lines))

    def count(self):
        return len(self.reads)  # extended after commits: a counted line has its commit time

    def stop(self):
        hwm = vm_hwm_kb(self.proc.pid)
        if self.cpu_s is None:
            self.cpu_s = cpu_seconds(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.thread.join(timeout=10)
        self.err.close()
        return hwm


def wait_slot_active(slot, proc, deadline):
    while time.time() < deadline:
        if psql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name='{slot}' AND active;").strip() == "1":
            return
        if proc.poll() is not None:
            raise RuntimeError(f"capture exited ({proc.returncode}) before its slot {slot} was active")
        time.sleep(0.1)
    raise RuntimeError(f"slot {slot} not active in time")


def setup_table():
    psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; "
         f"CREATE TABLE {SCHEMA}.t (id int PRIMARY KEY, v text, n numeric(12,2), q int8, "
         f"ts timestamptz, ok bool);")


def workload_sql(kind, rows, batch):
    half = rows // 2
    t = f"{SCHEMA}.t"
    ins = ("INSERT INTO {t} SELECT g, 'value ' || g, g * 1.25, g * 1000, "
           "'2026-01-01'::timestamptz + g * interval '1 second', g % 2 = 0 "
           "FROM generate_series({a}, {b}) g;")
    upd = "UPDATE {t} SET v = 'updated ' || id, q = q + 1 WHERE id BETWEEN {a} AND {b};"
    if kind == "large":
        return (f"BEGIN; {ins.format(t=t, a=1, b=half)} COMMIT;\n"
                f"BEGIN; {upd.format(t=t, a=1, b=half)} COMMIT;\n")
    out = []
    for a in range(1, half + 1, batch):
        out.append(f"BEGIN; {ins.format(t=t, a=a, b=min(a + batch - 1, half))} COMMIT;")
    for a in range(1, half + 1, batch):
        out.append(f"BEGIN; {upd.format(t=t, a=a, b=min(a + batch - 1, half))} COMMIT;")
    return "\n".join(out) + "\n"


JAVA_OPTS = []


def start_capture(which, slot, classpath, tmp, env, run_id):
    table = f"{SCHEMA}.t"
    if which == "edgepipe":
        args = [BINARY, "cdc-print", "--conninfo", CONNINFO, "--password", "env:EDGEPIPE_BENCH_PG_PASSWORD",
                "--slot", slot, "--snapshot", "never", "--table", table, "--decimal-handling", "string"]
    else:
        args = ["java"] + JAVA_OPTS + ["-cp", classpath, "DebeziumRunner", "--host", PG_HOST, "--port", PG_PORT,
                "--db", "edgepipe", "--user", "edgepipe", "--password-env", "EDGEPIPE_BENCH_PG_PASSWORD",
                "--slot", slot, "--table", table, "--snapshot", "no_data", "--decimal-handling", "string",
                "--offsets-dir", os.path.join(tmp, f"offsets-{run_id}"), "--out", "-"]
    return capture(which, args, env, os.path.join(tmp, f"{slot}-{run_id}.stderr"))


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def measure(c, expect):
    n = c.count()
    reads = c.reads[:n]
    lags = sorted((r * 1000.0 - ts) for r, ts in zip(reads, c.commits[:n]) if ts is not None)
    span = reads[-1] - reads[0] if n > 1 else 0.0
    return {
        "events": n, "expected": expect,
        "events_per_s": round((n - 1) / span) if span > 0 else None,
        "seconds": round(span, 3),
        "lag_ms_p50": round(pct(lags, 50), 1), "lag_ms_p99": round(pct(lags, 99), 1),
        "lag_ms_max": round(lags[-1], 1),
    }


def run(whos, kind, rows, batch, classpath, tmp, round_no, timeout_s):
    """One run of `kind` with the captures in `whos` (one, or both at once)."""
    env = dict(os.environ, EDGEPIPE_BENCH_PG_PASSWORD=PG_PASSWORD)
    setup_table()
    slots = {w: f"dbz_bench_{TAG}_{w}" for w in whos}
    caps = {}
    try:
        deadline = time.time() + 120
        backlog = kind == "backlog"
        t_load = time.time()
        if backlog:
            for w in whos:
                psql(f"SELECT pg_create_logical_replication_slot('{slots[w]}', 'pgoutput');")
            psql(workload_sql("batches", rows, batch))
            t_committed = time.time()
        for w in whos:
            caps[w] = start_capture(w, slots[w], classpath, tmp, env, f"{kind}-{round_no}-{len(whos)}")
        for w in whos:
            try:
                wait_slot_active(slots[w], caps[w].proc, deadline)
            except RuntimeError:
                caps[w].stop()
                with open(caps[w].err_path, "rb") as f:
                    sys.stderr.write(f.read().decode(errors="replace")[-3000:])
                raise
        walsenders = {}
        for w in whos:
            pid = psql(f"SELECT active_pid FROM pg_replication_slots WHERE slot_name='{slots[w]}';").strip()
            walsenders[w] = (int(pid), cpu_seconds(int(pid))) if pid.isdigit() else (None, None)
        if not backlog:
            t_load = time.time()
            psql(workload_sql(kind, rows, batch))
            t_committed = time.time()
        deadline = time.time() + timeout_s
        while time.time() < deadline and any(c.count() < rows for c in caps.values()):
            if any(c.proc.poll() is not None for c in caps.values()):
                break
            time.sleep(0.05)
        results = []
        for w, c in caps.items():
            wpid, wcpu0 = walsenders[w]
            wcpu1 = cpu_seconds(wpid) if wpid else None
            hwm = c.stop()
            m = measure(c, rows)
            m.update({"capture": w, "workload": kind, "round": round_no, "together": len(whos) > 1,
                      "cpu_s": round(c.cpu_s, 2) if c.cpu_s is not None else None,
                      "walsender_cpu_s": round(wcpu1 - wcpu0, 2) if wcpu0 is not None and wcpu1 is not None else None,
                      "peak_rss_mb": round(hwm / 1024.0, 1) if hwm else None,
                      "workload_s": round(t_committed - t_load, 2)})
            if m["events"] < rows:
                m["error"] = f"only {m['events']} of {rows} events before the timeout"
            results.append(m)
            print(json.dumps(m), flush=True)
        return results
    finally:
        for c in caps.values():
            c.stop()
        try:
            for s in slots.values():
                drop_slot(s)
            psql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;")
        except RuntimeError as e:  # e.g. the server restarted by someone else meanwhile
            print(f"# WARNING: cleanup failed, drop slots {list(slots.values())} and schema {SCHEMA} "
                  f"by hand: {e}", file=sys.stderr)


def fmt(vals, f="{:.0f}"):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    return f"{f.format(statistics.median(vals))} [{f.format(min(vals))} .. {f.format(max(vals))}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--workloads", default="batches,large")
    ap.add_argument("--together", action="store_true")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per run after the workload")
    ap.add_argument("--java-opts", default="")
    a = ap.parse_args()
    JAVA_OPTS.extend(a.java_opts.split())
    p = subprocess.run([os.path.join(ROOT, "scripts", "debezium-env.sh")], capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        print("Debezium could not be fetched/built (scripts/debezium-env.sh)", file=sys.stderr)
        return 3
    classpath = p.stdout.strip().splitlines()[-1]
    print(f"# {os.cpu_count()} CPUs, load {open('/proc/loadavg').read().split()[:3]}, rows {a.rows}, "
          f"batch {a.batch}, rounds {a.rounds}, edgepipe {BINARY}, Debezium 3.6.1.Final {JAVA_OPTS} "
          f"({subprocess.run(['java', '-version'], capture_output=True, text=True).stderr.splitlines()[0]})",
          flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="edgepipe-dbz-bench-") as tmp:
        for r in range(a.rounds):
            for kind in a.workloads.split(","):
                order = ["edgepipe", "debezium"] if r % 2 == 0 else ["debezium", "edgepipe"]
                for w in order:
                    results += run([w], kind, a.rows, a.batch, classpath, tmp, r, a.timeout)
        if a.together:
            for kind in a.workloads.split(","):
                results += run(["edgepipe", "debezium"], kind, a.rows, a.batch, classpath, tmp, a.rounds,
                               a.timeout)
    print(f"# load after: {open('/proc/loadavg').read().split()[:3]}")
    print("\n| workload | capture | events/s median [min .. max] | lag p50 ms | lag p99 ms | peak RSS MB | CPU s (process total) |")
    print("|---|---|---|---|---|---|---|")
    for kind in a.workloads.split(","):
        for w in ("edgepipe", "debezium"):
            rs = [x for x in results if x["workload"] == kind and x["capture"] == w and not x["together"]]
            print(f"| {kind} | {w} | {fmt([x['events_per_s'] for x in rs])} | "
                  f"{fmt([x['lag_ms_p50'] for x in rs])} | {fmt([x['lag_ms_p99'] for x in rs])} | "
                  f"{fmt([x['peak_rss_mb'] for x in rs], '{:.1f}')} | {fmt([x['cpu_s'] for x in rs], '{:.1f}')} |")
        e = {x["round"]: x for x in results if x["workload"] == kind and x["capture"] == "edgepipe" and not x["together"]}
        d = {x["round"]: x for x in results if x["workload"] == kind and x["capture"] == "debezium" and not x["together"]}
        rate = [e[r]["events_per_s"] / d[r]["events_per_s"] for r in e if r in d
                and e[r]["events_per_s"] and d[r]["events_per_s"]]
        mem = [d[r]["peak_rss_mb"] / e[r]["peak_rss_mb"] for r in e if r in d
               and e[r]["peak_rss_mb"] and d[r]["peak_rss_mb"]]
        print(f"| {kind} | edgepipe/Debezium events/s per round | {fmt(rate, '{:.2f}')} | | | "
              f"Debezium/edgepipe RSS {fmt(mem, '{:.1f}')} |")
        for x in results:
            if x["together"] and x["workload"] == kind:
                print(f"| {kind} (both at once) | {x['capture']} | {x['events_per_s']} | {x['lag_ms_p50']} | "
                      f"{x['lag_ms_p99']} | {x['peak_rss_mb']} |")
    bad = [x for x in results if "error" in x]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""HTTP polling benchmark: edgepipe's libcurl multi poller against the local test origin.

1. Load: N sources (default 50) polling ISS-like payloads every --interval-ms (default 100) for
   --seconds (default 10). Reports payloads/s, the daemon's CPU, and p50/p99 of
   edgepipe_latency_seconds (payload received -> record handed to the sink) and of
   edgepipe_http_request_seconds (request start -> response complete), read from /metrics.
   The histograms are log2-bucketed: a quantile is the upper bound of its bucket.
2. Idle: one source with interval 5s for --idle-seconds (default 20): daemon CPU time
   (utime+stime from /proc/<pid>/stat) / wall time, and context switches of all its threads.

Usage: python3 benchmarks/http_poll_bench.py [--binary build/edgepipe] [--sources 50]
       [--interval-ms 100] [--seconds 10] [--idle-seconds 20] [--json]
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORIGIN = os.path.join(ROOT, "tests", "integration", "http_origin.py")
TICK = os.sysconf("SC_CLK_TCK")

ISS_FIELDS = """records = ""
event_time = "/timestamp"
fields = [
  { name = "timestamp", from = "/timestamp", type = "int", required = true },
  { name = "latitude", from = "/iss_position/latitude", type = "double", required = true },
  { name = "longitude", from = "/iss_position/longitude", type = "double", required = true },
]
filter = [ { field = "/message", op = "eq", value = "success" } ]
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except Exception as e:  # noqa: BLE001 - any failure means "not yet"
        return 0, str(e)


def scrape(port):
    status, text = get("http://127.0.0.1:%d/metrics" % port)
    out = []
    if status != 200:
        return out
    for line in text.splitlines():
        m = re.match(r'^(\w+)(?:\{([^}]*)\})?\s+(\S+)$', line.strip())
        if m and not line.startswith("#"):
            out.append((m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")),
                        float(m.group(3))))
    return out


def total(samples, name, **labels):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items()))


def quantile(samples, name, q, **labels):
    """Quantile of a (possibly multi-series) cumulative log2 histogram: merge series by le."""
    series = {}
    for n, l, v in samples:
        if n != name + "_bucket" or not all(l.get(k) == x for k, x in labels.items()):
            continue
        key = tuple(sorted((k, x) for k, x in l.items() if k != "le"))
        le = float("inf") if l["le"] == "+Inf" else float(l["le"])
        series.setdefault(key, []).append((le, v))
    if not series:
        return None
    bounds = sorted({le for s in series.values() for le, _ in s})

    def cum_at(s, b):  # cumulative count of series s at bound b (buckets are cumulative)
        c = 0
        for le, v in sorted(s):
            if le <= b:
                c = v
        return c
    merged = [(b, sum(cum_at(s, b) for s in series.values())) for b in bounds]
    n = merged[-1][1]
    if n == 0:
        return None
    for b, c in merged:
        if c >= q * n:
            return b
    return merged[-1][0]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)


def ctx_switches(pid):
    n = 0
    for st in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(st) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
        except OSError:
            pass
    return n


def write_config(tmp, origin, listen, n, interval_ms, tag):
    parts = ['[dead_letter]\npath = "%s/dead-%s.jsonl"\n' % (tmp, tag),
             '[http]\nlisten = "127.0.0.1:%d"\n' % listen,
             '[sinks.file]\ntype = "file"\npath = "%s/records-%s.jsonl"\n' % (tmp, tag)]
    for i in range(n):
        parts.append('[sources.s%d]\nurl = "http://127.0.0.1:%d/iss/%s%d"\ninterval = "%dms"\n%s'
                     % (i, origin, tag, i, interval_ms, ISS_FIELDS))
    path = os.path.join(tmp, "%s.toml" % tag)
    with open(path, "w") as f:
        f.write("\n".join(parts))
    return path


def start_daemon(binary, cfg, listen, tmp, tag):
    err = open(os.path.join(tmp, "%s.stderr" % tag), "w")
    p = subprocess.Popen([binary, "run", "-c", cfg], stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if get("http://127.0.0.1:%d/health" % listen, 1)[0] == 200:
            return p, err
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    raise SystemExit("daemon did not become ready; see %s/%s.stderr" % (tmp, tag))


def stop_daemon(p, err):
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "killed"
    err.close()
    return rc


def load_run(args, tmp, origin):
    listen = free_port()
    cfg = write_config(tmp, origin, listen, args.sources, args.interval_ms, "load")
    p, err = start_daemon(args.binary, cfg, listen, tmp, "load")
    try:
        time.sleep(1.0)  # warm-up: connections established, first polls done
        m0, c0, t0 = scrape(listen), cpu_seconds(p.pid), time.monotonic()
        time.sleep(args.seconds)
        m1, c1, t1 = scrape(listen), cpu_seconds(p.pid), time.monotonic()
    finally:
        rc = stop_daemon(p, err)
    dt = t1 - t0
    payloads = total(m1, "edgepipe_payloads_total") - total(m0, "edgepipe_payloads_total")
    polls = total(m1, "edgepipe_http_polls_total") - total(m0, "edgepipe_http_polls_total")
    errors = total(m1, "edgepipe_http_transport_errors_total")
    ideal = args.sources * 1000.0 / args.interval_ms
    return {
        "sources": args.sources, "interval_ms": args.interval_ms, "seconds": round(dt, 2),
        "payloads_per_s": round(payloads / dt, 1), "polls_per_s": round(polls / dt, 1),
        "ideal_polls_per_s": ideal, "transport_errors": errors,
        "records_out": total(m1, "edgepipe_records_out_total", stage="sink:file"),
        "daemon_cpu_percent_of_core": round(100.0 * (c1 - c0) / dt, 2),
        "latency_p50_s": quantile(m1, "edgepipe_latency_seconds", 0.5, stage="sink:file"),
        "latency_p99_s": quantile(m1, "edgepipe_latency_seconds", 0.99, stage="sink:file"),
        "http_request_p50_s": quantile(m1, "edgepipe_http_request_seconds", 0.5),
        "http_request_p99_s": quantile(m1, "edgepipe_http_request_seconds", 0.99),
        "exit_code": rc,
    }


def idle_run(args, tmp, origin):
    listen = free_port()
    cfg = write_config(tmp, origin, listen, 1, 5000, "idle")
    p, err = start_daemon(args.binary, cfg, listen, tmp, "idle")
    try:
        time.sleep(1.0)
        c0, s0, t0 = cpu_seconds(p.pid), ctx_switches(p.pid), time.monotonic()
        time.sleep(args.idle_seconds)  # nothing else touches the daemon (no scrapes) meanwhile
        c1, s1, t1 = cpu_seconds(p.pid), ctx_switches(p.pid), time.monotonic()
        m = scrape(listen)
    finally:
        rc = stop_daemon(p, err)
    dt = t1 - t0
    return {"seconds": round(dt, 2), "cpu_seconds": round(c1 - c0, 3),
            "cpu_percent_of_core": round(100.0 * (c1 - c0) / dt, 3),
            "context_switches_per_s": round((s1 - s0) / dt, 1),
            "polls": total(m, "edgepipe_http_polls_total"), "exit_code": rc}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.environ.get("EDGEPIPE_BINARY",
                                                       os.path.join(ROOT, "build", "edgepipe")))
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--idle-seconds", type=float, default=20)
    ap.add_argument("--json", action="store_true", help="print one JSON object only")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="edgepipe-httpbench-")
    origin = subprocess.Popen([sys.executable, ORIGIN], stdout=subprocess.PIPE, text=True)
    try:
        port = int(origin.stdout.readline())
        load = load_run(args, tmp, port)
        idle = idle_run(args, tmp, port) if args.idle_seconds > 0 else None
    finally:
        origin.terminate()
        origin.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"load": load, "idle": idle, "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(result))
        return
    ms = lambda s: "n/a" if s is None else "<= %.3g ms" % (s * 1e3)  # noqa: E731
    print("load: %d sources every %d ms for %.1f s" % (load["sources"], load["interval_ms"],
                                                        load["seconds"]))
    print("  payloads/s %.1f (polls/s %.1f, ideal %.0f), transport errors %d, daemon CPU %.2f%% of a core"
          % (load["payloads_per_s"], load["polls_per_s"], load["ideal_polls_per_s"],
             load["transport_errors"], load["daemon_cpu_percent_of_core"]))
    print("  edgepipe_latency_seconds      p50 %s  p99 %s" % (ms(load["latency_p50_s"]),
                                                            ms(load["latency_p99_s"])))
    print("  edgepipe_http_request_seconds p50 %s  p99 %s" % (ms(load["http_request_p50_s"]),
                                                            ms(load["http_request_p99_s"])))
    if idle:
        print("idle: 1 source every 5 s for %.1f s: CPU %.3f s = %.3f%% of a core, %.1f context "
              "switches/s, %d polls" % (idle["seconds"], idle["cpu_seconds"],
                                       idle["cpu_percent_of_core"], idle["context_switches_per_s"],
                                       idle["polls"]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

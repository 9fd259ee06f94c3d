#!/usr/bin/env python3
"""What watching the status page costs the pipeline (issue 20).

1. Throughput: `edgepipe replay --http` of a CoinGecko trace at max speed (default config: spool
   on, file sink) with 0 and with N watchers, alternating in each round (0 then N, N then 0 in
   the next) so both see the same minutes of this shared machine. A watcher is either a poller
   of /api/status at 1 Hz (WATCHERS=pollers: the server's cost alone) or a page in headless
   Chromium (WATCHERS=tabs: the real page, whose rendering shares the CPUs with the pipeline).
2. Request cost: on a running daemon, the time to answer /metrics and /api/status, alternating
   request by request (REQUESTS of each), medians and p90, and the body sizes.

Env: EDGEPIPE_BINARY (build/edgepipe), ROUNDS (5), PAYLOADS (12000 CoinGecko payloads, 250
records each), N (10), WATCHERS (pollers | tabs), REQUESTS (300), PORT (9474), WORK (a temp dir).
Prints one line per run and a summary; nothing is installed.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
BINARY = os.path.abspath(os.environ.get("EDGEPIPE_BINARY", os.path.join(SOURCE_DIR, "build",
                                                                         "edgepipe")))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
PAYLOADS = int(os.environ.get("PAYLOADS", "12000"))
N = int(os.environ.get("N", "10"))
WATCHERS = os.environ.get("WATCHERS", "pollers")
REQUESTS = int(os.environ.get("REQUESTS", "300"))
PORT = int(os.environ.get("PORT", "9474"))
WORK = os.environ.get("WORK") or tempfile.mkdtemp(prefix="edgepipe-status-bench-")
BASE = f"http://127.0.0.1:{PORT}"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def get(path, timeout=2):
    with urllib.request.urlopen(BASE + path, timeout=timeout) as r:
        return r.read()


class Pollers:
    """N threads, each GET /api/status once a second (failures while the daemon starts or ends
    are counted apart)."""

    def __init__(self, n):
        self.n, self.ok, self.failed = n, 0, 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(n)]

    def run(self, i):
        next_at = time.monotonic() + i / max(1, self.n)  # spread over the second, like tabs
        while not self.stop.is_set():
            try:
                get("/api/status")
                with self.lock:
                    self.ok += 1
            except OSError:
                with self.lock:
                    self.failed += 1
            next_at += 1.0
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def one_run(trace, watchers):
    out = os.path.join(WORK, "out.jsonl")
    spool = os.path.join(WORK, "spool")
    shutil.rmtree(spool, ignore_errors=True)
    if os.path.exists(out):
        os.remove(out)
    cmd = [BINARY, "replay", "--trace", trace, "--http", f"127.0.0.1:{PORT}", "--sink",
           "file:" + out, "--spool", spool]
    requests = 0
    if watchers == 0:
        p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    elif WATCHERS == "pollers":
        with Pollers(watchers) as w:
            p = subprocess.run(cmd, capture_output=True, text=True, check=True)
        requests = w.ok
    else:
        requests = run_with_tabs(cmd, watchers)
        p = requests[1]
        requests = requests[0]
    summary = next(json.loads(line) for line in p.stdout.splitlines() if line.startswith("{"))
    return summary["records_per_second"], summary["records"], requests


_browser = {}


def run_with_tabs(cmd, n):
    """Starts the replay, opens n pages on it as soon as it answers, returns (status requests
    the pages made, completed process)."""
    ctx = _browser["ctx"]
    pages = []
    counted = [0]

    def count(r):
        if r.url.endswith("/api/status"):
            counted[0] += 1
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            get("/health/live", timeout=0.5)
            break
        except OSError:
            time.sleep(0.02)
    for _ in range(n):
        pg = ctx.new_page()
        pg.on("response", count)
        try:
            pg.goto(BASE + "/", wait_until="commit", timeout=5000)
        except Exception:  # noqa: BLE001 - the replay may already be over
            pass
        pages.append(pg)
    # Keep the pages live (Playwright's sync API serves events while waiting).
    while proc.poll() is None:
        pages[0].wait_for_timeout(100) if pages else time.sleep(0.1)
    stdout, stderr = proc.communicate()
    for pg in pages:
        pg.close()
    return counted[0], subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def throughput(trace):
    results = {0: [], N: []}
    ratios = []
    for r in range(ROUNDS):
        order = (0, N) if r % 2 == 0 else (N, 0)
        got = {}
        for w in order:
            rps, records, req = one_run(trace, w)
            got[w] = rps
            results[w].append(rps)
            print(f"round {r + 1} watchers {w:2d} ({WATCHERS}): {rps / 1e6:.3f} M records/s "
                  f"({records} records, {req} status requests)", flush=True)
        ratios.append(got[N] / got[0])
    m0, mn = statistics.median(results[0]), statistics.median(results[N])
    print(f"\nthroughput, {ROUNDS} rounds, median (min-max):")
    print(f"  0 watchers: {m0 / 1e6:.3f} M/s ({min(results[0]) / 1e6:.3f}-{max(results[0]) / 1e6:.3f})")
    print(f"  {N} {WATCHERS}: {mn / 1e6:.3f} M/s ({min(results[N]) / 1e6:.3f}-{max(results[N]) / 1e6:.3f})")
    print(f"  ratio of medians {mn / m0:.3f}; per-round ratio median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f})")


def request_cost(trace):
    """/metrics vs /api/status on a daemon replaying at a steady pace."""
    cmd = [BINARY, "replay", "--trace", trace, "--speed", "20x", "--http", f"127.0.0.1:{PORT}",
           "--sink", "file:" + os.path.join(WORK, "steady.jsonl"), "--spool",
           os.path.join(WORK, "spool-steady")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                get("/health/live", timeout=0.5)
                break
            except OSError:
                time.sleep(0.05)
        times = {"/metrics": [], "/api/status": []}
        sizes = {}
        for i in range(REQUESTS):
            for path in (("/metrics", "/api/status") if i % 2 == 0 else ("/api/status", "/metrics")):
                t0 = time.perf_counter()
                body = get(path)
                times[path].append((time.perf_counter() - t0) * 1e6)
                sizes[path] = len(body)
        print(f"\nrequest cost, {REQUESTS} of each, alternating, daemon replaying at 20x:")
        for path, ts in times.items():
            ts.sort()
            print(f"  {path:12s} median {statistics.median(ts):7.0f} us, p90 "
                  f"{ts[int(len(ts) * 0.9)]:7.0f} us, body {sizes[path]} bytes")
    finally:
        proc.terminate()
        proc.wait()


def main():
    os.makedirs(WORK, exist_ok=True)
    trace = os.path.join(WORK, "coingecko.trace")
    if not os.path.exists(trace):
        subprocess.run([BINARY, "synth", "--api", "coingecko", "--payloads", str(PAYLOADS),
                        "--out", trace, "--seed", "7"], check=True, capture_output=True)
    print(f"binary {BINARY}; trace {trace} ({os.path.getsize(trace) / 1e9:.2f} GB); {os.cpu_count()} CPUs")
    if WATCHERS == "tabs":
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            _browser["ctx"] = pw.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="chromium-", dir=WORK), executable_path="/usr/bin/chromium",
                headless=True, args=CHROMIUM_ARGS)
            throughput(trace)
            _browser["ctx"].close()
    else:
        throughput(trace)
        request_cost(trace)
    if not os.environ.get("WORK"):
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

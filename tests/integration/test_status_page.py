#!/usr/bin/env python3
"""The status page (issue 20) in headless Chromium, against the real local stack.

The daemon (`edgepipe run`) replays a trace at its own pace (10 ISS payloads per second, speed
1x) into Kafka through the spool, and serves the page on 127.0.0.1. Chromium (Debian's package,
driven by Playwright for Python; both installed by scripts/install-deps.sh, never by this test)
opens the page and the test checks:
  1. the numbers on the page are those of the /api/status document the page last fetched, and
     agree with /metrics read just after;
  2. with Kafka stopped (scripts/stack.sh stop kafka), the page shows the Kafka sink failing with
     an error message, and its backlog growing, within seconds; with Kafka started again, it
     shows the sink ok and the backlog drained;
  3. dead letters whose payloads carry `<script>` and `"><img onerror=...>` (and invalid UTF-8)
     show as literal text: no element is created from them, no script runs, no dialog opens;
  4. no console error and no page error in the whole session;
  5. `edgepipe replay --http` serves the page too; with [http] bearer_token, /api/status needs
     the token (401 without) while /health stays open; POST is refused (read-only).
A screenshot of the page is saved (STATUS_PAGE_SCREENSHOT, default in the temp dir; set it to
docs/status-page.png to refresh the README's picture).

Chromium missing: fails, except on a developer box (CI unset) where it skips with a message.
Playwright missing: fails. Waits are polls with deadlines, never fixed sleeps.
Exits non-zero on failure; the last line is "N passed, M failed".

Env: EDGEPIPE_BINARY, EDGEPIPE_SOURCE_DIR, KAFKA_BOOTSTRAP (127.0.0.1:9092), plus the
scripts/stack.sh variables (EDGEPIPE_STACK_DIR, EDGEPIPE_KAFKA_PORT...) for a private stack
(KAFKA_BOOTSTRAP then defaults to 127.0.0.1:$EDGEPIPE_KAFKA_PORT).
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zlib

import edgepipe_it as it
from edgepipe_it import BINARY, check, free_port

BOOTSTRAP = it.KAFKA_BOOTSTRAP
CHROMIUM = os.environ.get("EDGEPIPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
RUN_ID = uuid.uuid4().hex[:8]
XSS_SCRIPT = '<script>window.__xss = "script"; alert(1)</script>'
XSS_IMG = '"><img src=x onerror="window.__xss=\'img\'; alert(2)">'
BAD_UTF8 = b'\xff\xfe not utf-8 \xc3('

def finish():
    sys.exit(it.finish())


def wait_until(cond, timeout, interval=0.2):
    return it.wait_until(cond, timeout, interval)


def http_get(url, headers=None, method="GET"):
    """(status, body) or (None, error) when nothing answers."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return None, str(e)


def metrics(port):
    status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    out = {}
    if status != 200:
        return out
    for line in text.splitlines():
        # Prometheus text: a sample with labels (name{a="b"} 1) or without (name 1).
        m = re.match(r'^edgepipe_(\w+)(?:\{([^}]*)\})? (\S+)$', line)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def stack(action, name):
    t0 = time.time()
    p = it.run([it.STACK_SCRIPT, action, name], timeout=240, check_rc=False)
    print(f"      (stack {action} {name}: {time.time() - t0:.1f} s, exit {p.returncode})",
          flush=True)
    return p.returncode == 0


# ---------------------------------------------------------------- inputs

def write_trace(path, bodies, dead_at):
    """ISS payloads 100 ms apart (10/s at 1x); at the indexes in `dead_at`, a payload that is
    not JSON: the dead letters the page must show as text."""
    t0 = time.time_ns()
    with open(path, "wb") as f:
        f.write(b"EPTRACE\x01" + struct.pack("<II", 1, 0))
        for i, body in enumerate(bodies):
            if i in dead_at:
                body = dead_at[i]
            src = b"iss"
            crc = zlib.crc32(src + body) & 0xFFFFFFFF
            f.write(struct.pack("<IIqHHI", 0x52465045, len(body), t0 + i * 100_000_000, 200,
                                len(src), crc))
            f.write(src + body)


def source_sections():
    """The [sources.*] sections of the embedded default config."""
    text = subprocess.run([BINARY, "default-config"], capture_output=True, text=True,
                          check=True).stdout
    out, keep = [], False
    for line in text.splitlines():
        if line.startswith("["):
            keep = line.startswith("[sources.")
        if keep:
            out.append(line)
    return "\n".join(out) + "\n"


def write_config(path, tmp, trace, port, topic):
    text = ('[pipeline]\nbatch_records = 256\ndrain_timeout = "5s"\n'
            f'[replay]\ntrace = "{trace}"\nspeed = "1x"\n'
            f'[http]\nlisten = "127.0.0.1:{port}"\n'
            f'[dead_letter]\npath = "{tmp}/dead-letter.jsonl"\n'
            f'[spool]\ndir = "{tmp}/spool"\nretry_backoff = "100ms"\nretry_backoff_max = "1s"\n'
            f'[sinks.kafka]\ntype = "kafka"\nbrokers = "{BOOTSTRAP}"\ntopic = "{topic}"\n'
            'partitions = 1\nmessage_timeout_ms = 2000\nlinger_ms = 5\n'
            + source_sections())
    with open(path, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- the page

READ_PAGE = """() => {
  const num = (t) => t === '-' ? null : Number(t.replace(/,/g, ''));
  const text = (sel) => { const e = document.querySelector(sel); return e ? e.textContent : null; };
  const row = (table, attr, key) => document.querySelector('#' + table + ' tr[data-' + attr + '="' + key + '"]');
  const field = (r, f) => { if (!r) return null; const c = r.querySelector('td[data-field="' + f + '"]'); return c ? c.textContent : null; };
  const kafka = row('sinks', 'sink', 'kafka');
  const iss = row('sources', 'source', 'iss');
  const dead = Array.from(document.querySelectorAll('#dead tbody tr')).map((r) => ({
    number: r.dataset.number, source: field(r, 'source'), reason: field(r, 'reason'),
    preview: field(r, 'preview'), children: r.querySelector('td[data-field="preview"]').querySelectorAll('*').length }));
  return {
    rendered_at: document.body.dataset.renderedAt ? Number(document.body.dataset.renderedAt) : null,
    state: text('#state'),
    records: num(text('#t-records')),
    rejected: num(text('#t-rejected')),
    dead_letters: num(text('#t-dead')),
    dead_total: num(text('#dead-total')),
    kafka: kafka && { state: field(kafka, 'state'), delivered: num(field(kafka, 'delivered')),
      failed: num(field(kafka, 'failed')), backlog: num(field(kafka, 'backlog')),
      last_error: field(kafka, 'last_error'), oldest_age: field(kafka, 'oldest_age') },
    iss: iss && { state: field(iss, 'state'), payloads: num(field(iss, 'payloads')),
      records: num(field(iss, 'records')), rejected: num(field(iss, 'rejected')) },
    spool_segments: num(text('#spool-segments')),
    diagram_kafka: text('#diagram g[data-node="sink:kafka"]'),
    dead: dead,
    images: document.querySelectorAll('img').length,
    scripts: Array.from(document.scripts).map((s) => s.src),
    xss: window.__xss === undefined ? null : String(window.__xss),
  };
}"""


def main():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        check(False, "Python playwright is not installed: run scripts/install-deps.sh "
              "(pip install playwright; the browser is Debian's chromium, never "
              "`playwright install`)")
        finish()
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            check(False, f"{CHROMIUM} exists (scripts/install-deps.sh installs Debian's chromium)")
            finish()
        print(f"SKIP: {CHROMIUM} is absent on this developer box (scripts/install-deps.sh "
              "installs it; CI fails instead of skipping)")
        print("0 passed, 0 failed")
        sys.exit(0)

    tmp = tempfile.mkdtemp(prefix="edgepipe-status-")
    port = free_port()
    topic = f"status-page-{RUN_ID}"
    bodies_path = os.path.join(tmp, "iss.jsonl")
    subprocess.run([BINARY, "synth", "--api", "iss", "--payloads", "3000", "--format", "jsonl",
                    "--out", bodies_path, "--seed", "20"], check=True, capture_output=True)
    with open(bodies_path, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    # Dead letters early (on the page when it opens) and later (arriving while it is open).
    dead_at = {15: XSS_SCRIPT.encode(), 16: XSS_IMG.encode(), 17: BAD_UTF8,
               400: (XSS_IMG + XSS_SCRIPT).encode()}
    trace = os.path.join(tmp, "iss.trace")
    write_trace(trace, bodies, dead_at)
    cfg = os.path.join(tmp, "edgepipe.toml")
    write_config(cfg, tmp, trace, port, topic)

    err = open(os.path.join(tmp, "daemon.stderr"), "w")
    daemon = subprocess.Popen([BINARY, "run", "-c", cfg], stdout=err, stderr=err)
    base = f"http://127.0.0.1:{port}"
    kafka_stopped = False
    try:
        ready = wait_until(lambda: http_get(base + "/health")[0] == 200, 60)
        if not check(ready, "daemon serves /health on 127.0.0.1"):
            return
        with sync_playwright() as pw:
            profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            console, dialogs, docs = [], [], {}
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            def on_response(r):
                if r.url.endswith("/api/status") and r.status == 200:
                    try:
                        doc = r.json()
                        docs[doc["now_unix_ms"]] = doc
                    except Exception as e:  # noqa: BLE001 - recorded, checked below
                        console.append(("test", f"unreadable /api/status: {e}"))
            page.on("response", on_response)
            page.goto(base + "/")

            def read():
                return page.evaluate(READ_PAGE)

            # ---- 1. the page's numbers are the document's, and /metrics agrees
            view = wait_until(lambda: (lambda v: v if v["rendered_at"] and v["kafka"]
                                       and v["kafka"]["delivered"] and v["rendered_at"] in docs
                                       else None)(read()), 30)
            if not check(view is not None, "the page renders the pipeline with the Kafka sink "
                                           "delivering"):
                return
            m = metrics(port)
            doc = docs[view["rendered_at"]]
            sink = next(s for s in doc["sinks"] if s["name"] == "kafka")
            iss = next(s for s in doc["sources"] if s["name"] == "iss")
            check(view["records"] == doc["totals"]["records"]
                  and view["rejected"] == doc["totals"]["rejected"]
                  and view["dead_letters"] == doc["totals"]["dead_letters"]
                  and view["dead_total"] == doc["dead_letters"]["total"],
                  f"totals on the page = /api/status (records {view['records']}, rejected "
                  f"{view['rejected']}, dead letters {view['dead_letters']})")
            check(view["kafka"]["delivered"] == sink["delivered"]
                  and view["kafka"]["failed"] == sink["failed"]
                  and view["kafka"]["backlog"] == sink["backlog"]["records"]
                  and view["kafka"]["state"].startswith(sink["state"]),
                  f"Kafka sink row = /api/status (delivered {view['kafka']['delivered']}, "
                  f"backlog {view['kafka']['backlog']}, state {view['kafka']['state']})")
            check(view["iss"]["payloads"] == iss["payloads"]
                  and view["iss"]["records"] == iss["records"]
                  and view["iss"]["rejected"] == iss["rejected"],
                  f"ISS source row = /api/status (payloads {view['iss']['payloads']}, records "
                  f"{view['iss']['records']}, rejected {view['iss']['rejected']})")
            check(view["spool_segments"] == doc["spool"]["segments"],
                  "spool segments on the page = /api/status")
            # /metrics was read after the page's document: counters can only have grown, by at
            # most a few seconds of traffic (10 payloads/s).
            def close(metric_value, page_value, slack=60):
                return metric_value is not None and page_value <= metric_value <= page_value + slack
            mk = lambda name, labels: m.get((name, labels))  # noqa: E731
            SINK_LABEL = 'stage="sink:kafka"'
            TRANSFORM_LABEL = 'stage="transform"'
            check(close(mk("records_out_total", 'stage="sink:kafka"'), view["kafka"]["delivered"])
                  and close(mk("records_out_total", 'stage="transform"'), view["records"])
                  and close(mk("rejected_total", 'stage="transform"'), view["rejected"], 20)
                  and close(mk("payloads_total", ""), doc["totals"]["payloads"]),
                  "the page's counters agree with /metrics read just after "
                  f"(sink:kafka {mk('records_out_total', SINK_LABEL)} vs "
                  f"{view['kafka']['delivered']}, transform records "
                  f"{mk('records_out_total', TRANSFORM_LABEL)} vs {view['records']}, "
                  f"rejected {mk('rejected_total', TRANSFORM_LABEL)} vs "
                  f"{view['rejected']}, payloads {mk('payloads_total', '')} vs "
                  f"{doc['totals']['payloads']})")
            check(doc["state"] == "running" and view["state"] == "running",
                  "state running on the page and in /api/status")

            # ---- 3. dead letters render as text
            dl = wait_until(lambda: (lambda v: v if len(v["dead"]) >= 3 else None)(read()), 20)
            if check(dl is not None, "the first three dead letters are listed"):
                previews = [d["preview"] for d in dl["dead"]]
                check(XSS_SCRIPT in previews and XSS_IMG in previews,
                      "<script> and \"><img onerror> payloads show literally, as text")
                check(any("\ufffd" in p and "not utf-8" in p for p in previews),
                      "invalid UTF-8 shows with U+FFFD replacement characters")
                check(all(d["children"] == 1 for d in dl["dead"]),
                      "no element made from a payload (each preview cell holds only its <pre>)")
                check(all(d["source"] == "iss" and d["reason"] for d in dl["dead"]),
                      "each dead letter shows its source and reason")
            late = wait_until(lambda: (lambda v: v if any(
                (XSS_IMG + XSS_SCRIPT) == d["preview"] for d in v["dead"]) else None)(read()), 60)
            check(late is not None, "a dead letter arriving while the page is open shows as text")
            v = read()
            check(v["images"] == 0 and v["xss"] is None and not dialogs
                  and v["scripts"] == [base + "/app.js"],
                  f"no script from a payload ran (images {v['images']}, window.__xss "
                  f"{v['xss']}, dialogs {dialogs}, scripts {v['scripts']})")

            # ---- 2. Kafka down: failing, backlog growing; Kafka up: recovers
            before = read()["kafka"]["backlog"]
            kafka_stopped = stack("stop", "kafka")
            check(kafka_stopped, "scripts/stack.sh stop kafka")
            t0 = time.time()
            failing = wait_until(lambda: (lambda v: v if v["kafka"]["state"].startswith("failing")
                                          else None)(read()), 30)
            check(failing is not None,
                  f"the page shows the Kafka sink failing {time.time() - t0:.1f} s after the "
                  "broker stopped")
            if failing:
                check(bool(failing["kafka"]["last_error"]),
                      f"with its last error: {failing['kafka']['last_error']!r}")
                check("failing" in (failing["diagram_kafka"] or ""),
                      "the diagram's Kafka node says failing")
            b1 = read()["kafka"]["backlog"]
            grown = wait_until(lambda: (lambda v: v if v["kafka"]["backlog"] >= b1 + 20
                                        else None)(read()), 15)
            check(grown is not None and grown["kafka"]["backlog"] > before,
                  f"its backlog grows on the page ({before} -> {b1} -> "
                  f"{grown['kafka']['backlog'] if grown else '?'}; oldest unconfirmed "
                  f"{grown['kafka']['oldest_age'] if grown else '?'})")
            page.screenshot(path=os.path.join(tmp, "status-page-kafka-down.png"), full_page=True)
            kafka_stopped = not stack("start", "kafka")
            check(not kafka_stopped, "scripts/stack.sh start kafka")
            t0 = time.time()
            recovered = wait_until(lambda: (lambda v: v if v["kafka"]["state"] == "ok"
                                            and v["kafka"]["backlog"] < 50 else None)(read()), 120)
            check(recovered is not None,
                  f"after Kafka starts, the page shows the sink ok and the backlog drained "
                  f"within {time.time() - t0:.1f} s"
                  + (f" (backlog {recovered['kafka']['backlog']})" if recovered else ""))

            # Let the charts show a little of the recovery, then the picture for the README.
            shot = os.environ.get("STATUS_PAGE_SCREENSHOT") or os.path.join(
                tempfile.gettempdir(), "edgepipe-status-page.png")
            want = read()["rendered_at"]
            wait_until(lambda: (read()["rendered_at"] or 0) >= want + 5000, 15)
            page.screenshot(path=shot, full_page=True)
            check(os.path.getsize(shot) > 10_000, f"screenshot saved: {shot}")

            errors = [c for c in console if c[0] in ("error", "pageerror", "test")]
            check(not errors, f"no console or page errors ({errors[:3]})")
            ctx.close()

        # ---- read-only
        status, _ = http_get(base + "/api/status", method="POST")
        check(status == 405, f"POST /api/status is refused ({status})")
    finally:
        if kafka_stopped:
            stack("start", "kafka")
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        err.close()

    # ---- 5. replay --http, and the bearer token
    port2 = free_port()
    os.environ["EDGEPIPE_STATUS_TEST_TOKEN"] = "t0ken-" + RUN_ID
    cfg2 = os.path.join(tmp, "replay.toml")
    with open(cfg2, "w") as f:
        f.write('[http]\nbearer_token = "env:EDGEPIPE_STATUS_TEST_TOKEN"\n'
                f'[dead_letter]\npath = "{tmp}/replay-dead-letter.jsonl"\n'
                f'[sinks.file]\ntype = "file"\npath = "{tmp}/replay.jsonl"\n' + source_sections())
    replay = subprocess.Popen([BINARY, "replay", "-c", cfg2, "--trace", trace, "--speed", "1x",
                               "--spool", "none", "--http", f"127.0.0.1:{port2}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base2 = f"http://127.0.0.1:{port2}"
    try:
        up = wait_until(lambda: http_get(base2 + "/health")[0] == 200, 30)
        check(up, "replay --http serves /health without the token")
        s_no, _ = http_get(base2 + "/api/status")
        s_bad, _ = http_get(base2 + "/api/status", {"Authorization": "Bearer wrong"})
        s_ok, body = http_get(base2 + "/api/status",
                              {"Authorization": "Bearer " + os.environ["EDGEPIPE_STATUS_TEST_TOKEN"]})
        check(s_no == 401 and s_bad == 401 and s_ok == 200,
              f"/api/status needs the bearer token (none {s_no}, wrong {s_bad}, right {s_ok})")
        check(s_ok == 200 and json.loads(body)["mode"] == "replay"
              and json.loads(body)["replay"]["speed"] == 1,
              "replay --http serves /api/status with mode replay and its speed")
        s_page, html = http_get(base2 + "/", {"Authorization": "Bearer " + os.environ[
            "EDGEPIPE_STATUS_TEST_TOKEN"]})
        links = re.findall(r'(?:src|href)="([^"]*)"', html)
        check(s_page == 200 and "/app.js" in links
              and all(u.startswith("/") and not u.startswith("//") for u in links),
              f"replay --http serves the page, loading only its own files ({links})")
    finally:
        replay.send_signal(signal.SIGTERM)
        try:
            replay.wait(timeout=30)
        except subprocess.TimeoutExpired:
            replay.kill()
    shutil.rmtree(tmp, ignore_errors=True) if not it.failed else print(f"      (kept {tmp})")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any crash is a failure with its reason
        import traceback
        traceback.print_exc()
        check(False, f"test crashed: {e}")
    finish()

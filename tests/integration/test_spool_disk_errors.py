#!/usr/bin/env python3
"""Disk errors under the spool, through the real daemon (issue 17, items 1 and 12).

  enospc-block  The spool on a small tmpfs (8 MiB) with max_bytes 1 GiB and on_full = "block",
                Kafka stopped (as a new user would set it up): once the disk fills, the spool
                holds the sources back, /health answers 503 naming ENOSPC, the log names the
                segment file and errno 28, edgepipe_spool_disk_error = 1, nothing is counted
                not_spooled; Kafka started: every record of the trace arrives.
  eio           Segment writes fail with EIO for a while (EDGEPIPE_FILE_FAULTS, the file layer's
                test seam; io_uring bypasses libc, so no LD_PRELOAD shim can do it): /health 503
                naming EIO, the log names the file and errno 5, the retries are counted, and
                every record arrives in Kafka.
  dead-letter   MongoDB refuses every document for good (a field named "$g") while the
                sink's dead-letter file cannot be opened (its directory is a file: ENOTDIR, which
                root cannot bypass as it can permissions): the refused records stay in the spool
                (backlog > 0), the log names the file and errno; once the directory can be made,
                every record is in the dead-letter file and the daemon finishes.
  sigterm-http  SIGTERM while an HTTP response is in flight (a slow origin): the transfer
                finishes within drain_timeout and its record is spooled and delivered.
The tmpfs needs root: without it enospc-block is skipped with a message (not failed).
Uses the helpers of test_spool_faults.py (same stack and env: KAFKA_BOOTSTRAP, EDGEPIPE_STACK_DIR
and its ports for scripts/stack.sh). Exits non-zero on failure; the last line is
"N passed, M failed".
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import edgepipe_it as it  # noqa: E402
import test_spool_faults as t  # noqa: E402  (helpers: Daemon, make_trace, verify, ...)
from edgepipe_it import check  # noqa: E402


def health(port):
    """(status code, body) of /health, or (None, '') when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def kafka_only_config(tmp, tag, trace, spool_dir, port, topic, extra=""):
    return t.write_config(os.path.join(tmp, f"{tag}.toml"), tmp=tmp, name=tag, trace=trace,
                          spool_dir=spool_dir, port=port, topic=topic, mongo=None,
                          spool_extra=extra, drain="30s")


def scenario_enospc_block(tmp):
    if os.geteuid() != 0:
        print("SKIP  enospc-block: needs root to mount a small tmpfs (ENOSPC test)", flush=True)
        return
    tag = "enospc-block"
    trace, keys = t.make_trace(tmp, tag, 9000, 201)
    topic, _ = t.names(tag)
    mnt = os.path.join(tmp, "spoolfs")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt], check=True)
    stopped = False
    d = None
    try:
        port = t.free_port()
        cfg = kafka_only_config(tmp, tag, trace, os.path.join(mnt, "spool"), port, topic,
                                'segment_bytes = 1048576\nmax_bytes = 1073741824\n'
                                'on_full = "block"\n')
        t.stack("stop", "kafka")
        stopped = True
        d = t.Daemon(tmp, tag, cfg, port)
        err = d.wait_metric("spool_disk_error", lambda v: v == 1, 90)
        check(err == 1, f"{tag}: edgepipe_spool_disk_error = 1 once the 8 MiB disk is full")
        code, body = health(port)
        check(code == 503 and "ENOSPC" in body and ".seg" in body,
              f"{tag}: /health {code} names the file and ENOSPC: {body.strip()}")
        log = d.stderr_text()
        check("No space left on device" in log and "errno 28 ENOSPC" in log and ".seg" in log,
              f"{tag}: the log names the segment file and errno 28")
        a1 = d.metric("spool_appended_records_total")
        same = t.wait_until(lambda: d.metric("spool_appended_records_total") != a1, 2, 0.2)
        check(a1 is not None and a1 < len(keys) and not same,
              f"{tag}: sources held back at {a1} of {len(keys)} records")
        ns = d.metric("spool_not_spooled_total")
        check(ns == 0, f"{tag}: nothing released unspooled (not_spooled {ns})")
        full = d.metric("spool_disk_full_errors_total")
        check(full is not None and full >= 1, f"{tag}: disk_full_errors_total {full}")
        t.stack("start", "kafka")
        stopped = False
        rc = d.wait_exit(240)
        check(rc == 0, f"{tag}: daemon finished after Kafka came back (exit {rc})")
        if rc != 0:
            print(d.stderr_text()[-3000:])
        check("writing again" in d.stderr_text(), f"{tag}: the recovery is logged")
    finally:
        if stopped:
            t.stack("start", "kafka")
        if d:
            d.close()
        subprocess.run(["umount", "-l", mnt], check=False)
    t.verify(tag, set(keys), keys, topic, None, None, None)


def scenario_eio(tmp):
    tag = "eio"
    trace, keys = t.make_trace(tmp, tag, 6000, 202)
    topic, _ = t.names(tag)
    port = t.free_port()
    cfg = kafka_only_config(tmp, tag, trace, os.path.join(tmp, f"{tag}-spool"), port, topic,
                            'segment_bytes = 1048576\n')
    # The 4th segment write and the 5 after it fail with EIO; the spool retries past them.
    os.environ["EDGEPIPE_FILE_FAULTS"] = "op=write,err=EIO,path=.seg,skip=3,count=6"
    try:
        d = t.Daemon(tmp, tag, cfg, port)
    finally:
        del os.environ["EDGEPIPE_FILE_FAULTS"]
    try:
        seen = t.wait_until(lambda: (lambda h: h if h[0] == 503 and "EIO" in h[1] else None)(
            health(port)), 60, 0.05)
        check(seen is not None, f"{tag}: /health 503 names EIO while the writes fail: "
              f"{seen[1].strip() if seen else None}")
        rc = d.wait_exit(240)
        check(rc == 0, f"{tag}: daemon finished (exit {rc})")
        log = d.stderr_text()
        check("Input/output error" in log and "errno 5 EIO" in log and ".seg" in log,
              f"{tag}: the log names the segment file and errno 5")
        check("writing again" in log, f"{tag}: the recovery is logged")
        if rc != 0:
            print(log[-3000:])
    finally:
        d.close()
    t.verify(tag, set(keys), keys, topic, None, None, None)


def scenario_dead_letter(tmp):
    tag = "dead-letter"
    import pymongo
    trace, keys = t.make_trace(tmp, tag, 300, 203)
    db = f"deadletter_{t.RUN_ID}"
    blocked = os.path.join(tmp, "dl")
    with open(blocked, "w") as f:
        f.write("a file where the dead-letter directory should be\n")
    dl_path = os.path.join(blocked, "mongo-dead-letter.jsonl")
    port = t.free_port()
    cfg = os.path.join(tmp, f"{tag}.toml")
    # A field named "$g": MongoDB refuses every document for good (code 2, not retryable).
    source = t.SOURCE_BLOCK.replace('{ name = "name", from = "/name" },',
                                    '{ name = "$g", from = "/gender" },\n  { name = "name", from = "/name" },')
    with open(cfg, "w") as f:
        f.write(f'[pipeline]\nbatch_records = 64\ndrain_timeout = "10s"\n'
                f'[replay]\ntrace = "{trace}"\nspeed = "max"\n'
                f'[http]\nlisten = "127.0.0.1:{port}"\n'
                f'[dead_letter]\npath = "{tmp}/{tag}-pipeline-dl.jsonl"\n'
                f'[spool]\ndir = "{tmp}/{tag}-spool"\nretry_backoff = "100ms"\n'
                f'retry_backoff_max = "500ms"\nledger_interval = "100ms"\n'
                f'[sinks.mongo]\ntype = "mongodb"\nuri = "{t.MONGO_URI}"\ndatabase = "{db}"\n'
                f'collection = "users"\nmode = "insert"\nmax_retries = 1\nretry_backoff_ms = 50\n'
                f'dead_letter_path = "{dl_path}"\n' + source)
    client = pymongo.MongoClient(t.MONGO_URI, serverSelectionTimeoutMS=10000)
    d = t.Daemon(tmp, tag, cfg, port)
    try:
        logged = t.wait_until(lambda: "cannot open dead-letter file" in d.stderr_text(), 60, 0.1)
        log = d.stderr_text()
        check(logged and dl_path in log and "errno 20" in log,
              f"{tag}: the log names the dead-letter file and errno 20 (ENOTDIR)")
        backlog = d.wait_metric("spool_backlog_records", lambda v: v == len(keys), 30,
                                sink="mongo")
        check(backlog == len(keys),
              f"{tag}: every refused record stays in the spool (backlog {backlog})")
        check(d.p.poll() is None, f"{tag}: the daemon waits (does not finish with them dropped)")
        os.remove(blocked)  # the operator fixes the directory
        rc = d.wait_exit(120)
        check(rc == 0, f"{tag}: daemon finished once the dead letters could be written (exit {rc})")
        if rc != 0:
            print(d.stderr_text()[-3000:])
    finally:
        d.close()
    stored = {doc["_id"] for doc in client[db]["users"].find({}, {"_id": 1})}
    dead = []
    if os.path.exists(dl_path):
        with open(dl_path) as f:
            dead = [json.loads(line)["key"] for line in f if line.strip()]
    lost = set(keys) - stored - set(dead)
    check(not stored and not lost and len(dead) >= len(keys),
          f"{tag}: {len(stored)} in MongoDB, {len(dead)} dead letters ({len(set(dead))} "
          f"distinct): {len(lost)} of {len(keys)} lost")
    client.drop_database(db)


def scenario_sigterm_http(tmp):
    tag = "sigterm-http"
    topic, _ = t.names(tag)
    origin = subprocess.Popen([sys.executable, os.path.join(HERE, "http_origin.py")],
                              stdout=subprocess.PIPE, text=True)
    d = None
    try:
        oport = int(origin.stdout.readline().strip())
        port = t.free_port()
        out = os.path.join(tmp, f"{tag}.jsonl")
        cfg = os.path.join(tmp, f"{tag}.toml")
        with open(cfg, "w") as f:
            f.write(f'[pipeline]\ndrain_timeout = "10s"\n[http]\nlisten = "127.0.0.1:{port}"\n'
                    f'[dead_letter]\npath = "{tmp}/{tag}-dl.jsonl"\n'
                    f'[spool]\ndir = "{tmp}/{tag}-spool"\n'
                    f'[sinks.file]\ntype = "file"\npath = "{out}"\n'
                    f'[sources.iss]\nurl = "http://127.0.0.1:{oport}/slow/iss?sleep=2"\n'
                    f'interval = "1h"\ntimeout = "10s"\nrecords = ""\n'
                    f'fields = [ {{ name = "ts", from = "/timestamp", type = "int" }} ]\n')
        d = t.Daemon(tmp, tag, cfg, port)

        def in_flight():
            with urllib.request.urlopen(f"http://127.0.0.1:{oport}/_log", timeout=2) as r:
                return any(e["path"].startswith("/slow") for e in json.loads(r.read()))
        check(t.wait_until(in_flight, 20, 0.05) is not None, f"{tag}: the slow poll started")
        d.p.send_signal(signal.SIGTERM)
        rc = d.wait_exit(30)
        check(rc == 0, f"{tag}: SIGTERM exits 0 (exit {rc})")
        with open(out) if os.path.exists(out) else open(os.devnull) as f:
            lines = [line for line in f if line.strip()]
        check(len(lines) == 1, f"{tag}: the response in flight at SIGTERM was spooled and "
              f"delivered ({len(lines)} record)")
        if rc != 0 or len(lines) != 1:
            print(d.stderr_text()[-3000:])
    finally:
        if d:
            d.close()
        origin.kill()
        origin.wait()


def main():
    if not it.require_binary():
        return it.finish()
    subprocess.run([t.STACK, "up"], check=True, timeout=300)
    only = set(sys.argv[1:])
    t0 = time.time()
    for name, fn in (("sigterm-http", scenario_sigterm_http), ("eio", scenario_eio),
                     ("dead-letter", scenario_dead_letter),
                     ("enospc-block", scenario_enospc_block)):
        if only and name not in only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"edgepipe-{name}-") as tmp:
            try:
                fn(tmp)
            except Exception as e:  # noqa: BLE001
                check(False, f"{name}: {type(e).__name__}: {e}")
    for line in t.results:
        print("   " + line)
    return it.finish(t0)


if __name__ == "__main__":
    sys.exit(main())

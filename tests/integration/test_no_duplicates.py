#!/usr/bin/env python3
"""No duplicates after kill -9 (issue 22, items 2 and 3) against the real local stack
(scripts/stack.sh up: FerretDB on 127.0.0.1:27017).

One `edgepipe run` pipeline replays a randomuser trace into a file sink and a MongoDB sink in
insert mode. The source has no key, so every MongoDB `_id` is the one derived from the spool's
record id (a keyed source would be covered by its key anyway):
  1. MongoDB is stopped while the replay runs, so its backlog builds in the spool;
  2. kill -9 while the file sink writes (its watermark moving, the replay still going);
  3. MongoDB started, the daemon restarted on the same spool (an empty trace: only the backlog);
  4. kill -9 while the MongoDB sink drains its backlog (its watermark moving, backlog left);
  5. restarted again (`edgepipe replay`, which prints the summary) until everything is delivered.
Then the file (every line, rotated files included) and the collection (pymongo) are read back:
every record received (the trace's records up to the last one that reached any sink or the
spool) is in each exactly once. Kills are timed by polling /metrics (deadlines, no fixed
sleeps). Exits non-zero on failure; the last line is "N passed, M failed".

Env: EDGEPIPE_BINARY, EDGEPIPE_SOURCE_DIR, EDGEPIPE_MONGO_HOSTPORT (127.0.0.1:27017).
"""
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

import edgepipe_it as it
from edgepipe_it import BINARY, MONGO_URI, Daemon, check, file_ids, free_port, run

try:
    import pymongo
except ImportError:
    print("pymongo is not installed (pip install pymongo)", file=sys.stderr)
    sys.exit(1)

STACK = it.Stack()  # the shared stack (scripts/stack.sh, EDGEPIPE_* env)
RUN_ID = uuid.uuid4().hex[:8]
DB = f"nodup_{RUN_ID}"
COLL = "users"
PAYLOADS = 12000
# randomuser synth traces: one payload (one record) every 10 s of trace time: 10000x plays
# 1000 records per second, so the replay is still going after MongoDB's stop (a few seconds).
SPEED = "10000x"
# No `key`: MongoDB `_id`s are derived from the source and the spool's record id.
SOURCE_BLOCK = """
[sources.randomuser]
records = "/results"
fields = [
  { name = "id", from = "/login/uuid", type = "string", required = true },
  { name = "name", from = "/name" },
  { name = "location", from = "/location" },
  { name = "email", from = "/email" },
]
"""

def write_config(path, *, tmp, trace, spool_dir, out, port=None):
    text = '[pipeline]\nbatch_records = 256\ndrain_timeout = "5s"\n'
    text += f'[replay]\ntrace = "{trace}"\nspeed = "{SPEED}"\nsource = "randomuser"\n'
    text += (f'[http]\nlisten = "127.0.0.1:{port}"\n' if port else '[http]\nenabled = false\n')
    text += f'[dead_letter]\npath = "{tmp}/dead-letter.jsonl"\n'
    # A ledger written only every second: a kill resends up to a second of confirmed records,
    # which is what the sinks must not store twice.
    text += (f'[spool]\ndir = "{spool_dir}"\nfsync = "interval"\nretry_backoff = "100ms"\n'
             f'retry_backoff_max = "1s"\nledger_interval = "1s"\n')
    # rotate_bytes: the file rotates a few times during the run (~300 bytes a line).
    text += f'[sinks.file]\ntype = "file"\npath = "{out}"\nrotate_bytes = 1048576\n'
    text += (f'[sinks.mongo]\ntype = "mongodb"\n'
             f'uri = "{MONGO_URI}/?serverSelectionTimeoutMS=2000&connectTimeoutMS=2000'
             f'&socketTimeoutMS=10000"\n'
             f'database = "{DB}"\ncollection = "{COLL}"\nmode = "insert"\n'
             f'write_timeout_ms = 5000\nmax_retries = 2\nretry_backoff_ms = 100\n'
             f'bulk_documents = 200\n'
             f'dead_letter_path = "{tmp}/mongo-dead-letter.jsonl"\n')
    text += SOURCE_BLOCK
    with open(path, "w") as f:
        f.write(text)
    return path


def scenario(tmp, client):
    trace = os.path.join(tmp, "users.trace")
    run([BINARY, "synth", "--api", "randomuser", "--payloads", str(PAYLOADS), "--out", trace,
         "--seed", "2201"])
    # The trace's records in order, with no spool and no daemon: what "received" is a prefix of.
    trace_ids = it.trace_records(tmp, trace, "randomuser", SOURCE_BLOCK)
    check(len(trace_ids) == PAYLOADS and len(set(trace_ids)) == PAYLOADS,
          f"trace: {len(trace_ids)} records, {len(set(trace_ids))} distinct ids")

    spool_dir = os.path.join(tmp, "spool")
    out = os.path.join(tmp, "out", "users.jsonl")
    empty = os.path.join(tmp, "empty.jsonl")
    open(empty, "w").close()
    coll = client[DB][COLL]
    mongo_stopped = False
    daemons = []
    try:
        # 1-2: MongoDB stopped under load, then kill -9 while the file sink writes.
        port = free_port()
        cfg = write_config(os.path.join(tmp, "first.toml"), tmp=tmp, trace=trace,
                           spool_dir=spool_dir, out=out, port=port)
        d = Daemon(tmp, "first", ["run", "-c", cfg], port)
        daemons.append(d)
        w = d.wait_metric("spool_watermark", lambda v: v >= 300, 30, sink="mongo")
        check(w is not None, f"first: MongoDB delivering before the outage (watermark {w})")
        STACK.stop("mongo")
        mongo_stopped = True
        # The replay goes on: the file sink keeps writing while MongoDB's backlog grows.
        fw0 = d.metric("spool_watermark", sink="file") or 0
        fw = d.wait_metric("spool_watermark", lambda v: v >= fw0 + 2000, 30, sink="file")
        appended = d.metric("spool_appended_records_total")
        check(fw is not None and d.p.poll() is None and appended is not None and
              appended < PAYLOADS,
              f"first: file sink writing (watermark {fw}), replay still going ({appended} of "
              f"{PAYLOADS} appended)")
        d.kill9()
        ids, torn, _ = file_ids(out)
        print(f"      kill -9 #1 while the file sink writes: file holds {len(ids)} lines "
              f"(+{torn} torn)", flush=True)
        # What the spool holds now was received, as is what reached a sink: the restarts must
        # deliver every one of them once.
        received = set(it.spool_ids(tmp, spool_dir, "after-kill1")) | set(ids)
        STACK.start("mongo")
        mongo_stopped = False

        # 3-4: restart on the same spool with an empty trace; kill -9 while MongoDB drains.
        port = free_port()
        cfg = write_config(os.path.join(tmp, "second.toml"), tmp=tmp, trace=empty,
                           spool_dir=spool_dir, out=out, port=port)
        d = Daemon(tmp, "second", ["run", "-c", cfg], port)
        daemons.append(d)
        backlog = d.wait_metric("spool_backlog_records", lambda v: v > 0, 30, sink="mongo")
        w0 = d.metric("spool_watermark", sink="mongo")
        check(backlog is not None and backlog >= 1000 and w0 is not None,
              f"second: MongoDB backlog of {backlog} records to drain from {w0}")
        w = d.wait_metric("spool_watermark", lambda v: v >= (w0 or 0) + 1000, 60, sink="mongo")
        left = d.metric("spool_backlog_records", sink="mongo")
        check(w is not None and left is not None and left > 0 and d.p.poll() is None,
              f"second: kill -9 while MongoDB drains (watermark {w}, {left} left)")
        d.kill9()
        print(f"      kill -9 #2 while MongoDB drains: {coll.count_documents({})} documents",
              flush=True)

        # 5: restart until everything is delivered; `replay` prints the summary.
        p = subprocess.run([BINARY, "replay", "-c", cfg, "--trace", empty, "--source",
                            "randomuser"], capture_output=True, text=True, timeout=180)
        check(p.returncode == 0, f"third: the restart delivers the backlog and exits 0 "
              f"(exit {p.returncode})")
        if p.returncode != 0:
            print(p.stderr[-3000:])
        third_err = p.stderr
    finally:
        if mongo_stopped:
            STACK.start("mongo")
        for d in daemons:
            d.close()

    # Read back.
    order = {k: i for i, k in enumerate(trace_ids)}
    fids, torn, nfiles = file_ids(out)
    mids = [doc["id"] for doc in coll.find({}, {"id": 1})]
    received |= set(fids) | set(mids)
    check(all(k in order for k in received), f"{len(received)} received ids, all from the trace")
    last = max(order[k] for k in received)
    want = set(trace_ids[:last + 1])
    check(received == want, f"received records are the trace's first {last + 1} "
          f"({len(want - received)} missing in between)")
    fdup = sum(n - 1 for n in collections.Counter(fids).values() if n > 1)
    mdup = sum(n - 1 for n in collections.Counter(mids).values() if n > 1)
    check(torn == 0, f"file: no torn line in its {nfiles} file(s) ({torn})")
    check(set(fids) == want, f"file: all {len(want)} received records "
          f"({len(want - set(fids))} lost)")
    check(fdup == 0, f"file: no duplicates ({len(fids)} lines, {fdup} duplicates)")
    check(set(mids) == want, f"MongoDB: all {len(want)} received records "
          f"({len(want - set(mids))} lost)")
    check(mdup == 0, f"MongoDB: no duplicates ({len(mids)} documents, {mdup} duplicates)")
    check([order[k] for k in fids] == sorted(order[k] for k in fids),
          "file: lines in the order received")
    # The mechanism was exercised: resent records were skipped, not stored (counts at exit).
    skipped = {m.group(1): int(m.group(2)) for m in re.finditer(
        r'\{"stage":"sink:(\w+)".*?"duplicates":(\d+)', third_err)}
    cut = re.findall(r"cut (\d+) bytes past what the ledger confirmed", "".join(
        open(os.path.join(tmp, n + ".stderr")).read() for n in ("second",)) + third_err)
    print(f"      records {len(want)}; file lines {len(fids)} in {nfiles} file(s), MongoDB "
          f"documents {len(mids)}; resent and skipped in the last restart: {skipped}; file "
          f"cuts at restart: {cut} bytes", flush=True)


def main():
    if not it.require_binary():
        return it.finish()
    # test_spool_faults stops and starts the same servers: one of these tests at a time.
    if not it.take_outage_lock():
        check(False, "another outage test holds the lock for more than 600 s")
        return it.finish()
    STACK.up()
    client = pymongo.MongoClient(MONGO_URI, serverSelectionTimeoutMS=10000)
    t0 = time.time()
    try:
        with tempfile.TemporaryDirectory(prefix="edgepipe-no-duplicates-") as tmp:
            try:
                scenario(tmp, client)
            except Exception as ex:  # noqa: BLE001 - report as a failure
                check(False, f"{type(ex).__name__}: {ex}")
    finally:
        try:
            client.drop_database(DB)
        except Exception:  # noqa: BLE001
            pass
        STACK.up()  # leave the stack up whatever happened
    return it.finish(t0)


if __name__ == "__main__":
    sys.exit(main())

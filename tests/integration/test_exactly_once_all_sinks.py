#!/usr/bin/env python3
"""Exactly once in every sink at once (issue 22): one pipeline with a Kafka sink
(`exactly_once = true`), a MongoDB sink in insert mode and a file sink, through a Kafka outage
longer than the message timeout, a MongoDB outage and two kill -9, against real servers.

The stack is a PRIVATE one (scripts/stack.sh with its own data dir and ports, by default
29092/29093, FerretDB 27028, PostgreSQL 5443), because this test stops Kafka and MongoDB: never
the shared stack. Trace A and trace B are randomuser traces with distinct ids (no key: MongoDB
`_id`s are derived from the spool's record ids).
  1. `edgepipe run` replays trace A into the three sinks; once all three deliver, MongoDB and
     Kafka are stopped; the file sink goes on. Once Kafka's transactions failed (the outage
     outlasts message_timeout_ms), Kafka is started again, MongoDB stays down;
  2. kill -9 #1 while Kafka drains the backlog of its outage (its watermark has moved a random
     part of that backlog, the rest is still to go; the replay and the file sink still going);
  3. MongoDB started; a restart on the same spool replays trace B: Kafka resumes from the
     watermark its state topic holds, MongoDB drains its backlog, B flows to all three;
  4. kill -9 #2 with a Kafka transaction open (edgepipe_sink_transactions_open = 1) after a
     random number of B's records, while MongoDB still has a backlog;
  5. a last restart (`edgepipe replay`, empty trace) delivers what is left and exits.
Then Kafka is read with an independent read_committed consumer (kcat), MongoDB with pymongo and
the file (rotations included): every record received (per trace, its records up to the last
one that reached a sink or the spool) is in each sink exactly once, none torn, none foreign.
Kills are timed by polling /metrics (deadlines, no fixed sleeps). The last lines are a tally,
"tally: kafka lost=.. dup=.. mongo lost=.. dup=.. file lost=.. dup=.. torn=.. records=..",
and "N passed, M failed"; exits non-zero on failure. ~50-85 s on a loaded 2-core box.

Env: EDGEPIPE_BINARY, EDGEPIPE_SOURCE_DIR; ALLSINKS_STACK_DIR (/tmp/edgepipe-allsinks-stack),
ALLSINKS_KAFKA_PORT (29092), ALLSINKS_KAFKA_CONTROLLER_PORT (29093), ALLSINKS_MONGO_PORT
(27028), ALLSINKS_PG_PORT (5443); ALLSINKS_KEEP_STACK=1 leaves the stack running;
ALLSINKS_SEED (1) picks both kill points (scripts/stress_exactly_once.sh --all-sinks runs random
seeds).
"""
import collections
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid

import edgepipe_it as it

try:
    import pymongo
except ImportError:
    print("pymongo is not installed (pip install pymongo)", file=sys.stderr)
    sys.exit(1)

STACK = it.Stack.private(
    os.environ.get("ALLSINKS_STACK_DIR", "/tmp/edgepipe-allsinks-stack"),
    os.environ.get("ALLSINKS_KAFKA_PORT", "29092"),
    os.environ.get("ALLSINKS_KAFKA_CONTROLLER_PORT", "29093"),
    os.environ.get("ALLSINKS_MONGO_PORT", "27028"),
    os.environ.get("ALLSINKS_PG_PORT", "5443"))
SEED = int(os.environ.get("ALLSINKS_SEED", "1"))
RUN_ID = uuid.uuid4().hex[:8]
TOPIC = f"allsinks-{RUN_ID}"
STATE_TOPIC = f"allsinks-state-{RUN_ID}"
DB = f"allsinks_{RUN_ID}"
COLL = "users"
# randomuser synth traces: one payload (one record) every 10 s of trace time, so 5000x plays
# 500 records/s: trace A lasts ~60 s, longer than phase 1 (outage, restart, drain) needs, and
# B ~20 s, longer than phase 3 needs.
PAYLOADS_A = 30000
PAYLOADS_B = 10000
SPEED = "5000x"
MESSAGE_TIMEOUT_MS = 3000
SOURCE_BLOCK = """
[sources.randomuser]
records = "/results"
fields = [
  { name = "id", from = "/login/uuid", type = "string", required = true },
  { name = "name", from = "/name" },
  { name = "email", from = "/email" },
]
"""


def write_config(path, *, tmp, trace, spool_dir, out, port=None):
    text = '[pipeline]\nbatch_records = 256\ndrain_timeout = "5s"\nnode_id = "allsinks"\n'
    text += f'[replay]\ntrace = "{trace}"\nspeed = "{SPEED}"\nsource = "randomuser"\n'
    text += (f'[http]\nlisten = "127.0.0.1:{port}"\n' if port else '[http]\nenabled = false\n')
    text += f'[dead_letter]\npath = "{tmp}/dead-letter.jsonl"\n'
    # A ledger written only every second: a kill resends up to a second of confirmed records,
    # which no sink may store twice.
    text += (f'[spool]\ndir = "{spool_dir}"\nfsync = "interval"\nretry_backoff = "100ms"\n'
             f'retry_backoff_max = "1s"\nledger_interval = "1s"\n')
    # Small transactions: the backlog drains in many of them, so the kill lands inside a drain.
    text += (f'[sinks.kafka]\ntype = "kafka"\nbrokers = "{STACK.brokers}"\ntopic = "{TOPIC}"\n'
             f'partitions = 3\nexactly_once = true\nstate_topic = "{STATE_TOPIC}"\n'
             f'transaction_records = 500\ntransaction_interval = "100ms"\n'
             f'message_timeout_ms = {MESSAGE_TIMEOUT_MS}\n'
             f'properties = {{ "socket.timeout.ms" = "3000" }}\n')
    text += (f'[sinks.mongo]\ntype = "mongodb"\n'
             f'uri = "{STACK.mongo_uri}/?serverSelectionTimeoutMS=2000&connectTimeoutMS=2000'
             f'&socketTimeoutMS=10000"\n'
             f'database = "{DB}"\ncollection = "{COLL}"\nmode = "insert"\n'
             f'write_timeout_ms = 5000\nmax_retries = 2\nretry_backoff_ms = 100\n'
             f'bulk_documents = 500\n'
             f'dead_letter_path = "{tmp}/mongo-dead-letter.jsonl"\n')
    # rotate_bytes: the file rotates a few times during the run (~150 bytes a line).
    text += f'[sinks.file]\ntype = "file"\npath = "{out}"\nrotate_bytes = 2097152\n'
    text += SOURCE_BLOCK
    with open(path, "w") as f:
        f.write(text)
    return path


def scenario(tmp, client, rng):
    trace_a = it.synth_trace(tmp, "randomuser", PAYLOADS_A, 2204, "a.trace")
    trace_b = it.synth_trace(tmp, "randomuser", PAYLOADS_B, 2205, "b.trace")
    ids_a = it.trace_records(tmp, trace_a, "randomuser", SOURCE_BLOCK, "expected-a")
    ids_b = it.trace_records(tmp, trace_b, "randomuser", SOURCE_BLOCK, "expected-b")
    it.check(len(set(ids_a)) == PAYLOADS_A == len(ids_a) and
             len(set(ids_b)) == PAYLOADS_B == len(ids_b) and not set(ids_a) & set(ids_b),
             f"traces: A {len(ids_a)} and B {len(ids_b)} records, all ids distinct")

    spool_dir = os.path.join(tmp, "spool")
    out = os.path.join(tmp, "out", "users.jsonl")
    empty = os.path.join(tmp, "empty.jsonl")
    open(empty, "w").close()
    coll = client[DB][COLL]
    received = set()
    down = set()
    daemons = []
    mongo_job = None
    last_err = ""
    try:
        # 1. Trace A into the three sinks; MongoDB and Kafka stopped under load.
        port = it.free_port()
        cfg = write_config(os.path.join(tmp, "first.toml"), tmp=tmp, trace=trace_a,
                           spool_dir=spool_dir, out=out, port=port)
        d = it.Daemon(tmp, "first", ["run", "-c", cfg], port)
        daemons.append(d)
        m = d.wait_scrape(lambda m: all((m.get("spool_watermark", sink=s) or 0) >= 300
                                        for s in ("kafka", "mongo", "file")), 60)
        it.check(m is not None, "first: all three sinks delivering before the outage")
        down.update(("mongo", "kafka"))
        STACK.stop("mongo", "kafka")
        stopped_at = time.time()
        # The outage lasts past message_timeout_ms: Kafka's transactions abort (failed > 0).
        m = d.wait_scrape(lambda m: (m.get("failed_total", stage="sink:kafka") or 0) > 0 and
                          (m.get("failed_total", stage="sink:mongo") or 0) > 0 and
                          time.time() - stopped_at > MESSAGE_TIMEOUT_MS / 1000 + 0.5, 60)
        it.check(m is not None and d.alive(),
                 "first: Kafka and MongoDB down longer than message_timeout_ms "
                 f"(failed: kafka {m and m.get('failed_total', stage='sink:kafka')}, mongo "
                 f"{m and m.get('failed_total', stage='sink:mongo')}; aborted transactions "
                 f"{m and m.get('sink_transactions_aborted_total', stage='sink:kafka')})")
        STACK.start("kafka")
        down.discard("kafka")
        m = d.scrape()
        w0 = (m and m.get("spool_watermark", sink="kafka")) or 0
        end0 = w0 + ((m and m.get("spool_backlog_records", sink="kafka")) or 0)
        outage_s = time.time() - stopped_at
        it.log(f"Kafka back after a {outage_s:.1f} s outage: backlog {w0:.0f}..{end0:.0f}")
        # 2. kill -9 #1 while Kafka drains the outage's backlog [w0, end0): after a random part
        # (10-70%) of it, before the end.
        after = int((end0 - w0) * rng.uniform(0.10, 0.70))
        m = d.wait_scrape(lambda m: (m.get("spool_watermark", sink="kafka") or 0) >= w0 + after,
                          90)
        wk = m and m.get("spool_watermark", sink="kafka")
        fw = m and m.get("spool_watermark", sink="file")
        appended = m and m.get("spool_appended_records_total")
        d.kill9()
        it.check(m is not None and end0 - w0 >= 1000 and wk < end0,
                 f"kill -9 #1 while Kafka drains the backlog of its {outage_s:.1f} s outage: "
                 f"watermark {w0:.0f} -> {wk} (+{after} planned) of {end0:.0f}; the file sink at "
                 f"{fw}, {appended} of {PAYLOADS_A} appended")
        # MongoDB comes back while the spool is read and the daemon restarts (its sink waits
        # for it, asking every 2 s).
        mongo_job = STACK.background("start", "mongo")
        received |= set(it.spool_ids(tmp, spool_dir, "after-kill1"))
        fids, torn, _ = it.file_ids(out)
        received |= set(fids)
        end1 = it.spool_inspect(spool_dir)["committed_end"]
        it.log(f"after kill #1: the spool ends at {end1}, the file holds {len(fids)} lines "
               f"(+{torn} torn)")

        # 3. A restart replays trace B (ids from end1 on) while MongoDB drains its backlog.
        port = it.free_port()
        cfg = write_config(os.path.join(tmp, "second.toml"), tmp=tmp, trace=trace_b,
                           spool_dir=spool_dir, out=out, port=port)
        d = it.Daemon(tmp, "second", ["run", "-c", cfg], port)
        daemons.append(d)
        mongo_job.wait()
        down.discard("mongo")
        # 4. kill -9 #2 with a transaction open, once Kafka delivered a random number
        # (200-2000) of trace B's records, MongoDB still behind.
        after2 = rng.randint(200, 2000)
        m = d.wait_scrape(
            lambda m: (m.get("spool_watermark", sink="kafka") or 0) >= end1 + after2 and
            m.get("sink_transactions_open", stage="sink:kafka") == 1, 90)
        wk = m and m.get("spool_watermark", sink="kafka")
        mw = m and m.get("spool_watermark", sink="mongo")
        mleft = m and m.get("spool_backlog_records", sink="mongo")
        d.kill9()
        it.check(m is not None and mleft is not None and mleft > 0,
                 f"kill -9 #2 with a Kafka transaction open: watermark {wk} (B starts at "
                 f"{end1}, +{after2} planned); MongoDB at {mw}, {mleft} behind")
        received |= set(it.spool_ids(tmp, spool_dir, "after-kill2"))
        it.log(f"after kill #2: {coll.count_documents({})} documents")

        # 5. The last restart delivers what is left and exits.
        p = subprocess.run([it.BINARY, "replay", "-c", cfg, "--trace", empty, "--source",
                            "randomuser"], capture_output=True, text=True, timeout=240)
        last_err = p.stderr
        it.check(p.returncode == 0, f"third: the restart delivers the rest and exits 0 "
                 f"(exit {p.returncode})")
        if p.returncode != 0:
            print(p.stderr[-3000:])
        it.log("third: done")
    finally:
        if mongo_job is not None and not mongo_job.done:
            try:
                mongo_job.wait()
            except RuntimeError as ex:
                print(ex)
        if down:
            STACK.start(*sorted(down))  # leave the stack whole whatever happened
        for x in daemons:
            x.close()

    # Read back, each sink with a client of its own.
    it.log("reading back")
    committed, complete = it.read_topic(STACK.brokers, TOPIC, "read_committed")
    it.check(complete, "Kafka: the read_committed consumer reached the end of every partition")
    uncommitted, _ = it.read_topic(STACK.brokers, TOPIC, "read_uncommitted")
    kids = it.json_ids(committed)
    mids = [doc["id"] for doc in coll.find({}, {"id": 1})]
    fids, torn, nfiles = it.file_ids(out)
    received |= set(kids) | set(mids) | set(fids)

    want = set()
    for name, ids in (("A", ids_a), ("B", ids_b)):
        order = {k: i for i, k in enumerate(ids)}
        got = [order[k] for k in received if k in order]
        last = max(got) if got else -1
        want |= set(ids[:last + 1])
        it.check(len(got) == last + 1, f"trace {name}: received its first {last + 1} records "
                 f"({last + 1 - len(got)} missing in between)")
    it.check(received <= set(ids_a) | set(ids_b),
             f"{len(received)} received ids, all from the traces")

    tally = {}
    for sink, ids in (("kafka", kids), ("mongo", mids), ("file", fids)):
        lost = len(want - set(ids))
        dup = sum(n - 1 for n in collections.Counter(ids).values() if n > 1)
        foreign = len(set(ids) - want)
        tally[sink] = (lost, dup)
        it.check(lost == 0 and foreign == 0, f"{sink}: all {len(want)} received records "
                 f"({lost} lost, {foreign} foreign)")
        it.check(dup == 0, f"{sink}: no duplicates ({len(ids)} records, {dup} duplicates)")
    it.check(torn == 0, f"file: no torn line in its {nfiles} file(s) ({torn})")
    skipped = {m.group(1): int(m.group(2)) for m in re.finditer(
        r'\{"stage":"sink:(\w+)".*?"duplicates":(\d+)', last_err)}
    print(f"      read_uncommitted sees {len(uncommitted)} messages, read_committed "
          f"{len(committed)}: aborted attempts were hidden; resent and skipped in the last "
          f"restart: {skipped}", flush=True)
    print(f"tally: kafka lost={tally['kafka'][0]} dup={tally['kafka'][1]} mongo "
          f"lost={tally['mongo'][0]} dup={tally['mongo'][1]} file lost={tally['file'][0]} "
          f"dup={tally['file'][1]} torn={torn} records={len(want)}", flush=True)


def main():
    if it.KCAT is None:
        it.check(False, "kcat is not installed (apt-get install kcat)")
        return it.finish()
    if not it.require_binary():
        return it.finish()
    t0 = time.time()
    STACK.up()
    client = pymongo.MongoClient(STACK.mongo_uri, serverSelectionTimeoutMS=10000)
    try:
        with tempfile.TemporaryDirectory(prefix="edgepipe-allsinks-") as tmp:
            try:
                scenario(tmp, client, random.Random(SEED))
            except Exception as ex:  # noqa: BLE001 - report as a failure
                it.check(False, f"{type(ex).__name__}: {ex}")
    finally:
        try:
            client.drop_database(DB)
        except Exception:  # noqa: BLE001
            pass
        client.close()
        if os.environ.get("ALLSINKS_KEEP_STACK") != "1":
            STACK.down()
    return it.finish(t0)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Spark Structured Streaming job (a) of examples/spark against the real local Kafka.

1. scripts/spark-env.sh makes (or reuses) the cached PySpark 3.5 + delta-spark virtualenv and
   jar cache; when that cannot be done the test prints SKIP with the reason (exit 0, never a
   silent pass: the closing line says "1 skipped").
2. For each seed API a synthetic trace (`edgepipe synth`) is replayed once to a file sink: the
   expected records. Then into Kafka (fresh topics <prefix><api>): coingecko and randomuser in
   full; iss paced (--speed) and killed with SIGKILL once part of it is in the topic.
3. Job (a) (`seed_topics_to_lake.py --once`) is started and killed with SIGKILL once it has
   committed to a Delta table (mid-way); edgepipe replays iss again in full (so the topic holds
   duplicates of the first part); job (a) runs again to the end (availableNow).
4. The Delta tables and the Parquet folders are read back: per source, exactly the expected
   records' dedupe keys, each once, and every value equal to what edgepipe wrote.
Prints the wall time and the peak RSS of the child processes. Last line: "N passed, M failed".

CDC half (job b), when a PostgreSQL with logical replication is there (scripts/stack.sh's; else
SKIP, counted in the closing line): a table is created and filled (the snapshot), `edgepipe run`
with config/cdc.toml (this test's slot, table, topic prefix, spool and port) captures it into
Kafka, then an insert/update/delete workload runs, with edgepipe killed (SIGKILL) in the middle
and started again (what the spool had not confirmed to Kafka is sent again); job (b) runs to the
end and the Delta table must equal SELECT * FROM the table, no duplicates.

Env: EDGEPIPE_BINARY (default build/edgepipe), KAFKA_BOOTSTRAP (default 127.0.0.1:9092),
EDGEPIPE_PG_CONNINFO (default: scripts/stack.sh's on EDGEPIPE_PG_PORT or 5432, when it answers);
KAFKA_BOOTSTRAP also follows EDGEPIPE_KAFKA_PORT (tests/integration/edgepipe_it.py).
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime

import edgepipe_it as it
from edgepipe_it import BINARY, SOURCE_DIR, check, free_port

BOOTSTRAP = it.KAFKA_BOOTSTRAP
SPARK_DIR = os.path.join(SOURCE_DIR, "examples", "spark")
CASES = [("coingecko", 2, 21), ("iss", 120, 22), ("randomuser", 10, 23)]

T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def run(args, timeout=600, env=None):
    return it.run(args, timeout=timeout, env=env).stdout


def wait_for(cond, timeout, what):
    """edgepipe_it.wait_until, raising (with what was awaited) when the deadline passes."""
    if it.wait_until(cond, timeout, interval=0.2) is None:
        raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
    return True


def spark_env():
    p = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "spark-env.sh"), "spark"],
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-5:]
    return p.stdout.strip().splitlines()[-1], None


def topic_count(py, topic):
    code = ("import sys\nfrom kafka import KafkaConsumer, TopicPartition\n"
            f"c = KafkaConsumer(bootstrap_servers='{BOOTSTRAP}')\n"
            f"ps = c.partitions_for_topic('{topic}') or set()\n"
            f"tps = [TopicPartition('{topic}', p) for p in ps]\n"
            "print(sum(c.end_offsets(tps).values()) if tps else 0)\n")
    try:
        return int(run([py, "-c", code], timeout=60).strip())
    except Exception:  # noqa: BLE001 - not there yet
        return 0


def dedupe_key(api, value, key):
    # The rule of examples/spark/seed_topics_to_lake.py, written out independently.
    if api == "coingecko":
        return f"{key}|{value['last_updated']}"
    if api == "randomuser":
        return key
    return str(value["timestamp"])  # iss: no key, event time /timestamp


def iso_ms(text):
    text = text.replace("Z", "+00:00")
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def same_value(api, exp, row):
    for name, v in exp.items():
        got = row.get(name)
        if api == "coingecko" and name == "last_updated":  # a TIMESTAMP column in the lake
            if iso_ms(v) != iso_ms(got):
                return f"{name}: {v} != {got}"
        elif v != got:
            return f"{name}: {v!r} != {got!r}"
    return None


# ----------------------------------------------------------------------------- CDC half (job b)
CDC_TABLE = f"edgepipe_lake_accounts_{uuid.uuid4().hex[:8]}"  # others may run this at once


def psql(conninfo, sql):
    return run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql])


def cdc_config(tmp, conninfo, slot, prefix, port):
    """config/cdc.toml with this test's connection, slot, table, topic prefix, spool and port."""
    import re
    with open(os.path.join(SOURCE_DIR, "config", "cdc.toml")) as f:
        text = f.read()
    words = dict(w.split("=", 1) for w in conninfo.split() if "=" in w)
    password = words.pop("password", "edgepipe")
    plain = " ".join(f"{k}={v}" for k, v in words.items())
    text = re.sub(r'(?m)^conninfo = .*$', f'conninfo = "{plain}"', text)
    # password = "env:EDGEPIPE_PG_PASSWORD..." as in config/cdc.toml: set for the process (start)
    text = re.sub(r'(?m)^slot = .*$', f'slot = "{slot}"\ntables = ["public.{CDC_TABLE}"]', text)
    text = re.sub(r'(?m)^topic_prefix = "edgepipe"$', f'topic_prefix = "{prefix}"', text)
    text = re.sub(r'(?m)^status_interval = .*$', 'status_interval = "500ms"', text)
    text = re.sub(r'(?m)^brokers = .*$', f'brokers = "{BOOTSTRAP}"', text)
    text = re.sub(r'(?m)^dir = .*$', f'dir = "{tmp}/cdc-spool"', text)
    text = re.sub(r'(?m)^path = .*$', f'path = "{tmp}/cdc-dead.jsonl"', text)
    text = re.sub(r'(?m)^listen = .*$', f'listen = "127.0.0.1:{port}"', text)
    path = os.path.join(tmp, "cdc.toml")
    with open(path, "w") as f:
        f.write(text)
    return path, password


def distinct_events(topic):
    """The distinct change events in a topic (kcat): (key, op, lsn) per event and (key,
    "tombstone") per tombstone; a resend after a crash adds messages, not events."""
    out = subprocess.run(["kcat", "-b", BOOTSTRAP, "-C", "-t", topic, "-e", "-q", "-u",
                          "-f", "%k\t%s\n"], capture_output=True, text=True, timeout=120).stdout
    seen, messages = set(), 0
    for line in out.splitlines():
        key, _, value = line.partition("\t")
        messages += 1
        if not value:
            seen.add((key, "tombstone"))
        else:
            v = json.loads(value)
            seen.add((key, v["op"], v["source"]["lsn"]))
    return seen, messages


def cdc_half(py, tmp):
    conninfo = os.environ.get("EDGEPIPE_PG_CONNINFO", "")
    if not conninfo:  # scripts/stack.sh's PostgreSQL (role/db edgepipe), when it is up
        guess = (f"host=127.0.0.1 port={os.environ.get('EDGEPIPE_PG_PORT', '5432')} "
                 f"dbname=edgepipe user=edgepipe "
                 f"password={os.environ.get('EDGEPIPE_PG_PASSWORD', 'edgepipe')}")
        try:
            psql(guess, "SELECT 1")
            conninfo = guess
        except Exception:  # noqa: BLE001 - not there: the CDC half is skipped below
            pass
    if not conninfo:
        print("SKIP: CDC half (job b): needs EDGEPIPE_PG_CONNINFO (a PostgreSQL with wal_level="
              "logical and publication edgepipe_cdc) or scripts/stack.sh's", flush=True)
        return 1
    log("CDC half: edgepipe run (postgres_cdc -> spool -> Kafka) against "
        + " ".join(w for w in conninfo.split() if not w.startswith("password=")))
    tag = uuid.uuid4().hex[:8]
    slot, prefix, port = f"edgepipe_lake_{tag}", f"lake{tag}", free_port()
    topic = f"{prefix}.public.{CDC_TABLE}"
    psql(conninfo, f"DROP TABLE IF EXISTS {CDC_TABLE}; CREATE TABLE {CDC_TABLE} "
         "(id bigint PRIMARY KEY, owner text, balance double precision);"
         f"INSERT INTO {CDC_TABLE} SELECT g, 'owner-' || g, g * 1.5 FROM generate_series(1, 40) g;")
    cfg, password = cdc_config(tmp, conninfo, slot, prefix, port)
    logf = open(os.path.join(tmp, "cdc.log"), "ab")

    def start():
        return subprocess.Popen([BINARY, "run", "-c", cfg], stdout=logf, stderr=logf,
                                env=dict(os.environ, EDGEPIPE_PG_PASSWORD=password))

    def ready():
        import urllib.request
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    d = start()
    try:
        wait_for(ready, 120, "edgepipe run ready (snapshot done, slot streaming)")
        # the workload: inserts, updates (twice on some keys), deletes, a re-insert, in several
        # transactions; edgepipe is killed (SIGKILL) in the middle and started again
        psql(conninfo, f"INSERT INTO {CDC_TABLE} SELECT g, 'new-' || g, g FROM generate_series(41, 60) g;")
        psql(conninfo, f"UPDATE {CDC_TABLE} SET balance = balance + 100 WHERE id % 3 = 0;")
        d.kill()
        d.wait()
        log("edgepipe killed (SIGKILL) mid-workload")
        psql(conninfo, f"UPDATE {CDC_TABLE} SET owner = owner || '!' WHERE id % 6 = 0;")
        psql(conninfo, f"DELETE FROM {CDC_TABLE} WHERE id % 7 = 0;")
        psql(conninfo, f"INSERT INTO {CDC_TABLE} VALUES (14, 'back', 14.25);")
        psql(conninfo, f"UPDATE {CDC_TABLE} SET balance = NULL WHERE id = 2;")
        d = start()
        wait_for(ready, 120, "edgepipe run ready again")
        want = int(psql(conninfo, "SELECT 40 + 20 + (SELECT count(*) FROM generate_series(1,60) g "
                        "WHERE g % 3 = 0) + (SELECT count(*) FROM generate_series(1,60) g WHERE "
                        "g % 6 = 0) + 2 * (SELECT count(*) FROM generate_series(1,60) g WHERE "
                        "g % 7 = 0) + 1 + 1").strip())  # deletes add a tombstone each
        wait_for(lambda: len(distinct_events(topic)[0]) >= want, 120, f"{want} change events")
    finally:
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
            d.wait(timeout=60)
        logf.close()
        try:
            psql(conninfo, f"SELECT pg_drop_replication_slot('{slot}')")
        except Exception:  # noqa: BLE001 - best effort
            pass
    events, messages = distinct_events(topic)
    log(f"CDC: {len(events)} distinct events in {messages} Kafka messages "
        f"({messages - len(events)} sent again after the kill)")
    table = os.path.join(tmp, "lake", "delta", CDC_TABLE)
    # The row type comes from `edgepipe schema --table`, with the config edgepipe ran with.
    ddl = run([BINARY, "schema", "-c", cfg, "--source", "pg", "--table",
               f"public.{CDC_TABLE}", "--format", "spark"],
              env=dict(os.environ, EDGEPIPE_PG_PASSWORD=password)).strip()
    check(ddl.startswith("before STRUCT<id: BIGINT, owner: STRING, balance: DOUBLE>"),
          f"edgepipe schema --table: {ddl[:70]}...")
    jobb = [py, os.path.join(SPARK_DIR, "cdc_to_delta.py"), "--bootstrap", BOOTSTRAP,
            "--topic", topic, "--table", table, "--pk", "id", "--schema", ddl, "--once"]
    t = time.time()
    run(jobb, timeout=900)
    log(f"job (b) caught up in {time.time() - t:.1f}s")
    got = {}
    dup = 0
    for line in run([py, os.path.join(SPARK_DIR, "dump_table.py"), "delta", table]).splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            dup += r["id"] in got
            got[r["id"]] = (r.get("owner"), r.get("balance"))
    want_rows = {}
    for line in psql(conninfo, f"SELECT row_to_json(t) FROM {CDC_TABLE} t").splitlines():
        r = json.loads(line)
        want_rows[r["id"]] = (r["owner"], r["balance"])
    check(dup == 0 and got == want_rows,
          f"job (b): Delta table equals SELECT * FROM {CDC_TABLE} ({len(got)} rows, "
          f"{len(want_rows)} in PostgreSQL, {dup} duplicates, "
          f"{len(set(got.items()) ^ set(want_rows.items()))} differ)")
    psql(conninfo, f"DROP TABLE IF EXISTS {CDC_TABLE}")
    return 0


def main():
    if not os.path.exists(BINARY):
        print(f"edgepipe binary not found: {BINARY}\n0 passed, 1 failed")
        return 1
    py, why = spark_env()
    if py is None:
        print("SKIP: the PySpark/Delta virtualenv could not be installed "
              f"(scripts/spark-env.sh): {' | '.join(why)}")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    log(f"spark env ready: {py}")
    tmp = tempfile.mkdtemp(prefix="edgepipe-lake-it-")
    prefix = f"edgepipe-lake-{uuid.uuid4().hex[:8]}."
    lake = os.path.join(tmp, "lake")
    job = [py, os.path.join(SPARK_DIR, "seed_topics_to_lake.py"), "--bootstrap", BOOTSTRAP,
           "--lake", lake, "--edgepipe", BINARY, "--topic-prefix", prefix, "--once",
           "--max-offsets", "200"]
    expected = {}
    traces = {}
    for api, payloads, seed in CASES:
        trace = os.path.join(tmp, f"{api}.trace")
        out = os.path.join(tmp, f"{api}.jsonl")
        run([BINARY, "synth", "--api", api, "--payloads", str(payloads), "--out", trace,
             "--seed", str(seed)])
        run([BINARY, "replay", "--trace", trace, "--spool", "none", "--sink",
             f"file:{out}"])
        traces[api] = trace
        expected[api] = {}
        # the value file has no keys: take them from the records (key = /login/uuid, /id)
        with open(out) as f:
            for line in f:
                v = json.loads(line)
                key = v.get("id")
                expected[api][dedupe_key(api, v, key)] = v
    log("expected: " + ", ".join(f"{a} {len(e)}" for a, e in expected.items()))

    for api in ("coingecko", "randomuser"):
        run([BINARY, "replay", "--trace", traces[api], "--spool", "none",
             "--sink", f"kafka://{BOOTSTRAP}/{prefix}{api}"])
    # iss: paced, and killed once part of it is in Kafka
    spool = os.path.join(tmp, "iss-spool")
    p = subprocess.Popen([BINARY, "replay", "--trace", traces["iss"], "--speed", "20x",
                          "--spool", spool, "--sink", f"kafka://{BOOTSTRAP}/{prefix}iss"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: topic_count(py, prefix + "iss") >= 5, 120, "iss records in Kafka")
    p.send_signal(signal.SIGKILL)
    p.wait()
    first = topic_count(py, prefix + "iss")
    check(0 < first < len(expected["iss"]),
          f"edgepipe killed mid-way: {first} of {len(expected['iss'])} iss records in Kafka")

    log("job (a) run 1 (killed once it has committed to Delta)")
    sp = subprocess.Popen(job, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "spark1.log"), "w"))
    delta_log = os.path.join(lake, "delta")

    def committed():
        if sp.poll() is not None:
            return True
        for api, _, _ in CASES:
            d = os.path.join(delta_log, api, "_delta_log")
            if os.path.isdir(d) and len([f for f in os.listdir(d) if f.endswith(".json")]) >= 2:
                return True
        return False
    wait_for(committed, 300, "job (a) to commit to a Delta table")
    killed_midway = sp.poll() is None
    if killed_midway:
        sp.send_signal(signal.SIGKILL)
    sp.wait()
    check(killed_midway, "job (a) killed mid-way (after its first Delta commit)")

    log("edgepipe restarted: iss replayed in full again")
    run([BINARY, "replay", "--trace", traces["iss"], "--spool", spool,
         "--sink", f"kafka://{BOOTSTRAP}/{prefix}iss"])
    total = topic_count(py, prefix + "iss")
    check(total > len(expected["iss"]), f"iss topic holds duplicates ({total} messages for "
          f"{len(expected['iss'])} records)")

    log("job (a) run 2 (availableNow, to the end)")
    t = time.time()
    run(job, timeout=900)
    log(f"job (a) caught up in {time.time() - t:.1f}s")

    for fmt in ("delta", "parquet"):
        paths = [os.path.join(lake, fmt, api) for api, _, _ in CASES]
        out = run([py, os.path.join(SPARK_DIR, "dump_table.py"), fmt] + paths)
        rows, cur = {}, None
        for line in out.splitlines():
            if line.startswith("# "):
                cur = os.path.basename(line[2:])
                rows[cur] = []
            elif line.startswith("{"):
                rows[cur].append(json.loads(line))
        for api, _, _ in CASES:
            got = rows.get(api, [])
            keys = [r["_dedupe_key"] for r in got]
            exp = expected[api]
            check(len(got) == len(exp) and len(set(keys)) == len(keys),
                  f"{fmt} {api}: {len(got)} rows for {len(exp)} records, "
                  f"{len(keys) - len(set(keys))} duplicates")
            check(set(keys) == set(exp), f"{fmt} {api}: the same dedupe keys as edgepipe wrote "
                  f"({len(set(exp) - set(keys))} missing, {len(set(keys) - set(exp))} extra)")
            diffs = [(k, same_value(api, exp[k], r)) for r, k in zip(got, keys) if k in exp]
            diffs = [d for d in diffs if d[1]]
            check(not diffs, f"{fmt} {api}: every value equal to edgepipe's "
                  f"({len(diffs)} differ{'; first ' + str(diffs[0]) if diffs else ''})")

    skipped = 0
    try:
        skipped = cdc_half(py, tmp)
    except Exception as ex:  # noqa: BLE001
        check(False, f"CDC half: {ex}")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    log(f"time {time.time() - T0:.1f}s, peak child RSS {ru.ru_maxrss / 1024:.0f} MiB, "
        f"child CPU {ru.ru_utime + ru.ru_stime:.1f}s")
    if it.failed == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp} for a look (Spark logs spark1.log, the lake, cdc.jsonl)")
    print(f"{it.passed} passed, {it.failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if it.failed == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as ex:  # noqa: BLE001
        check(False, str(ex))
        sys.exit(it.finish())

#!/usr/bin/env python3
"""postgres_cdc inside `edgepipe run` against the real local stack (scripts/stack.sh up):
PostgreSQL 15 -> spool -> Kafka + MongoDB + a JSON Lines file.

The config is config/cdc.toml with this test's own slot, tables, topic prefix, spool, port and a
MongoDB sink added. Checks, each against what the workload did (read back with kafka-python and
pymongo, independent of edgepipe):
  A. snapshot (op r), inserts, updates with REPLICA IDENTITY DEFAULT (before null) and FULL
     (before = old row), deletes + tombstones (null Kafka value, same key), a truncate (op t),
     a multi-statement transaction, a rolled-back one (absent), a table created after start
     (its own topic): every event's topic, key, op, before and after, in order per key; the
     Kafka message key is the event's key; MongoDB holds one document per key, the latest
     event (a delete leaves its delete event); /health ready, /metrics names the slot, the
     source in /api/status; the slot's confirmed_flush_lsn reaches the end of the workload.
  B. kill -9 after ~200 of 1000 single-row transactions, and restart: every committed row in Kafka (duplicates counted) and in
     MongoDB (exactly one document per key).
  C. fsync = "off" and a Kafka sink whose broker does not answer: while changes are committed
     and reach the file sink, confirmed_flush_lsn does not move (the Kafka sink has not
     confirmed them); after a restart with the broker answering, everything is in Kafka and
     confirmed_flush_lsn passes the workload's end.
  D. kill -9 during the initial snapshot (held up mid-table by a full 4 MiB spool while the
     Kafka sink's broker does not answer): the restart finds the snapshot marker, drops the
     slot and takes the snapshot again (edgepipe_cdc_snapshots_redone_total 1), so every row
     and a change made after the kill are in Kafka (duplicates allowed); without the marker the
     rows the snapshot had not read were a silent gap.
  E. exactly_once = true on the Kafka sink (issue 22): kill -9 after ~200 of 1000 single-row
     transactions and restart; a read_committed consumer (kcat) sees every committed row exactly
     once (PostgreSQL's resends skipped at the source, the spool's resends fenced by Kafka
     transactions and the sink's committed watermark).
Exits non-zero on failure; the last line is "N passed, M failed".

Env: EDGEPIPE_BINARY (default build/edgepipe), EDGEPIPE_PG_PORT (5432), EDGEPIPE_PG_PASSWORD
(edgepipe), EDGEPIPE_KAFKA (127.0.0.1:9092, or $EDGEPIPE_KAFKA_PORT), EDGEPIPE_MONGO_URI
(mongodb://127.0.0.1:27017, or $EDGEPIPE_MONGO_PORT): tests/integration/edgepipe_it.py.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    import pymongo
    from kafka import KafkaConsumer
except ImportError as e:
    print(f"missing Python module: {e} (pip install pymongo kafka-python)", file=sys.stderr)
    sys.exit(1)

import edgepipe_it as it  # noqa: E402

BINARY = it.BINARY
SOURCE_DIR = it.SOURCE_DIR
PG_PORT = it.PG_PORT
PG_PASSWORD = it.PG_PASSWORD
CONNINFO = it.PG_CONNINFO
BOOTSTRAP = it.KAFKA_BOOTSTRAP
MONGO_URI = it.MONGO_URI
TAG = f"cdcp{os.getpid()}"

check = it.check
psql = it.psql
free_port = it.free_port
drop_slot = it.drop_slot


def lsn(text):
    hi, lo = text.strip().split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def confirmed_flush(slot):
    out = psql(f"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}';")
    return lsn(out) if out.strip() else 0


def current_wal():
    return lsn(psql("SELECT pg_current_wal_lsn();"))


def wait_until(pred, what, timeout=40):
    v = it.wait_until(pred, timeout, 0.2)
    if not v:
        raise RuntimeError(f"timed out waiting for {what}")
    return v


def make_config(tmp, name, slot, prefix, tables, port, fsync="interval", brokers=BOOTSTRAP,
                mongo_db=None, file_out=None):
    """config/cdc.toml with this test's slot, tables, prefix, spool, port and extra sinks."""
    with open(os.path.join(SOURCE_DIR, "config", "cdc.toml")) as f:
        text = f.read()
    # The database this test's psql talks to (config/cdc.toml names the shared stack's).
    text = re.sub(r'(?m)^conninfo = .*$', f'conninfo = "{CONNINFO}"', text)
    text = re.sub(r'(?m)^slot = .*$', f'slot = "{slot}"', text)
    text = text.replace("host=127.0.0.1 port=5432 ", f"host=127.0.0.1 port={PG_PORT} ")  # a private stack
    text = re.sub(r'(?m)^topic_prefix = "edgepipe"$', f'topic_prefix = "{prefix}"', text)
    # The Kafka sink's prefix for records without a topic of their own (none here).
    text = re.sub(r'(?m)^topic_prefix = "edgepipe\."$', f'topic_prefix = "{prefix}-src."', text)
    text = re.sub(r'(?m)^status_interval = .*$', 'status_interval = "500ms"\n'
                  'tables = [' + ", ".join(f'"{t}"' for t in tables) + ']', text)
    text = re.sub(r'(?m)^brokers = .*$', f'brokers = "{brokers}"\ncompression = "none"\n'
                  'message_timeout_ms = 5000', text)
    text = re.sub(r'(?m)^dir = .*$', f'dir = "{tmp}/{name}-spool"', text)
    text = re.sub(r'(?m)^fsync = .*$', f'fsync = "{fsync}"', text)
    text = re.sub(r'(?m)^path = .*$', f'path = "{tmp}/{name}-dead.jsonl"', text)
    text = re.sub(r'(?m)^listen = .*$', f'listen = "127.0.0.1:{port}"', text)
    if mongo_db:
        text += (f'\n[sinks.mongodb]\ntype = "mongodb"\nuri = "{MONGO_URI}"\n'
                 f'database = "{mongo_db}"\n')
    if file_out:
        text += f'\n[sinks.file]\ntype = "file"\npath = "{file_out}"\n'
    path = os.path.join(tmp, f"{name}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class daemon:
    def __init__(self, cfg, port, log_path):
        self.port = port
        self.log = open(log_path, "ab")
        self.log_path = log_path
        self.proc = subprocess.Popen([BINARY, "run", "-c", cfg], stdout=self.log, stderr=self.log)

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def wait_ready(self, timeout=40):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("edgepipe exited: " + self.tail())
            return self.get("/health")[0] == 200
        wait_until(ready, "/health ready", timeout)

    def tail(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def stop(self):
        it.terminate(self.proc, 30)
        self.log.close()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def read_topic(topic, timeout_s=20):
    """Every message of a topic: (key, value or None, headers). Other tests share the broker
    and may restart it: a read that cannot reach it is tried again, up to 30 s."""
    failures = []

    def attempt():
        try:
            return (read_topic_once(topic, timeout_s),)
        except Exception as e:  # kafka-python's errors (no broker, metadata) all derive from it
            failures.append(e)
            print(f"      (reading {topic}: {e}; the broker may be restarting: trying again)")
            return None

    got = it.wait_until(attempt, 30, 1.0)
    if got is None:
        raise failures[-1]
    return got[0]


def read_topic_once(topic, timeout_s):
    msgs = it.read_messages(BOOTSTRAP, topic, timeout_s, client="kafka-python")
    for m in msgs:
        m["value"] = json.loads(m["value"]) if m["value"] is not None else None
        m["headers"] = dict(m["headers"])
    return msgs


def by_key(msgs):
    """Messages per Kafka key, in partition order (one key = one partition)."""
    out = {}
    for m in msgs:
        out.setdefault(m["key"], []).append(m)
    return out


def case_a_workload(tmp, mongo):
    schema, slot, prefix = f"{TAG}a", f"{TAG}a", f"{TAG}a"
    S = schema
    psql(f"""CREATE SCHEMA {S};
CREATE TABLE {S}.items (id int PRIMARY KEY, name text, price numeric(10,2), qty int);
CREATE TABLE {S}.full_t (id int PRIMARY KEY, v text);
ALTER TABLE {S}.full_t REPLICA IDENTITY FULL;
INSERT INTO {S}.items VALUES (1, 'apple', 1.50, 10);""")
    port = free_port()
    cfg = make_config(tmp, "a", slot, prefix, [f"{S}.items", f"{S}.full_t", f"{S}.later"], port,
                      mongo_db=f"{TAG}a")
    d = daemon(cfg, port, os.path.join(tmp, "a.log"))
    try:
        d.wait_ready()
        check(True, "A: /health ready once the slot streams")
        psql(f"INSERT INTO {S}.items VALUES (2, 'pear', 2.25, 5);")
        psql(f"INSERT INTO {S}.items VALUES (3, 'plum', 0.99, 7);")
        psql(f"UPDATE {S}.items SET qty = 6 WHERE id = 2;")
        psql(f"INSERT INTO {S}.full_t VALUES (1, 'one');")
        psql(f"UPDATE {S}.full_t SET v = 'uno' WHERE id = 1;")
        psql(f"DELETE FROM {S}.items WHERE id = 3;")
        psql(f"""BEGIN;
INSERT INTO {S}.items VALUES (4, 'fig', 3.00, 1);
UPDATE {S}.items SET qty = 2 WHERE id = 4;
INSERT INTO {S}.full_t VALUES (2, 'two');
COMMIT;""")
        psql(f"BEGIN; INSERT INTO {S}.items VALUES (99, 'never', 0, 0); ROLLBACK;")
        psql(f"TRUNCATE {S}.full_t;")
        psql(f"CREATE TABLE {S}.later (id int PRIMARY KEY, v text); "
             f"INSERT INTO {S}.later VALUES (1, 'late');")
        end_lsn = current_wal()

        t_items, t_full, t_later = f"{prefix}.{S}.items", f"{prefix}.{S}.full_t", f"{prefix}.{S}.later"
        wait_until(lambda: len(read_topic(t_later, 5)) >= 1, "the table created after start")
        wait_until(lambda: len(read_topic(t_items, 5)) >= 8 and len(read_topic(t_full, 5)) >= 4,
                   "all events in Kafka")
        items, full, later = read_topic(t_items), read_topic(t_full), read_topic(t_later)
        k = by_key(items)
        ops = {key: [(m["value"]["op"] if m["value"] else None) for m in ms] for key, ms in k.items()}
        K1, K2, K3, K4 = ('{"id":%d}' % i for i in (1, 2, 3, 4))
        check(ops.get('{"id":1}') == ["r"], f"A: snapshot row id 1 is one op r: {ops.get(K1)}")
        check(ops.get('{"id":2}') == ["c", "u"], f"A: id 2 insert then update: {ops.get(K2)}")
        check(ops.get('{"id":3}') == ["c", "d", None],
              f"A: id 3 insert, delete, tombstone: {ops.get(K3)}")
        check(ops.get('{"id":4}') == ["c", "u"], f"A: id 4 (multi-statement tx): {ops.get(K4)}")
        check('{"id":99}' not in k, "A: the rolled-back insert is absent")
        check(len(items) == 8, f"A: items topic holds exactly 8 messages: {len(items)}")
        v = {key: [m["value"] for m in ms] for key, ms in k.items()}
        r1 = v['{"id":1}'][0]
        check(r1["after"] == {"id": 1, "name": "apple", "price": "1.50", "qty": 10}
              and r1["before"] is None and r1["source"]["snapshot"] in ("true", "first", "last"),
              f"A: snapshot event fields: {r1['after']}")
        c2, u2 = v['{"id":2}']
        check(c2["after"] == {"id": 2, "name": "pear", "price": "2.25", "qty": 5}
              and c2["before"] is None, "A: insert id 2 after")
        check(u2["before"] is None and u2["after"]["qty"] == 6,
              "A: update under REPLICA IDENTITY DEFAULT: before null, after qty 6")
        d3 = v['{"id":3}'][1]
        check(d3["after"] is None and d3["before"]["id"] == 3, "A: delete id 3: before has the key")
        check(k['{"id":3}'][2]["value"] is None, "A: tombstone after the delete: null value, same key")
        c4, u4 = v['{"id":4}']
        check(c4["source"]["txId"] == u4["source"]["txId"] and u4["after"]["qty"] == 2,
              "A: the multi-statement transaction's events share txId")
        check(all(m["value"] is None or
                  m["value"]["source"]["schema"] == S and m["value"]["source"]["table"] == "items"
                  for m in items), "A: source.schema/table of every items event")
        check(all(m["headers"].get("source") == "pg" for m in items),
              "A: Kafka header source = the source's name")
        fk = by_key([m for m in full if m["key"] is not None])
        fops = {key: [(m["value"]["op"] if m["value"] else None) for m in ms] for key, ms in fk.items()}
        check(fops.get('{"id":1}') == ["c", "u"] and fops.get('{"id":2}') == ["c"],
              f"A: full_t events: {fops}")
        fu = fk['{"id":1}'][1]["value"]
        check(fu["before"] == {"id": 1, "v": "one"} and fu["after"] == {"id": 1, "v": "uno"},
              "A: update under REPLICA IDENTITY FULL: before = the old row")
        truncs = [m for m in full if m["value"] and m["value"]["op"] == "t"]
        check(len(truncs) == 1 and truncs[0]["key"] is None and truncs[0]["value"]["before"] is None,
              "A: truncate: one op t event with a null key")
        check(len(later) == 1 and later[0]["value"]["after"] == {"id": 1, "v": "late"}
              and later[0]["key"] == '{"id":1}', "A: table created after start: its own topic")

        # MongoDB: one document per key, the latest event; collections named by the stream.
        db = mongo[f"{TAG}a"]
        def mongo_docs():
            docs = {d["_id"]: d for d in db[t_items].find()}
            return docs if len(docs) >= 4 else None
        docs = wait_until(mongo_docs, "MongoDB documents")
        check(sorted(docs) == ['{"id":1}', '{"id":2}', '{"id":3}', '{"id":4}'],
              f"A: MongoDB: one document per key: {sorted(docs)}")
        check(docs['{"id":2}']["op"] == "u" and docs['{"id":2}']["after"]["qty"] == 6,
              "A: MongoDB document of id 2 = its latest event (update)")
        check(docs['{"id":3}']["op"] == "d" and docs['{"id":3}']["after"] is None,
              "A: MongoDB document of id 3 = its delete event")
        check(docs['{"id":1}']["op"] == "r" and docs['{"id":1}']["after"]["name"] == "apple",
              "A: MongoDB snapshot document")
        ldocs = list(db[t_later].find())
        check(len(ldocs) == 1 and ldocs[0]["after"]["v"] == "late",
              "A: MongoDB collection of the table created after start")

        # Operations.
        _, metrics = d.get("/metrics")
        check(f'edgepipe_cdc_events_total{{source="pg",slot="{slot}",op="c"}}' in metrics,
              "A: /metrics: events by op, labelled with the slot")
        m = re.search(rf'edgepipe_cdc_lag_bytes{{source="pg",slot="{slot}"}} (\d+)', metrics)
        check(m is not None, "A: /metrics: lag bytes")
        _, st = d.get("/api/status")
        srcs = [s for s in json.loads(st)["sources"] if s["name"] == "pg"]
        check(len(srcs) == 1 and srcs[0]["kind"] == "postgres_cdc" and srcs[0]["state"] == "streaming"
              and srcs[0]["postgres_cdc"]["slot"] == slot, "A: /api/status shows the source streaming")
        c = KafkaConsumer(bootstrap_servers=BOOTSTRAP)
        try:
            topics = c.topics()
        finally:
            c.close()
        check(f"{prefix}.{S}.items" in topics and f"{prefix}-src.pg" not in topics,
              "A: topics per table only; none made for the source itself")
        cf = wait_until(lambda: confirmed_flush(slot) >= end_lsn and confirmed_flush(slot),
                        "confirmed_flush_lsn to reach the end of the workload")
        check(cf >= end_lsn, "A: the slot's confirmed_flush_lsn reached the workload's end")
    except Exception as e:
        check(False, f"A: {e}")
        print(d.tail())
    finally:
        d.stop()
        drop_slot(slot)
        psql(f"DROP SCHEMA {S} CASCADE;")
        mongo.drop_database(f"{TAG}a")


def case_b_kill9(tmp, mongo):
    schema, slot, prefix = f"{TAG}b", f"{TAG}b", f"{TAG}b"
    S = schema
    n = 1000
    psql(f"CREATE SCHEMA {S}; CREATE TABLE {S}.t (id int PRIMARY KEY, v text);")
    port = free_port()
    cfg = make_config(tmp, "b", slot, prefix, [f"{S}.t"], port, mongo_db=f"{TAG}b")
    topic = f"{prefix}.{S}.t"
    d = daemon(cfg, port, os.path.join(tmp, "b1.log"))
    writer = None
    try:
        d.wait_ready()
        sql = "".join(f"INSERT INTO {S}.t VALUES ({i}, 'v{i}');\n" for i in range(n))
        env = dict(os.environ, PGPASSWORD=PG_PASSWORD)
        writer = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
        writer.stdin.write(sql)
        writer.stdin.close()
        wait_until(lambda: len(read_topic(topic, 3)) >= 200, "200 events before the kill")
        d.kill9()
        check(writer.wait(timeout=120) == 0, f"B: all {n} single-row transactions committed")
        d = daemon(cfg, port, os.path.join(tmp, "b2.log"))
        d.wait_ready()

        def all_there():
            keys = [m["key"] for m in read_topic(topic, 5)]
            return keys if len(set(keys)) >= n else None
        keys = wait_until(all_there, "every committed row in Kafka after the restart", 60)
        want = {json.dumps({"id": i}, separators=(",", ":")) for i in range(n)}
        check(set(keys) == want, f"B: kill -9 + restart: every committed row in Kafka "
                                 f"({len(keys)} messages, {len(keys) - len(set(keys))} duplicates)")
        # A duplicate with its own record-id entered the spool twice (PostgreSQL sent the change
        # again); one with the same record-id is the spool resending what Kafka had not
        # confirmed (at least once). The first kind is skipped at the source.
        ids = {}
        for m in read_topic(topic, 5):
            ids.setdefault(m["key"], set()).add(m["headers"].get("record-id"))
        twice = sum(1 for v in ids.values() if len(v) > 1)
        skipped = metric_value(d.get("/metrics")[1], "edgepipe_cdc_resent_skipped_total",
                               f'source="pg",slot="{slot}"')
        check(twice == 0, f"B: no change entered the spool twice ({twice} keys did; "
                          f"{skipped} changes PostgreSQL sent again were skipped)")
        coll = mongo[f"{TAG}b"][topic]
        docs = wait_until(lambda: coll.count_documents({}) >= n and coll.count_documents({}),
                          "every row in MongoDB")
        ids = {doc["_id"] for doc in coll.find({}, {"_id": 1})}
        check(docs == n and ids == want, f"B: MongoDB: exactly one document per key ({docs})")
    except Exception as e:
        check(False, f"B: {e}")
        print(d.tail())
    finally:
        if writer and writer.poll() is None:
            writer.kill()
        d.stop()
        drop_slot(slot)
        psql(f"DROP SCHEMA {S} CASCADE;")
        mongo.drop_database(f"{TAG}b")


def case_c_not_confirmed_early(tmp, _mongo):
    schema, slot, prefix = f"{TAG}c", f"{TAG}c", f"{TAG}c"
    S = schema
    psql(f"CREATE SCHEMA {S}; CREATE TABLE {S}.t (id int PRIMARY KEY, v text);")
    port = free_port()
    out = os.path.join(tmp, "c.jsonl")
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there: the Kafka sink cannot confirm
    cfg = make_config(tmp, "c", slot, prefix, [f"{S}.t"], port, fsync="off", brokers=dead,
                      file_out=out)
    d = daemon(cfg, port, os.path.join(tmp, "c1.log"))
    try:
        d.wait_ready()
        before = confirmed_flush(slot)
        for i in range(20):
            psql(f"INSERT INTO {S}.t VALUES ({i}, 'v{i}');")
        end_lsn = current_wal()

        def in_file():
            if not os.path.exists(out):
                return None
            with open(out) as f:
                lines = [json.loads(l) for l in f if l.strip()]
            return lines if len(lines) >= 20 else None
        lines = wait_until(in_file, "the events in the file sink")
        check(len(lines) == 20, "C: the changes flowed to the file sink")
        # The status interval is 500 ms: sampled for 2 s, the confirmed LSN must not move.
        moved = it.wait_until(lambda: confirmed_flush(slot) >= end_lsn, 2, 0.1)
        check(not moved and confirmed_flush(slot) < end_lsn,
              f"C: fsync off, Kafka not confirming: confirmed_flush_lsn stays before the changes "
              f"({confirmed_flush(slot):X} < {end_lsn:X}, was {before:X})")
        d.stop()
        cfg2 = make_config(tmp, "c", slot, prefix, [f"{S}.t"], port, fsync="off", file_out=out)
        d = daemon(cfg2, port, os.path.join(tmp, "c2.log"))
        d.wait_ready()
        topic = f"{prefix}.{S}.t"
        keys = wait_until(lambda: {m["key"] for m in read_topic(topic, 5)} if len(
            {m["key"] for m in read_topic(topic, 5)}) >= 20 else None, "the events in Kafka")
        check(len(keys) == 20, "C: with the broker back, every change reached Kafka")
        cf = wait_until(lambda: confirmed_flush(slot) >= end_lsn and confirmed_flush(slot),
                        "confirmed_flush_lsn to advance")
        check(cf >= end_lsn, "C: then confirmed_flush_lsn passed the changes")
    except Exception as e:
        check(False, f"C: {e}")
        print(d.tail())
    finally:
        d.stop()
        drop_slot(slot)
        psql(f"DROP SCHEMA {S} CASCADE;")


def metric_value(metrics, name, labels):
    sample = name + (f"{{{labels}}}" if labels else "")
    m = re.search(rf'(?m)^{re.escape(sample)} (\d+)', metrics)
    return int(m.group(1)) if m else None


def case_d_kill9_during_snapshot(tmp, _mongo):
    schema, slot, prefix = f"{TAG}d", f"{TAG}d", f"{TAG}d"
    S = schema
    n = 60_000  # ~30 MB of events: far more than the 4 MiB spool and the rings hold
    psql(f"CREATE SCHEMA {S}; CREATE TABLE {S}.a (id int PRIMARY KEY, v text);"
         f"INSERT INTO {S}.a SELECT i, repeat('a', 100) || i FROM generate_series(0, {n - 1}) i;")
    port = free_port()
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there: the Kafka sink cannot confirm

    def config(brokers):
        # The smallest spool, blocking when full: with no sink confirming, the snapshot is held
        # up mid-table (the source waits for the spool) until the kill.
        path = make_config(tmp, "d", slot, prefix, [f"{S}.a"], port, brokers=brokers)
        with open(path) as f:
            text = f.read()
        text = text.replace("[spool]\n", "[spool]\nsegment_bytes = 1048576\nmax_bytes = 4194304\n"
                            "on_full = \"block\"\n")
        with open(path, "w") as f:
            f.write(text)
        return path
    d = daemon(config(dead), port, os.path.join(tmp, "d1.log"))
    labels = f'source="pg",slot="{slot}"'
    try:
        wait_until(lambda: metric_value(d.get("/metrics")[1], "edgepipe_spool_blocked", "") == 1,
                   "the spool full and blocking", 60)
        reads = metric_value(d.get("/metrics")[1], "edgepipe_cdc_events_total", labels + ',op="r"')
        check(reads is not None and 0 < reads < n,
              f"D: the snapshot is held up mid-table ({reads} of {n} rows read)")
        marker = os.path.join(tmp, "d-spool", "pg.cdc-snapshot-pending")
        check(os.path.exists(marker), "D: the snapshot marker exists while the snapshot runs")
        d.kill9()
        psql(f"INSERT INTO {S}.a VALUES ({n}, 'after the kill');")
        d = daemon(config(BOOTSTRAP), port, os.path.join(tmp, "d2.log"))
        want = {json.dumps({"id": i}, separators=(",", ":")) for i in range(n + 1)}
        topic = f"{prefix}.{S}.a"

        def keys_kcat():  # kcat: kafka-python decodes ~10k messages/s, too slow here
            return it.read_topic(BOOTSTRAP, topic, fmt="%k\\n", timeout=120)[0]
        try:
            keys = wait_until(lambda: set(keys_kcat()) >= want and keys_kcat(),
                              "every row in Kafka", 120)
        except RuntimeError:
            keys = keys_kcat()
        check(set(keys) == want, f"D: every row, and the change after the kill, in Kafka "
                                 f"({len(set(keys))} of {n + 1} keys, "
                                 f"{len(keys) - len(set(keys))} duplicates, allowed)")
        redone = metric_value(d.get("/metrics")[1], "edgepipe_cdc_snapshots_redone_total",
                              labels)
        check(redone == 1, f"D: edgepipe_cdc_snapshots_redone_total is 1 ({redone})")
        gone = wait_until(lambda: not os.path.exists(marker), "the marker removed once durable")
        check(gone, "D: the marker is gone once the new snapshot is durable")
    except Exception as e:
        check(False, f"D: {e}")
        print(d.tail())
    finally:
        d.stop()
        drop_slot(slot)
        psql(f"DROP SCHEMA {S} CASCADE;")

def case_e_exactly_once(tmp, _mongo):
    schema, slot, prefix = f"{TAG}e", f"{TAG}e", f"{TAG}e"
    S = schema
    n = 1000
    psql(f"CREATE SCHEMA {S}; CREATE TABLE {S}.t (id int PRIMARY KEY, v text);")
    port = free_port()
    cfg = make_config(tmp, "e", slot, prefix, [f"{S}.t"], port)
    with open(cfg) as f:
        text = f.read()
    text = text.replace("[sinks.kafka]\n", "[sinks.kafka]\nexactly_once = true\n"
                        f'state_topic = "{prefix}-state"\n')
    text = text.replace("[spool]\n", f'[pipeline]\nnode_id = "{TAG}e"\n\n[spool]\n')
    with open(cfg, "w") as f:
        f.write(text)
    topic = f"{prefix}.{S}.t"

    def committed_keys():
        return it.read_topic(BOOTSTRAP, topic, "read_committed", fmt="%k\\n", timeout=120)[0]
    d = daemon(cfg, port, os.path.join(tmp, "e1.log"))
    writer = None
    try:
        d.wait_ready()
        sql = "".join(f"INSERT INTO {S}.t VALUES ({i}, 'v{i}');\n" for i in range(n))
        env = dict(os.environ, PGPASSWORD=PG_PASSWORD)
        writer = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
                                  text=True)
        writer.stdin.write(sql)
        writer.stdin.close()
        wait_until(lambda: len(committed_keys()) >= 200, "200 committed events before the kill")
        d.kill9()
        check(writer.wait(timeout=120) == 0, f"E: all {n} single-row transactions committed")
        d = daemon(cfg, port, os.path.join(tmp, "e2.log"))
        d.wait_ready()
        want = {json.dumps({"id": i}, separators=(",", ":")) for i in range(n)}
        try:
            keys = wait_until(lambda: set(committed_keys()) >= want and committed_keys(),
                              "every committed row in Kafka after the restart", 90)
        except RuntimeError:
            keys = committed_keys()
        check(set(keys) == want and len(keys) == n,
              f"E: exactly once for a read_committed consumer: {len(set(keys))} of {n} keys, "
              f"{len(keys)} messages, {len(keys) - len(set(keys))} duplicates")
    except Exception as e:
        check(False, f"E: {e}")
        print(d.tail())
    finally:
        if writer and writer.poll() is None:
            writer.kill()
        d.stop()
        drop_slot(slot)
        psql(f"DROP SCHEMA {S} CASCADE;")


def main():
    if not os.path.exists(BINARY):
        print(f"no binary at {BINARY}", file=sys.stderr)
        return 1
    started = time.time()
    mongo = pymongo.MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000)
    tmp = tempfile.mkdtemp(prefix="edgepipe-cdc-pipeline-")
    try:
        for case in (case_a_workload, case_b_kill9, case_c_not_confirmed_early,
                     case_d_kill9_during_snapshot, case_e_exactly_once):
            t0 = time.time()
            case(tmp, mongo)
            print(f"      {case.__name__}: {time.time() - t0:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{time.time() - started:.1f} s")
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""postgres_cdc source against the real local PostgreSQL 15 (scripts/stack.sh up).

Runs `edgepipe cdc-print` (the source alone, Debezium events as JSON lines on stdout; a commit is
confirmed to PostgreSQL after its lines were flushed) and compares every event field by field
with what the workload did, read back through psql:
  1. snapshot (op r) of rows that existed before the slot, then the stream of inserts, updates
     (REPLICA IDENTITY DEFAULT and FULL), a primary-key change (delete + tombstone + create),
     unchanged TOAST, deletes (+ tombstones), a truncate, a multi-statement transaction and a
     rolled-back one (absent), and the type mapping of each column type;
  2. the snapshot/stream boundary under concurrent writes: every row exactly once;
  3. kill -9 mid-stream and restart on the same slot: every committed row present (duplicates
     allowed and reported);
  4. the connection cut twice mid-stream (walsender terminated): reconnect, nothing lost;
  5. one 100k-row transaction streams with a small, bounded peak RSS (and events/s);
  6. PostgreSQL stopped and started mid-stream (scripts/stack.sh stop/start postgres, so nothing
     else should use the stack's PostgreSQL meanwhile): reconnect, nothing lost;
  7. ALTER TABLE mid-stream (add an enum column, drop a column): events follow; enum = text, counted.
Each case uses its own schema and slot, dropped at the end. Exits non-zero on failure; the last
line is "N passed, M failed".

Env: EDGEPIPE_BINARY (default build/edgepipe), EDGEPIPE_PG_PORT (5432), EDGEPIPE_PG_PASSWORD
(edgepipe), EDGEPIPE_PG_HOST (127.0.0.1).
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import edgepipe_it as it
from edgepipe_it import BINARY, PG_HOST, PG_PASSWORD, PG_PORT, check, psql

CONNINFO = it.PG_CONNINFO
TAG = f"t{os.getpid()}"
STACK = it.STACK_SCRIPT

class printer:
    """A running `edgepipe cdc-print`; its events are read from the file it writes."""

    def __init__(self, slot, tables, out_path, extra=()):
        self.out_path = out_path
        env = dict(os.environ, EDGEPIPE_TEST_PG_PASSWORD=PG_PASSWORD)
        args = [BINARY, "cdc-print", "--conninfo", CONNINFO, "--password", "env:EDGEPIPE_TEST_PG_PASSWORD",
                "--slot", slot, "--status-interval-ms", "500"]
        for t in tables:
            args += ["--table", t]
        args += list(extra)
        self.out = open(out_path, "ab")
        self.err_path = out_path + ".stderr"
        self.err = open(self.err_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=self.err, env=env)

    def events(self):
        with open(self.out_path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        return [json.loads(l) for l in lines[:-1] if l.strip()]  # a partial last line is skipped

    def wait_for(self, pred, what, timeout=60):
        """The events once pred(events) holds; raises (with the printer's stderr) when the
        printer exits or TIMEOUT passes first."""
        it.wait_until(lambda: pred(self.events()) or self.proc.poll() is not None, timeout, 0.1)
        ev = self.events()
        if not pred(ev):
            with open(self.err_path) as f:
                print(f.read()[-3000:])
            raise RuntimeError(f"timed out waiting for {what}; {len(ev)} events")
        return ev

    def stop(self):
        it.terminate(self.proc, 30)
        self.out.close()
        self.err.close()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.out.close()
        self.err.close()


def drop_slot(slot):
    it.drop_slot(slot, timeout=0)  # the cases stopped their readers first


def slot_active_count(slot):
    return psql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name='{slot}' AND active;").strip()


def wait_slot_inactive(slot, timeout=30):
    it.wait_until(lambda: slot_active_count(slot) == "0", timeout, 0.1)


def wait_slot_active(slot, timeout=30):
    """Until a printer streams from SLOT (or TIMEOUT passes: the case's own checks then fail)."""
    it.wait_until(lambda: slot_active_count(slot) == "1", timeout, 0.1)


def days(y, m, d):
    import datetime
    return (datetime.date(y, m, d) - datetime.date(1970, 1, 1)).days


def micros(*a):
    import datetime
    return (datetime.datetime(*a) - datetime.datetime(1970, 1, 1)) // datetime.timedelta(microseconds=1)


# --------------------------------------------------------------------------------- case 1

def case_workload(tmp):
    schema = f"cdc_{TAG}_w"
    slot = f"edgepipe_{TAG}_w"
    psql(f"""
DROP SCHEMA IF EXISTS {schema} CASCADE;
CREATE SCHEMA {schema};
CREATE TABLE {schema}.items (id int PRIMARY KEY, name text, price numeric(10,2), qty bigint,
  ok bool, ts timestamp, tstz timestamptz, d date, tags text[], nums int[], doc jsonb, u uuid,
  raw bytea, f8 float8, big text);
CREATE TABLE {schema}.full_items (id int PRIMARY KEY, name text, big text);
ALTER TABLE {schema}.full_items REPLICA IDENTITY FULL;
CREATE TABLE {schema}.nokey (a int, b text);
INSERT INTO {schema}.items (id, name, price, qty, ok) VALUES (1, 'pre-1', 1.50, 10, true), (2, 'pre-2', 2.00, 20, false);
INSERT INTO {schema}.full_items VALUES (1, 'f-pre', 'x');
""")
    tables = [f"{schema}.items", f"{schema}.full_items", f"{schema}.nokey"]
    p = printer(slot, tables, os.path.join(tmp, "workload.jsonl"))
    try:
        ev = p.wait_for(lambda e: sum(1 for x in e if x["value"] and x["value"]["op"] == "r") >= 3,
                        "3 snapshot rows")
        snap = [x for x in ev if x["value"] and x["value"]["op"] == "r"]
        check(len(snap) == 3, "snapshot: 3 read events")
        r1 = next((x for x in snap if x["key"] == {"id": 1} and x["topic"] == f"edgepipe.{schema}.items"), None)
        check(r1 is not None and r1["value"]["after"]["name"] == "pre-1" and r1["value"]["after"]["price"] == "1.50"
              and r1["value"]["after"]["qty"] == 10 and r1["value"]["after"]["ok"] is True
              and r1["value"]["before"] is None and r1["value"]["source"]["snapshot"] == "first",
              "snapshot row: key, typed after, source.snapshot")
        marks = [x["value"]["source"]["snapshot"] for x in snap]
        check(marks == ["first", "last_in_data_collection", "last"],
              f"snapshot markers as Debezium's, tables in --table order ({marks})")

        big = os.urandom(20000).hex()  # incompressible: stored out of line (TOAST)
        psql(f"""
INSERT INTO {schema}.items VALUES (10, 'ten', 12.50, 9000000000, true, '2026-01-02 03:04:05.123456',
  '2026-01-02 03:04:05.5+02', '2026-01-02', ARRAY['a b','c"d',NULL], ARRAY[1,2,3], '{{"k": [1, 2]}}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x0102ff', 1.5, '{big}');
UPDATE {schema}.items SET name = 'ten-b' WHERE id = 10;
UPDATE {schema}.items SET id = 11 WHERE id = 10;
DELETE FROM {schema}.items WHERE id = 2;
BEGIN;
INSERT INTO {schema}.items (id, name) VALUES (20, 'multi-a');
INSERT INTO {schema}.items (id, name) VALUES (21, 'multi-b');
UPDATE {schema}.items SET qty = 5 WHERE id = 20;
COMMIT;
BEGIN;
INSERT INTO {schema}.items (id, name) VALUES (30, 'rolled-back');
ROLLBACK;
UPDATE {schema}.full_items SET big = '{big}' WHERE id = 1;
UPDATE {schema}.full_items SET name = 'f-new' WHERE id = 1;
INSERT INTO {schema}.nokey VALUES (1, 'x');
TRUNCATE {schema}.nokey;
INSERT INTO {schema}.items (id, name) VALUES (99, 'last');
""")
        ev = p.wait_for(lambda e: any(x["key"] == {"id": 99} for x in e), "the last insert")
        stream = [x for x in ev if not (x["value"] and x["value"]["op"] == "r")]
        items = [x for x in stream if x["topic"] == f"edgepipe.{schema}.items"]
        ops = [(x["value"]["op"] if x["value"] else "tombstone", x["key"]) for x in items]
        expect_ops = [("c", {"id": 10}), ("u", {"id": 10}), ("d", {"id": 10}), ("tombstone", {"id": 10}),
                      ("c", {"id": 11}), ("d", {"id": 2}), ("tombstone", {"id": 2}), ("c", {"id": 20}),
                      ("c", {"id": 21}), ("u", {"id": 20}), ("c", {"id": 99})]
        check(ops == expect_ops, f"items: op/key sequence as the workload did (got {ops})")
        check(not any(x["key"] == {"id": 30} for x in ev), "rolled-back insert absent")

        c10 = items[0]["value"]
        a = c10["after"]
        check(a["id"] == 10 and a["name"] == "ten" and a["price"] == "12.50" and a["qty"] == 9000000000
              and a["ok"] is True, "insert: int/text/numeric(string)/bigint/bool")
        check(a["ts"] == micros(2026, 1, 2, 3, 4, 5, 123456), f"timestamp -> epoch micros ({a['ts']})")
        check(a["tstz"] == "2026-01-02T01:04:05.500000Z", f"timestamptz -> ISO UTC ({a['tstz']})")
        check(a["d"] == days(2026, 1, 2), f"date -> days ({a['d']})")
        check(a["tags"] == ["a b", 'c"d', None] and a["nums"] == [1, 2, 3], f"arrays ({a['tags']}, {a['nums']})")
        check(json.loads(a["doc"]) == {"k": [1, 2]}, "jsonb as a string")
        check(a["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "uuid as a string")
        check(base64.b64decode(a["raw"]) == b"\x01\x02\xff", "bytea as base64")
        check(a["f8"] == 1.5, "float8 as a number")
        check(a["big"] == big, "large (TOASTed) text inserted in full")
        src = c10["source"]
        check(src["connector"] == "postgresql" and src["name"] == "edgepipe" and src["db"] == "edgepipe"
              and src["schema"] == schema and src["table"] == "items" and src["snapshot"] == "false"
              and isinstance(src["txId"], int) and isinstance(src["lsn"], int) and src["lsn"] > 0,
              "source block")
        seq = json.loads(src["sequence"])
        check(len(seq) == 2 and seq[1] == str(src["lsn"]), f"source.sequence ({src['sequence']})")
        check(abs(c10["ts_ms"] - time.time() * 1000) < 120000 and src["ts_ms"] <= c10["ts_ms"] + 1000,
              "ts_ms plausible")

        u10 = items[1]["value"]
        check(u10["before"] is None and u10["after"]["name"] == "ten-b",
              "update (REPLICA IDENTITY DEFAULT): before null, after new")
        check(u10["after"]["big"] == "__debezium_unavailable_value", "unchanged TOAST -> placeholder")
        d10, c11 = items[2]["value"], items[4]["value"]
        check(d10["before"]["id"] == 10 and d10["after"] is None and c11["before"] is None
              and c11["after"]["id"] == 11 and c11["after"]["name"] == "ten-b",
              "primary-key change -> delete(old key) + tombstone + create(new key)")
        check(items[3]["value"] is None, "tombstone has a null value")
        d2 = items[5]["value"]
        check(d2["before"] == {**{k: None for k in a}, "id": 2} and d2["after"] is None,
              "delete (DEFAULT): before has the key, other columns null")
        tx = [items[7]["value"], items[8]["value"], items[9]["value"]]
        check(len({x["source"]["txId"] for x in tx}) == 1 and tx[0]["source"]["txId"] != c10["source"]["txId"],
              "multi-statement transaction: one txId")
        check(tx[2]["after"]["qty"] == 5, "update inside the transaction")

        full = [x for x in stream if x["topic"] == f"edgepipe.{schema}.full_items"]
        check(len(full) == 2 and all(x["value"]["op"] == "u" for x in full), "full_items: 2 updates")
        if len(full) == 2:
            f2 = full[1]["value"]
            check(full[1]["key"] == {"id": 1}, "REPLICA IDENTITY FULL: key is the primary key only")
            check(f2["before"] == {"id": 1, "name": "f-pre", "big": big} and
                  f2["after"] == {"id": 1, "name": "f-new", "big": big},
                  "REPLICA IDENTITY FULL: before = old row; unchanged TOAST filled from it")

        nk = [x for x in stream if x["topic"] == f"edgepipe.{schema}.nokey"]
        nk_ops = [x["value"]["op"] if x["value"] else "tombstone" for x in nk]
        check(nk_ops == ["c", "t"], f"table without key: insert, truncate ({nk_ops})")
        check(all(x["key"] is None for x in nk), "table without primary key: null keys, no tombstones")
        trunc = [x for x in nk if x["value"] and x["value"]["op"] == "t"]
        check(len(trunc) == 1 and trunc[0]["value"]["before"] is None and trunc[0]["value"]["after"] is None,
              "truncate -> op t")

        # Confirmed flush follows the printed commits (stdout flushed -> confirm_durable).
        end_lsn = psql("SELECT pg_current_wal_lsn();").strip()
        ok = it.wait_until(lambda: psql(f"SELECT confirmed_flush_lsn >= '{end_lsn}'::pg_lsn FROM "
                                        f"pg_replication_slots WHERE slot_name = '{slot}';").strip() == "t",
                           30, 0.2)
        check(bool(ok), "slot's confirmed_flush_lsn reaches the current WAL end while idle")
    finally:
        p.stop()
        wait_slot_inactive(slot)
        drop_slot(slot)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE;")


# --------------------------------------------------------------------------------- case 2

def case_snapshot_boundary(tmp):
    schema = f"cdc_{TAG}_b"
    slot = f"edgepipe_{TAG}_b"
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; "
         f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text);"
         f"INSERT INTO {schema}.t SELECT g, 'pre' FROM generate_series(1, 2000) g;")
    n = 3000
    script = "".join(f"INSERT INTO {schema}.t VALUES ({2000 + i}, 'live');\n" for i in range(1, n + 1))
    env = dict(os.environ, PGPASSWORD=PG_PASSWORD)
    writer = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    writer.stdin.write(script[: len(script) // 3])
    writer.stdin.flush()
    p = printer(slot, [f"{schema}.t"], os.path.join(tmp, "boundary.jsonl"))
    try:
        writer.stdin.write(script[len(script) // 3:])
        writer.stdin.close()
        check(writer.wait(timeout=300) == 0, "concurrent writer finished")
        total = int(psql(f"SELECT count(*) FROM {schema}.t;").strip())
        ev = p.wait_for(lambda e: len({x["key"]["id"] for x in e if x["value"]}) >= total, f"{total} rows", 120)
        ids = [x["key"]["id"] for x in ev if x["value"] and x["value"]["op"] in ("r", "c")]
        reads = sum(1 for x in ev if x["value"] and x["value"]["op"] == "r")
        check(sorted(ids) == list(range(1, total + 1)),
              f"boundary: every row exactly once ({len(ids)} events, {reads} from the snapshot, "
              f"{len(ids) - reads} streamed, {total} rows; missed {total - len(set(ids))}, "
              f"doubled {len(ids) - len(set(ids))})")
        check(reads >= 2000, "snapshot holds at least the rows that existed before the slot")
    finally:
        p.stop()
        if writer.poll() is None:
            writer.kill()
        wait_slot_inactive(slot)
        drop_slot(slot)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE;")


# --------------------------------------------------------------------------------- case 3

def case_kill9(tmp):
    schema = f"cdc_{TAG}_k"
    slot = f"edgepipe_{TAG}_k"
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; "
         f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text);")
    out = os.path.join(tmp, "kill9.jsonl")
    n = 3000
    script = "".join(f"INSERT INTO {schema}.t VALUES ({i}, 'v{i}');\n" for i in range(1, n + 1))
    env = dict(os.environ, PGPASSWORD=PG_PASSWORD)
    p = printer(slot, [f"{schema}.t"], out, ["--snapshot", "never"])
    try:
        p.wait_for(lambda e: True, "start", 5)
        wait_slot_active(slot)
        writer = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=env)
        writer.stdin.write(script)
        writer.stdin.close()
        p.wait_for(lambda e: len(e) >= 500, "500 events before the kill", 120)
        p.kill9()
        got_before = len(p.events())
        p = printer(slot, [f"{schema}.t"], out, ["--snapshot", "never"])
        check(writer.wait(timeout=300) == 0, "writer committed all rows")
        ev = p.wait_for(lambda e: len({x["key"]["id"] for x in e}) >= n, f"all {n} rows after restart", 120)
        ids = [x["key"]["id"] for x in ev]
        missing = set(range(1, n + 1)) - set(ids)
        check(not missing, f"kill -9 + restart: every committed row present ({got_before} events before the "
                           f"kill, {len(ids)} in all, {len(ids) - len(set(ids))} duplicates, {len(missing)} missing)")
    finally:
        p.stop()
        wait_slot_inactive(slot)
        drop_slot(slot)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE;")


# --------------------------------------------------------------------------------- case 4

def case_connection_cut(tmp):
    """The walsender is terminated twice mid-stream: the source reconnects with backoff and
    resumes from the slot; every committed row arrives."""
    schema = f"cdc_{TAG}_c"
    slot = f"edgepipe_{TAG}_c"
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; "
         f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text);")
    out = os.path.join(tmp, "cut.jsonl")
    n = 2000
    env = dict(os.environ, PGPASSWORD=PG_PASSWORD)
    p = printer(slot, [f"{schema}.t"], out, ["--snapshot", "never"])
    writer = None
    try:
        wait_slot_active(slot)
        writer = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", CONNINFO],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, env=env)
        writer.stdin.write("".join(f"INSERT INTO {schema}.t VALUES ({i}, 'v');\n" for i in range(1, n + 1)))
        writer.stdin.close()
        for k in (300, 900):
            p.wait_for(lambda e, k=k: len(e) >= k, f"{k} events", 120)
            # The printer's output lags what it received: after the first cut it may still be
            # writing events out while it waits to reconnect, so terminate once it is connected.
            killed = it.wait_until(lambda: psql(f"SELECT count(pg_terminate_backend(active_pid)) FROM "
                                                f"pg_replication_slots WHERE slot_name = '{slot}' AND "
                                                f"active;").strip() == "1", 30, 0.05)
            check(bool(killed), f"walsender terminated after {k} events")
        check(writer.wait(timeout=300) == 0, "writer committed all rows")
        ev = p.wait_for(lambda e: len({x["key"]["id"] for x in e}) >= n, f"all {n} rows", 120)
        ids = [x["key"]["id"] for x in ev]
        check(set(ids) == set(range(1, n + 1)) and p.proc.poll() is None,
              f"connection cut twice: all {n} rows, source still running "
              f"({len(ids) - len(set(ids))} duplicates)")
        p.stop()
        with open(p.err_path) as f:
            err = f.read()
        stats = json.loads(err.strip().splitlines()[-1])
        check(stats["reconnects"] >= 2 and "reconnecting in" in err,
              f"reconnects logged and counted ({stats['reconnects']})")
    finally:
        p.stop()
        if writer is not None and writer.poll() is None:
            writer.kill()
        wait_slot_inactive(slot)
        drop_slot(slot)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE;")


# --------------------------------------------------------------------------------- case 5

def case_large_transaction(tmp):
    """One transaction of 100k rows streams through without being held in memory: the source's
    peak RSS stays far below the transaction's size in events; reports events/s."""
    schema = f"cdc_{TAG}_l"
    slot = f"edgepipe_{TAG}_l"
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; "
         f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text, n numeric(12,2), ts timestamptz);")
    n = 100000
    out = os.path.join(tmp, "large.jsonl")
    p = printer(slot, [f"{schema}.t"], out, ["--snapshot", "never"])
    try:
        wait_slot_active(slot)
        t0 = time.time()
        psql(f"INSERT INTO {schema}.t SELECT g, repeat('x', 200), g / 100.0, now() FROM generate_series(1, {n}) g;",
             timeout=300)
        peak_kb = 0
        last = 0

        def last_event_written():  # samples the peak RSS and the output size at each poll
            nonlocal peak_kb, last
            with open(f"/proc/{p.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = int(line.split()[1])
            last = os.path.getsize(out)
            with open(out, "rb") as f:
                f.seek(max(0, last - 4096))
                return b'"key":{"id":%d}' % n in f.read()
        it.wait_until(last_event_written, 300, 0.2)
        secs = time.time() - t0
        with open(out, "rb") as f:
            count = sum(1 for _ in f)
        check(count == n, f"large transaction: {count} of {n} events")
        out_mb = last / 1e6
        check(peak_kb < 64 * 1024,
              f"large transaction: peak RSS {peak_kb / 1024:.1f} MB for {out_mb:.0f} MB of events "
              f"({n / secs:.0f} events/s incl. the INSERT)")
    finally:
        p.stop()
        wait_slot_inactive(slot)
        drop_slot(slot)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE;")


# --------------------------------------------------------------------------------- case 6

def case_server_restart(tmp):
    """PostgreSQL stopped (fast shutdown) and started again mid-stream with scripts/stack.sh: the
    source reconnects and resumes from the slot; rows committed before and after all arrive."""
    schema = f"cdc_{TAG}_r"
    slot = f"edgepipe_{TAG}_r"
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; "
         f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text);")
    out = os.path.join(tmp, "restart.jsonl")
    p = printer(slot, [f"{schema}.t"], out, ["--snapshot", "never"])
    try:
        wait_slot_active(slot)
        psql("".join(f"INSERT INTO {schema}.t VALUES ({i}, 'a');\n" for i in range(1, 1001)))
        p.wait_for(lambda e: len(e) >= 300, "300 events", 120)
        subprocess.run([STACK, "stop", "postgres"], check=True, timeout=180, capture_output=True)
        subprocess.run([STACK, "start", "postgres"], check=True, timeout=180, capture_output=True)
        psql("".join(f"INSERT INTO {schema}.t VALUES ({i}, 'b');\n" for i in range(1001, 2001)))
        ev = p.wait_for(lambda e: len({x["key"]["id"] for x in e}) >= 2000, "all 2000 rows", 120)
        ids = [x["key"]["id"] for x in ev]
        check(set(ids) == set(range(1, 2001)) and p.proc.poll() is None,
              f"server restart: all 2000 rows, source still running ({len(ids) - len(set(ids))} duplicates)")
    finally:
        p.stop()
        wait_slot_inactive(slot)
        drop_slot(slot)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE;")


# --------------------------------------------------------------------------------- case 7

def case_schema_change(tmp):
    """ALTER TABLE mid-stream (add a column of an enum type the mapping does not know, drop a
    column): the next events follow the new shape; the enum values are sent as text and counted."""
    schema = f"cdc_{TAG}_s"
    slot = f"edgepipe_{TAG}_s"
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; "
         f"CREATE TYPE {schema}.mood AS ENUM ('sad', 'happy'); "
         f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v text);")
    out = os.path.join(tmp, "schema.jsonl")
    p = printer(slot, [f"{schema}.t"], out, ["--snapshot", "never"])
    try:
        wait_slot_active(slot)
        psql(f"""
INSERT INTO {schema}.t VALUES (1, 'a');
ALTER TABLE {schema}.t ADD COLUMN m {schema}.mood;
INSERT INTO {schema}.t VALUES (2, 'b', 'happy');
ALTER TABLE {schema}.t DROP COLUMN v;
INSERT INTO {schema}.t VALUES (3, 'sad');
""")
        ev = p.wait_for(lambda e: len(e) >= 3, "3 events", 60)
        after = {x["key"]["id"]: x["value"]["after"] for x in ev}
        check(after.get(1) == {"id": 1, "v": "a"} and after.get(2) == {"id": 2, "v": "b", "m": "happy"}
              and after.get(3) == {"id": 3, "m": "sad"}, f"events follow ALTER TABLE ({after})")
        p.stop()
        with open(p.err_path) as f:
            stats = json.loads(f.read().strip().splitlines()[-1])
        check(stats["unknown_type_values"] == 2, f"enum values counted as unknown types ({stats['unknown_type_values']})")
    finally:
        p.stop()
        wait_slot_inactive(slot)
        drop_slot(slot)
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE;")


def main():
    try:
        psql("SELECT 1;")
    except Exception as e:  # noqa: BLE001
        print(f"FAIL  PostgreSQL on {PG_HOST}:{PG_PORT} not reachable (scripts/stack.sh up): {e}")
        return 1
    with tempfile.TemporaryDirectory(prefix="edgepipe-cdc-") as tmp:
        for case in (case_workload, case_snapshot_boundary, case_kill9, case_connection_cut,
                     case_large_transaction, case_server_restart, case_schema_change):
            print(f"== {case.__name__}")
            try:
                case(tmp)
            except Exception as e:  # noqa: BLE001
                check(False, f"{case.__name__}: {e}")
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

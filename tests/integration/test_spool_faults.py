#!/usr/bin/env python3
"""Spool fault cases (issue 4) against the real local stack (scripts/stack.sh up: Kafka on
127.0.0.1:9092, FerretDB on 127.0.0.1:27017). The test stops and starts those servers with
scripts/stack.sh, so nothing else should be using the stack while it runs.

Scenarios (each with its own topic, collection and spool directory):
  1. Kafka stopped under load, then started: MongoDB keeps flowing, the Kafka backlog grows.
  2. FerretDB stopped under load, then started: Kafka keeps flowing, the MongoDB backlog grows.
  3. kill -9 of the daemon while Kafka is down; Kafka started; the daemon restarted on the same
     spool with an empty trace delivers the backlog (`edgepipe spool inspect` shows it first).
  4. kill -9, then the last segment is cut mid-frame and garbage appended: the restart cuts and
     counts the torn tail (summary spool.torn_tail_bytes) and delivers every record still listed
     by `edgepipe spool replay`.
  5. Disk limit with Kafka down (segment_bytes 1 MiB, max_bytes 4 MiB): `block` stalls the
     sources (edgepipe_spool_blocked = 1) and loses nothing; `drop_oldest` drops and counts
     records for Kafka only (MongoDB, up all along, gets everything).
  6. The daemon starts while Kafka and FerretDB are both down, spools, and delivers everything
     once both are started.
Every scenario ends by reading back with independent clients (kcat for Kafka, pymongo for
MongoDB) and asserting that no received record is lost; it prints the Kafka duplicate count
(messages minus distinct keys). Waits are polls with deadlines, never fixed sleeps.
Exits non-zero on failure; the last line is "N passed, M failed".

Env: EDGEPIPE_BINARY, EDGEPIPE_SOURCE_DIR, KAFKA_BOOTSTRAP (127.0.0.1:9092),
EDGEPIPE_MONGO_HOSTPORT (127.0.0.1:27017).
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
import urllib.request
import uuid

import edgepipe_it as it
from edgepipe_it import BINARY, MONGO_URI, check, free_port, wait_until

try:
    import pymongo
except ImportError:
    print("pymongo is not installed (pip install pymongo)", file=sys.stderr)
    sys.exit(1)

STACK = it.STACK_SCRIPT
BOOTSTRAP = it.KAFKA_BOOTSTRAP
RUN_ID = uuid.uuid4().hex[:8]
# randomuser synth traces: one payload (one record keyed by login.uuid) every 10 s of trace time,
# so speed "Nx" plays N/10 records per second.
SOURCE_BLOCK = """
[sources.randomuser]
records = "/results"
key = "/login/uuid"
fields = [
  { name = "id", from = "/login/uuid", type = "string", required = true },
  { name = "name", from = "/name" },
  { name = "location", from = "/location" },
  { name = "login", from = "/login" },
  { name = "dob", from = "/dob" },
  { name = "registered", from = "/registered" },
  { name = "picture", from = "/picture" },
  { name = "email", from = "/email" },
  { name = "phone", from = "/phone" },
]
"""

results = []  # one line per scenario for the final table


def run(args, timeout=120, ok_codes=(0,)):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if p.returncode not in ok_codes:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}\n{p.stdout[-2000:]}\n"
                           f"{p.stderr[-4000:]}")
    return p


def stack(action, name):
    t0 = time.time()
    run([STACK, action, name], timeout=180)
    print(f"      (stack {action} {name}: {time.time() - t0:.1f} s)", flush=True)


def summary_of(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith('{"payloads"'):
            return json.loads(line)
    raise RuntimeError("no summary line in:\n" + stdout[-2000:])


# ---------------------------------------------------------------- traces and configs

def make_trace(tmp, name, payloads, seed):
    """A randomuser trace and its record keys in order; checks that the keys are unique."""
    trace = os.path.join(tmp, f"{name}.trace")
    run([BINARY, "synth", "--api", "randomuser", "--payloads", str(payloads), "--out", trace,
         "--seed", str(seed)])
    cfg = os.path.join(tmp, f"{name}-expected.toml")
    out = os.path.join(tmp, f"{name}-expected.jsonl")
    with open(cfg, "w") as f:
        f.write(f'[dead_letter]\npath = "{tmp}/{name}-expected-dl.jsonl"\n'
                f'[sinks.file]\ntype = "file"\npath = "{out}"\n' + SOURCE_BLOCK)
    run([BINARY, "replay", "-c", cfg, "--trace", trace, "--spool", "none"])
    with open(out) as f:
        keys = [json.loads(line)["id"] for line in f if line.strip()]
    check(len(keys) == payloads and len(set(keys)) == len(keys),
          f"{name}: trace of {payloads} payloads gives {len(keys)} records with "
          f"{len(set(keys))} distinct keys")
    return trace, keys


def write_config(path, *, tmp, name, trace, speed="max", source=None, spool_dir, port=None,
                 topic=None, mongo=None, spool_extra="", drain="5s"):
    text = f'[pipeline]\nbatch_records = 256\ndrain_timeout = "{drain}"\n'
    text += f'[replay]\ntrace = "{trace}"\nspeed = "{speed}"\n'
    if source:
        text += f'source = "{source}"\n'
    if port:
        text += f'[http]\nlisten = "127.0.0.1:{port}"\n'
    else:
        text += '[http]\nenabled = false\n'
    text += f'[dead_letter]\npath = "{tmp}/{name}-dead-letter.jsonl"\n'
    text += (f'[spool]\ndir = "{spool_dir}"\nfsync = "interval"\nfsync_interval = "50ms"\n'
             f'retry_backoff = "100ms"\nretry_backoff_max = "1s"\nledger_interval = "100ms"\n'
             + spool_extra)
    if topic:
        text += (f'[sinks.kafka]\ntype = "kafka"\nbrokers = "{BOOTSTRAP}"\ntopic = "{topic}"\n'
                 f'partitions = 1\nmessage_timeout_ms = 5000\nlinger_ms = 5\n')
    if mongo:
        db, coll = mongo
        text += (f'[sinks.mongo]\ntype = "mongodb"\n'
                 f'uri = "{MONGO_URI}/?serverSelectionTimeoutMS=2000&connectTimeoutMS=2000'
                 f'&socketTimeoutMS=10000"\n'
                 f'database = "{db}"\ncollection = "{coll}"\nmode = "insert"\n'
                 f'write_timeout_ms = 5000\nmax_retries = 2\nretry_backoff_ms = 100\n'
                 f'dead_letter_path = "{tmp}/{name}-mongo-dead-letter.jsonl"\n')
    text += SOURCE_BLOCK
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------- daemon

class Daemon:
    def __init__(self, tmp, name, cfg, port):
        self.name, self.port = name, port
        self.out_path = os.path.join(tmp, f"{name}.stdout")
        self.err_path = os.path.join(tmp, f"{name}.stderr")
        self._out, self._err = open(self.out_path, "w"), open(self.err_path, "w")
        self.p = subprocess.Popen([BINARY, "run", "-c", cfg], stdout=self._out, stderr=self._err)

    def metrics(self):
        """{(name, ((label, value), ...)): value} or None when /metrics does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        out = {}
        for line in text.splitlines():
            m = re.match(r'^(\w+)(?:\{([^}]*)\})? (\S+)$', line)
            if not m:
                continue
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
        return out

    def metric(self, name, **labels):
        ms = self.metrics()
        if ms is None:
            return None
        return ms.get(("edgepipe_" + name, tuple(sorted(labels.items()))))

    def wait_metric(self, name, pred, timeout, **labels):
        """Polls a metric until pred(value) holds; returns the value or None at the deadline."""
        box = []

        def ok():
            v = self.metric(name, **labels)
            if v is not None and pred(v):
                box.append(v)
                return True
            return False
        return box[-1] if wait_until(ok, timeout, 0.2) else None

    def stderr_text(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_exit(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill9(self):
        self.p.kill()
        self.p.wait()

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self._out.close()
        self._err.close()


# ---------------------------------------------------------------- read back

def kafka_keys(topic):
    """Every message key of the topic, read from the beginning to the end with kcat."""
    p = run(["kcat", "-C", "-b", BOOTSTRAP, "-t", topic, "-e", "-q", "-f", "%k\\n"], timeout=120)
    return [line for line in p.stdout.splitlines() if line]


def mongo_keys(client, db, coll):
    return [d["_id"] for d in client[db][coll].find({}, {"_id": 1})]


def spool_listing(tmp, spool_dir, name):
    """The records a spool holds, via `edgepipe spool replay DIR --sink file:X` (read-only)."""
    out = os.path.join(tmp, f"{name}-listing.jsonl")
    p = run([BINARY, "spool", "replay", spool_dir, "--sink", "file:" + out])
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    with open(out) as f:
        keys = [json.loads(line)["id"] for line in f if line.strip()]
    return keys, summary


def inspect(spool_dir):
    return json.loads(run([BINARY, "spool", "inspect", spool_dir]).stdout)


def verify(name, received, trace_keys, topic, client, db, coll, dropped_kafka=None,
           dropped_mongo=0):
    """Zero loss: every received key is in Kafka and in MongoDB. `received` is a set of keys;
    records are received in trace order, so every trace key before the last received one must
    be received too (a record vanishing from everywhere is caught)."""
    order = {k: i for i, k in enumerate(trace_keys)}
    check(received and all(k in order for k in received),
          f"{name}: {len(received)} received keys, all from the trace")
    last = max(order[k] for k in received) if received else -1
    prefix = set(trace_keys[:last + 1])
    gaps = prefix - received
    check(not gaps, f"{name}: received records are the trace's first {last + 1} "
          f"({len(gaps)} missing in between)")
    expected = prefix
    kk = kafka_keys(topic)
    mk = mongo_keys(client, db, coll) if db else None  # db None: a Kafka-only run
    if mk is None:
        mk = list(expected)
    kset, mset = set(kk), set(mk)
    k_missing = expected - kset
    m_missing = expected - mset
    dups = len(kk) - len(kset)
    check(not (kset - set(trace_keys)) and not (mset - set(trace_keys)),
          f"{name}: no foreign keys in Kafka / MongoDB")
    check(len(mk) == len(mset), f"{name}: MongoDB has no duplicate _id")
    if not dropped_mongo:
        check(not m_missing, f"{name}: MongoDB has all {len(expected)} received keys "
              f"({len(m_missing)} missing, {len(mset)} documents)")
    else:
        check(len(m_missing) <= dropped_mongo,
              f"{name}: MongoDB missing {len(m_missing)} keys <= {dropped_mongo} dropped and "
              f"counted; {len(mset)} documents")
    if dropped_kafka is None:
        check(not k_missing, f"{name}: Kafka has all {len(expected)} received keys "
              f"({len(k_missing)} missing; {len(kk)} messages, {dups} duplicates)")
    else:
        check(dropped_kafka > 0 and len(k_missing) <= dropped_kafka,
              f"{name}: Kafka missing {len(k_missing)} keys <= {dropped_kafka} dropped (> 0); "
              f"{len(kk)} messages, {dups} duplicates")
    print(f"      {name}: records {len(expected)}, kafka messages {len(kk)} (distinct "
          f"{len(kset)}, duplicates {dups}), mongo documents {len(mset)}", flush=True)
    results.append(f"{name}: records={len(expected)} kafka_lost={len(k_missing)} "
                   f"mongo_lost={len(m_missing) if db else 'n/a'} kafka_duplicates={dups}"
                   + (f" dropped={dropped_kafka}" if dropped_kafka is not None else ""))
    return kk, mk


def names(tag):
    topic = f"edgepipe-spoolfault-{tag}-{RUN_ID}"
    return topic, (f"spoolfault_{RUN_ID}", tag)


# ---------------------------------------------------------------- frames (torn tail)

def frame_offsets(path):
    """(header_bytes, [(offset, frame_bytes, first_id, count)], file_size) of a segment."""
    with open(path, "rb") as f:
        data = f.read()
    header_bytes = struct.unpack_from("<I", data, 12)[0]
    frames, off = [], header_bytes
    while off + 24 <= len(data):
        magic, _crc, body, count, first = struct.unpack_from("<IIIIQ", data, off)
        if magic != 0x46535045 or off + 24 + body > len(data):
            break
        frames.append((off, 24 + body, first, count))
        off += 24 + body
    return header_bytes, frames, len(data)


# ---------------------------------------------------------------- scenarios

def scenario_outage(tmp, client, which):
    """1 (which = kafka) / 2 (which = mongo): stop a destination under load, start it again."""
    tag = f"outage-{which}"
    other = "mongo" if which == "kafka" else "kafka"
    trace, keys = make_trace(tmp, tag, 2500, 101 if which == "kafka" else 102)
    topic, mongo = names(tag)
    port = free_port()
    # 1000x: the 2,500 payloads (one every 10 s) take 25 s, so the trace outlasts stopping the
    # destination (Kafka's controlled shutdown took 10.5 s in a CI run; at 2000x the trace was
    # then nearly all sent and the backlog could no longer grow by the 200 records checked).
    cfg = write_config(os.path.join(tmp, f"{tag}.toml"), tmp=tmp, name=tag, trace=trace,
                       speed="1000x", spool_dir=os.path.join(tmp, f"{tag}-spool"), port=port,
                       topic=topic, mongo=mongo)
    d = Daemon(tmp, tag, cfg, port)
    stopped = False
    try:
        w0 = d.wait_metric("spool_watermark", lambda v: v >= 200, 30, sink=which)
        check(w0 is not None, f"{tag}: {which} delivering before the outage (watermark {w0})")
        stack("stop", which)
        stopped = True
        # While it is down: the other sink keeps going, this one's backlog grows.
        b1 = d.wait_metric("spool_backlog_records", lambda v: v >= 300, 30, sink=which)
        o1 = d.metric("spool_watermark", sink=other)
        b2 = d.wait_metric("spool_backlog_records", lambda v: v >= (b1 or 0) + 200, 30,
                           sink=which)
        o2 = d.metric("spool_watermark", sink=other)
        check(b1 is not None and b2 is not None,
              f"{tag}: {which} backlog grows while it is down ({b1} -> {b2})")
        check(o1 is not None and o2 is not None and o2 > o1,
              f"{tag}: {other} keeps flowing ({other} watermark {o1} -> {o2})")
        ob = d.metric("spool_backlog_records", sink=other)
        check(ob is not None and b2 is not None and ob < b2,
              f"{tag}: {other} backlog {ob} stays below {which}'s {b2}")
        rw = d.wait_metric("spool_rewinds_total", lambda v: v >= 1, 30, sink=which)
        check(rw is not None, f"{tag}: {which} failures seen and retried (rewinds {rw})")
        stack("start", which)
        stopped = False
        rc = d.wait_exit(120)
        check(rc == 0, f"{tag}: daemon finished after {which} came back (exit {rc})")
        if rc != 0:
            print(d.stderr_text()[-3000:])
    finally:
        if stopped:
            stack("start", which)
        d.close()
    verify(tag, set(keys), keys, topic, client, *mongo)


def scenario_start_down(tmp, client):
    """6: the daemon starts while Kafka and FerretDB are both down (an edge node booting without
    its uplink): it starts anyway, spools what it receives, and delivers all of it once both are
    back (the Kafka topic is created then)."""
    tag = "start-down"
    trace, keys = make_trace(tmp, tag, 800, 106)
    topic, mongo = names(tag)
    port = free_port()
    cfg = write_config(os.path.join(tmp, f"{tag}.toml"), tmp=tmp, name=tag, trace=trace,
                       speed="2000x", spool_dir=os.path.join(tmp, f"{tag}-spool"), port=port,
                       topic=topic, mongo=mongo)
    stack("stop", "kafka")
    stack("stop", "mongo")
    down = ["kafka", "mongo"]
    d = Daemon(tmp, tag, cfg, port)
    try:
        a = d.wait_metric("spool_appended_records_total", lambda v: v >= 300, 60)
        check(a is not None, f"{tag}: started with both destinations down, spooling ({a} records)")
        bk = d.wait_metric("spool_backlog_records", lambda v: v >= 300, 30, sink="kafka")
        bm = d.wait_metric("spool_backlog_records", lambda v: v >= 300, 30, sink="mongo")
        check(bk is not None and bm is not None,
              f"{tag}: both backlogs grow while down (kafka {bk}, mongo {bm})")
        err = d.stderr_text()
        check("starting anyway" in err, f"{tag}: the log says why it started anyway")
        for which in ("kafka", "mongo"):
            stack("start", which)
            down.remove(which)
        rc = d.wait_exit(180)
        check(rc == 0, f"{tag}: daemon finished once both came back (exit {rc})")
        if rc != 0:
            print(d.stderr_text()[-3000:])
    finally:
        for which in down:
            stack("start", which)
        d.close()
    verify(tag, set(keys), keys, topic, client, *mongo)


def scenario_kill9(tmp, client):
    """3 and 4: kill -9 with Kafka down (two daemons, one Kafka outage); one spool is then torn."""
    runs = {}
    for tag, seed in (("kill9", 103), ("torn", 104), ("sigterm", 107)):
        trace, keys = make_trace(tmp, tag, 3000, seed)
        topic, mongo = names(tag)
        runs[tag] = dict(trace=trace, keys=keys, topic=topic, mongo=mongo,
                         spool=os.path.join(tmp, f"{tag}-spool"), port=free_port())
    empty = os.path.join(tmp, "empty.jsonl")
    open(empty, "w").close()
    daemons = {}
    stopped = False
    try:
        for tag, r in runs.items():
            cfg = write_config(os.path.join(tmp, f"{tag}.toml"), tmp=tmp, name=tag,
                               trace=r["trace"], speed="1500x", spool_dir=r["spool"],
                               port=r["port"], topic=r["topic"], mongo=r["mongo"])
            daemons[tag] = Daemon(tmp, tag, cfg, r["port"])
        for tag, d in daemons.items():
            w = d.wait_metric("spool_watermark", lambda v: v >= 100, 30, sink="kafka")
            check(w is not None, f"{tag}: Kafka delivering before the outage (watermark {w})")
        stack("stop", "kafka")
        stopped = True
        for tag, d in daemons.items():
            b = d.wait_metric("spool_backlog_records", lambda v: v >= 400, 30, sink="kafka")
            check(b is not None, f"{tag}: Kafka backlog {b} while Kafka is down")
            alive = d.p.poll() is None
            if tag == "sigterm":
                # A clean stop with Kafka down: drain for drain_timeout (5 s), then abandon the
                # delivery (5 s grace) and leave the backlog in the spool.
                t = time.time()
                d.p.send_signal(signal.SIGTERM)
                rc = d.wait_exit(30)
                took = time.time() - t
                check(alive and rc == 0 and took < 15,
                      f"sigterm: SIGTERM with Kafka down exits 0 within drain_timeout + grace "
                      f"(exit {rc} after {took:.1f} s)")
                check("leaving what the sinks have not confirmed in the spool" in d.stderr_text(),
                      "sigterm: the abandoned delivery is logged")
                continue
            d.kill9()
            check(alive, f"{tag}: daemon killed with SIGKILL while running")
        # 3: the backlog as `edgepipe spool inspect` sees it.
        r = runs["kill9"]
        info = inspect(r["spool"])
        kb = info["sinks"].get("kafka", {}).get("backlog_records", 0)
        check(kb > 0 and info["records"] > 0 and info["segments"],
              f"kill9: spool inspect shows Kafka backlog_records {kb} "
              f"({info['records']} records in {len(info['segments'])} segment(s))")
        r["listing"], _ = spool_listing(tmp, r["spool"], "kill9")
        check(len(r["listing"]) >= kb, f"kill9: spool replay lists {len(r['listing'])} records "
              f">= backlog {kb}")
        # A supervisor restarting the daemon while Kafka is still down: it starts anyway (the
        # Kafka sink warns and keeps its records in the spool), and a SIGTERM then leaves the
        # spool as it was: nothing delivered, nothing lost.
        port = free_port()
        cfg = write_config(os.path.join(tmp, "kill9-early.toml"), tmp=tmp, name="kill9-early",
                           trace=empty, source="randomuser", spool_dir=r["spool"], port=port,
                           topic=r["topic"], mongo=r["mongo"])
        early = Daemon(tmp, "kill9-early", cfg, port)
        try:
            started = wait_until(lambda: "starting anyway" in early.stderr_text(), 30)
            check(started and early.p.poll() is None,
                  "kill9: a start while Kafka is down goes ahead (the log says why)")
            early.p.send_signal(signal.SIGTERM)
            rc = early.wait_exit(30)
            check(rc == 0, f"kill9: that daemon stops on SIGTERM (exit {rc})")
        finally:
            early.close()
        after = inspect(r["spool"])
        check(after["records"] == info["records"] and
              after["sinks"]["kafka"]["backlog_records"] == kb,
              f"kill9: the start while Kafka was down left the spool as it was "
              f"({after['records']} records, Kafka backlog "
              f"{after['sinks']['kafka']['backlog_records']})")
        r = runs["sigterm"]
        info = inspect(r["spool"])
        kb = info["sinks"].get("kafka", {}).get("backlog_records", 0)
        mb = info["sinks"].get("mongo", {}).get("backlog_records", -1)
        check(kb > 0 and mb == 0, f"sigterm: the ledgers after the clean stop say Kafka backlog "
              f"{kb} > 0, MongoDB backlog {mb} == 0")
        r["listing"], _ = spool_listing(tmp, r["spool"], "sigterm")
        check(len(r["listing"]) >= kb, f"sigterm: spool replay lists {len(r['listing'])} records "
              f">= backlog {kb}")
        # 4: cut the last segment in the middle of its last frame and append garbage.
        r = runs["torn"]
        segs = sorted(f for f in os.listdir(r["spool"]) if f.endswith(".seg"))
        last = os.path.join(r["spool"], segs[-1])
        _, frames, size = frame_offsets(last)
        check(len(frames) >= 2, f"torn: last segment {segs[-1]} has {len(frames)} frames "
              f"(need 2 to cut one and keep one)")
        off, fbytes, first, count = frames[-1]
        with open(last, "r+b") as f:
            f.truncate(off + fbytes // 2)
            f.seek(0, os.SEEK_END)
            f.write(b"\xde\xad\xbe\xef garbage after a torn frame \x00\x01\x02")
        torn_bytes = os.path.getsize(last) - off
        info = inspect(r["spool"])
        check(info["torn_tail_bytes"] == torn_bytes,
              f"torn: spool inspect measures the torn tail ({info['torn_tail_bytes']} == "
              f"{torn_bytes} bytes, frame of {count} records at id {first} cut)")
        r["listing"], ls = spool_listing(tmp, r["spool"], "torn")
        check(ls["records"] == len(r["listing"]) > 0 and ls["failed"] == 0,
              f"torn: spool replay lists {len(r['listing'])} records before the restart")
        r["torn_bytes"] = torn_bytes
        stack("start", "kafka")
        stopped = False
    finally:
        if stopped:
            stack("start", "kafka")
        for d in daemons.values():
            d.close()

    # 3: restart the daemon (`edgepipe run`) with an empty JSON Lines trace: only the spool's
    # backlog is delivered. Received = what the spool listed plus what MongoDB already had.
    for tag in ("kill9", "sigterm"):
        r = runs[tag]
        received = set(r["listing"]) | set(mongo_keys(client, *r["mongo"]))
        port = free_port()
        cfg = write_config(os.path.join(tmp, f"{tag}-restart.toml"), tmp=tmp,
                           name=f"{tag}-restart", trace=empty, source="randomuser",
                           spool_dir=r["spool"], port=port, topic=r["topic"], mongo=r["mongo"])
        d = Daemon(tmp, f"{tag}-restart", cfg, port)
        try:
            rc = d.wait_exit(120)
            check(rc == 0, f"{tag}: restarted daemon delivered the backlog and exited (exit {rc})")
            if rc != 0:
                print(d.stderr_text()[-3000:])
        finally:
            d.close()
        info = inspect(r["spool"])
        check(info["records"] == 0, f"{tag}: spool empty after the restart "
              f"({info['records']} left)")
        verify(tag, received, r["keys"], r["topic"], client, *r["mongo"])

    # 4: restart with `edgepipe replay -c` (prints the summary): the torn tail is cut and counted.
    r = runs["torn"]
    cfg = write_config(os.path.join(tmp, "torn-restart.toml"), tmp=tmp, name="torn-restart",
                       trace=empty, source="randomuser", spool_dir=r["spool"], topic=r["topic"],
                       mongo=r["mongo"])
    p = subprocess.run([BINARY, "replay", "-c", cfg, "--trace", empty, "--source", "randomuser"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"torn: restart exits 0 (exit {p.returncode})")
    if p.returncode != 0:
        print(p.stderr[-3000:])
    s = summary_of(p.stdout)["spool"]
    check(s["torn_tail_bytes"] == r["torn_bytes"],
          f"torn: summary spool.torn_tail_bytes {s['torn_tail_bytes']} == {r['torn_bytes']}")
    check("torn tail" in p.stderr, "torn: the cut is logged")
    check(s["recovered_records"] >= len(r["listing"]),
          f"torn: recovered_records {s['recovered_records']} >= listed {len(r['listing'])}")
    # Records in the torn frame were never durably received: the listing is what counts (plus
    # what MongoDB confirmed before the kill, which must then be in Kafka too unless torn).
    verify("torn", set(r["listing"]), r["keys"], r["topic"], client, *r["mongo"])


def scenario_disk_limit(tmp, client):
    """5: max_bytes 4 MiB with Kafka down, `block` and `drop_oldest` side by side; a third
    daemon is stopped with SIGTERM while blocked and restarted once Kafka is back."""
    runs = {}
    # FerretDB (SQLite) shares 2 cores with Kafka and the daemons: full-drop's MongoDB sink must
    # keep up with its 400 records/s (or drop_oldest drops MongoDB's records too), so the block
    # daemons play slower and full-block-term has no MongoDB sink.
    for tag, policy, seed, payloads, speed in (
            ("full-block", "block", 105, 6000, "2500x"),
            ("full-drop", "drop_oldest", 106, 8000, "4000x"),
            ("full-block-term", "block", 108, 6000, "2500x")):
        trace, keys = make_trace(tmp, tag, payloads, seed)
        topic, mongo = names(tag)
        if tag == "full-block-term":
            mongo = None  # Kafka only: MongoDB's pace must stay with full-drop (see below)
        spool_dir = os.path.join(tmp, f"{tag}-spool")
        port = free_port()
        extra = (f'segment_bytes = 1048576\nmax_bytes = 4194304\non_full = "{policy}"\n')
        cfg = write_config(os.path.join(tmp, f"{tag}.toml"), tmp=tmp, name=tag, trace=trace,
                           speed=speed, spool_dir=spool_dir, port=port, topic=topic,
                           mongo=mongo, spool_extra=extra)
        runs[tag] = dict(trace=trace, keys=keys, topic=topic, mongo=mongo, spool=spool_dir,
                         port=port, cfg=cfg, policy=policy)
    daemons = {}
    stopped = False
    try:
        for tag, r in runs.items():
            daemons[tag] = Daemon(tmp, tag, r["cfg"], r["port"])
        for tag, d in daemons.items():
            w = d.wait_metric("spool_watermark", lambda v: v >= 50, 30, sink="kafka")
            check(w is not None, f"{tag}: Kafka delivering before the outage (watermark {w})")
        stack("stop", "kafka")
        stopped = True
        d, r = daemons["full-block"], runs["full-block"]
        blocked = d.wait_metric("spool_blocked", lambda v: v == 1, 60)
        check(blocked == 1, "full-block: edgepipe_spool_blocked = 1 with Kafka down")
        sb = d.metric("spool_bytes")
        check(sb is not None and sb <= 4194304, f"full-block: spool_bytes {sb} <= max_bytes")
        a1 = d.metric("spool_appended_records_total")
        # Blocked: nothing more is appended while Kafka is down (polled for a while).
        same = wait_until(lambda: d.metric("spool_appended_records_total") != a1, 2, 0.2)
        check(a1 is not None and a1 < len(r["keys"]) and not same,
              f"full-block: sources stalled at {a1} of {len(r['keys'])} records")
        check("on_full = block" in d.stderr_text(), "full-block: the stall is logged")

        # SIGTERM while blocked on a full spool: the drain cannot finish (Kafka is down), so the
        # daemon abandons delivery after drain_timeout and exits; the spool keeps the backlog.
        d, r = daemons["full-block-term"], runs["full-block-term"]
        blocked = d.wait_metric("spool_blocked", lambda v: v == 1, 60)
        r["appended"] = d.metric("spool_appended_records_total")
        check(blocked == 1, f"full-block-term: blocked at {r['appended']} records")
        t = time.time()
        d.p.send_signal(signal.SIGTERM)
        rc = d.wait_exit(40)
        took = time.time() - t
        check(rc == 0 and took < 20, f"full-block-term: SIGTERM while blocked exits 0 within "
              f"drain_timeout + grace (exit {rc} after {took:.1f} s)")
        if rc != 0:
            print(d.stderr_text()[-3000:])

        d, r = daemons["full-drop"], runs["full-drop"]
        n = len(r["keys"])
        app = d.wait_metric("spool_appended_records_total", lambda v: v >= n, 90)
        check(app == n, f"full-drop: all {n} records appended despite Kafka down ({app})")
        dropped = d.metric("spool_dropped_records_total", sink="kafka")
        mdropped = d.metric("spool_dropped_records_total", sink="mongo")
        dseg = d.metric("spool_dropped_segments_total")
        logged = sum(int(m) for m in re.findall(r"per sink: kafka (\d+)", d.stderr_text()))
        check(dropped is not None and dropped > 0 and dseg and dseg > 0,
              f"full-drop: {dropped} Kafka records dropped in {dseg} segment(s)")
        check(dropped == logged, f"full-drop: the log counts the same ({logged})")
        # MongoDB is up: it loses nothing as long as it keeps up with the trace. On a loaded
        # machine FerretDB can fall more than max_bytes behind; drop_oldest then drops its
        # oldest unconfirmed records too, and those must be counted exactly like Kafka's.
        mlogged = sum(int(m) for m in re.findall(r"per sink: [^\n]*?\bmongo (\d+)",
                                                 d.stderr_text()))
        check(mdropped is not None and (mdropped == 0 or mdropped == mlogged),
              f"full-drop: MongoDB lost nothing to drop_oldest, or only what was counted and "
              f"logged ({mdropped}, logged {mlogged})")
        if mdropped:
            print(f"      full-drop: MongoDB fell behind on this machine: {int(mdropped)} of its "
                  f"records dropped and counted", flush=True)
        r["dropped"] = int(dropped or 0)
        r["mongo_dropped"] = int(mdropped or 0)
        stack("start", "kafka")
        stopped = False
        for tag, d in daemons.items():
            rc = d.wait_exit(180)
            check(rc == 0, f"{tag}: daemon finished after Kafka came back (exit {rc})")
            if rc != 0:
                print(d.stderr_text()[-3000:])
    finally:
        if stopped:
            stack("start", "kafka")
        for d in daemons.values():
            d.close()
    r = runs["full-block"]
    verify("full-block", set(r["keys"]), r["keys"], r["topic"], client, *r["mongo"])
    r = runs["full-block-term"]
    listing, _ = spool_listing(tmp, r["spool"], "full-block-term")
    received = set(listing)
    check(r["appended"] and len(received) >= r["appended"],
          f"full-block-term: {len(received)} records in the spool or MongoDB >= "
          f"{r['appended']} appended before SIGTERM")
    empty = os.path.join(tmp, "empty-block-term.jsonl")
    open(empty, "w").close()
    port = free_port()
    cfg = write_config(os.path.join(tmp, "full-block-term-restart.toml"), tmp=tmp,
                       name="full-block-term-restart", trace=empty, source="randomuser",
                       spool_dir=r["spool"], port=port, topic=r["topic"], mongo=None,
                       spool_extra='segment_bytes = 1048576\nmax_bytes = 4194304\n')
    d = Daemon(tmp, "full-block-term-restart", cfg, port)
    try:
        rc = d.wait_exit(120)
        check(rc == 0, f"full-block-term: restart delivered the backlog and exited (exit {rc})")
        if rc != 0:
            print(d.stderr_text()[-3000:])
    finally:
        d.close()
    verify("full-block-term", received, r["keys"], r["topic"], client, None, None)
    r = runs["full-drop"]
    verify("full-drop", set(r["keys"]), r["keys"], r["topic"], client, *r["mongo"],
           dropped_kafka=r["dropped"], dropped_mongo=r["mongo_dropped"])


def main():
    if not it.require_binary():
        return it.finish()
    if not shutil.which("kcat"):
        check(False, "kcat is required (apt-get install kcat)")
        return it.finish()
    # Two runs of this test (or test_no_duplicates) would stop and start each other's servers.
    if not it.take_outage_lock():
        check(False, "another outage test holds the lock for more than 600 s")
        return it.finish()
    run([STACK, "up"], timeout=300)
    client = pymongo.MongoClient(MONGO_URI, serverSelectionTimeoutMS=10000)
    t0 = time.time()
    only = set(sys.argv[1:])
    scenarios = [("outage-kafka", lambda tmp: scenario_outage(tmp, client, "kafka")),
                 ("outage-mongo", lambda tmp: scenario_outage(tmp, client, "mongo")),
                 ("kill9", lambda tmp: scenario_kill9(tmp, client)),
                 ("start-down", lambda tmp: scenario_start_down(tmp, client)),
                 ("disk-limit", lambda tmp: scenario_disk_limit(tmp, client))]
    try:
        with tempfile.TemporaryDirectory(prefix="edgepipe-spool-faults-") as tmp:
            for name, fn in scenarios:
                if only and name not in only:
                    continue
                t = time.time()
                print(f"== {name}", flush=True)
                try:
                    run([STACK, "up"], timeout=300)  # both servers answering before each one
                    fn(tmp)
                except Exception as ex:  # noqa: BLE001 - report and go on
                    check(False, f"{name}: {type(ex).__name__}: {ex}")
                print(f"   {name}: {time.time() - t:.1f} s", flush=True)
    finally:
        try:
            client.drop_database(f"spoolfault_{RUN_ID}")
        except Exception:  # noqa: BLE001
            pass
        run([STACK, "up"], timeout=300)  # leave the stack up whatever happened
    for line in results:
        print("   " + line)
    return it.finish(t0)


if __name__ == "__main__":
    sys.exit(main())

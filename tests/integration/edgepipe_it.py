"""Shared helpers of the integration tests (tests/integration/test_*.py): where the binary is,
the servers' addresses, pass/fail counting, deadline-bounded waits, running commands, free
ports, psql, the local stack (scripts/stack.sh, shared or private), an `edgepipe run` daemon
polled through /metrics, and reading back what the sinks wrote (Kafka with kcat, files, the
spool).

Not a test itself (ctest registers test_*.py only). Every wait here has a deadline; none is a
fixed sleep. Env: EDGEPIPE_BINARY (default build/edgepipe), EDGEPIPE_SOURCE_DIR (default the
checkout this file is in), and the servers' addresses below.
"""
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("EDGEPIPE_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))
BINARY = os.path.abspath(os.environ.get("EDGEPIPE_BINARY",
                                        os.path.join(SOURCE_DIR, "build", "edgepipe")))
STACK_SCRIPT = os.path.join(SOURCE_DIR, "scripts", "stack.sh")
KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def _env(*names, default=None):
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return default


# The shared stack's addresses. Each takes the variable the tests documented first, then the
# one scripts/stack.sh reads, so the same EDGEPIPE_KAFKA_PORT, EDGEPIPE_MONGO_PORT and
# EDGEPIPE_PG_PORT that start a stack elsewhere point every test (and its stack.sh calls) at it.
KAFKA_BOOTSTRAP = _env("KAFKA_BOOTSTRAP", "EDGEPIPE_KAFKA",
                       default=f"127.0.0.1:{_env('EDGEPIPE_KAFKA_PORT', default='9092')}")
MONGO_HOSTPORT = _env("EDGEPIPE_MONGO_HOSTPORT",
                      default=f"127.0.0.1:{_env('EDGEPIPE_MONGO_PORT', default='27017')}")
MONGO_URI = _env("EDGEPIPE_MONGO_URI", default="mongodb://" + MONGO_HOSTPORT)
PG_HOST = _env("EDGEPIPE_PG_HOST", default="127.0.0.1")
PG_PORT = _env("EDGEPIPE_PG_PORT", default="5432")
PG_PASSWORD = _env("EDGEPIPE_PG_PASSWORD", default="edgepipe")
PG_CONNINFO = f"host={PG_HOST} port={PG_PORT} dbname=edgepipe user=edgepipe"

# ------------------------------------------------------------------------------- pass / fail

passed = 0
failed = 0


def check(cond, what):
    """Counts and prints one check; returns cond."""
    global passed, failed
    if cond:
        passed += 1
        print(f"ok    {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL  {what}", flush=True)
    return cond


def finish(t0=None):
    """Prints the last lines ("total S s" when t0 is given, then "N passed, M failed") and
    returns the exit code."""
    if t0 is not None:
        print(f"total {time.time() - t0:.1f} s")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


def require_binary():
    """True when the edgepipe binary exists; otherwise counts a failure saying so."""
    if os.path.exists(BINARY):
        return True
    return check(False, f"edgepipe binary not found: {BINARY}")


# ------------------------------------------------------------------------- waits, processes


def wait_until(cond, timeout, interval=0.05):
    """Polls cond() until it returns something truthy (returned) or the deadline passes (None)."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() >= deadline:
            return None
        time.sleep(interval)  # poll interval of a deadline-bounded wait


def run(args, timeout=300, env=None, check_rc=True, **kw):
    """Runs a command, output captured as text; a non-zero exit raises with its output."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} exited {p.returncode}\n"
                           f"{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return p


_outage_lock = None


def take_outage_lock(timeout=600):
    """Takes the lock of the tests that stop and start the shared stack's servers
    (test_spool_faults, test_no_duplicates...), so that one of them runs at a time; it is held
    until this process exits. True once taken; False when another test held it past TIMEOUT."""
    global _outage_lock
    if _outage_lock is not None:
        return True
    f = open(os.path.join(tempfile.gettempdir(), "edgepipe-spool-faults.lock"), "w")

    def locked():
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False
    if not wait_until(locked, timeout, 1.0):
        f.close()
        return False
    _outage_lock = f
    return True


def terminate(proc, timeout=30):
    """SIGTERM to a Popen and wait for it (a drain); SIGKILL past TIMEOUT. Its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql, timeout=120, conninfo=None):
    """Runs SQL with psql on the stack's database `edgepipe` as role `edgepipe`: its unaligned,
    tuples-only output. An error raises."""
    env = dict(os.environ, PGPASSWORD=PG_PASSWORD)
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
                        conninfo or PG_CONNINFO], input=sql, capture_output=True, text=True,
                       env=env, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"psql failed: {p.stderr}\n{sql[:300]}")
    return p.stdout


def drop_slot(slot, timeout=20):
    """Drops a replication slot once nothing uses it (waits up to TIMEOUT for that)."""
    wait_until(lambda: psql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name="
                            f"'{slot}' AND active;").strip() == "0", timeout, 0.2)
    psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
         f"WHERE slot_name = '{slot}' AND NOT active;")


def summary_of(stdout):
    """The JSON summary line `edgepipe replay` prints."""
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"records"' in line:
            return json.loads(line)
    raise RuntimeError("no summary line in:\n" + stdout[-2000:])


# ------------------------------------------------------------------------------- the stack


class Stack:
    """scripts/stack.sh with a given environment. Stack() is the shared stack (this process's
    environment: the script's defaults, Kafka 9092, FerretDB 27017, PostgreSQL 5432, unless
    EDGEPIPE_STACK_DIR and EDGEPIPE_*_PORT say otherwise); Stack.private(...) one of its own
    (own data dir and ports), for a test that stops servers. Ports are strings, as in env."""

    def __init__(self, env=None, kafka_port=None, mongo_port=None, pg_port=None,
                 label="stack"):
        self.env = env
        self.kafka_port = str(kafka_port or _env("EDGEPIPE_KAFKA_PORT", default="9092"))
        self.mongo_port = str(mongo_port or _env("EDGEPIPE_MONGO_PORT", default="27017"))
        self.pg_port = str(pg_port or PG_PORT)
        self.label = label

    @classmethod
    def private(cls, stack_dir, kafka_port, controller_port, mongo_port, pg_port):
        env = dict(os.environ, EDGEPIPE_STACK_DIR=stack_dir,
                   EDGEPIPE_KAFKA_PORT=str(kafka_port),
                   EDGEPIPE_KAFKA_CONTROLLER_PORT=str(controller_port),
                   EDGEPIPE_MONGO_PORT=str(mongo_port), EDGEPIPE_PG_PORT=str(pg_port))
        return cls(env, kafka_port, mongo_port, pg_port, label="private stack")

    @property
    def brokers(self):
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_uri(self):
        return f"mongodb://127.0.0.1:{self.mongo_port}"

    def __call__(self, *args, timeout=300):
        """scripts/stack.sh ARGS (up, down, stop NAME, start NAME...), timed."""
        t0 = time.time()
        run([STACK_SCRIPT] + list(args), timeout=timeout, env=self.env)
        print(f"      ({self.label} {' '.join(args)}: {time.time() - t0:.1f} s)", flush=True)

    def up(self):
        self("up")

    def down(self):
        self("down")

    def stop(self, *names):
        """Stops the servers NAMES at the same time (one stack.sh each: they touch different
        pid files) and waits for all of them."""
        self.background("stop", *names).wait()

    def start(self, *names):
        self.background("start", *names).wait()

    def background(self, action, *names):
        """`stack.sh ACTION NAME` for each name, all at once, not waited for: a StackJob."""
        return StackJob(self, action, names)


class StackJob:
    """stack.sh commands running in the background; wait() raises if one failed."""

    def __init__(self, stack, action, names):
        self.what = f"{stack.label} {action} {' '.join(names)}"
        self.t0 = time.time()
        self.procs = [subprocess.Popen([STACK_SCRIPT, action, name], env=stack.env,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True) for name in names]
        self.done = False

    def wait(self, timeout=300):
        if self.done:
            return
        self.done = True
        bad = []
        for p in self.procs:
            out, _ = p.communicate(timeout=timeout)
            if p.returncode != 0:
                bad.append(f"{' '.join(p.args)} exited {p.returncode}\n{out[-3000:]}")
        print(f"      ({self.what}: {time.time() - self.t0:.1f} s)", flush=True)
        if bad:
            raise RuntimeError("\n".join(bad))


# ------------------------------------------------------------------ a daemon and its metrics


def parse_metrics(text):
    """Prometheus text -> {(name, ((label, value), ...)): float}; labels sorted."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(\w+)(?:\{([^}]*)\})? (\S+)$', line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


class Metrics:
    """One scrape of /metrics. get("spool_watermark", sink="kafka"): the value of
    edgepipe_spool_watermark{sink="kafka"}, or None."""

    def __init__(self, values):
        self.values = values

    def get(self, name, **labels):
        return self.values.get(("edgepipe_" + name, tuple(sorted(labels.items()))))


class Daemon:
    """An edgepipe process (usually `run -c CFG`) with stdout/stderr in TMP/NAME.stdout/.stderr,
    its /metrics on 127.0.0.1:PORT."""

    def __init__(self, tmp, name, args, port, env=None):
        self.port = port
        self.name = name
        self.err_path = os.path.join(tmp, f"{name}.stderr")
        self._out = open(os.path.join(tmp, f"{name}.stdout"), "w")
        self._err = open(self.err_path, "w")
        self.p = subprocess.Popen([BINARY] + list(args), stdout=self._out, stderr=self._err,
                                  env=env)

    def get(self, path, timeout=2):
        """GET http://127.0.0.1:PORT/PATH: (status, body bytes), or (None, b"") when nothing
        answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None, b""

    def scrape(self):
        """One scrape of /metrics (a Metrics), or None when it does not answer."""
        status, body = self.get("/metrics")
        if status != 200:
            return None
        return Metrics(parse_metrics(body.decode()))

    def metric(self, name, **labels):
        m = self.scrape()
        return m.get(name, **labels) if m is not None else None

    def wait_scrape(self, pred, timeout):
        """Scrapes until pred(Metrics) is true (returns that scrape), the process exits or the
        deadline passes (None)."""
        box = []

        def ok():
            m = self.scrape()
            if m is not None and pred(m):
                box.append(m)
                return True
            return self.p.poll() is not None  # exited: stop waiting
        wait_until(ok, timeout)
        return box[-1] if box else None

    def wait_metric(self, name, pred, timeout, **labels):
        """Waits until pred(value of the metric) is true: that value, or None."""
        m = self.wait_scrape(lambda m: m.get(name, **labels) is not None and
                             pred(m.get(name, **labels)), timeout)
        return m.get(name, **labels) if m is not None else None

    def stderr_text(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.p.poll() is None

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def stop(self, timeout=60):
        """SIGTERM and wait for the exit (drain); SIGKILL past the deadline. The exit code."""
        return terminate(self.p, timeout)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self._out.close()
        self._err.close()


# ------------------------------------------------------------------------------- read back


def read_topic(brokers, topic, isolation="read_uncommitted", fmt="%s\\n", timeout=180):
    """Every message of TOPIC (all partitions, start to end) as kcat prints it with FMT, one
    output line per message when FMT ends in a newline: (lines, completed). kcat is an
    independent consumer (librdkafka's, not edgepipe's code); with read_committed the end is the
    last stable offset, so nothing of an open or aborted transaction is read."""
    p = subprocess.run([KCAT, "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-X", f"isolation.level={isolation}", "-f", fmt],
                       capture_output=True, text=True, timeout=timeout)
    return [line for line in p.stdout.splitlines() if line.strip()], p.returncode == 0


def read_messages(brokers, topic, timeout=120, client=None):
    """Every message of TOPIC, start to end, as dicts {partition, offset, key, value, headers}
    (key and value text or None, headers a list of (name, text) pairs), in partition and offset
    order. CLIENT "kcat" or "kafka-python" (a topic that does not exist reads as empty; TIMEOUT
    bounds the read); by default kcat when installed (scripts/stack.sh installs it)."""
    out = []
    if client is None:
        client = "kcat" if KCAT else "kafka-python"
    if client == "kcat":
        p = run([KCAT, "-C", "-b", brokers, "-t", topic, "-e", "-J", "-q"], timeout=timeout)
        for line in p.stdout.splitlines():
            m = json.loads(line)
            h = m.get("headers") or []
            out.append({"partition": m.get("partition"), "offset": m.get("offset"),
                        "key": m.get("key"), "value": m.get("payload"),
                        "headers": [(h[i], h[i + 1]) for i in range(0, len(h) - 1, 2)]})
    else:
        from kafka import KafkaConsumer, TopicPartition  # lz4 payloads need the `lz4` module
        c = KafkaConsumer(bootstrap_servers=brokers, group_id=None, enable_auto_commit=False)
        try:
            tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or set()]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            end = c.end_offsets(tps)
            deadline = time.time() + timeout
            while any(c.position(tp) < end[tp] for tp in tps) and time.time() < deadline:
                for batch in c.poll(timeout_ms=300).values():
                    for m in batch:
                        out.append({"partition": m.partition, "offset": m.offset,
                                    "key": m.key.decode() if m.key is not None else None,
                                    "value": m.value.decode() if m.value is not None else None,
                                    "headers": [(k, v.decode()) for k, v in m.headers]})
        finally:
            c.close()
    out.sort(key=lambda m: (m["partition"], m["offset"]))
    return out


def json_ids(lines, field="id"):
    return [json.loads(line)[field] for line in lines]


def rotated_files(path):
    """PATH.1, PATH.2, ... (the file sink's rotations, oldest first), then PATH."""
    files = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        files.append(f"{path}.{i}")
        i += 1
    files.append(path)
    return files


def file_ids(path, field="id"):
    """The FIELD of every line of PATH and its rotations: (ids, torn lines, files)."""
    ids, torn = [], 0
    files = [f for f in rotated_files(path) if os.path.exists(f)]
    for name in files:
        with open(name, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):
            torn += 1
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                ids.append(json.loads(line)[field])
            except (ValueError, KeyError):
                torn += 1
    return ids, torn, len(files)


def spool_ids(tmp, spool_dir, name, field="id"):
    """The FIELD of every record a spool still holds (`edgepipe spool replay`, read-only)."""
    out = os.path.join(tmp, f"{name}-listing.jsonl")
    run([BINARY, "spool", "replay", spool_dir, "--sink", "file:" + out])
    with open(out) as f:
        return [json.loads(line)[field] for line in f if line.strip()]


def synth_trace(tmp, api, payloads, seed, name=None):
    """`edgepipe synth`: the trace's path."""
    path = os.path.join(tmp, name or f"{api}-{seed}.trace")
    run([BINARY, "synth", "--api", api, "--payloads", str(payloads), "--out", path,
         "--seed", str(seed)])
    return path


def trace_records(tmp, trace, source, source_block, name="expected", field="id"):
    """The FIELD of every record TRACE gives with SOURCE_BLOCK, in order: a replay to a file
    sink with no spool and no daemon (what "received" must be a prefix of)."""
    cfg = os.path.join(tmp, f"{name}.toml")
    out = os.path.join(tmp, f"{name}.jsonl")
    with open(cfg, "w") as f:
        f.write(f'[dead_letter]\npath = "{tmp}/{name}-dl.jsonl"\n'
                f'[sinks.file]\ntype = "file"\npath = "{out}"\n' + source_block)
    run([BINARY, "replay", "-c", cfg, "--trace", trace, "--source", source, "--spool", "none"])
    with open(out) as f:
        return [json.loads(line)[field] for line in f if line.strip()]


def spool_inspect(spool_dir):
    """`edgepipe spool inspect` (read-only): its JSON (committed_end, per-sink watermarks...)."""
    return json.loads(run([BINARY, "spool", "inspect", spool_dir]).stdout)


_T0 = time.time()


def log(msg):
    """A progress line with the seconds since the test started."""
    print(f"      [{time.time() - _T0:6.1f} s] {msg}", flush=True)

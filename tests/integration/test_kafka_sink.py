#!/usr/bin/env python3
"""Kafka sink against the real local broker (scripts/stack.sh up; Kafka on 127.0.0.1:9092).

For each seed API: synthesise a trace, replay it once to an envelope file sink (the expected
records: key, source, sequence, value) and once to kafka://127.0.0.1:9092/<fresh topic>, then read
the topic back with an independent client (kcat, or kafka-python when kcat is missing) and check:
exact record count (== the summary's "records"), every expected key present, every value equal
(as JSON) to the file sink's, headers source / record-id / content-type on every message, no
duplicates. Exits non-zero on failure; the last line is "N passed, M failed".

Env: EDGEPIPE_BINARY (default build/edgepipe), KAFKA_BOOTSTRAP (default 127.0.0.1:9092).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("EDGEPIPE_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
BINARY = os.environ.get("EDGEPIPE_BINARY", os.path.join(SOURCE_DIR, "build", "edgepipe"))
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
CASES = [("coingecko", 8, 11), ("iss", 200, 12), ("randomuser", 50, 13)]

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok    {what}")
    else:
        failed += 1
        print(f"FAIL  {what}")
    return cond


def run(args, timeout=300):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}\n{p.stderr[-4000:]}")
    return p


def summary_of(stdout):
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and '"records"' in line:
            return json.loads(line)
    raise RuntimeError("no summary line in:\n" + stdout)


def envelope_config(path, out):
    """The embedded default config with its file sink switched to the envelope format."""
    text = run([BINARY, "default-config"]).stdout
    lines, in_sink = [], False
    for line in text.splitlines():
        if line.startswith("["):
            in_sink = line.strip() == "[sinks.file]"
        if in_sink and line.startswith("path"):
            lines.append(f'path = "{out}"')
            line = 'format = "envelope"'  # the default config leaves format at its default
        elif in_sink and line.startswith("format"):
            continue
        lines.append(line)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def read_topic_kcat(topic):
    p = run(["kcat", "-C", "-b", BOOTSTRAP, "-t", topic, "-e", "-J", "-q"], timeout=120)
    out = []
    for line in p.stdout.splitlines():
        m = json.loads(line)
        h = m.get("headers") or []
        out.append({"key": m.get("key"), "value": m.get("payload"),
                    "headers": [(h[i], h[i + 1]) for i in range(0, len(h) - 1, 2)]})
    return out


def read_topic_kafka_python(topic, timeout_s=60):
    from kafka import KafkaConsumer, TopicPartition  # lz4 payloads need the `lz4` module
    c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None, enable_auto_commit=False)
    try:
        parts = c.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        out, deadline = [], time.time() + timeout_s
        while any(c.position(tp) < end[tp] for tp in tps) and time.time() < deadline:
            for batch in c.poll(timeout_ms=500).values():
                for m in batch:
                    out.append({"key": m.key.decode() if m.key is not None else None,
                                "value": m.value.decode(),
                                "headers": [(k, v.decode()) for k, v in m.headers]})
        return out
    finally:
        c.close()


def read_topic(topic):
    return read_topic_kcat(topic) if shutil.which("kcat") else read_topic_kafka_python(topic)


def test_api(api, payloads, seed, tmp):
    trace = os.path.join(tmp, f"{api}.trace")
    expected_path = os.path.join(tmp, f"{api}.expected.jsonl")
    cfg = os.path.join(tmp, f"{api}.toml")
    run([BINARY, "synth", "--api", api, "--payloads", str(payloads), "--out", trace,
         "--seed", str(seed)])
    envelope_config(cfg, expected_path)
    exp_summary = summary_of(run([BINARY, "replay", "-c", cfg, "--trace", trace]).stdout)
    expected = {}
    with open(expected_path) as f:
        for line in f:
            e = json.loads(line)
            expected[str(e["sequence"])] = e

    topic = f"edgepipe-it-{api}-{uuid.uuid4().hex[:12]}"
    p = run([BINARY, "replay", "-c", cfg, "--trace", trace,
             "--sink", f"kafka://{BOOTSTRAP}/{topic}"])
    summary = summary_of(p.stdout)
    n = summary["records"]
    check(n > 0 and n == exp_summary["records"] == len(expected),
          f"{api}: {n} records transformed, same as the file replay")
    check(summary["delivered"].get("kafka") == n and summary["failed"].get("kafka") == 0,
          f"{api}: summary delivered == records, failed == 0 ({summary['delivered']}, "
          f"{summary['failed']})")

    got = read_topic(topic)
    check(len(got) == n, f"{api}: topic {topic} holds exactly {n} messages (got {len(got)})")

    bad_headers, mismatches, seen = 0, 0, set()
    for m in got:
        h = dict(m["headers"])
        rid = h.get("record-id")
        e = expected.get(rid)
        if (e is None or h.get("source") != api or h.get("content-type") != "application/json"
                or len(m["headers"]) != 3):
            bad_headers += 1
            continue
        seen.add(rid)
        if m["key"] != e["key"] or json.loads(m["value"]) != e["value"]:
            mismatches += 1
    check(bad_headers == 0, f"{api}: headers source/record-id/content-type on every message "
          f"({bad_headers} bad)")
    check(mismatches == 0, f"{api}: key and value equal the file sink's for every record "
          f"({mismatches} differ)")
    check(len(seen) == len(expected), f"{api}: every record id delivered exactly once "
          f"({len(seen)} distinct of {len(expected)})")
    expected_keys = {e["key"] for e in expected.values() if e["key"] is not None}
    got_keys = {m["key"] for m in got if m["key"] is not None}
    missing = expected_keys - got_keys
    check(not missing, f"{api}: all {len(expected_keys)} expected keys present "
          f"({len(missing)} missing)")
    if any(e["key"] is None for e in expected.values()):
        check(any(m["key"] is None for m in got), f"{api}: unkeyed records have no message key")


def main():
    if not os.path.exists(BINARY):
        print(f"edgepipe binary not found: {BINARY}")
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory(prefix="edgepipe-kafka-it-") as tmp:
        for api, payloads, seed in CASES:
            try:
                test_api(api, payloads, seed, tmp)
            except Exception as ex:  # noqa: BLE001 - report and go on with the next API
                check(False, f"{api}: {ex}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Kafka sink against the real local broker (scripts/stack.sh up; Kafka on 127.0.0.1:9092).

For each seed API: synthesise a trace, replay it once to an envelope file sink (the expected
records: key, source, sequence, value) and once to kafka://127.0.0.1:9092/<fresh topic>, then read
the topic back with an independent client (kcat, or kafka-python when kcat is missing) and check:
exact record count (== the summary's "records"), every expected key present, every value equal
(as JSON) to the file sink's, exactly the headers source and record-id on every message (no
content-type since 2026-12-06: every value is JSON), no duplicates. Exits non-zero on failure;
the last line is "N passed, M failed".

Env: EDGEPIPE_BINARY (default build/edgepipe), KAFKA_BOOTSTRAP (default 127.0.0.1:9092, or
127.0.0.1:$EDGEPIPE_KAFKA_PORT).
"""
import json
import os
import sys
import tempfile
import uuid

import edgepipe_it as it
from edgepipe_it import BINARY, check, run, summary_of

BOOTSTRAP = it.KAFKA_BOOTSTRAP
CASES = [("coingecko", 8, 11), ("iss", 200, 12), ("randomuser", 50, 13)]


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


def read_topic(topic):
    return it.read_messages(BOOTSTRAP, topic)


def test_api(api, payloads, seed, tmp):
    trace = os.path.join(tmp, f"{api}.trace")
    expected_path = os.path.join(tmp, f"{api}.expected.jsonl")
    cfg = os.path.join(tmp, f"{api}.toml")
    run([BINARY, "synth", "--api", api, "--payloads", str(payloads), "--out", trace,
         "--seed", str(seed)])
    envelope_config(cfg, expected_path)
    # Each replay gets a spool of its own: a spool never gives an id twice (its id lease), so a
    # second replay on the same spool would number its records after the first one's.
    exp_summary = summary_of(run([BINARY, "replay", "-c", cfg, "--trace", trace,
                                  "--spool", os.path.join(tmp, f"{api}.spool-file")]).stdout)
    expected = {}
    with open(expected_path) as f:
        for line in f:
            e = json.loads(line)
            expected[str(e["sequence"])] = e

    topic = f"edgepipe-it-{api}-{uuid.uuid4().hex[:12]}"
    p = run([BINARY, "replay", "-c", cfg, "--trace", trace,
             "--spool", os.path.join(tmp, f"{api}.spool-kafka"),
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
        if e is None or h.get("source") != api or len(m["headers"]) != 2:
            bad_headers += 1
            continue
        seen.add(rid)
        if m["key"] != e["key"] or json.loads(m["value"]) != e["value"]:
            mismatches += 1
    check(bad_headers == 0, f"{api}: headers source and record-id (only) on every message "
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
    if not it.require_binary():
        return it.finish()
    with tempfile.TemporaryDirectory(prefix="edgepipe-kafka-it-") as tmp:
        for api, payloads, seed in CASES:
            try:
                test_api(api, payloads, seed, tmp)
            except Exception as ex:  # noqa: BLE001 - report and go on with the next API
                check(False, f"{api}: {ex}")
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Kafka sink against the real local broker (scripts/stack.sh up; Kafka on 127.0.0.1:9092).

For each seed API: synthesise a trace, replay it once to an envelope file sink (the expected
records: key, source, sequence, value) and once to kafka://127.0.0.1:9092/<fresh topic>, then read
the topic back with an independent client (kcat, or kafka-python when kcat is missing) and check:
exact record count (== the summary's "records"), every expected key present, every value equal
(as JSON) to the file sink's, exactly the headers source and record-id on every message (no
content-type since 2026-12-06: every value is JSON), no duplicates.

Then a record over librdkafka's message.max.bytes (1,000,000): the replay stops at once (exit 1)
naming the record, its size and the setting, and the records stay in its spool; with
message.max.bytes raised in the sink's properties every record lands, the big one whole.
Exits non-zero on failure; the last line is "N passed, M failed".

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


def test_oversized(tmp):
    big = "x" * 1_500_000  # over message.max.bytes before compression; lz4 makes it small
    trace = os.path.join(tmp, "big.jsonl")
    with open(trace, "w") as f:
        for i, s in enumerate(["small", big, "small too"]):
            f.write(json.dumps({"id": i, "s": s}) + "\n")
    run_id = uuid.uuid4().hex[:8]

    def config(name, properties):
        topic = f"edgepipe.it.{name}.{run_id}"
        path = os.path.join(tmp, f"{name}.toml")
        with open(path, "w") as f:
            f.write(f'[dead_letter]\npath = "{tmp}/{name}-dead.jsonl"\n'
                    f'[sinks.kafka]\ntype = "kafka"\nbrokers = "{BOOTSTRAP}"\n'
                    f'topic = "{topic}"\npartitions = 1\n{properties}'
                    '[sources.big]\nfields = [ { name = "id", from = "/id", type = "int" }, '
                    '{ name = "s", from = "/s" } ]\n')
        return path

    stuck_spool = os.path.join(tmp, "big-stuck.spool")
    p = run([BINARY, "replay", "-c", config("big-stuck", ""), "--trace", trace, "--source", "big",
             "--spool", stuck_spool], timeout=120, check_rc=False)
    check(p.returncode == 1, f"oversized: the replay stops with exit 1 (exit {p.returncode})")
    check("replay stopped: sinks.kafka: record 1 (source big, 1500" in p.stderr
          and "is over message.max.bytes 1000000" in p.stderr
          and "[sinks.kafka.properties]" in p.stderr,
          "oversized: the reason names the record, its size, the limit and the setting "
          f"({[line for line in p.stderr.splitlines() if 'replay stopped' in line][:1]})")
    inspect = json.loads(run([BINARY, "spool", "inspect", stuck_spool]).stdout)
    check(inspect["records"] == 3, f"oversized: the spool keeps all 3 records ({inspect['records']})")
    p = run([BINARY, "replay", "-c",
             config("big-raised", 'properties = { "message.max.bytes" = "3000000" }\n'),
             "--trace", trace, "--source", "big",
             "--spool", os.path.join(tmp, "big-raised.spool")], timeout=120)
    got = read_topic(f"edgepipe.it.big-raised.{run_id}")
    values = sorted((json.loads(m["value"]) for m in got), key=lambda v: v["id"])
    check(len(got) == 3 and [v["id"] for v in values] == [0, 1, 2] and values[1]["s"] == big,
          f"oversized: with message.max.bytes raised all 3 land, the big one whole "
          f"({len(got)} messages)")


def main():
    if not it.require_binary():
        return it.finish()
    with tempfile.TemporaryDirectory(prefix="edgepipe-kafka-it-") as tmp:
        for api, payloads, seed in CASES:
            try:
                test_api(api, payloads, seed, tmp)
            except Exception as ex:  # noqa: BLE001 - report and go on with the next API
                check(False, f"{api}: {ex}")
        try:
            test_oversized(tmp)
        except Exception as ex:  # noqa: BLE001 - report it as a failure
            check(False, f"oversized: {ex}")
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

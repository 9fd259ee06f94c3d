#!/usr/bin/env python3
"""Integration test of the MongoDB sink against the local stack (scripts/stack.sh up: FerretDB or
any mongod on 127.0.0.1:27017, or on $EDGEPIPE_MONGO_PORT). For each seed API: synthesise a trace, replay it to a file sink
(the expected transform output) and to MongoDB (insert mode via --sink URI, upsert mode via a
TOML config with an index), read back with pymongo and compare by key. Replays twice to check
that nothing is duplicated. Uses unique database names and drops them at the end.

Env: EDGEPIPE_BINARY (the edgepipe binary), EDGEPIPE_SOURCE_DIR (repo root), EDGEPIPE_MONGO_URI
(or EDGEPIPE_MONGO_HOSTPORT, or EDGEPIPE_MONGO_PORT).
"""
import json
import os
import re
import sys
import tempfile
import time

import edgepipe_it as it
from edgepipe_it import BINARY, check

try:
    import pymongo
except ImportError:
    print("pymongo is not installed (pip install pymongo)", file=sys.stderr)
    sys.exit(1)

URI = it.MONGO_URI

# api -> (payloads, seed, key field in the transformed value or None)
APIS = {
    "coingecko": (4, 11, "id"),
    "iss": (60, 12, None),
    "randomuser": (6, 13, "id"),  # id = login.uuid, also the record key
}
INDEX_FIELD = {"coingecko": "symbol", "iss": "timestamp", "randomuser": "email"}

def run(args, cwd):
    p = it.run([BINARY] + args, cwd=cwd, check_rc=False)
    if p.returncode != 0:
        print(f"command failed ({p.returncode}): {' '.join(args)}\n{p.stdout}\n{p.stderr}",
              file=sys.stderr)
        raise SystemExit(1)
    return p


def summary(p):
    for line in reversed((p.stdout + "\n" + p.stderr).splitlines()):
        if line.startswith('{"payloads"'):
            return json.loads(line)
    raise AssertionError("no summary line in output:\n" + p.stdout + p.stderr)


def duplicates(p):
    m = re.search(r"(\d+) of them duplicates", p.stderr)
    return int(m.group(1)) if m else 0


def strip_id(doc):
    d = dict(doc)
    d.pop("_id", None)
    return d


def config_with_mongo_sink(tmp, db, coll, mode, index_field):
    with open(os.path.join(it.SOURCE_DIR, "config", "default.toml")) as f:
        text = f.read()
    sink = (f'[sinks.mongo]\ntype = "mongodb"\nuri = "{URI}/?serverSelectionTimeoutMS=5000&socketTimeoutMS=30000"\n'
            f'database = "{db}"\ncollection = "{coll}"\nmode = "{mode}"\n'
            f'write_concern = "1"\nwrite_timeout_ms = 5000\n'
            f'dead_letter_path = "{tmp}/dl/mongo-dead-letter.jsonl"\n'
            f'indexes = [ {{ keys = {{ {index_field} = 1 }} }} ]\n')
    # FerretDB v1.24 (SQLite) hangs server-wide on an unordered update command with a few
    # hundred upserts (reproduced with pymongo: 100 fine, 300 hang); the sink's default
    # upsert_bulk_size (25) keeps each command well below that.
    text, n = re.subn(r"\[sinks\.file\]\n(?:[^\n]+\n)*", sink, text, count=1)
    assert n == 1, "default.toml has no [sinks.file] block to replace"
    path = os.path.join(tmp, f"mongo-{mode}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    client = pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000)
    try:
        client.admin.command("ping")
    except Exception as e:  # noqa: BLE001
        print(f"MongoDB not reachable at {URI} ({e}); start it with scripts/stack.sh up",
              file=sys.stderr)
        return 1
    run_id = f"{os.getpid()}_{int(time.time())}"
    dbs = []
    try:
        with tempfile.TemporaryDirectory(prefix="edgepipe-mongo-it-") as tmp:
            for api, (payloads, seed, key_field) in APIS.items():
                trace = os.path.join(tmp, f"{api}.trace")
                run(["synth", "--api", api, "--payloads", str(payloads), "--out", trace,
                     "--seed", str(seed)], tmp)
                out = os.path.join(tmp, f"{api}.jsonl")
                run(["replay", "--trace", trace, "--sink", "file:" + out], tmp)
                with open(out) as f:
                    expected = [json.loads(line) for line in f if line.strip()]
                check(len(expected) > 0, f"{api}: file sink produced records")
                first, last = {}, {}
                if key_field:
                    for v in expected:
                        first.setdefault(v[key_field], v)
                        last[v[key_field]] = v

                # ---- insert mode via --sink URI
                db = f"edgepipe_it_{api}_{run_id}"
                dbs.append(db)
                coll = client[db][api]
                sink_uri = f"{URI}/{db}.{api}"
                p = run(["replay", "--trace", trace, "--sink", sink_uri], tmp)
                s = summary(p)
                check(s["delivered"].get("mongodb") == len(expected),
                      f"{api} insert: delivered {s['delivered']} == {len(expected)}")
                check(s["failed"].get("mongodb") == 0, f"{api} insert: failed {s['failed']}")
                docs = list(coll.find())
                if key_field:
                    check(len(docs) == len(first),
                          f"{api} insert: {len(docs)} docs == {len(first)} distinct keys")
                    ids = [d["_id"] for d in docs]
                    check(len(set(ids)) == len(ids) and set(ids) == set(first),
                          f"{api} insert: every key present exactly once by _id")
                    bad = [d["_id"] for d in docs if strip_id(d) != first.get(d["_id"])]
                    check(not bad, f"{api} insert: stored docs equal the first record per key "
                                   f"(mismatch for {bad[:3]})")
                    dup_expected = len(expected) - len(first)
                    check(duplicates(p) == dup_expected,
                          f"{api} insert: duplicates {duplicates(p)} == {dup_expected}")
                else:
                    check(len(docs) == len(expected),
                          f"{api} insert: {len(docs)} docs == {len(expected)} records")
                    got = sorted(json.dumps(strip_id(d), sort_keys=True) for d in docs)
                    want = sorted(json.dumps(v, sort_keys=True) for v in expected)
                    check(got == want, f"{api} insert: stored docs equal the file sink output")
                # Replay again: keyed sources must not duplicate.
                p = run(["replay", "--trace", trace, "--sink", sink_uri], tmp)
                s = summary(p)
                check(s["delivered"].get("mongodb") == len(expected),
                      f"{api} insert replay 2: delivered {s['delivered']}")
                n = coll.count_documents({})
                if key_field:
                    check(n == len(first), f"{api} insert replay 2: {n} docs == {len(first)}")
                    check(duplicates(p) == len(expected),
                          f"{api} insert replay 2: all {len(expected)} counted as duplicates")
                else:
                    # Keyless records: each record of each run is a new document.
                    check(n == 2 * len(expected), f"{api} insert replay 2: {n} == 2 x records")

                # ---- upsert mode via a TOML config with an index
                if os.environ.get("EDGEPIPE_MONGO_SKIP_UPSERT") == "1":
                    continue
                ucoll_name = f"{api}_upsert"
                cfg = config_with_mongo_sink(tmp, db, ucoll_name, "upsert", INDEX_FIELD[api])
                for attempt in (1, 2):
                    p = run(["replay", "-c", cfg, "--trace", trace], tmp)
                    s = summary(p)
                    check(s["delivered"].get("mongo") == len(expected),
                          f"{api} upsert run {attempt}: delivered {s['delivered']}")
                    check(s["failed"].get("mongo") == 0, f"{api} upsert run {attempt}: failed")
                ucoll = client[db][ucoll_name]
                docs = list(ucoll.find())
                if key_field:
                    check(len(docs) == len(last),
                          f"{api} upsert: {len(docs)} docs == {len(last)} distinct keys")
                    bad = [d["_id"] for d in docs if strip_id(d) != last.get(d["_id"])]
                    check(not bad, f"{api} upsert: stored docs equal the LAST record per key "
                                   f"(mismatch for {bad[:3]})")
                else:
                    check(len(docs) == 2 * len(expected),
                          f"{api} upsert (keyless = insert): {len(docs)} == 2 x records")
                index_keys = [dict(ix["key"]) for ix in ucoll.list_indexes()]
                check({INDEX_FIELD[api]: 1} in index_keys,
                      f"{api} upsert: index on {INDEX_FIELD[api]} created ({index_keys})")
    finally:
        for db in dbs:
            try:
                client.drop_database(db)
            except Exception as e:  # noqa: BLE001
                print(f"warning: could not drop {db}: {e}", file=sys.stderr)
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""One Python peer run of benchmarks/peers/run.py: reads a JSON Lines file (one API response
body per line, what `edgepipe synth --format jsonl` writes), reshapes every body into records
exactly as config/default.toml's transform of that API does (a plain dict mapping), and lands
them in Kafka or MongoDB with one client:

  confluent    confluent-kafka Producer (librdkafka), its defaults; produce() per record,
               poll(0) as it goes, flush() at the end; on BufferError: poll(0.05) and retry
  kafka-python kafka-python KafkaProducer, its defaults (the seeds' way); send() per record,
               flush() at the end
  pymongo      pymongo insert_many(ordered=False) per 1024 records (edgepipe's bulk_documents),
               _id = the record's key as edgepipe's insert mode does

The key of a Kafka message is the record's key field where the transform has one (coingecko: id).
Latency (Kafka clients): produce()/send() call -> the client's delivery report for that record,
every --lat-every'th record (1 = every record), written as a JSON list of seconds to --lat-out.
pymongo: the insert_many call time per batch, one sample per record of the batch.
Prints one JSON line: {"records", "seconds" (first read -> last delivery), "errors"}.
"""
import argparse
import json
import sys
import time


def num(v):
    return None if v is None else float(v)


def integer(v):
    return None if v is None else int(v)


def coingecko(body):
    for c in json.loads(body):
        cid = c.get("id")
        if cid is None:
            continue  # required = true: edgepipe dead-letters such a record
        yield cid, {
            "id": str(cid),
            "symbol": c.get("symbol"),
            "name": c.get("name"),
            "current_price": num(c.get("current_price")),
            "market_cap": num(c.get("market_cap")),
            "market_cap_rank": integer(c.get("market_cap_rank")),
            "total_volume": num(c.get("total_volume")),
            "high_24h": num(c.get("high_24h")),
            "low_24h": num(c.get("low_24h")),
            "price_change_percentage_24h": num(c.get("price_change_percentage_24h")),
            "circulating_supply": num(c.get("circulating_supply")),
            "last_updated": c.get("last_updated"),
        }


def iss(body):
    b = json.loads(body)
    if b.get("message") != "success":
        return
    p = b["iss_position"]
    yield None, {"timestamp": int(b["timestamp"]), "latitude": float(p["latitude"]),
                 "longitude": float(p["longitude"])}


MAPPINGS = {"coingecko": coingecko, "iss": iss}


def records(path, api):
    fn = MAPPINGS[api]
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield from fn(line)


def run_confluent(a, lat):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": a.brokers})
    state = {"ok": 0, "err": 0}

    def report(err, _msg, t0=None):
        if err is not None:
            state["err"] += 1
        else:
            state["ok"] += 1
        if t0 is not None:
            lat.append(time.perf_counter() - t0)

    n = 0
    for key, rec in records(a.input, a.api):
        v = json.dumps(rec, separators=(",", ":"))
        k = key.encode() if key is not None else None
        if n % a.lat_every == 0:
            t0 = time.perf_counter()
            cb = lambda err, msg, t0=t0: report(err, msg, t0)
        else:
            cb = report
        while True:
            try:
                p.produce(a.topic, v, k, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        n += 1
    p.flush()
    return n, state["err"]


def run_kafka_python(a, lat):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=a.brokers)
    errs = [0]

    def ok(t0, _md):  # kafka-python calls fn(*args, value)
        lat.append(time.perf_counter() - t0)

    def bad(_e):
        errs[0] += 1

    n = 0
    for key, rec in records(a.input, a.api):
        v = json.dumps(rec, separators=(",", ":")).encode()
        k = key.encode() if key is not None else None
        f = p.send(a.topic, value=v, key=k)
        if n % a.lat_every == 0:
            f.add_callback(ok, time.perf_counter())
        f.add_errback(bad)
        n += 1
    p.flush()
    p.close()
    return n, errs[0]


def run_pymongo(a, lat):
    import pymongo
    uri, _, ns = a.topic.rpartition("/")
    db, coll = ns.split(".", 1)
    c = pymongo.MongoClient(uri or "mongodb://127.0.0.1:27017")[db][coll]
    n, batch = 0, []
    dups = [0]

    def flush():
        t0 = time.perf_counter()
        try:
            c.insert_many(batch, ordered=False)
        except pymongo.errors.BulkWriteError as e:
            # like edgepipe's insert mode (_id = record key): a duplicate key is rejected and
            # counted, anything else is an error
            errs = e.details.get("writeErrors", [])
            if any(w.get("code") != 11000 for w in errs):
                raise
            dups[0] += len(errs)
        d = time.perf_counter() - t0
        lat.extend([d] * (len(batch) // a.lat_every or 1))
        batch.clear()

    for key, rec in records(a.input, a.api):
        if key is not None:
            rec["_id"] = key
        batch.append(rec)
        n += 1
        if len(batch) >= 1024:
            flush()
    if batch:
        flush()
    if dups[0]:
        print(f"pymongo: {dups[0]} duplicate keys rejected", file=sys.stderr)
    return n, 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=["confluent", "kafka-python", "pymongo"])
    ap.add_argument("--input", required=True)
    ap.add_argument("--api", default="coingecko", choices=sorted(MAPPINGS))
    ap.add_argument("--brokers", default="127.0.0.1:9092")
    ap.add_argument("--topic", required=True, help="Kafka topic, or mongodb://HOST:PORT/db.coll")
    ap.add_argument("--lat-out")
    ap.add_argument("--lat-every", type=int, default=10)
    a = ap.parse_args()
    lat = []
    t0 = time.perf_counter()
    n, errs = {"confluent": run_confluent, "kafka-python": run_kafka_python,
               "pymongo": run_pymongo}[a.client](a, lat)
    secs = time.perf_counter() - t0
    if a.lat_out:
        with open(a.lat_out, "w") as f:
            json.dump(lat, f)
    print(json.dumps({"records": n, "seconds": secs, "errors": errs}))
    return 0 if errs == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`edgepipe schema --source pg --table ...` against what postgres_cdc really writes: a table with
one column of each type kind of the type mapping (integers, bool, floats with NaN/Infinity,
numeric with and without a scale, text kinds, uuid, json/jsonb, date, timestamp(3/6),
timestamptz, time, bytea, arrays, an unknown type) and NOT NULL columns; for each
decimal_handling (string, double, precise) `edgepipe run` streams a snapshot row, inserts (one
with every nullable column null), an update, a delete and a truncate into Kafka, and every event
value read back with kafka-python validates against the command's JSON Schema (jsonschema,
draft 2020-12), every key against its --key schema; a value with an extra column and one with a
wrong type do not. The Spark and Avro forms are checked to be printed and parse (Avro: JSON).
Exits non-zero on failure; the last line is "N passed, M failed".

Env: as test_cdc_pipeline.py (EDGEPIPE_BINARY, EDGEPIPE_PG_PORT, EDGEPIPE_PG_PASSWORD,
EDGEPIPE_KAFKA).
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import jsonschema
except ImportError as e:
    print(f"missing Python module: {e} (pip install jsonschema)", file=sys.stderr)
    sys.exit(1)

import edgepipe_it as it  # noqa: E402
import test_cdc_pipeline as cdc  # noqa: E402  (make_config, daemon, read_topic, wait_until)
from edgepipe_it import check  # noqa: E402

TAG = f"cdcs{os.getpid()}"


COLUMNS = """
  id bigint PRIMARY KEY,
  small smallint,
  qty int NOT NULL,
  flag boolean,
  f4 real,
  f8 double precision,
  price numeric(10,2),
  amount numeric,
  name text NOT NULL,
  code varchar(8),
  letter char(2),
  uid uuid,
  doc json,
  docb jsonb,
  day date,
  at timestamp,
  at_ms timestamp(3),
  at_tz timestamptz,
  tod time,
  raw bytea,
  tags text[],
  nums int[],
  span interval
"""

FULL_ROW = ("1, 2, 3, true, 1.5, 'NaN', 12.50, 3.14159, 'widget', 'ab', 'x', "
            "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": 1}', '{\"k\": [1, 2]}', "
            "'2026-01-02', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.5', "
            "'2026-01-02 03:04:05+02', '03:04:05', '\\x0102ff', '{a,\"b c\",NULL}', '{1,NULL,3}', "
            "'1 day 2 hours'")


def schema_of(cfg, table, fmt="json-schema", key=False):
    args = [it.BINARY, "schema", "-c", cfg, "--source", "pg", "--table", table, "--format", fmt]
    if key:
        args.append("--key")
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"edgepipe schema failed ({p.returncode}): {p.stderr}")
    return p.stdout


def invalid(validator, doc):
    return next(iter(validator.iter_errors(doc)), None)


def run_mode(tmp, decimals):
    schema = f"{TAG}{decimals[0]}"
    slot = prefix = schema
    table = f"{schema}.kinds"
    it.psql(f"CREATE SCHEMA {schema}; CREATE TABLE {table} ({COLUMNS});"
             f"INSERT INTO {table} VALUES ({FULL_ROW});")
    port = it.free_port()
    cfg = cdc.make_config(tmp, decimals, slot, prefix, [table], port)
    with open(cfg) as f:
        text = f.read()
    text = re.sub(r'(?m)^decimal_handling = .*$', f'decimal_handling = "{decimals}"', text)
    with open(cfg, "w") as f:
        f.write(text)

    value_schema = json.loads(schema_of(cfg, table))
    key_schema = json.loads(schema_of(cfg, table, key=True))
    jsonschema.Draft202012Validator.check_schema(value_schema)
    jsonschema.Draft202012Validator.check_schema(key_schema)
    values = jsonschema.Draft202012Validator(value_schema)
    keys = jsonschema.Draft202012Validator(key_schema)
    spark = schema_of(cfg, table, "spark")
    check(spark.startswith("before STRUCT<id: BIGINT, small: INT, qty: INT, flag: BOOLEAN")
          and ", after STRUCT<id: BIGINT NOT NULL, small: INT, qty: INT NOT NULL" in spark
          and " op STRING NOT NULL" in spark, f"{decimals}: Spark DDL: {spark[:80]}...")
    avro = json.loads(schema_of(cfg, table, "avro"))
    check(avro["type"] == "record" and avro["name"] == "Envelope"
          and avro["namespace"] == f"{prefix}.{schema}.kinds", f"{decimals}: Avro record")

    d = cdc.daemon(cfg, port, os.path.join(tmp, f"{decimals}.log"))
    try:
        d.wait_ready()
        it.psql(f"INSERT INTO {table} (id, qty, name) VALUES (2, 0, 'nulls');")
        it.psql(f"INSERT INTO {table} VALUES ({FULL_ROW.replace('1, 2, 3', '3, -2, 7', 1)});")
        it.psql(f"UPDATE {table} SET f8 = '-Infinity', amount = 'NaN', tags = '{{}}' "
                 "WHERE id = 3;" if decimals != "precise" else
                 f"UPDATE {table} SET f8 = 'Infinity', tags = '{{}}' WHERE id = 3;")
        it.psql(f"DELETE FROM {table} WHERE id = 2;")
        it.psql(f"TRUNCATE {table};")
        topic = f"{prefix}.{table}"
        # r, c, c, u, d, tombstone, t
        cdc.wait_until(lambda: len(cdc.read_topic(topic, 5)) >= 7, f"{topic}: 7 messages")
        msgs = cdc.read_topic(topic)
        events = [m for m in msgs if m["value"] is not None]
        ops = sorted(m["value"]["op"] for m in events)  # read partition by partition
        check(ops == ["c", "c", "d", "r", "t", "u"], f"{decimals}: the workload's ops: {ops}")
        check(any(m["value"]["op"] == "d" and m["value"]["before"]["qty"] is None for m in events),
              f"{decimals}: a delete whose before has only the key (NOT NULL qty null) validated")
        for m in events:
            err = invalid(values, m["value"])
            check(err is None, f"{decimals}: op {m['value']['op']} value validates"
                  + (f": {err.message} at {list(err.absolute_path)}" if err else ""))
            if m["key"] is not None:
                err = invalid(keys, json.loads(m["key"]))
                check(err is None, f"{decimals}: key {m['key']} validates"
                      + (f": {err.message}" if err else ""))
        check(any(m["value"]["after"] and m["value"]["after"]["small"] is None for m in events),
              f"{decimals}: a row with nulls was among the validated events")
        # The schema is strict enough to fail: an extra column, a wrong type.
        sample = next(m["value"] for m in events if m["value"]["op"] == "r")
        extra = copy.deepcopy(sample)
        extra["after"]["not_a_column"] = 1
        check(invalid(values, extra) is not None, f"{decimals}: an extra column does not validate")
        wrong = copy.deepcopy(sample)
        wrong["after"]["qty"] = "3"
        check(invalid(values, wrong) is not None, f"{decimals}: a string qty does not validate")
        missing = copy.deepcopy(sample)
        missing["after"]["name"] = None
        check(invalid(values, missing) is not None, f"{decimals}: null in a NOT NULL column does not validate")
    finally:
        d.stop()
        it.drop_slot(slot)
        it.psql(f"DROP SCHEMA {schema} CASCADE;")


def errors_name_file_source_and_table(tmp):
    cfg = cdc.make_config(tmp, "err", f"{TAG}e", f"{TAG}e", [f"{TAG}e.none"], it.free_port())
    p = subprocess.run([it.BINARY, "schema", "-c", cfg, "--source", "pg", "--table",
                        f"{TAG}e.none"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and cfg in p.stderr and "sources.pg" in p.stderr
          and f"{TAG}e.none" in p.stderr and p.stdout == "",
          f"no such table: exit 2 naming file, source, table: {p.returncode} {p.stderr.strip()}")
    env = dict(os.environ, EDGEPIPE_PG_PASSWORD="not-the-password")
    p = subprocess.run([it.BINARY, "schema", "-c", cfg, "--source", "pg", "--table",
                        f"{TAG}e.none"], capture_output=True, text=True, timeout=60, env=env)
    check(p.returncode == 1 and "cannot connect" in p.stderr and "not-the-password" not in p.stderr,
          f"bad password: exit 1, password not printed: {p.returncode} {p.stderr.strip()}")


def main():
    if not os.path.exists(it.BINARY):
        print(f"no binary at {it.BINARY}", file=sys.stderr)
        return 1
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="edgepipe-cdc-schema-")
    try:
        errors_name_file_source_and_table(tmp)
        for decimals in ("string", "double", "precise"):
            try:
                run_mode(tmp, decimals)
            except Exception as e:
                check(False, f"{decimals}: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{time.time() - started:.1f} s")
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

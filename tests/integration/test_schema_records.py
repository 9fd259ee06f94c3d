#!/usr/bin/env python3
"""`edgepipe schema` against the records the transform really writes.

For each seed source: take the JSON Schema from `edgepipe schema --source S --format json-schema`
(the embedded default config), and validate against it every record value of
  - tests/golden/<api>.jsonl (the transform's golden output for tests/data/), and
  - a synthetic trace (`edgepipe synth`) replayed through the default transforms to a file sink.
Validation uses the `jsonschema` package (draft 2020-12) when it is importable, and always a
small independent checker of the subset edgepipe emits (type, null, required,
additionalProperties). A mutated record (a wrong type, a missing field, an extra field, a null in
a required field) must be rejected, so the check can fail. Also checks that the Spark DDL and the
Avro schema list the same fields in the same order. Last line: "N passed, M failed".

Env: EDGEPIPE_BINARY (default build/edgepipe).
"""
import json
import os
import sys
import tempfile

import edgepipe_it as it
from edgepipe_it import BINARY, SOURCE_DIR, check

CASES = [("coingecko", "coingecko-markets.jsonl", 20), ("iss", "iss-now.jsonl", 300),
         ("randomuser", "randomuser.jsonl", 60)]


def run(args):
    return it.run(args).stdout


TYPES = {"string": lambda v: isinstance(v, str),
         "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
         "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
         "boolean": lambda v: isinstance(v, bool),
         "null": lambda v: v is None}


def own_errors(schema, rec):
    """The subset of JSON Schema that `edgepipe schema` emits, checked independently."""
    errs = []
    if not isinstance(rec, dict):
        return ["not an object"]
    props = schema["properties"]
    for name in schema["required"]:
        if name not in rec:
            errs.append(f"missing {name}")
    for name, v in rec.items():
        p = props.get(name)
        if p is None:
            errs.append(f"extra {name}")
            continue
        t = p.get("type")
        if t is not None:
            ts = t if isinstance(t, list) else [t]
            if not any(TYPES[x](v) for x in ts):
                errs.append(f"{name}={v!r} is not {ts}")
        if "not" in p and v is None:
            errs.append(f"{name} is null")
    return errs


def validator_for(schema):
    try:
        import jsonschema  # noqa: PLC0415
    except ImportError:
        return None
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def errors(schema, v, rec):
    errs = own_errors(schema, rec)
    if v is not None:
        errs += [e.message for e in v.iter_errors(rec)]
    return errs


def replay_records(api, payloads, tmp):
    trace = os.path.join(tmp, f"{api}.trace")
    out = os.path.join(tmp, f"{api}.jsonl")
    run([BINARY, "synth", "--api", api, "--payloads", str(payloads), "--out", trace])
    run([BINARY, "replay", "--trace", trace, "--sink", f"file:{out}", "--spool", "none"])
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def mutations(schema, rec):
    """Records that must not validate."""
    out = []
    names = list(schema["properties"])
    extra = dict(rec)
    extra["not_a_field"] = 1
    out.append(("extra field", extra))
    missing = dict(rec)
    del missing[names[0]]
    out.append(("missing field", missing))
    for name, p in schema["properties"].items():
        t = p.get("type")
        if t is None:
            continue
        bad = dict(rec)
        bad[name] = [1] if "string" not in (t if isinstance(t, list) else [t]) else 12.5
        out.append((f"wrong type in {name}", bad))
        if not isinstance(t, list):
            nul = dict(rec)
            nul[name] = None
            out.append((f"null in non-nullable {name}", nul))
        break
    return out


def test_source(api, golden, payloads, tmp):
    schema = json.loads(run([BINARY, "schema", "--source", api, "--format", "json-schema"]))
    v = validator_for(schema)
    check(True, f"{api}: schema parsed ({'jsonschema ' + type(v).__name__ if v else 'own checker only'})")
    with open(os.path.join(SOURCE_DIR, "tests", "golden", golden)) as f:
        gold = [json.loads(line)["value"] for line in f if line.strip()]
    synth = replay_records(api, payloads, tmp)
    for label, recs in (("golden", gold), ("synth replay", synth)):
        bad = [(r, errors(schema, v, r)) for r in recs]
        bad = [b for b in bad if b[1]]
        check(recs and not bad, f"{api}: all {len(recs)} {label} records validate"
              + (f"; first failure {bad[0]}" if bad else ""))
    for what, rec in mutations(schema, gold[0]):
        check(errors(schema, v, rec), f"{api}: a record with a {what} is rejected")
    ddl = run([BINARY, "schema", "--source", api, "--format", "spark"]).strip()
    ddl_names = [c.strip().split(" ")[0].strip("`") for c in ddl.split(",")]
    avro = json.loads(run([BINARY, "schema", "--source", api, "--format", "avro"]))
    check(ddl_names == list(schema["properties"]) == [f["name"] for f in avro["fields"]],
          f"{api}: spark DDL, avro and JSON Schema list the same fields ({ddl})")


def main():
    if not it.require_binary():
        return it.finish()
    with tempfile.TemporaryDirectory(prefix="edgepipe-schema-it-") as tmp:
        for api, golden, payloads in CASES:
            try:
                test_source(api, golden, payloads, tmp)
            except Exception as ex:  # noqa: BLE001
                check(False, f"{api}: {ex}")
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

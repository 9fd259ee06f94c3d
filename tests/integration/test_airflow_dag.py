#!/usr/bin/env python3
"""examples/airflow's DAG imports with Apache Airflow 2.10 (a DagBag load, no scheduler).

scripts/spark-env.sh airflow makes (or reuses) the cached Airflow virtualenv; when it cannot be
installed the test prints SKIP with the reason and "0 passed, 0 failed, 1 skipped" (never a
silent pass). The DagBag must have no import errors, the DAG edgepipe_replay_backfill, one
BashOperator per seed source whose command runs `edgepipe replay ... --sink kafka://`. A broken
copy of the DAG must show up as an import error (so the check can fail). Then the templated
command is rendered for one interval and run with bash against a fake edgepipe (a script that
logs its arguments): exactly the trace files of the interval are replayed, in order.
Last line: "N passed, M failed".
"""
import os
import subprocess
import sys
import tempfile
import textwrap

import edgepipe_it as it
from edgepipe_it import SOURCE_DIR, check

DAG_DIR = os.path.join(SOURCE_DIR, "examples", "airflow")

PROBE = textwrap.dedent(r"""
    import json, os, sys, pendulum
    from airflow.models import DagBag
    bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
    out = {"errors": {k: v[-300:] for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for t in dag.tasks:
            # Render the Jinja command for one interval, as a worker would (no database).
            start = pendulum.datetime(2026, 1, 1, 10, tz="UTC")
            ctx = {"params": t.params, "data_interval_start": start,
                   "data_interval_end": start.add(hours=1),
                   "var": {"value": type("V", (), {"get": staticmethod(
                       lambda k, d=None: os.environ.get("TEST_" + k.upper(), d))})()}}
            env = dag.get_template_env()
            cmd = env.from_string(t.bash_command).render(**ctx)
            tasks[t.task_id] = {"type": type(t).__name__, "command": cmd}
        out["dags"][dag_id] = tasks
    print("RESULT " + json.dumps(out))
""")

def probe(py, folder, env):
    p = subprocess.run([py, "-c", PROBE, folder], capture_output=True, text=True, timeout=600,
                       env=env)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            import json
            return json.loads(line[7:])
    raise RuntimeError(f"DagBag probe failed ({p.returncode}): {p.stderr[-3000:]}")


def main():
    p = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "spark-env.sh"), "airflow"],
                       capture_output=True, text=True, timeout=3000)
    if p.returncode != 0:
        print("SKIP: Apache Airflow 2.10 could not be installed (scripts/spark-env.sh airflow): "
              + " | ".join(p.stderr.strip().splitlines()[-5:]))
        print("0 passed, 0 failed, 1 skipped")
        return 0
    py = p.stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory(prefix="edgepipe-airflow-it-") as tmp:
        traces = os.path.join(tmp, "traces")
        os.makedirs(traces)
        fake = os.path.join(tmp, "fake-edgepipe")
        calls = os.path.join(tmp, "calls.log")
        with open(fake, "w") as f:
            f.write(f'#!/bin/sh\necho "$@" >> {calls}\n')
        os.chmod(fake, 0o755)
        # In the interval [10:00, 11:00): iss-a (10:05), iss-b (10:50); outside: iss-c (11:10),
        # iss-old (09:59); another source: coingecko-a (10:30).
        for name, hhmm in (("iss-a.trace", "1005"), ("iss-b.trace.1", "1050"),
                           ("iss-c.trace", "1110"), ("iss-old.trace", "0959"),
                           ("coingecko-a.trace", "1030")):
            path = os.path.join(traces, name)
            open(path, "w").close()
            subprocess.run(["touch", "-d", f"2026-01-01 {hhmm[:2]}:{hhmm[2:]}:00 UTC", path],
                           check=True)
        env = dict(os.environ, AIRFLOW_HOME=os.path.join(tmp, "airflow"),
                   AIRFLOW__CORE__LOAD_EXAMPLES="False",
                   AIRFLOW__CORE__UNIT_TEST_MODE="True",
                   TEST_EDGEPIPE_BINARY=fake, TEST_EDGEPIPE_TRACE_DIR=traces,
                   TEST_EDGEPIPE_KAFKA="127.0.0.1:1")
        res = probe(py, DAG_DIR, env)
        check(not res["errors"], f"DagBag of examples/airflow: no import errors {res['errors']}")
        dag = res["dags"].get("edgepipe_replay_backfill", {})
        check(sorted(dag) == ["replay_coingecko", "replay_iss", "replay_randomuser"]
              and all(t["type"] == "BashOperator" for t in dag.values()),
              f"DAG edgepipe_replay_backfill has one BashOperator per seed source ({sorted(dag)})")
        cmd = dag.get("replay_iss", {}).get("command", "")
        check("replay" in cmd and "kafka://" in cmd, "replay_iss runs edgepipe replay into Kafka")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60)
        got = open(calls).read().splitlines() if os.path.exists(calls) else []
        want = [f"replay --trace {traces}/iss-a.trace --source iss --sink "
                f"kafka://127.0.0.1:1/edgepipe.iss --spool none",
                f"replay --trace {traces}/iss-b.trace.1 --source iss --sink "
                f"kafka://127.0.0.1:1/edgepipe.iss --spool none"]
        check(r.returncode == 0 and got == want,
              f"rendered command replays exactly the interval's iss traces, in order "
              f"(rc {r.returncode}, calls {got}, stderr {r.stderr[-300:]})")
        broken = os.path.join(tmp, "broken")
        os.makedirs(broken)
        with open(os.path.join(DAG_DIR, "edgepipe_replay_dag.py")) as f:
            text = f.read()
        with open(os.path.join(broken, "edgepipe_replay_dag.py"), "w") as f:
            f.write(text.replace("from airflow.operators.bash import BashOperator",
                                 "from airflow.operators.bash import NoSuchOperator"))
        res = probe(py, broken, env)
        check(res["errors"], "a broken copy of the DAG is reported as an import error")
    return it.finish()


if __name__ == "__main__":
    sys.exit(main())

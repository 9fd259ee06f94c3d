"""Airflow DAG: backfill Kafka from edgepipe's captured traces with `edgepipe replay`.

edgepipe's own scheduler polls the APIs on the node; this DAG is for teams that keep Airflow for
backfills. Each run replays the trace files that `edgepipe record` (or the daemon's [capture])
finished writing in its data interval (file modification time in [start, end); rotated captures
are one file per rotation), one task per seed source (files <source>*.trace* in the trace
directory), through the transforms into Kafka topic edgepipe.<source>. Replays are safe to
repeat: the lake jobs in examples/spark dedupe on the record key and event time.

Variables (Airflow Variables or environment, Variables win):
  edgepipe_binary     path of edgepipe                  (default: edgepipe on PATH)
  edgepipe_config     TOML config for the transforms    (default: the embedded one)
  edgepipe_trace_dir  where the captured traces are     (default: /var/lib/edgepipe/traces)
  edgepipe_kafka      HOST:PORT of the brokers          (default: 127.0.0.1:9092)
"""
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

SOURCES = ["coingecko", "iss", "randomuser"]


def setting(name, default):
    """A Jinja expression: the Airflow Variable, else the environment at parse time, else default."""
    return "{{ var.value.get('%s', '%s') }}" % (name, os.environ.get(name.upper(), default))


# One replay per trace file of the interval; `set -e` fails the task on the first error.
REPLAY = r"""
set -euo pipefail
bin="%s"; cfg="%s"; dir="%s"; kafka="%s"
n=0
while IFS= read -r -d '' t; do
  "$bin" replay ${cfg:+-c "$cfg"} --trace "$t" --source {{ params.source }} \
      --sink "kafka://$kafka/edgepipe.{{ params.source }}" --spool none
  n=$((n + 1))
done < <(find "$dir" -maxdepth 1 -type f -name '{{ params.source }}*.trace*' \
           -newermt '{{ data_interval_start }}' ! -newermt '{{ data_interval_end }}' -print0 | sort -z)
echo "replayed $n trace file(s) of {{ params.source }} for {{ data_interval_start }} .. {{ data_interval_end }}"
""" % (setting("edgepipe_binary", "edgepipe"), setting("edgepipe_config", ""),
       setting("edgepipe_trace_dir", "/var/lib/edgepipe/traces"),
       setting("edgepipe_kafka", "127.0.0.1:9092"))

with DAG(
    dag_id="edgepipe_replay_backfill",
    description="Replay captured API traces into Kafka with edgepipe (backfills)",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["edgepipe", "backfill"],
) as dag:
    for source in SOURCES:
        BashOperator(task_id=f"replay_{source}", bash_command=REPLAY,
                     params={"source": source})

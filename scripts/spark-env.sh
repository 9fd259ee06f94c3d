#!/usr/bin/env bash
# Creates (idempotently) the cached virtualenvs and jar cache for the downstream examples:
#   spark   : $EDGEPIPE_CACHE/spark-venv   pyspark + delta-spark + kafka-python + jsonschema,
#             and the Kafka connector / Delta jars fetched once with mvn into
#             $EDGEPIPE_CACHE/spark-jars/lib (the jobs put them on spark.jars)
#   airflow : $EDGEPIPE_CACHE/airflow-venv apache-airflow 2.10 (its constraints pins, see below)
# Usage: scripts/spark-env.sh [spark|airflow|all]   (default: spark)
# Prints the venv's python path last on stdout. Exits 3 when it cannot install (the tests SKIP).
set -euo pipefail

CACHE=${EDGEPIPE_CACHE:-$HOME/.cache/edgepipe}
PY=${EDGEPIPE_PYTHON:-python3}
readonly PYSPARK_VERSION=3.5.1
readonly DELTA_VERSION=3.2.0        # delta-spark 3.2.x is built for Spark 3.5
readonly KAFKA_CONNECTOR="org.apache.spark:spark-sql-kafka-0-10_2.12:${PYSPARK_VERSION}"
readonly DELTA_JAR="io.delta:delta-spark_2.12:${DELTA_VERSION}"
readonly AIRFLOW_VERSION=2.10.5

log() { printf '[spark-env] %s\n' "$*" >&2; }

make_venv() {  # dir stamp pip-args...
    local dir=$1 stamp=$2; shift 2
    if [[ -f "$dir/.stamp" && $(cat "$dir/.stamp") == "$stamp" ]]; then return 0; fi
    log "creating $dir ($stamp)"
    rm -rf "$dir"
    "$PY" -m venv "$dir" || return 3
    "$dir/bin/pip" install -q --disable-pip-version-check "$@" >&2 || { rm -rf "$dir"; return 3; }
    echo "$stamp" >"$dir/.stamp"
}

spark() {
    local venv="$CACHE/spark-venv" ivy="$CACHE/spark-ivy"
    make_venv "$venv" "pyspark-$PYSPARK_VERSION delta-$DELTA_VERSION v2" \
        "pyspark==$PYSPARK_VERSION" "delta-spark==$DELTA_VERSION" kafka-python==2.0.2 \
        psycopg2-binary jsonschema || exit 3
    # The jars (and their runtime dependencies) fetched once with Maven into a flat folder the
    # jobs put on spark.jars (Spark's own Ivy resolver does not go through this machine's
    # Maven settings, mvn does). Spark, Scala and logging jars are provided by pyspark.
    local jars="$CACHE/spark-jars" pom stamp="spark-sql-kafka-0-10 $PYSPARK_VERSION delta $DELTA_VERSION"
    if [[ ! -f "$jars/.stamp" || $(cat "$jars/.stamp") != "$stamp" ]]; then
        log "fetching $KAFKA_CONNECTOR and $DELTA_JAR with mvn into $jars"
        command -v mvn >/dev/null || { log "mvn not found (scripts/install-deps.sh installs maven)"; exit 3; }
        rm -rf "$jars.tmp" && mkdir -p "$jars.tmp"
        pom="$jars.tmp/pom.xml"
        cat >"$pom" <<EOP
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>edgepipe.examples</groupId><artifactId>spark-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.spark</groupId><artifactId>spark-sql-kafka-0-10_2.12</artifactId>
      <version>$PYSPARK_VERSION</version></dependency>
    <dependency><groupId>io.delta</groupId><artifactId>delta-spark_2.12</artifactId>
      <version>$DELTA_VERSION</version></dependency>
  </dependencies>
  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin></plugins></build>
</project>
EOP
        if ! mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$CACHE/m2" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$jars.tmp/lib" \
            >"$jars.tmp/mvn.log" 2>&1; then
            tail -n 20 "$jars.tmp/mvn.log" >&2
            exit 3
        fi
        # Keep only what pyspark lacks: a second copy (maybe another version) of a jar Spark
        # ships would only shadow or be shadowed.
        local j artifact
        for j in "$jars.tmp"/lib/*.jar; do
            artifact=$(basename "$j" | sed -E 's/-[0-9][0-9A-Za-z.]*(-[A-Za-z0-9.]+)?\.jar$//')
            compgen -G "$venv/lib/python3*/site-packages/pyspark/jars/$artifact-[0-9]*.jar" >/dev/null &&
                rm -f "$j"
        done
        echo "$stamp" >"$jars.tmp/.stamp"
        rm -rf "$jars" && mv "$jars.tmp" "$jars"
    fi
    echo "$venv/bin/python"
}

airflow() {
    local venv="$CACHE/airflow-venv" pyver
    pyver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    # Airflow's constraints file is not on a registry; pin the few packages whose newest
    # releases break 2.10 instead.
    # The pins below are the versions of Airflow's own constraints file for 2.10.5.
    make_venv "$venv" "airflow-$AIRFLOW_VERSION py$pyver v2" \
        "apache-airflow==$AIRFLOW_VERSION" connexion==2.14.2 flask==2.2.5 werkzeug==2.2.3 \
        sqlalchemy==1.4.54 flask-session==0.5.0 pendulum==3.0.0 || exit 3
    echo "$venv/bin/python"
}

case ${1:-spark} in
    spark) spark ;;
    airflow) airflow ;;
    all) spark; airflow ;;
    *) echo "usage: $0 [spark|airflow|all]" >&2; exit 2 ;;
esac

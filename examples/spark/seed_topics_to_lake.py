#!/usr/bin/env python3
"""Job (a): edgepipe's seed topics (coingecko, iss, randomuser) -> Delta tables + Parquet files.

The record schemas are not hand-written: they come from `edgepipe schema --source S` (the Spark
DDL for from_json, and the JSON Schema's x-edgepipe-key / x-edgepipe-event-time marks for the
dedupe key), so they follow the transform config.

Exactly once in the lake (see README.md): every row gets `_dedupe_key`:
  record key (Kafka key) + "|" + event-time field text   when the source has both,
  record key                                             when it has only a key,
  event-time field text                                  when it has only an event time,
  the `record-id` header (edgepipe's spool sequence)     when it has neither.
Delta: each micro-batch is de-duplicated on `_dedupe_key` and MERGEd (insert when not matched),
so a Spark batch run twice after a crash or a record edgepipe resent after kill -9 lands once.
Parquet: Spark's file sink (exactly once per Kafka offset via its checkpoint) behind a
stateful dropDuplicates on `_dedupe_key` (the state lives in the checkpoint).

Usage:
  python seed_topics_to_lake.py --bootstrap 127.0.0.1:9092 --lake /tmp/lake [--once]
      [--edgepipe build/edgepipe] [-c CONFIG] [--sources coingecko,iss,randomuser]
      [--topic-prefix edgepipe.] [--max-offsets N]
Writes <lake>/delta/<source>, <lake>/parquet/<source>, checkpoints in <lake>/_checkpoints/.
--once: trigger availableNow (process what is in the topics, then stop); default: run on.
"""
import argparse
import json
import os
import subprocess

from pyspark.sql import SparkSession, functions as F

KAFKA_PKG = "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.1"
DELTA_PKG = "io.delta:delta-spark_2.12:3.2.0"


def spark_session(app, master="local[1]"):
    b = SparkSession.builder.master(master).appName(app)
    # The jars scripts/spark-env.sh fetched (offline); else Spark resolves the packages itself.
    jars = os.environ.get("EDGEPIPE_SPARK_JARS",
                          os.path.expanduser("~/.cache/edgepipe/spark-jars/lib"))
    if os.path.isdir(jars):
        b = b.config("spark.jars", ",".join(
            os.path.join(jars, j) for j in sorted(os.listdir(jars)) if j.endswith(".jar")))
    else:
        b = b.config("spark.jars.packages", f"{KAFKA_PKG},{DELTA_PKG}")
    return (b
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog",
                    "org.apache.spark.sql.delta.catalog.DeltaCatalog")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # small tables: one partition for Delta's log replay and state (default 50 / 200)
            .config("spark.databricks.delta.snapshotPartitions", "1")
            .config("spark.sql.streaming.stateStore.minDeltasForSnapshot", "2")
            .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", os.environ.get("EDGEPIPE_SPARK_MEMORY", "768m"))
            .getOrCreate())


def edgepipe_schema(binary, config, source, fmt):
    args = [binary, "schema", "--source", source, "--format", fmt]
    if config:
        args += ["-c", config]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def dedupe_key_expr(json_schema):
    props = json_schema["properties"]
    key = any(p.get("x-edgepipe-key") for p in props.values()) or \
        "x-edgepipe-key-pointer" in json_schema
    et = [n for n, p in props.items() if p.get("x-edgepipe-event-time")]
    key_col = F.coalesce(F.col("_key"), F.lit(""))
    # The event time as the JSON text edgepipe wrote (a TIMESTAMP column is re-rendered in ms).
    et_col = F.get_json_object(F.col("_value"), f"$.{et[0]}") if et else None
    if key and et_col is not None:
        return F.concat_ws("|", key_col, et_col)
    if key:
        return key_col
    if et_col is not None:
        return et_col
    return F.col("_record_id")


def parsed_stream(spark, args, source, ddl, json_schema):
    topic = args.topic_prefix + source
    raw = (spark.readStream.format("kafka")
           .option("kafka.bootstrap.servers", args.bootstrap)
           .option("subscribe", topic)
           .option("startingOffsets", "earliest")
           .option("includeHeaders", "true")
           .option("failOnDataLoss", "false"))
    if args.max_offsets:
        raw = raw.option("maxOffsetsPerTrigger", str(args.max_offsets))
    raw = raw.load()
    rid = F.expr("cast(filter(headers, h -> h.key = 'record-id')[0].value as string)")
    df = raw.select(F.col("key").cast("string").alias("_key"),
                    F.col("value").cast("string").alias("_value"),
                    rid.alias("_record_id"), F.col("partition").alias("_partition"),
                    F.col("offset").alias("_offset"), F.col("timestamp").alias("_kafka_ts"))
    df = df.withColumn("_dedupe_key", dedupe_key_expr(json_schema))
    return df.select("_dedupe_key", "_key", "_record_id", "_partition", "_offset", "_kafka_ts",
                     F.from_json("_value", ddl).alias("r")).select("*", "r.*").drop("r")


def merge_into_delta(spark, path):
    from delta.tables import DeltaTable

    def write(batch, batch_id):
        rows = batch.dropDuplicates(["_dedupe_key"])
        if not DeltaTable.isDeltaTable(spark, path):
            rows.limit(0).write.format("delta").save(path)
        (DeltaTable.forPath(spark, path).alias("t")
         .merge(rows.alias("s"), "t._dedupe_key = s._dedupe_key")
         .whenNotMatchedInsertAll().execute())
    return write


def start(spark, args, source):
    ddl = edgepipe_schema(args.edgepipe, args.config, source, "spark")
    js = json.loads(edgepipe_schema(args.edgepipe, args.config, source, "json-schema"))
    df = parsed_stream(spark, args, source, ddl, js)
    ck = os.path.join(args.lake, "_checkpoints", source)
    trig = {"availableNow": True} if args.once else {"processingTime": "5 seconds"}
    delta = (df.writeStream.queryName(f"{source}-delta").foreachBatch(
        merge_into_delta(spark, os.path.join(args.lake, "delta", source)))
        .option("checkpointLocation", os.path.join(ck, "delta")).trigger(**trig).start())
    parquet = (df.dropDuplicates(["_dedupe_key"]).writeStream.queryName(f"{source}-parquet")
               .format("parquet").option("path", os.path.join(args.lake, "parquet", source))
               .option("checkpointLocation", os.path.join(ck, "parquet"))
               .outputMode("append").trigger(**trig).start())
    return [delta, parquet]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--lake", required=True)
    ap.add_argument("--edgepipe", default="edgepipe")
    ap.add_argument("-c", "--config", default="")
    ap.add_argument("--sources", default="coingecko,iss,randomuser")
    ap.add_argument("--topic-prefix", default="edgepipe.")
    ap.add_argument("--once", action="store_true", help="availableNow: catch up, then stop")
    ap.add_argument("--max-offsets", type=int, default=0,
                    help="maxOffsetsPerTrigger: records per micro-batch (0: no limit)")
    args = ap.parse_args()
    spark = spark_session("edgepipe-seed-topics-to-lake")
    spark.sparkContext.setLogLevel("WARN")
    queries = [q for s in args.sources.split(",") for q in start(spark, args, s)]
    for q in queries:
        q.awaitTermination()
    spark.stop()


if __name__ == "__main__":
    main()

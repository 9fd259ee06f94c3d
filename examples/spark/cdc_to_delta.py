#!/usr/bin/env python3
"""Job (b): Debezium change events of one PostgreSQL table (Kafka, JSON, schemas disabled) ->
a Delta table kept equal to the table by MERGE.

Event value: {"before": {...}|null, "after": {...}|null, "op": "r|c|u|d",
              "source": {"lsn": N, ...}, "ts_ms": N};  Kafka key: the primary key as JSON.
Tombstones (null value after a delete) are ignored.

Exactly once, in LSN order per key (see README.md):
  1. order the events of a key by (source.lsn, streamed after snapshot): snapshot records
     ('r') take part like any other, and lose a tie to a streamed change at the same LSN (the
     first change after the slot's consistent point carries the snapshot's LSN);
  2. within a micro-batch keep, per primary key, only the last event in that order (Kafka
     offset breaks what is left of a tie);
  3. drop it unless it is after the key's high-water mark in <table>__lsn (a small Delta
     table of pk -> last applied order, deletes included), so a resent old event can neither
     resurrect a deleted row nor undo a newer update;
  4. MERGE into the table: delete on 'd', update when matched, insert when not matched; then
     MERGE the order into <table>__lsn. Re-running a micro-batch after a crash between the
     two writes applies the same final rows again: the result is the same.

Usage:
  python cdc_to_delta.py --bootstrap 127.0.0.1:9092 --topic cdc.public.accounts \\
      --table /tmp/lake/delta/accounts --pk id \\
      --schema "$(edgepipe schema -c config/cdc.toml --source pg --table public.accounts \\
                  --format spark)" [--once]
--schema: the event's Spark DDL as `edgepipe schema --table` prints it (docs/schemas.md); the
row type of before/after is read from its `after` struct. Or --columns: the row type by hand
(Spark DDL, "id BIGINT, owner STRING, balance DOUBLE, updated_at STRING").
"""
import argparse
import os

from pyspark.sql import Window, functions as F

from seed_topics_to_lake import spark_session


def apply_batch(spark, table, pk, columns):
    from delta.tables import DeltaTable
    lsn_path = table.rstrip("/") + "__lsn"
    pk_cols = [c.strip() for c in pk.split(",")]

    def write(batch, batch_id):
        ev = batch.where(F.col("op").isNotNull())
        # The row the key names: after for r/c/u, before for d.
        ev = ev.withColumn("row", F.when(F.col("op") == "d", F.col("before"))
                           .otherwise(F.col("after")))
        for c in pk_cols:
            ev = ev.withColumn(f"_pk_{c}", F.col(f"row.{c}"))
        # Order within a key: LSN, and at an equal LSN a streamed change after a snapshot row (the
        # first change after the slot's consistent point has the snapshot's LSN).
        ev = ev.withColumn("_order", F.col("lsn") * 2 + F.when(F.col("op") == "r", 0).otherwise(1))
        w = Window.partitionBy(*[f"_pk_{c}" for c in pk_cols]) \
            .orderBy(F.col("_order").desc(), F.col("_offset").desc())
        latest = ev.withColumn("_n", F.row_number().over(w)).where("_n = 1").drop("_n")
        if not DeltaTable.isDeltaTable(spark, lsn_path):
            spark.createDataFrame([], f"{', '.join(f'_pk_{c} {t}' for c, t in pk_types(columns, pk_cols))}, _order BIGINT") \
                .write.format("delta").save(lsn_path)
        if not DeltaTable.isDeltaTable(spark, table):
            spark.createDataFrame([], f"{columns}, _lsn BIGINT").write.format("delta").save(table)
        hwm = spark.read.format("delta").load(lsn_path).withColumnRenamed("_order", "_hwm")
        keys = [f"_pk_{c}" for c in pk_cols]
        fresh = (latest.join(hwm, keys, "left")
                 .where(F.col("_hwm").isNull() | (F.col("_order") > F.col("_hwm"))).drop("_hwm"))
        fresh = fresh.localCheckpoint()  # one evaluation for both MERGEs
        src = fresh.select(*[F.col(f"row.{c}").alias(c) for c in col_names(columns)],
                           F.col("lsn").alias("_lsn"), "op")
        on = " AND ".join(f"t.{c} = s.{c}" for c in pk_cols)
        cols = {c: f"s.{c}" for c in col_names(columns) + ["_lsn"]}
        (DeltaTable.forPath(spark, table).alias("t").merge(src.alias("s"), on)
         .whenMatchedDelete(condition="s.op = 'd'")
         .whenMatchedUpdate(set=cols)  # `fresh` is newer than what was applied
         .whenNotMatchedInsert(condition="s.op != 'd'", values=cols).execute())
        on_lsn = " AND ".join(f"t.{k} = s.{k}" for k in keys)
        (DeltaTable.forPath(spark, lsn_path).alias("t")
         .merge(fresh.select(*keys, "_order").alias("s"), on_lsn)
         .whenMatchedUpdate(condition="s._order > t._order", set={"_order": "s._order"})
         .whenNotMatchedInsertAll().execute())
    return write


def row_type(columns):
    """A column list (Spark DDL) as a StructType; Spark's parser copes with nested types."""
    from pyspark.sql.types import _parse_datatype_string
    return _parse_datatype_string(columns)


def col_names(columns):
    return [f.name for f in row_type(columns).fields]


def pk_types(columns, pk_cols):
    types = {f.name: f.dataType.simpleString() for f in row_type(columns).fields}
    return [(c, types[c]) for c in pk_cols]


def row_columns(spark, envelope_ddl):
    """The `after` struct of an envelope DDL as a column list "`id` bigint, `owner` string"."""
    after = row_type(envelope_ddl)["after"].dataType
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in after.fields)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--table", required=True, help="Delta table path")
    ap.add_argument("--pk", required=True, help="primary key column(s), comma-separated")
    rows = ap.add_mutually_exclusive_group(required=True)
    rows.add_argument("--schema", help="the events' Spark DDL from `edgepipe schema --table`")
    rows.add_argument("--columns", help="row type as Spark DDL")
    ap.add_argument("--checkpoint", default="")
    ap.add_argument("--once", action="store_true")
    args = ap.parse_args()
    spark = spark_session("edgepipe-cdc-to-delta")
    spark.sparkContext.setLogLevel("WARN")
    if args.schema:
        envelope = args.schema.strip()
        args.columns = row_columns(spark, envelope)
    else:
        envelope = (f"before STRUCT<{args.columns}>, "
                    f"after STRUCT<{args.columns}>, op STRING, source STRUCT<lsn: BIGINT>, "
                    f"ts_ms BIGINT")
    raw = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", args.bootstrap)
           .option("subscribe", args.topic).option("startingOffsets", "earliest")
           .option("failOnDataLoss", "false").load())
    ev = (raw.where(F.col("value").isNotNull())  # tombstones
          .select(F.from_json(F.col("value").cast("string"), envelope).alias("e"),
                  F.col("offset").alias("_offset"))
          .select("e.before", "e.after", "e.op", F.col("e.source.lsn").alias("lsn"), "_offset"))
    ck = args.checkpoint or args.table.rstrip("/") + "__checkpoint"
    trig = {"availableNow": True} if args.once else {"processingTime": "5 seconds"}
    q = (ev.writeStream.foreachBatch(apply_batch(spark, args.table, args.pk, args.columns))
         .option("checkpointLocation", ck).trigger(**trig).start())
    q.awaitTermination()
    spark.stop()


if __name__ == "__main__":
    main()

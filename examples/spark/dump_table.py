#!/usr/bin/env python3
"""Prints a Delta table or a Parquet folder as JSON lines (one row per line), for checks.
Usage: python dump_table.py delta|parquet PATH [PATH...]  (each table's rows after a line
"# PATH")."""
import sys

from seed_topics_to_lake import spark_session


def main():
    fmt, paths = sys.argv[1], sys.argv[2:]
    spark = spark_session("edgepipe-dump-table")
    spark.sparkContext.setLogLevel("ERROR")
    for p in paths:
        print(f"# {p}")
        for line in spark.read.format(fmt).load(p).toJSON().collect():
            print(line)
    spark.stop()


if __name__ == "__main__":
    main()

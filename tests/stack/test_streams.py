"""labs.streams on the stack: a feed sent wave by wave of arrival time moves a real query's watermark, and
the batches read back from its progress account for every record and for what Spark dropped as late."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from labs import config, streams
from labs import kafka as lk


def _feed(rows):
    """(key, event time, arrival) triples -> a feed frame in arrival order."""
    feed = pd.DataFrame(rows, columns=["key", "ts", "arrival"])
    feed["raw"] = [json.dumps({"id": i, "ts": ts}) for i, ts in enumerate(feed["ts"])]
    feed["arrival"] = pd.to_datetime(feed["arrival"], utc=True)
    return feed.sort_values("arrival", kind="stable", ignore_index=True)


def test_waves_move_the_watermark_and_batches_name_the_late_records(unique):
    from pyspark.sql import functions as F

    from labs import spark as labs_spark

    spark = labs_spark.session()
    topic = lk.create_topic(f"test-streams-{unique}", partitions=2)
    rows = [(k, f"2026-01-05T0{h}:30:00.000Z", f"2026-01-05T0{h}:31:00Z") for h in range(6) for k in "ab"]
    rows += [("a", "2026-01-05T01:00:00.000Z", "2026-01-05T05:40:00Z"),     # 4 h late: behind the watermark
             ("b", "2026-01-05T04:45:00.000Z", "2026-01-05T05:41:00Z")]     # on time
    feed = _feed(rows)
    stream = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", config.kafka_bootstrap())
              .option("subscribe", topic).option("startingOffsets", "earliest").load()
              .select("partition", "offset", F.get_json_object(F.col("value").cast("string"), "$.ts").alias("ts"))
              .withColumn("t", F.to_timestamp("ts")).withWatermark("t", "1 hour"))
    counts = stream.groupBy(F.window("t", "1 hour")).count()
    query = (counts.writeStream.format("memory").queryName(f"test_streams_{unique}".replace("-", "_"))
             .outputMode("append").start())
    try:
        waves = streams.produce_waves(feed, topic, [query], wave="2h")
        assert list(waves["records"]) == [4, 4, 6] and (waves["wave_end"].diff().dropna() == pd.Timedelta("2h")).all()
        batches = streams.batches(query)
    finally:
        query.stop()
        lk.delete_topics([topic])
    # every record read exactly once
    for _, part in batches.groupby("partition"):
        assert (part["start_offset"].iloc[1:].to_numpy() == part["end_offset"].iloc[:-1].to_numpy()).all()
    assert (batches["end_offset"] - batches["start_offset"]).sum() == len(feed)
    # the watermark a batch's input is judged against is the previous batch's own
    marks = batches.drop_duplicates("batch_id").set_index("batch_id")["watermark"]
    assert (batches["watermark"].is_monotonic_increasing and
            (batches["late_watermark"] <= batches["watermark"]).all())
    last = batches.drop_duplicates("batch_id", keep="last").iloc[-1]
    assert last["late_watermark"] >= pd.Timestamp("2026-01-05T02:30:00Z")
    assert int(batches.drop_duplicates("batch_id")["dropped"].sum()) == 1      # only the 4-hour-late record
    assert marks.index.is_monotonic_increasing


def test_produce_waves_refuses_a_bad_wave_and_passes_an_empty_feed():
    assert streams.produce_waves(pd.DataFrame(columns=["key", "raw", "arrival"]), "unused").empty
    with pytest.raises(ValueError, match="positive duration"):
        streams.produce_waves(_feed([("a", "2026-01-05T00:00:00.000Z", "2026-01-05T00:00:01Z")]), "unused", wave="0h")

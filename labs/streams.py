"""Driving Spark streaming queries through event time in a notebook: feeds in waves, batches from progress.

A day of event time cannot take a day in a lab. :func:`produce_waves` sends a feed to Kafka one
slice of *arrival* time at a time and waits until every given query has processed all of it
(``processAllAvailable``), so each query's watermark moves with the event time it has seen,
and a record that arrives hours late meets the watermark it would meet in production.
:func:`batches` reads back what each micro-batch of a query took and the watermark it ran with.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import pandas as pd

from labs import config


def produce_waves(feed: pd.DataFrame, topic: str, queries: Sequence = (), wave: str = "4h",
                  value: str = "raw", key: str = "key", time_col: str = "arrival",
                  bootstrap: str | None = None) -> pd.DataFrame:
    """Send ``feed`` (rows in arrival order) to ``topic`` in slices of ``wave`` of ``time_col``;
    after each slice, wait until every query in ``queries`` has processed all of it.

    ``value`` names the column holding each record's text, ``key`` the record key's column.
    Returns one row per wave: ``wave_end`` (the slice's end, UTC), ``records``, ``seconds``
    (wall time to send and process it).
    """
    from kafka import KafkaProducer

    if feed.empty:
        return pd.DataFrame(columns=["wave_end", "records", "seconds"])
    width = pd.Timedelta(wave)
    if width <= pd.Timedelta(0):
        raise ValueError(f"wave must be a positive duration such as '4h', got {wave!r}")
    arrival = pd.to_datetime(feed[time_col], utc=True)
    start = arrival.min().floor(width)
    slot = ((arrival - start) // width).astype(int)
    producer = KafkaProducer(bootstrap_servers=bootstrap or config.kafka_bootstrap(), linger_ms=20,
                             bootstrap_timeout_ms=10_000)
    rows = []
    try:
        for number, part in feed.groupby(slot.to_numpy(), sort=True):
            began = time.perf_counter()
            for k, v in zip(part[key], part[value], strict=True):
                producer.send(topic, key=str(k).encode() if k is not None and str(k) else None,
                              value=str(v).encode())
            producer.flush()
            for query in queries:
                query.processAllAvailable()
            rows.append({"wave_end": start + (number + 1) * width, "records": len(part),
                         "seconds": round(time.perf_counter() - began, 3)})
    finally:
        producer.close()
    return pd.DataFrame(rows)


def batches(query) -> pd.DataFrame:
    """The micro-batches of a streaming query over a Kafka source, from its recent progress: one row
    per batch and partition it read, with ``batch_id``, ``partition``, ``start_offset`` (first offset
    the batch read), ``end_offset`` (one past the last), ``watermark`` (the batch's own watermark, UTC:
    windows that end at or before it are complete and emitted), ``late_watermark`` (the watermark the
    batch's input was judged against: the previous batch's; the epoch for the first) and ``dropped``
    (input rows the batch's stateful operators dropped as behind the watermark, all partitions).
    Spark keeps the last 100 progress reports (``spark.sql.streaming.numRecentProgressUpdates``)."""
    epoch = pd.Timestamp("1970-01-01T00:00:00Z")
    reports = [p if isinstance(p, dict) else json.loads(p.json) for p in query.recentProgress]
    marks = {p["batchId"]: pd.Timestamp(p.get("eventTime", {}).get("watermark", epoch)) for p in reports}
    out = []
    for progress in reports:
        batch = progress["batchId"]
        dropped = sum(op.get("numRowsDroppedByWatermark", 0) or 0 for op in progress.get("stateOperators", []))
        for source in progress.get("sources", []):
            start, end = _offsets(source.get("startOffset")), _offsets(source.get("endOffset"))
            for partition, stop in end.items():
                first = start.get(partition, 0)
                if stop > first:
                    out.append({"batch_id": batch, "partition": partition, "start_offset": first, "end_offset": stop,
                                "watermark": marks[batch], "late_watermark": marks.get(batch - 1, epoch),
                                "dropped": dropped})
    columns = ["batch_id", "partition", "start_offset", "end_offset", "watermark", "late_watermark", "dropped"]
    return pd.DataFrame(out, columns=columns)


def _offsets(text) -> dict[int, int]:
    """``{"topic": {"0": 12, "1": 7}}`` (Kafka source offsets as JSON text or dict) -> ``{0: 12, 1: 7}``."""
    if not text or text == "null":
        return {}
    parsed = json.loads(text) if isinstance(text, str) else text
    return {int(p): int(o) for topic in parsed.values() for p, o in topic.items()}

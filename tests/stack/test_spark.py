"""Spark on the stack: a Structured Streaming query over a real Kafka topic aggregates
correctly, in Spark Connect mode and in classic local mode, and prints nothing on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from labs import config

SCRIPT = r"""
import json, sys
import labs.spark
spark = labs.spark.session(mode=sys.argv[1])
events = (spark.readStream.format("kafka")
          .option("kafka.bootstrap.servers", sys.argv[2]).option("subscribe", sys.argv[3])
          .option("startingOffsets", "earliest").load()
          .selectExpr("CAST(key AS STRING) AS user", "CAST(CAST(value AS STRING) AS INT) AS amount"))
totals = events.groupBy("user").agg({"amount": "sum", "*": "count"})
query = (totals.writeStream.outputMode("complete").format("memory").queryName(sys.argv[4])
         .trigger(availableNow=True).start())
query.awaitTermination()
rows = spark.sql(f"SELECT * FROM {sys.argv[4]}").collect()
print(json.dumps({r["user"]: [r["count(1)"], r["sum(amount)"]] for r in rows}))
spark.stop()
"""


@pytest.fixture
def events_topic(unique):
    name = f"test-spark-{unique}"
    admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap())
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap(), linger_ms=5)
    expected: dict[str, list[int]] = {}
    counts: Counter = Counter()
    for i in range(2000):
        user, amount = f"u{(i * 7919) % 13}", (i * 31) % 101
        producer.send(name, key=user.encode(), value=str(amount).encode())
        counts[user] += 1
        expected.setdefault(user, [0, 0])[1] += amount
    producer.flush()
    producer.close()
    for user, n in counts.items():
        expected[user][0] = n
    yield name, expected
    admin.delete_topics([name])
    admin.close()


@pytest.mark.parametrize("mode", ["connect", "classic"])
def test_streaming_aggregation_over_kafka_is_correct_and_quiet(mode, events_topic, unique):
    topic, expected = events_topic
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode, config.kafka_bootstrap(), topic, f"totals_{unique}"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", f"Spark wrote to stderr in {mode} mode:\n{proc.stderr[:3000]}"
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == expected

"""labs.data.to_kafka against the real broker of the local stack (``labs stack up``)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer

import labs.data as data
from labs import config

pytestmark = pytest.mark.stack


@pytest.fixture
def admin():
    client = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap(), bootstrap_timeout_ms=10_000)
    yield client
    client.close()


@pytest.fixture
def topics(admin):
    """A unique topic name prefix and a function creating ``<prefix><suffix>`` topics; every
    topic under the prefix is deleted afterwards."""
    prefix = f"labs-test-data-{uuid.uuid4().hex[:10]}"

    def create(suffix: str, partitions: int = 3) -> str:
        admin.create_topics({prefix + suffix: {"num_partitions": partitions, "replication_factor": 1}},
                            wait_for_metadata=True)
        return prefix + suffix

    yield prefix, create
    leftovers = [name for name in admin.list_topics() if name.startswith(prefix)]
    if leftovers:
        admin.delete_topics(leftovers)


def consume(topic: str, expected: int, timeout: float = 60.0) -> list:
    """Read ``expected`` records from the start of ``topic`` (fewer if the timeout runs out)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=config.kafka_bootstrap(), group_id=None,
                                   auto_offset_reset="earliest", enable_auto_commit=False)
    records, deadline = [], time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1_000).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def test_to_kafka_delivers_every_row_with_keys(topics):
    _, create = topics
    topic = create(".payments")
    df = data.generate_payments(seed=11, scale=0.3)
    assert data.to_kafka(df, topic, key="account_id", batch_size=16_384, linger_ms=5) == len(df)

    messages = consume(topic, len(df))
    assert len(messages) == len(df)
    values = [json.loads(m.value) for m in messages]
    assert sorted(v["delivery_offset"] for v in values) == list(range(len(df)))
    assert all(m.key == str(v["account_id"]).encode() for m, v in zip(messages, values, strict=True))

    expected = {r["delivery_offset"]: r for r in data.to_records(df)}
    for value in values[:: max(1, len(values) // 25)]:
        assert value == expected[value["delivery_offset"]]
    assert values[0]["event_time"].endswith("Z") and "T" in values[0]["event_time"]

    # One key -> one partition -> the producer's order is kept for every account.
    per_partition: dict[int, list[dict]] = {}
    for m, v in zip(messages, values, strict=True):
        per_partition.setdefault(m.partition, []).append(v)
    assert len(per_partition) > 1
    for rows in per_partition.values():
        offsets = [r["delivery_offset"] for r in rows]
        assert offsets == sorted(offsets)


def test_to_kafka_with_a_custom_serializer_and_no_key(topics):
    _, create = topics
    topic = create(".timeseries", partitions=1)
    df = data.generate_timeseries(seed=2, scale=0.05)
    sent = data.to_kafka(df, topic, value_serializer=lambda row: f"{row['timestamp']}|{row['value']}".encode())
    assert sent == len(df)
    messages = consume(topic, len(df))
    assert [m.value.decode() for m in messages] == [f"{r['timestamp']}|{r['value']}" for r in data.to_records(df)]
    assert all(m.key is None for m in messages)


def test_write_sends_each_table_to_its_own_topic(topics):
    prefix, create = topics
    for table in ("customers", "products", "orders"):
        create(f".{table}", partitions=2)
    written = data.write("ecommerce", "kafka", seed=3, scale=0.05, topic=prefix)
    assert [(table, target) for table, target, _ in written] == [
        ("customers", f"{prefix}.customers"), ("products", f"{prefix}.products"), ("orders", f"{prefix}.orders")]
    for _, target, rows in written:
        assert len(consume(target, rows)) == rows

"""The real Kafka broker: bulk produce/consume and transactions with read_committed."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from labs import config
from labs.errors import IncompleteReadError


@pytest.fixture
def topic(unique):
    admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap())
    name = f"test-kafka-{unique}"
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
    yield name
    admin.delete_topics([name])
    admin.close()


def consume_all(topic: str, expected: int, **kwargs) -> list:
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap(), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000, **kwargs)
    consumer.assign([TopicPartition(topic, p) for p in range(3)])
    consumer.seek_to_beginning()
    out = []
    for record in consumer:
        out.append(record)
        if len(out) >= expected:
            break
    consumer.close()
    return out


def test_topic_is_created_with_partitions(topic):
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap())
    assert consumer.partitions_for_topic(topic) == {0, 1, 2}
    consumer.close()


def test_produce_and_consume_100k(topic):
    n = 100_000
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap(), linger_ms=20, batch_size=256 * 1024,
                             acks="all")
    for i in range(n):
        producer.send(topic, key=str(i % 97).encode(), value=str(i).encode())
    producer.flush()
    producer.close()
    records = consume_all(topic, n)
    assert len(records) == n
    assert sorted(int(r.value) for r in records) == list(range(n))
    # the same key always lands in the same partition, in send order
    by_key: dict[bytes, set] = {}
    for r in records:
        by_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_key.values())
    for p in range(3):
        values = [int(r.value) for r in records if r.partition == p]
        assert values == sorted(values)


def test_read_committed_sees_only_committed_transactions(topic, unique):
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap(), transactional_id=f"test-tx-{unique}")
    producer.init_transactions()
    producer.begin_transaction()
    for i in range(50):
        producer.send(topic, key=b"k", value=f"committed-{i}".encode())
    producer.commit_transaction()
    producer.begin_transaction()
    for i in range(30):
        producer.send(topic, key=b"k", value=f"aborted-{i}".encode())
    producer.flush()
    producer.abort_transaction()
    producer.begin_transaction()
    producer.send(topic, key=b"k", value=b"committed-last")
    producer.commit_transaction()
    producer.close()

    committed = [r.value.decode() for r in consume_all(topic, 51, isolation_level="read_committed")]
    assert committed == [f"committed-{i}" for i in range(50)] + ["committed-last"]
    uncommitted = [r.value.decode() for r in consume_all(topic, 81, isolation_level="read_uncommitted")]
    assert sum(v.startswith("aborted-") for v in uncommitted) == 30


def test_labs_kafka_helpers_create_read_delete(unique):
    from labs import kafka as lk

    name = lk.create_topic(f"test-lk-{unique}", partitions=2, retention_ms=60_000)
    lk.create_topic(name, partitions=2)  # idempotent
    producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap())
    for i in range(10):
        producer.send(name, key=str(i % 2).encode(), value=str(i).encode())
    producer.flush()
    records = lk.read_topic(name)
    assert len(records) == 10 and {r.partition for r in records} <= {0, 1}
    assert [(r.partition, r.offset) for r in records] == sorted((r.partition, r.offset) for r in records)
    assert len(lk.read_topic(name, max_records=3)) == 3
    for _ in range(2000):
        producer.send(name, value=b"x" * 100)
    producer.flush()
    # one poll returns at most 500 records, so a read whose time is already up cannot finish
    with pytest.raises(IncompleteReadError, match=r"did not reach the end .* pass a larger timeout_s"):
        lk.read_topic(name, timeout_s=0)
    assert len(lk.read_topic(name, timeout_s=30)) == 2010
    producer.close()
    assert lk.delete_topics(prefix=f"test-lk-{unique}") == [name]
    admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap())
    deadline = time.monotonic() + 15
    while name in admin.list_topics() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert name not in admin.list_topics()
    admin.close()


def test_reading_or_waiting_never_creates_a_topic(unique):
    """The broker auto-creates topics on metadata requests; labs.kafka's readers must not trigger it."""
    from labs import kafka as lk

    name = f"test-absent-{unique}"
    assert lk.read_topic(name, timeout_s=1) == []
    with pytest.raises(TimeoutError, match="did not appear"):
        lk.wait_for_topic(name, timeout_s=1)
    admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap())
    assert name not in admin.list_topics()
    admin.close()
    lk.create_topic(name, partitions=3)
    assert lk.wait_for_topic(name, timeout_s=5) == 3
    lk.delete_topics([name])

"""Small Kafka helpers for notebooks and tests, on top of kafka-python.

They read the broker address from ``labs.config`` and do only what every lab repeats:
create or delete topics (waiting until the broker really has them), and read a topic back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

from labs import config
from labs.errors import IncompleteReadError


def admin() -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap(), client_id="labs-admin")


def create_topic(name: str, partitions: int = 1, **configs: str) -> str:
    """Create ``name`` (no error if it exists) and wait until its partitions are visible."""
    client = admin()
    try:
        client.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                       topic_configs={k.replace("_", "."): str(v) for k, v in configs.items()})])
    except TopicAlreadyExistsError:
        pass
    finally:
        client.close()
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap(), allow_auto_create_topics=False)
    try:
        deadline = time.monotonic() + 30
        while len(consumer.partitions_for_topic(name) or ()) < partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} did not get {partitions} partitions within 30 s")
            time.sleep(0.1)
            consumer.topics()  # refresh metadata
    finally:
        consumer.close()
    return name


def list_topics() -> list[str]:
    client = admin()
    try:
        return sorted(client.list_topics())
    finally:
        client.close()


def delete_topics(names: Iterable[str] = (), prefix: str | None = None, wait_s: float = 15.0) -> list[str]:
    """Delete the named topics and/or every topic starting with ``prefix``, and wait (up to
    ``wait_s``) until the broker no longer lists them; returns what was deleted."""
    client = admin()
    try:
        existing = set(client.list_topics())
        doomed = sorted({n for n in names if n in existing} |
                        ({t for t in existing if t.startswith(prefix)} if prefix else set()))
        if doomed:
            try:
                client.delete_topics(doomed)
            except UnknownTopicOrPartitionError:
                pass
            deadline = time.monotonic() + wait_s
            while set(doomed) & set(client.list_topics()) and time.monotonic() < deadline:
                time.sleep(0.1)
        return doomed
    finally:
        client.close()


def topic_configs(name: str) -> dict[str, str]:
    """The broker's effective configuration of topic ``name`` (e.g. ``cleanup.policy``), as strings."""
    from kafka.admin import ConfigResource, ConfigResourceType

    client = admin()
    try:
        described = client.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        client.close()
    entries = described.get("topic", {}).get(name, {})
    return {key: entry["value"] for key, entry in entries.items()}


def wait_for_topic(name: str, timeout_s: float = 60.0) -> int:
    """Wait until topic ``name`` exists (created by someone else, e.g. a connector) and return its
    partition count. Never creates the topic itself."""
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap(), allow_auto_create_topics=False)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            consumer.topics()  # refresh metadata
            parts = consumer.partitions_for_topic(name)
            if parts:
                return len(parts)
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {name} did not appear within {timeout_s:.0f} s")
            time.sleep(0.2)
    finally:
        consumer.close()


def committed_tail(topic: str) -> list:
    """The last record a read_committed consumer sees in each partition of ``topic`` (partitions
    without any are left out). Records of aborted or open transactions are skipped, so it looks
    further back when the newest records are aborted ones."""
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap(), enable_auto_commit=False,
                             isolation_level="read_committed", allow_auto_create_topics=False)
    try:
        tail = []
        for tp in [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]:
            consumer.assign([tp])
            first, end = consumer.beginning_offsets([tp])[tp], consumer.end_offsets([tp])[tp]
            window, last = 64, None
            while last is None and end > first:
                start = max(first, end - window)
                consumer.seek(tp, start)
                while consumer.position(tp) < end:
                    for records in consumer.poll(timeout_ms=200).values():
                        last = records[-1]
                if start == first:
                    break
                window *= 8  # only aborted records there: look further back
            if last is not None:
                tail.append(last)
        return tail
    finally:
        consumer.close()


def read_topic(topic: str, isolation_level: str = "read_uncommitted", timeout_s: float = 5.0,
               max_records: int | None = None) -> list:
    """Every record of ``topic`` from offset 0 up to its end offsets at call time, in partition
    then offset order (or its first ``max_records``). Returns as soon as every partition is
    read to its end (transaction markers included); raises ``IncompleteReadError``, naming
    what is missing, if ``timeout_s`` runs out first: a partial topic is never returned."""
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap(), enable_auto_commit=False,
                             isolation_level=isolation_level, allow_auto_create_topics=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return []
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)  # for read_committed: the last stable offset
        out: list = []
        deadline = time.monotonic() + timeout_s
        while True:
            for batch in consumer.poll(timeout_ms=100).values():
                out.extend(batch)
            if max_records is not None and len(out) >= max_records:
                out = out[:max_records]
                break
            behind = {p.partition: (consumer.position(p), end[p]) for p in parts
                      if consumer.position(p) < end[p]}
            if not behind:
                break
            if time.monotonic() >= deadline:
                where = ", ".join(f"partition {n} at offset {at} of {stop}" for n, (at, stop) in sorted(behind.items()))
                raise IncompleteReadError(
                    f"read_topic({topic!r}) read {len(out)} records in {timeout_s:g} s but did not reach the "
                    f"end ({where}); pass a larger timeout_s, or max_records if a prefix is enough")
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()

"""Debezium on the real MariaDB binlog: a connector registered through the Connect REST API
turns an insert, an update and a delete into change events with the right op codes and
before/after images."""

from __future__ import annotations

import json
import random
import time

import pytest
import requests
from kafka import KafkaConsumer

from labs import config, connectors, db
from labs import kafka as lk
from labs.stack.connect import DEBEZIUM_CLASS
from labs.stack.mariadb import DEBEZIUM_USER


@pytest.fixture
def database(unique):
    name = db.create_database(f"cdc_{unique}")
    conn = db.connect(name)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50), qty INT NOT NULL)")
        cur.execute("INSERT INTO items VALUES (1, 'existing', 5)")
    yield conn, name
    db.drop_databases(name)
    conn.close()


@pytest.fixture
def connector(database, unique):
    _, db_name = database
    name, prefix = f"test-cdc-{unique}", f"cdc{unique}"
    db_conf = config.mariadb()
    connectors.register(name, {
        "connector.class": DEBEZIUM_CLASS,
        "tasks.max": "1",
        "database.hostname": db_conf.host,
        "database.port": str(db_conf.port),
        "database.user": DEBEZIUM_USER[0],
        "database.password": DEBEZIUM_USER[1],
        "database.server.id": str(random.randint(10_000, 4_000_000)),
        "database.ssl.mode": "disable",
        "topic.prefix": prefix,
        "database.include.list": db_name,
        "table.include.list": f"{db_name}.items",
        "snapshot.mode": "initial",
        "snapshot.locking.mode": "none",
        "schema.history.internal.kafka.bootstrap.servers": config.kafka_bootstrap(),
        "schema.history.internal.kafka.topic": f"_schema_history.{prefix}",
        # the broker creates no topic on first use: the worker creates the connector's topics
        "topic.creation.default.replication.factor": "1",
        "topic.creation.default.partitions": "1",
    })
    yield name, f"{prefix}.{db_name}.items"
    connectors.delete(name)
    lk.delete_topics(prefix=prefix)
    lk.delete_topics([f"_schema_history.{prefix}"])


def wait_for_snapshot(topic: str, timeout: float = 30) -> None:
    """RUNNING is not "snapshot done": a row written while the snapshot starts (locking mode none) can
    come twice, read by the snapshot and again from the binlog. Write once the snapshot's row is out."""
    lk.wait_for_topic(topic, timeout)
    deadline = time.monotonic() + timeout
    while not lk.read_topic(topic, isolation_level="read_committed") and time.monotonic() < deadline:
        time.sleep(0.2)


def read_events(topic: str, n: int, timeout: float = 60) -> list:
    lk.wait_for_topic(topic, timeout)  # the connector creates it (the broker does not): subscribe once it exists
    consumer = KafkaConsumer(topic, bootstrap_servers=config.kafka_bootstrap(), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000, allow_auto_create_topics=False)
    events, deadline = [], time.monotonic() + timeout
    while len(events) < n and time.monotonic() < deadline:
        for record in consumer:
            events.append((json.loads(record.key), json.loads(record.value) if record.value else None))
            if len(events) >= n:
                break
    consumer.close()
    return events


def test_connector_plugin_is_installed():
    plugins = requests.get(f"{config.connect_url()}/connector-plugins", timeout=10).json()
    assert DEBEZIUM_CLASS in {p["class"] for p in plugins}


def test_insert_update_delete_become_change_events(database, connector):
    conn, db_name = database
    name, topic = connector
    connectors.wait_for(name, "RUNNING", timeout=60)
    wait_for_snapshot(topic)
    # the snapshot row first, then live changes from the binlog
    with conn.cursor() as cur:
        cur.execute("INSERT INTO items VALUES (2, 'widget', 10)")
        cur.execute("UPDATE items SET qty = 7, name = 'gadget' WHERE id = 2")
        cur.execute("DELETE FROM items WHERE id = 2")
    events = read_events(topic, 5)  # snapshot read, create, update, delete, tombstone
    assert len(events) == 5, events
    (k0, snap), (k1, create), (k2, update), (k3, delete), (k4, tombstone) = events
    assert snap["op"] == "r" and snap["after"] == {"id": 1, "name": "existing", "qty": 5} and k0 == {"id": 1}
    assert create["op"] == "c" and create["before"] is None
    assert create["after"] == {"id": 2, "name": "widget", "qty": 10}
    assert update["op"] == "u"
    assert update["before"] == {"id": 2, "name": "widget", "qty": 10}
    assert update["after"] == {"id": 2, "name": "gadget", "qty": 7}
    assert delete["op"] == "d" and delete["after"] is None
    assert delete["before"] == {"id": 2, "name": "gadget", "qty": 7}
    assert k1 == k2 == k3 == k4 == {"id": 2} and tombstone is None
    assert create["source"]["db"] == db_name and create["source"]["table"] == "items"
    assert create["source"]["file"].startswith("mariadb-bin") and create["source"]["pos"] > 0


def test_connect_helpers_report_states_and_errors(database, connector):
    name, _ = connector
    connectors.wait_for(name, "RUNNING", timeout=60)
    assert name in connectors.names()
    connectors.pause(name)
    connectors.wait_for(name, "PAUSED", timeout=30)
    connectors.resume(name)
    connectors.wait_for(name, "RUNNING", timeout=30)
    assert connectors.state("no-such-connector") == "MISSING"
    errors = connectors.validate({"connector.class": DEBEZIUM_CLASS, "topic.prefix": "x"})
    assert any("database.hostname" in e for e in errors) and not any(e.startswith("name:") for e in errors), errors
    with pytest.raises(connectors.ConnectError, match="HTTP 4"):
        connectors.register("bad-connector", {"connector.class": "no.such.Connector"})


def test_exactly_once_source_with_topic_creation(database, unique):
    """The worker runs source connectors exactly once (transactions), and a connector's topic.creation.*
    settings shape the topics it creates: read_committed consumers see every change once."""
    _, db_name = database
    name, prefix = f"test-eos-{unique}", f"eos{unique}"
    db_conf = config.mariadb()
    connectors.register(name, {
        "connector.class": DEBEZIUM_CLASS,
        "database.hostname": db_conf.host, "database.port": db_conf.port,
        "database.user": DEBEZIUM_USER[0], "database.password": DEBEZIUM_USER[1],
        "database.server.id": random.randint(10_000, 4_000_000), "database.ssl.mode": "disable",
        "topic.prefix": prefix, "database.include.list": db_name, "snapshot.locking.mode": "none",
        "schema.history.internal.kafka.bootstrap.servers": config.kafka_bootstrap(),
        "schema.history.internal.kafka.topic": f"{prefix}-history",
        "exactly.once.support": "required",
        "topic.creation.default.partitions": 3, "topic.creation.default.replication.factor": 1,
        "topic.creation.default.cleanup.policy": "compact",
    })
    try:
        connectors.wait_for(name, "RUNNING", timeout=60)
        topic = f"{prefix}.{db_name}.items"
        assert lk.wait_for_topic(topic, timeout_s=60) == 3
        wait_for_snapshot(topic)
        with db.connect(db_name) as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO items VALUES (%s, %s, %s)", [(i, f"n{i}", i) for i in range(2, 52)])
        assert lk.topic_configs(topic)["cleanup.policy"] == "compact"
        deadline, records = time.monotonic() + 30, []
        while len(records) < 51 and time.monotonic() < deadline:
            records = lk.read_topic(topic, isolation_level="read_committed")
        ids = [json.loads(r.key)["id"] for r in records]
        assert sorted(ids) == list(range(1, 52)), [(r.partition, r.offset, r.key) for r in records]
    finally:
        connectors.delete(name)
        lk.delete_topics(prefix=prefix)

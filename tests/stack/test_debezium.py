"""Debezium on the real MariaDB binlog: a connector registered through the Connect REST API
turns an insert, an update and a delete into change events with the right op codes and
before/after images."""

from __future__ import annotations

import json
import random
import time

import pymysql
import pytest
import requests
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient

from labs import config
from labs.stack.connect import DEBEZIUM_CLASS
from labs.stack.mariadb import DEBEZIUM_USER


@pytest.fixture
def database(unique):
    name = f"cdc_{unique}"
    conn = pymysql.connect(**config.mariadb().connect_kwargs())
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.items (id INT PRIMARY KEY, name VARCHAR(50), qty INT NOT NULL)")
        cur.execute(f"INSERT INTO `{name}`.items VALUES (1, 'existing', 5)")
    yield conn, name
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


@pytest.fixture
def connector(database, unique):
    _, db = database
    name, prefix = f"test-cdc-{unique}", f"cdc{unique}"
    db_conf = config.mariadb()
    body = {
        "name": name,
        "config": {
            "connector.class": DEBEZIUM_CLASS,
            "tasks.max": "1",
            "database.hostname": db_conf.host,
            "database.port": str(db_conf.port),
            "database.user": DEBEZIUM_USER[0],
            "database.password": DEBEZIUM_USER[1],
            "database.server.id": str(random.randint(10_000, 4_000_000)),
            "database.ssl.mode": "disable",
            "topic.prefix": prefix,
            "database.include.list": db,
            "table.include.list": f"{db}.items",
            "snapshot.mode": "initial",
            "snapshot.locking.mode": "none",
            "schema.history.internal.kafka.bootstrap.servers": config.kafka_bootstrap(),
            "schema.history.internal.kafka.topic": f"_schema_history.{prefix}",
        },
    }
    url = config.connect_url()
    resp = requests.post(f"{url}/connectors", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    yield name, f"{prefix}.{db}.items"
    requests.delete(f"{url}/connectors/{name}", timeout=30)
    admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap())
    doomed = [t for t in admin.list_topics() if t.startswith(prefix) or t == f"_schema_history.{prefix}"]
    if doomed:
        admin.delete_topics(doomed)
    admin.close()


def wait_running(name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    state = {}
    while time.monotonic() < deadline:
        state = requests.get(f"{config.connect_url()}/connectors/{name}/status", timeout=10).json()
        tasks = state.get("tasks", [])
        if state.get("connector", {}).get("state") == "RUNNING" and tasks and tasks[0]["state"] == "RUNNING":
            return state
        if any(t.get("state") == "FAILED" for t in tasks):
            break
        time.sleep(0.5)
    pytest.fail(f"connector did not reach RUNNING: {json.dumps(state)[:2000]}")


def read_events(topic: str, n: int, timeout: float = 60) -> list:
    consumer = KafkaConsumer(topic, bootstrap_servers=config.kafka_bootstrap(), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=1000)
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
    conn, db = database
    name, topic = connector
    wait_running(name)
    # the snapshot row first, then live changes from the binlog
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO `{db}`.items VALUES (2, 'widget', 10)")
        cur.execute(f"UPDATE `{db}`.items SET qty = 7, name = 'gadget' WHERE id = 2")
        cur.execute(f"DELETE FROM `{db}`.items WHERE id = 2")
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
    assert create["source"]["db"] == db and create["source"]["table"] == "items"
    assert create["source"]["file"].startswith("mariadb-bin") and create["source"]["pos"] > 0

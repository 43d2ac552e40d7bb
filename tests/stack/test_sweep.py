"""labs sweep: what a run left behind (a running connector, topics, an idle consumer group, a schema
subject, its databases) is removed by its run id, and nothing of another run or of the stack is touched."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid

import pytest
import requests
from kafka import KafkaConsumer

from labs import config, connectors, db, sweep
from labs import kafka as lk
from labs.stack.connect import DEBEZIUM_CLASS
from labs.stack.mariadb import DEBEZIUM_USER


def leave_behind(run: str) -> None:
    """What an interrupted C1-style run leaves: a RUNNING connector, topics, a group, two databases."""
    src = db.create_database(f"t9_{run}")
    db.create_database(f"t9_{run}_sink")
    with db.connect(src) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY)")
        cur.execute(f"GRANT INSERT ON `{src}`.items TO '{DEBEZIUM_USER[0]}'@'%'")  # outlives the database
    lk.create_topic(f"t9-{run}-events", partitions=2)
    consumer = KafkaConsumer(f"t9-{run}-events", bootstrap_servers=config.kafka_bootstrap(), group_id=f"t9-{run}-g",
                             auto_offset_reset="earliest", enable_auto_commit=True)
    consumer.poll(timeout_ms=2000)
    consumer.commit()
    consumer.close()  # leaves the group: it is Empty now
    m = config.mariadb()
    connectors.register(f"t9-{run}-cdc", {
        "connector.class": DEBEZIUM_CLASS, "database.hostname": m.host, "database.port": m.port,
        "database.user": DEBEZIUM_USER[0], "database.password": DEBEZIUM_USER[1],
        "database.server.id": random.randint(10_000, 4_000_000), "database.ssl.mode": "disable",
        "topic.prefix": f"t9-{run}", "database.include.list": src, "snapshot.locking.mode": "none",
        "schema.history.internal.kafka.bootstrap.servers": config.kafka_bootstrap(),
        "schema.history.internal.kafka.topic": f"t9-{run}-history",
        "topic.creation.default.replication.factor": 1, "topic.creation.default.partitions": 1,
    })
    connectors.wait_for(f"t9-{run}-cdc", "RUNNING", timeout=60)
    schema = json.dumps({"type": "record", "name": "Item", "fields": [{"name": "id", "type": "int"}]})
    requests.post(f"{config.registry_url()}/subjects/t9-{run}-events-value/versions", timeout=10,
                  headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
                  data=json.dumps({"schema": schema})).raise_for_status()


def test_sweep_removes_one_runs_leftovers_only(stack):
    run, other = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    leave_behind(run)
    lk.create_topic(f"t9-{other}-events")
    try:
        swept = sweep.sweep(run)
        assert swept.errors == []
        assert swept.connectors == [f"t9-{run}-cdc"] and connectors.state(f"t9-{run}-cdc") == "MISSING"
        assert f"t9-{run}-events" in swept.topics and f"t9-{run}-history" in swept.topics
        assert swept.groups == [f"t9-{run}-g"]
        assert sorted(swept.databases) == [f"t9_{run}", f"t9_{run}_sink"]
        assert swept.subjects == [f"t9-{run}-events-value"]
        assert f"t9-{run}-events-value" not in requests.get(f"{config.registry_url()}/subjects", timeout=10).json()
        assert not [t for t in lk.list_topics() if run in t]
        assert db.query("SHOW DATABASES LIKE %s", (f"t9_{run}%",)) == []
        assert not [g for (g,) in db.query(f"SHOW GRANTS FOR '{DEBEZIUM_USER[0]}'@'%'") if run in g]
        assert f"t9-{other}-events" in lk.list_topics()
        assert sweep.sweep(run).count == 0  # nothing left: a second sweep is a no-op
    finally:
        lk.delete_topics(prefix=f"t9-{other}")


def test_run_ids_are_checked():
    with pytest.raises(ValueError, match="8 lowercase hex digits"):
        sweep.sweep("x")
    with pytest.raises(ValueError, match="8 lowercase hex digits"):
        sweep.sweep("")


def test_cli_requires_a_run_or_all():
    out = subprocess.run([sys.executable, "-m", "labs.cli", "sweep"], capture_output=True, text=True)
    assert out.returncode == 2 and "--run" in out.stderr

"""Kafka Connect in distributed mode with the Debezium MariaDB connector on its plugin path."""

from __future__ import annotations

from pathlib import Path

import requests

from labs import config
from labs.stack.kafka import CONF, classpath
from labs.stack.process import java, jvm_opts
from labs.stack.service import Service

DEBEZIUM_CLASS = "io.debezium.connector.mariadb.MariaDbConnector"


class Connect(Service):
    def __init__(self) -> None:
        super().__init__(
            name="connect",
            ports={config.connect_port(): "LABS_CONNECT_PORT"},
            endpoint=config.connect_url(),
            heap_mb=512,
            start_timeout=90,
            depends_on=("kafka",),
            external=config.is_external("connect"),
            needs={config.jvm_dir() / "kafka": "make setup",
                   config.jvm_dir() / "plugins" / "debezium-connector-mariadb": "make setup"},
        )

    @property
    def properties(self) -> Path:
        return config.var_dir() / "connect" / "connect-distributed.properties"

    def prepare(self) -> None:
        self.properties.parent.mkdir(parents=True, exist_ok=True)
        lines = {
            "bootstrap.servers": config.kafka_bootstrap(),
            "group.id": "labs-connect",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "config.storage.topic": "_labs_connect_configs",
            "offset.storage.topic": "_labs_connect_offsets",
            "status.storage.topic": "_labs_connect_status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "5",
            "status.storage.partitions": "1",
            "offset.flush.interval.ms": "1000",
            "listeners": f"http://{config.HOST}:{config.connect_port()}",
            "rest.advertised.host.name": config.HOST,
            "rest.advertised.port": str(config.connect_port()),
            "plugin.path": str(config.jvm_dir() / "plugins"),
            "plugin.discovery": "service_load",
            "exactly.once.source.support": "enabled",
            "scheduled.rebalance.max.delay.ms": "0",
            "task.shutdown.graceful.timeout.ms": "5000",
        }
        self.properties.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def argv(self) -> list[str]:
        return [java(), *jvm_opts(self.heap_mb), f"-Dlog4j2.configurationFile={CONF / 'log4j2.properties'}",
                "-cp", classpath(), "org.apache.kafka.connect.cli.ConnectDistributed", str(self.properties)]

    def marks(self) -> tuple[str, ...]:
        return ("org.apache.kafka.connect.cli.ConnectDistributed", str(self.properties))

    def healthy(self) -> bool:
        plugins = requests.get(f"{self.endpoint}/connector-plugins", timeout=3)
        return plugins.ok and any(p.get("class") == DEBEZIUM_CLASS for p in plugins.json())

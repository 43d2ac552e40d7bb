"""Kafka Connect in distributed mode with the Debezium MariaDB connector on its plugin path."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from labs import config
from labs.stack.gate import internal_connect_port, internal_connect_url
from labs.stack.kafka import CONF, classpath
from labs.stack.process import java, jvm_opts
from labs.stack.service import Service

DEBEZIUM_CLASS = "io.debezium.connector.mariadb.MariaDbConnector"


class Connect(Service):
    def __init__(self) -> None:
        super().__init__(
            name="connect",
            ports={internal_connect_port(): "LABS_CONNECT_INTERNAL_PORT"},
            endpoint=config.connect_url(),
            heap_mb=512,
            start_timeout=90,
            depends_on=("kafka", "gate"),
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
            **self.kafka_settings(),
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
            "listeners": f"http://{config.HOST}:{internal_connect_port()}",  # behind the gate (labs.stack.gate)
            "rest.advertised.host.name": config.HOST,
            "rest.advertised.port": str(internal_connect_port()),
            "plugin.path": str(config.jvm_dir() / "plugins"),
            "plugin.discovery": "service_load",
            "exactly.once.source.support": "enabled",
            "scheduled.rebalance.max.delay.ms": "0",
            "task.shutdown.graceful.timeout.ms": "5000",
        }
        fd = os.open(self.properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it may hold the admin's password
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in lines.items()))

    @staticmethod
    def kafka_settings() -> dict[str, str]:
        """How the worker and its connectors' clients reach Kafka: on the stack's broker, as its
        admin on the SASL listener (the plaintext one refuses everything while a class is graded)."""
        if config.is_external("kafka"):
            return {"bootstrap.servers": config.kafka_bootstrap()}
        from labs.stack.kafka import ADMIN, admin_password, plain_jaas, sasl_bootstrap

        auth = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                "sasl.jaas.config": plain_jaas(ADMIN, admin_password(config.var_dir()))}
        out = {"bootstrap.servers": sasl_bootstrap(), **auth}
        for client in ("producer.", "consumer.", "admin."):
            out.update({client + key: value for key, value in auth.items()})
        return out

    def argv(self) -> list[str]:
        return [java(), *jvm_opts(self.heap_mb), f"-Dlog4j2.configurationFile={CONF / 'log4j2.properties'}",
                "-cp", classpath(), "org.apache.kafka.connect.cli.ConnectDistributed", str(self.properties)]

    def marks(self) -> tuple[str, ...]:
        return ("org.apache.kafka.connect.cli.ConnectDistributed", str(self.properties))

    def healthy(self) -> bool:
        plugins = requests.get(f"{self.endpoint if self.external else internal_connect_url()}/connector-plugins",
                               timeout=3)
        return plugins.ok and any(p.get("class") == DEBEZIUM_CLASS for p in plugins.json())

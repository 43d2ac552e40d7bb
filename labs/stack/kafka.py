"""Apache Kafka, one node in KRaft mode (broker and controller in one JVM)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from labs import config
from labs.stack.process import java, jvm_opts, port_open
from labs.stack.service import Service

CONF = Path(__file__).parent / "conf"


def classpath() -> str:
    return str(config.jvm_dir() / "kafka" / "*")


class Kafka(Service):
    def __init__(self) -> None:
        super().__init__(
            name="kafka",
            ports={config.kafka_port(): "LABS_KAFKA_PORT",
                   config.kafka_controller_port(): "LABS_KAFKA_CONTROLLER_PORT"},
            endpoint=config.kafka_bootstrap(),
            heap_mb=384,
            start_timeout=60,
            external=config.is_external("kafka"),
            needs={config.jvm_dir() / "kafka": "make setup"},
        )

    @property
    def home(self) -> Path:
        return config.var_dir() / "kafka"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    def write_properties(self) -> None:
        port, cport = config.kafka_port(), config.kafka_controller_port()
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{config.HOST}:{cport}",
            "listeners": f"PLAINTEXT://{config.HOST}:{port},CONTROLLER://{config.HOST}:{cport}",
            "advertised.listeners": f"PLAINTEXT://{config.HOST}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",  # topics are created on purpose (connectors: topic.creation.*)
            "delete.topic.enable": "true",
            "log.retention.hours": "24",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
        }
        self.properties.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.write_properties()
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = "-"
        while cluster_id.startswith("-"):  # like Kafka's own ids: a leading dash would read as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(
            [java(), *jvm_opts(256), f"-Dlog4j2.configurationFile={CONF / 'log4j2.properties'}",
             "-cp", classpath(), "kafka.tools.StorageTool", "format",
             "-t", cluster_id, "-c", str(self.properties), "--ignore-formatted"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def argv(self) -> list[str]:
        return [java(), *jvm_opts(self.heap_mb), f"-Dlog4j2.configurationFile={CONF / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={config.log_dir()}", "-cp", classpath(), "kafka.Kafka", str(self.properties)]

    def marks(self) -> tuple[str, ...]:
        return ("kafka.Kafka", str(self.properties))

    def healthy(self) -> bool:
        from kafka import KafkaAdminClient

        if not self.external and not port_open(config.kafka_port()):
            return False
        admin = KafkaAdminClient(bootstrap_servers=self.endpoint, request_timeout_ms=2000, client_id="labs-health",
                                 reconnect_backoff_ms=100, reconnect_backoff_max_ms=500, retry_backoff_ms=100)
        try:
            return bool(admin.describe_cluster().get("brokers"))
        finally:
            admin.close()

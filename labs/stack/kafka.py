"""Apache Kafka, one node in KRaft mode (broker and controller in one JVM).

Three listeners on loopback:

- ``COURSE`` (``LABS_KAFKA_PORT``, 9092), plaintext: every client of a student working alone, and
  the one notebooks name. Its clients are ``User:ANONYMOUS``, who may do anything while the course
  is open and nothing while a class is graded (``labs.stack.rights``).
- ``RUNS`` (``LABS_KAFKA_SASL_PORT``, 9094), SASL: SCRAM-SHA-256 for the principal of each graded
  run, PLAIN for the stack's admin (``labs-admin``, the only super user; its password is made once,
  readable only by the account that runs the stack).
- ``CONTROLLER`` (``LABS_KAFKA_CONTROLLER_PORT``, 9093), SASL PLAIN as the admin: the broker's own.

The KRaft ``StandardAuthorizer`` decides every request; where no ACL allows, it refuses.
"""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from pathlib import Path

from labs import config
from labs.stack.process import java, jvm_opts, port_open
from labs.stack.service import Service

CONF = Path(__file__).parent / "conf"
ADMIN = "labs-admin"


def sasl_port() -> int:
    return config._port("LABS_KAFKA_SASL_PORT", 9094)


def sasl_bootstrap() -> str:
    """The listener where clients authenticate (graded runs, the admin)."""
    return f"{config.HOST}:{sasl_port()}"


def admin_secret_file(var: Path | None = None) -> Path:
    return (var or config.var_dir()) / "kafka" / "admin.secret"


def broker_var_dir() -> Path:
    """The var folder of the broker answering on the SASL port (see labs.stack.discover)."""
    from labs.stack.discover import listener_cmdline

    cmdline = listener_cmdline(sasl_port())
    props = [a for a in cmdline if a.endswith("server.properties")] if "kafka.Kafka" in cmdline else []
    return Path(props[-1]).parent.parent if props else config.var_dir()


def admin_password(var: Path | None = None) -> str:
    """The admin's password, made on first use; by default that of the broker that is running."""
    from labs.stack.discover import stored_secret

    return stored_secret(admin_secret_file(var or broker_var_dir()))


def plain_jaas(user: str, password: str, users: dict[str, str] | None = None) -> str:
    extra = "".join(f' user_{name}="{secret}"' for name, secret in (users or {}).items())
    return (f'org.apache.kafka.common.security.plain.PlainLoginModule required '
            f'username="{user}" password="{password}"{extra};')


def classpath() -> str:
    return str(config.jvm_dir() / "kafka" / "*")


class Kafka(Service):
    def __init__(self) -> None:
        super().__init__(
            name="kafka",
            ports={config.kafka_port(): "LABS_KAFKA_PORT",
                   sasl_port(): "LABS_KAFKA_SASL_PORT",
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
        port, sport, cport = config.kafka_port(), sasl_port(), config.kafka_controller_port()
        secret = admin_password(config.var_dir())  # this checkout's broker, being started
        admin_jaas = plain_jaas(ADMIN, secret, {ADMIN: secret})
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{config.HOST}:{cport}",
            "listeners": f"COURSE://{config.HOST}:{port},RUNS://{config.HOST}:{sport},CONTROLLER://{config.HOST}:{cport}",
            "advertised.listeners": f"COURSE://{config.HOST}:{port},RUNS://{config.HOST}:{sport}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "RUNS",
            "listener.security.protocol.map": "COURSE:PLAINTEXT,RUNS:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.runs.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
            "listener.name.runs.plain.sasl.jaas.config": admin_jaas,
            "listener.name.runs.scram-sha-256.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": admin_jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN}",
            "allow.everyone.if.no.acl.found": "false",
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
        fd = os.open(self.properties, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the admin's password
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in lines.items()))

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

    def after_start(self) -> None:
        """Open the course (ANONYMOUS may do anything) unless a grader holds it closed."""
        from labs.stack import rights

        rights.reopen_if_abandoned()

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

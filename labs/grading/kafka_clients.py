"""How a graded run's Kafka clients authenticate without the lab's code knowing it.

Notebooks make their clients with the broker's address alone (``KafkaProducer(bootstrap_servers=
BOOTSTRAP)``, ``spark.readStream.format("kafka").option("kafka.bootstrap.servers", BOOTSTRAP)``).
In a graded run, ``LABS_KAFKA_BOOTSTRAP`` names the broker's SASL listener and ``LABS_KAFKA_USERNAME``
/ ``LABS_KAFKA_PASSWORD`` the run's own principal (``labs.stack.rights``). ``install_from_env``,
run at the start of every Python of the run (the kernel, and any process it starts: a
``sitecustomize`` on the run's ``PYTHONPATH``), makes those the defaults of every client they create:

- kafka-python: the defaults of ``KafkaProducer``, ``KafkaConsumer``, ``KafkaAdminClient`` and the
  client beneath them (a setting the notebook passes still wins);
- Spark's Kafka source and sink through Spark Connect: every plan that reads or writes format
  ``kafka`` gets the SASL options it does not already name, and a source gets a consumer group
  prefix the run may use.

Both modules are patched when first imported (a finder on ``sys.meta_path``), so a notebook that
never uses them does not pay for their import. ``admin_clients()`` does the same in the grader's
own process, as the stack's admin, for the clean-up it runs while a class is graded.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import inspect
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

KAFKA_PYTHON = (("kafka.producer.kafka", "KafkaProducer"), ("kafka.consumer.group", "KafkaConsumer"),
                ("kafka.admin.client", "KafkaAdminClient"), ("kafka.client_async", "KafkaClient"),
                ("kafka.conn", "BrokerConnection"))  # module, class: every client's defaults
SPARK_PLAN = "pyspark.sql.connect.plan"


@dataclass(frozen=True)
class Credentials:
    mechanism: str
    username: str
    password: str
    group_prefix: str = ""

    def kafka_python(self) -> dict:
        return {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username, "sasl_plain_password": self.password}

    def java(self) -> dict[str, str]:
        """The settings of a Java client (Kafka Connect's, Debezium's)."""
        module = ("org.apache.kafka.common.security.scram.ScramLoginModule" if self.mechanism.startswith("SCRAM")
                  else "org.apache.kafka.common.security.plain.PlainLoginModule")
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": self.mechanism,
                "sasl.jaas.config": f'{module} required username="{self.username}" password="{self.password}";'}

    def spark(self) -> dict[str, str]:
        """The options of Spark's Kafka source and sink."""
        return {f"kafka.{key}": value for key, value in self.java().items()}


def from_env(environ=os.environ) -> Credentials | None:
    user = environ.get("LABS_KAFKA_USERNAME", "")
    if not user:
        return None
    return Credentials(environ.get("LABS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"), user,
                       environ.get("LABS_KAFKA_PASSWORD", ""), environ.get("LABS_KAFKA_GROUP_PREFIX", ""))


# --- kafka-python ---------------------------------------------------------------------------------

def _kafka_python_classes() -> list:
    found = []
    for name, attr in KAFKA_PYTHON:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, attr):
            found.append(getattr(module, attr))
    return found


def _patch_kafka_python(creds: Credentials, saved: dict) -> None:
    for cls in _kafka_python_classes():
        if cls in saved:
            continue
        saved[cls] = {k: cls.DEFAULT_CONFIG[k] for k in creds.kafka_python() if k in cls.DEFAULT_CONFIG}
        cls.DEFAULT_CONFIG.update({k: v for k, v in creds.kafka_python().items() if k in cls.DEFAULT_CONFIG})


# --- Spark Connect --------------------------------------------------------------------------------

def _patch_spark(creds: Credentials, saved: dict) -> None:
    plan = sys.modules.get(SPARK_PLAN)
    if plan is None or "spark" in saved:
        return
    options = creds.spark()
    source_init = plan.DataSource.__init__
    write_command = plan.WriteOperation.command
    stream_command = plan.WriteStreamOperation.command

    signature = inspect.signature(source_init)

    def data_source_init(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        if (bound.arguments.get("format") or "").lower() == "kafka":
            given = dict(bound.arguments.get("options") or {})
            for key, value in options.items():
                given.setdefault(key, value)
            if creds.group_prefix and "kafka.group.id" not in given:
                given.setdefault("groupIdPrefix", creds.group_prefix)
            bound.arguments["options"] = given
        source_init(*bound.args, **bound.kwargs)

    def write_operation_command(self, session):
        if (self.source or "").lower() == "kafka":
            for key, value in options.items():
                self.options.setdefault(key, value)
        return write_command(self, session)

    def write_stream_command(self, session):
        if self.write_op.format.lower() == "kafka":
            for key, value in options.items():
                if key not in self.write_op.options:
                    self.write_op.options[key] = value
        return stream_command(self, session)

    saved["spark"] = (plan, source_init, write_command, stream_command)
    plan.DataSource.__init__ = data_source_init
    plan.WriteOperation.command = write_operation_command
    plan.WriteStreamOperation.command = write_stream_command


# --- applied on import ----------------------------------------------------------------------------

class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``apply()`` right after one of ``names`` is imported."""

    def __init__(self, names: tuple[str, ...], apply):
        self.names = set(names)
        self.apply = apply

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader, apply = spec.loader, self.apply

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                sys.modules[fullname] = module
                apply()

        spec.loader = Loader()
        return spec


_installed: dict = {}


def install(creds: Credentials) -> None:
    """Make ``creds`` the defaults of every Kafka client this process creates from now on."""
    saved: dict = {}

    def apply() -> None:
        _patch_kafka_python(creds, saved)
        _patch_spark(creds, saved)

    finder = _AfterImport((*(name for name, _ in KAFKA_PYTHON), SPARK_PLAN), apply)
    sys.meta_path.insert(0, finder)
    apply()
    _installed[id(finder)] = (finder, saved)


def uninstall() -> None:
    """Undo every ``install`` of this process."""
    for finder, saved in _installed.values():
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
        for cls, values in saved.items():
            if cls == "spark":
                plan, source_init, write_command, stream_command = values
                plan.DataSource.__init__ = source_init
                plan.WriteOperation.command = write_command
                plan.WriteStreamOperation.command = stream_command
            else:
                cls.DEFAULT_CONFIG.update(values)
    _installed.clear()


def install_from_env() -> bool:
    """The kernel's startup: install the run's credentials when the grader gave some."""
    creds = from_env()
    if creds is None:
        return False
    install(creds)
    return True


SITECUSTOMIZE = ("import labs.grading.kafka_clients\n"
                 "labs.grading.kafka_clients.install_from_env()\n")


@contextlib.contextmanager
def admin_clients() -> Iterator[None]:
    """In the grader's process, while a class is graded: ``labs.kafka`` and every kafka-python
    client connect to the SASL listener as the stack's admin (the plaintext one refuses everything
    then). Nothing changes when the broker is not the stack's or does not answer."""
    from labs import config
    from labs.stack import rights

    if not rights.available():
        yield
        return
    settings = rights.admin_settings()
    bootstrap = config.kafka_bootstrap
    plain_log = logging.getLogger("kafka.net.sasl.plain")  # warns on every connection that PLAIN is clear text:
    level, plain_log.level = plain_log.level, logging.ERROR  # it is, on loopback, to the stack's own broker
    install(Credentials("PLAIN", settings["sasl_plain_username"], settings["sasl_plain_password"]))
    config.kafka_bootstrap = lambda: settings["bootstrap_servers"]
    try:
        yield
    finally:
        config.kafka_bootstrap = bootstrap
        plain_log.setLevel(level)
        uninstall()

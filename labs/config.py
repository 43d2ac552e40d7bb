"""Every endpoint and path of the course, in one place.

Each value comes from an environment variable with a safe local default. Pointing these
variables at a real cluster (a Kafka cluster, a Spark master or Spark Connect server, a
production MariaDB) is all it takes to run the labs there; nothing else changes.

Ports of the local stack are set by ``LABS_<SERVICE>_PORT``; a full endpoint variable
(``LABS_KAFKA_BOOTSTRAP``, ``LABS_CONNECT_URL``, ...) marks that service as *external*:
``labs stack up`` then leaves it alone and only checks that it answers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from labs.errors import BadValueError

HOST = "127.0.0.1"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _port(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise BadValueError(f"{name}={raw!r} is not a port number; set it to an integer like {default}") from None
    if not 0 < port < 65536:
        raise BadValueError(f"{name}={port} is out of range; set it to a port between 1024 and 65535, like {default}")
    return port


def project_root() -> Path:
    """The course checkout (``LABS_HOME``, else the folder holding the ``labs`` package)."""
    return Path(_env("LABS_HOME", str(Path(__file__).resolve().parent.parent))).resolve()


def var_dir() -> Path:
    """Git-ignored folder for everything the stack and the labs generate."""
    return Path(_env("LABS_VAR_DIR", str(project_root() / "var"))).resolve()


def data_dir() -> Path:
    """Where generated datasets are written (``LABS_DATA_DIR``)."""
    return Path(_env("LABS_DATA_DIR", str(var_dir() / "data"))).resolve()


def work_dir() -> Path:
    """Scratch space for labs and Spark temp files (``LABS_WORK_DIR``)."""
    return Path(_env("LABS_WORK_DIR", str(var_dir() / "work"))).resolve()


def log_dir() -> Path:
    """One folder with every service's log (``LABS_LOG_DIR``)."""
    return Path(_env("LABS_LOG_DIR", str(var_dir() / "logs"))).resolve()


def jvm_dir() -> Path:
    """Jars fetched by ``make setup`` from Maven Central (see jvm/pom.xml)."""
    return Path(_env("LABS_JVM_DIR", str(var_dir() / "jvm"))).resolve()


@dataclass(frozen=True)
class MariaDB:
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def dsn(self) -> str:
        return f"mysql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    def connect_kwargs(self) -> dict:
        """Keyword arguments for ``pymysql.connect``."""
        return dict(host=self.host, port=self.port, user=self.user, password=self.password,
                    database=self.database, autocommit=True)


# Ports of the local stack (override to avoid clashes with something already running).
def kafka_port() -> int:
    return _port("LABS_KAFKA_PORT", 9092)


def kafka_controller_port() -> int:
    return _port("LABS_KAFKA_CONTROLLER_PORT", 9093)


def connect_port() -> int:
    return _port("LABS_CONNECT_PORT", 8083)


def registry_port() -> int:
    return _port("LABS_REGISTRY_PORT", 8081)


def mariadb_port() -> int:
    return _port("LABS_MARIADB_PORT", 3307)


def spark_connect_port() -> int:
    return _port("LABS_SPARK_CONNECT_PORT", 15002)


# Endpoints (what notebooks and tests use).
def kafka_bootstrap() -> str:
    """Kafka bootstrap servers (``LABS_KAFKA_BOOTSTRAP``)."""
    return _env("LABS_KAFKA_BOOTSTRAP", f"{HOST}:{kafka_port()}")


def connect_url() -> str:
    """Kafka Connect REST API (``LABS_CONNECT_URL``)."""
    return _env("LABS_CONNECT_URL", f"http://{HOST}:{connect_port()}").rstrip("/")


def registry_url() -> str:
    """Schema registry, Confluent-compatible API (``LABS_REGISTRY_URL``)."""
    return _env("LABS_REGISTRY_URL", f"http://{HOST}:{registry_port()}/apis/ccompat/v7").rstrip("/")


def mariadb() -> MariaDB:
    """MariaDB connection settings (``LABS_MARIADB_DSN``: mysql://user:pass@host:port/db)."""
    dsn = _env("LABS_MARIADB_DSN", f"mysql://labs:labs@{HOST}:{mariadb_port()}/labs")
    url = urlparse(dsn)
    if url.scheme not in ("mysql", "mariadb") or not url.hostname:
        raise BadValueError(f"LABS_MARIADB_DSN={dsn!r} is not of the form mysql://user:password@host:port/database")
    return MariaDB(host=url.hostname, port=url.port or 3306, user=unquote(url.username or "root"),
                   password=unquote(url.password or ""), database=url.path.lstrip("/") or "labs")


def spark_remote() -> str:
    """Spark Connect address (``LABS_SPARK_REMOTE``, ``sc://host:port``)."""
    return _env("LABS_SPARK_REMOTE", f"sc://{HOST}:{spark_connect_port()}")


def spark_master() -> str:
    """Master URL for a classic Spark session when no Spark Connect server answers
    (``LABS_SPARK_MASTER``; ``local[2]`` by default)."""
    return _env("LABS_SPARK_MASTER", "local[2]")


def is_external(service: str) -> bool:
    """True when the user pointed ``service`` at an endpoint of their own."""
    names = {
        "kafka": "LABS_KAFKA_BOOTSTRAP",
        "connect": "LABS_CONNECT_URL",
        "registry": "LABS_REGISTRY_URL",
        "mariadb": "LABS_MARIADB_DSN",
        "spark-connect": "LABS_SPARK_REMOTE",
    }
    return bool(os.environ.get(names[service], "").strip())


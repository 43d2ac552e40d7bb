"""What a client of the stack needs from it: the settings of a classic Spark session, and whether the
Spark Connect server answers. Nothing here starts or stops a service."""

from __future__ import annotations

from labs.stack.process import port_open
from labs.stack.spark_connect import common_conf, kafka_jars, make_work_dirs, remote_address


def spark_session_conf() -> dict[str, str]:
    """Spark settings for a classic in-process session that match the stack's Spark Connect server (same quiet
    logging, the project's work folders, which this creates, and Spark's Kafka connector jars)."""
    make_work_dirs()
    conf = common_conf()
    jars = kafka_jars()
    if jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
    return conf


def spark_connect_answers(timeout: float = 0.5) -> bool:
    """True when a Spark Connect server accepts connections at ``labs.config.spark_remote()``."""
    host, port = remote_address()
    return port_open(port, host, timeout=timeout)

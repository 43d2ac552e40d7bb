"""A Spark Connect server from the pip pyspark, with Spark's Kafka connector on its classpath."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from labs import config
from labs.errors import LabsError
from labs.stack.process import port_open
from labs.stack.service import Service

CONF = Path(__file__).parent / "conf"
MAIN_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
WORK_DIRS = ("spark", "tmp", "spark-warehouse")


def spark_home() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise LabsError("pyspark is not installed in this environment; run: make setup")
    return Path(spec.origin).parent


def kafka_jars() -> list[Path]:
    return sorted((config.jvm_dir() / "spark-kafka").glob("*.jar"))


def quiet_java_options() -> str:
    """JVM options that keep Spark silent and its temp files in the project."""
    tmp = config.work_dir() / "tmp"
    return f"-Dlog4j2.configurationFile={CONF / 'spark-log4j2.properties'} -Djava.io.tmpdir={tmp}"


def make_work_dirs() -> None:
    """Create the folders Spark writes to (scratch, temp files, warehouse)."""
    for d in WORK_DIRS:
        (config.work_dir() / d).mkdir(parents=True, exist_ok=True)


def remote_address() -> tuple[str, int]:
    """Host and port of the Spark Connect server named by ``labs.config.spark_remote()``."""
    url = urlparse(config.spark_remote().replace("sc://", "http://", 1))
    return url.hostname or config.HOST, url.port or 15002


def common_conf() -> dict[str, str]:
    """Spark settings shared by the Connect server and a local in-process session."""
    return {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "2",
        "spark.local.dir": str(config.work_dir() / "spark"),
        "spark.sql.warehouse.dir": str(config.work_dir() / "spark-warehouse"),
        "spark.driver.extraJavaOptions": quiet_java_options(),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    }


class SparkConnect(Service):
    def __init__(self) -> None:
        super().__init__(
            name="spark-connect",
            ports={config.spark_connect_port(): "LABS_SPARK_CONNECT_PORT"},
            endpoint=config.spark_remote(),
            heap_mb=1024,
            start_timeout=90,
            external=config.is_external("spark-connect"),
            needs={config.jvm_dir() / "spark-kafka": "make setup"},
        )

    def prepare(self) -> None:
        make_work_dirs()

    def argv(self) -> list[str]:
        home = spark_home()
        conf = {**common_conf(),
                "spark.connect.grpc.binding.address": config.HOST,
                "spark.connect.grpc.binding.port": str(config.spark_connect_port()),
                "spark.driver.host": config.HOST,
                "spark.driver.bindAddress": config.HOST}
        argv = [str(home / "bin" / "spark-submit"),
                "--class", MAIN_CLASS,
                "--name", "labs-spark-connect", "--master", config.spark_master(),
                "--driver-memory", f"{self.heap_mb}m",
                "--jars", ",".join(str(j) for j in kafka_jars())]
        for key, value in conf.items():
            argv += ["--conf", f"{key}={value}"]
        return argv + ["spark-internal"]

    def env(self) -> dict[str, str]:
        return {"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": config.HOST, "SPARK_LOG_DIR": str(config.log_dir()),
                "SPARK_CONF_DIR": str(config.work_dir() / "spark-conf")}

    def marks(self) -> tuple[str, ...]:
        return (MAIN_CLASS, f"spark.local.dir={common_conf()['spark.local.dir']}")

    def healthy(self) -> bool:
        host, port = remote_address()
        return port_open(port, host)

"""labs.config: defaults, overrides from the environment, and clear errors on bad values."""

from __future__ import annotations

import pytest

from labs import config


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("LABS_KAFKA_BOOTSTRAP", "LABS_KAFKA_PORT", "LABS_CONNECT_URL", "LABS_CONNECT_PORT",
                "LABS_REGISTRY_URL", "LABS_REGISTRY_PORT", "LABS_MARIADB_DSN", "LABS_MARIADB_PORT",
                "LABS_SPARK_REMOTE", "LABS_SPARK_MASTER", "LABS_SPARK_CONNECT_PORT", "LABS_VAR_DIR", "LABS_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)


def test_defaults_are_local():
    assert config.kafka_bootstrap() == "127.0.0.1:9092"
    assert config.connect_url() == "http://127.0.0.1:8083"
    assert config.registry_url() == "http://127.0.0.1:8081/apis/ccompat/v7"
    assert config.spark_remote() == "sc://127.0.0.1:15002"
    assert config.spark_master() == "local[2]"
    db = config.mariadb()
    assert (db.host, db.port, db.user, db.database) == ("127.0.0.1", 3307, "labs", "labs")
    assert config.data_dir() == config.var_dir() / "data"
    assert not any(config.is_external(s) for s in ("kafka", "connect", "registry", "mariadb", "spark-connect"))


def test_ports_move_endpoints(monkeypatch):
    monkeypatch.setenv("LABS_KAFKA_PORT", "19092")
    monkeypatch.setenv("LABS_MARIADB_PORT", "13306")
    assert config.kafka_bootstrap() == "127.0.0.1:19092"
    assert config.mariadb().port == 13306


def test_external_endpoints_win(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_KAFKA_BOOTSTRAP", "broker-1.example:9092,broker-2.example:9092")
    monkeypatch.setenv("LABS_MARIADB_DSN", "mysql://etl:s%40cret@db.example:3306/shop")
    monkeypatch.setenv("LABS_SPARK_REMOTE", "sc://spark.example:15002")
    monkeypatch.setenv("LABS_CONNECT_URL", "http://connect.example:8083/")
    monkeypatch.setenv("LABS_VAR_DIR", str(tmp_path))
    assert config.kafka_bootstrap() == "broker-1.example:9092,broker-2.example:9092"
    db = config.mariadb()
    assert (db.user, db.password, db.host, db.port, db.database) == ("etl", "s@cret", "db.example", 3306, "shop")
    assert config.connect_url() == "http://connect.example:8083"
    assert config.is_external("kafka") and config.is_external("mariadb") and config.is_external("spark-connect")
    assert config.data_dir() == tmp_path / "data"


def test_bad_values_say_what_to_do(monkeypatch):
    monkeypatch.setenv("LABS_KAFKA_PORT", "ninety")
    with pytest.raises(ValueError, match="LABS_KAFKA_PORT"):
        config.kafka_bootstrap()
    monkeypatch.setenv("LABS_KAFKA_PORT", "70000")
    with pytest.raises(ValueError, match="between"):
        config.kafka_port()
    monkeypatch.setenv("LABS_MARIADB_DSN", "postgres://x@y/z")
    with pytest.raises(ValueError, match="mysql://"):
        config.mariadb()

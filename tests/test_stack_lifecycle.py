"""`labs stack up / down` on real services, in a private var dir on free ports so the
shared stack of the test run is not touched: up is idempotent, down leaves no process of
ours behind and stops a service's dependents (never its dependencies), a started process
is tracked from the moment it is spawned (a lost pid file is recovered by adoption), a
taken port is reported with the variable that moves it, and the broker creates no topic
on first use."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from labs import config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_in(folder):
    """The environment of a private stack in ``folder`` on free ports, and a ``labs`` runner for it."""
    env = {**os.environ, "LABS_VAR_DIR": str(folder / "var"), "LABS_JVM_DIR": str(config.jvm_dir())}
    for var in ("LABS_KAFKA_PORT", "LABS_KAFKA_SASL_PORT", "LABS_KAFKA_CONTROLLER_PORT", "LABS_MARIADB_PORT",
                "LABS_CONNECT_PORT", "LABS_CONNECT_INTERNAL_PORT", "LABS_REGISTRY_PORT", "LABS_REGISTRY_INTERNAL_PORT",
                "LABS_SPARK_CONNECT_PORT"):
        env[var] = str(free_port())
    for var in ("LABS_KAFKA_BOOTSTRAP", "LABS_MARIADB_DSN", "LABS_CONNECT_URL", "LABS_REGISTRY_URL",
                "LABS_SPARK_REMOTE", "LABS_WORK_DIR", "LABS_LOG_DIR", "LABS_DATA_DIR"):
        env.pop(var, None)

    def labs(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "labs.cli", *args], env=env, capture_output=True, text=True,
                              timeout=240)

    return labs, env


@pytest.fixture
def private_stack(tmp_path):
    labs, env = stack_in(tmp_path)
    yield labs, env, tmp_path
    labs("stack", "down")


@pytest.fixture(scope="module")
def kafka_stack(tmp_path_factory):
    """One private stack shared by the tests below that need a broker (each starts it if it is not up)."""
    folder = tmp_path_factory.mktemp("kafka-stack")
    labs, env = stack_in(folder)
    yield labs, env, folder
    labs("stack", "down")


def ours(tmp_path) -> list[psutil.Process]:
    marker = str(tmp_path)
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in (p.info["cmdline"] or [])):
                found.append(p)
        except psutil.Error:
            pass
    return found


def test_up_is_idempotent_and_down_leaves_nothing(private_stack):
    labs, env, tmp_path = private_stack
    first = labs("stack", "up", "kafka", "mariadb")
    assert first.returncode == 0, first.stderr
    assert "starting kafka" in first.stdout and "starting mariadb" in first.stdout
    running = {p.pid for p in ours(tmp_path)}
    assert len(running) >= 2

    second = labs("stack", "up", "kafka", "mariadb")
    assert second.returncode == 0, second.stderr
    assert "starting" not in second.stdout
    assert {p.pid for p in ours(tmp_path)} == running

    status = labs("stack", "status", "kafka", "mariadb")
    assert status.returncode == 0
    assert status.stdout.count(" up ") == 2 and f"127.0.0.1:{env['LABS_KAFKA_PORT']}" in status.stdout

    down = labs("stack", "down")
    assert down.returncode == 0 and "kafka" in down.stdout and "mariadb" in down.stdout
    psutil.wait_procs([psutil.Process(pid) for pid in running if psutil.pid_exists(pid)], timeout=10)
    assert ours(tmp_path) == []
    assert "nothing of ours" in labs("stack", "down").stdout


def test_taken_port_names_the_port_and_the_variable(private_stack):
    labs, env, _ = private_stack
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env["LABS_KAFKA_PORT"] = str(port)
        result = labs("stack", "up", "kafka")
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "LABS_KAFKA_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_registry_keeps_schemas_across_a_restart(private_stack):
    import json

    import requests

    labs, env, _ = private_stack
    assert labs("stack", "up", "registry").returncode == 0
    url = f"http://127.0.0.1:{env['LABS_REGISTRY_PORT']}/apis/ccompat/v7"
    schema = {"type": "record", "name": "Kept", "fields": [{"name": "id", "type": "long"}]}
    resp = requests.post(f"{url}/subjects/kept-value/versions", timeout=10,
                         headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
                         data=json.dumps({"schema": json.dumps(schema)}))
    assert resp.status_code == 200, resp.text
    assert labs("stack", "down", "registry").returncode == 0
    assert labs("stack", "up", "registry").returncode == 0
    assert requests.get(f"{url}/subjects", timeout=10).json() == ["kept-value"]
    latest = requests.get(f"{url}/subjects/kept-value/versions/latest", timeout=10).json()
    assert json.loads(latest["schema"]) == schema and latest["id"] == resp.json()["id"]


def pid_record(folder, name: str) -> dict | None:
    path = folder / "var" / "run" / f"{name}.pid"
    return json.loads(path.read_text()) if path.exists() else None


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_spawned_service_is_tracked_at_once_and_a_lost_pid_file_is_adopted(kafka_stack):
    labs, env, folder = kafka_stack
    labs("stack", "down", "kafka")
    up = subprocess.Popen([sys.executable, "-m", "labs.cli", "stack", "up", "kafka"], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (record := pid_record(folder, "kafka")) is None:
        assert up.poll() is None and time.monotonic() < deadline, "`up` ended without writing a pid file"
        time.sleep(0.05)
    assert not port_open(int(env["LABS_KAFKA_PORT"])), "the pid file should exist before the broker answers"
    up.send_signal(signal.SIGKILL)  # a killed `up` leaves a broker that is still ours
    up.wait()
    again = labs("stack", "up", "kafka")
    assert again.returncode == 0 and "starting" not in again.stdout, again.stdout + again.stderr
    assert pid_record(folder, "kafka")["pid"] == record["pid"]

    (folder / "var" / "run" / "kafka.pid").unlink()  # a process of ours without a pid file holds the ports
    adopted = labs("stack", "up", "kafka")
    assert adopted.returncode == 0, adopted.stderr
    assert f"adopted kafka (pid {record['pid']})" in adopted.stdout
    assert pid_record(folder, "kafka")["pid"] == record["pid"]


def test_the_broker_creates_no_topic_on_first_use(kafka_stack):
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.errors import KafkaTimeoutError

    labs, env, folder = kafka_stack
    assert labs("stack", "up", "kafka").returncode == 0
    assert "auto.create.topics.enable=false" in (folder / "var" / "kafka" / "server.properties").read_text()
    bootstrap = f"127.0.0.1:{env['LABS_KAFKA_PORT']}"
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=3000)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send("never-created", b"x").get(timeout=10)
    finally:
        producer.close(timeout=5)
    generated = labs("data", "generate", "iot", "--format", "kafka", "--topic", "made-on-purpose", "--scale", "0.01")
    assert generated.returncode == 0, generated.stderr  # `labs data generate` creates its topic itself
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        topics = admin.list_topics()
    finally:
        admin.close()
    assert "never-created" not in topics and "made-on-purpose" in topics


def stand_in_connect(env, folder) -> psutil.Process:
    """A stand-in Connect worker (``sleep``) started and recorded the way ``up`` records one: ``down`` goes by
    pid files, so this tests its choice of services without a Connect JVM."""
    code = ("import sys; from pathlib import Path; from labs.stack import process; "
            "print(process.spawn('connect', ['sleep', '600'], Path(sys.argv[1])).pid)")
    out = subprocess.run([sys.executable, "-c", code, str(folder / "var" / "logs" / "connect.log")], env=env,
                         capture_output=True, text=True, check=True)
    return psutil.Process(int(out.stdout))


def test_down_stops_dependents_never_dependencies(kafka_stack):
    labs, env, folder = kafka_stack
    assert labs("stack", "up", "kafka").returncode == 0
    kafka = psutil.Process(pid_record(folder, "kafka")["pid"])

    connect = stand_in_connect(env, folder)
    down = labs("stack", "down", "connect")
    assert down.returncode == 0 and down.stdout.strip().endswith("stopped: connect"), down.stdout
    assert not connect.is_running() and kafka.is_running()

    connect = stand_in_connect(env, folder)
    down = labs("stack", "down", "kafka")
    assert down.returncode == 0 and "stopped: connect, kafka" in down.stdout, down.stdout
    psutil.wait_procs([kafka], timeout=10)
    assert not connect.is_running() and not kafka.is_running()


def test_services_expand_dependencies_for_up_and_dependents_for_down():
    from labs.stack import manager

    names = lambda svcs: [s.name for s in svcs]  # noqa: E731
    assert names(manager.services(["connect"])) == ["kafka", "gate", "connect"]
    assert names(manager.services(["registry"])) == ["gate", "registry"]
    assert names(manager.services(["gate"], with_dependents=True)) == ["gate", "registry", "connect"]
    assert names(manager.services(["connect"], with_dependents=True)) == ["connect"]
    assert names(manager.services(["kafka"], with_dependents=True)) == ["kafka", "connect"]
    assert names(manager.services(["mariadb"], with_dependents=True)) == ["mariadb"]
    assert names(manager.services(None, with_dependents=True)) == list(manager.ORDER)

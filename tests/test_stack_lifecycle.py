"""`labs stack up / down` on real services, in a private var dir on free ports so the
shared stack of the test run is not touched: up is idempotent, down leaves no process of
ours behind, and a taken port is reported with the variable that moves it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import psutil
import pytest

from labs import config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_stack(tmp_path):
    env = {**os.environ, "LABS_VAR_DIR": str(tmp_path / "var"), "LABS_JVM_DIR": str(config.jvm_dir())}
    for var in ("LABS_KAFKA_PORT", "LABS_KAFKA_CONTROLLER_PORT", "LABS_MARIADB_PORT", "LABS_CONNECT_PORT",
                "LABS_REGISTRY_PORT", "LABS_SPARK_CONNECT_PORT"):
        env[var] = str(free_port())
    for var in ("LABS_KAFKA_BOOTSTRAP", "LABS_MARIADB_DSN", "LABS_CONNECT_URL", "LABS_REGISTRY_URL",
                "LABS_SPARK_REMOTE"):
        env.pop(var, None)

    def labs(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "labs.cli", *args], env=env, capture_output=True, text=True,
                              timeout=240)

    yield labs, env, tmp_path
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
    assert result.returncode == 1
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

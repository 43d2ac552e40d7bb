"""labs.private: a run's own toxiproxy and MariaDB servers, faults injected for real, nothing left running."""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest

from labs import private, runs
from labs.errors import LabsError


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("LABS_WORK_DIR", str(tmp_path / "work"))
    the_run = runs.Run("s6", runs.new_id())
    yield the_run
    private.stop_all(the_run)


@pytest.fixture
def echo():
    """A local TCP echo server: the service behind the proxy."""
    class Echo(socketserver.BaseRequestHandler):
        def handle(self):
            while data := self.request.recv(4096):
                self.request.sendall(data)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def ask(port: int, payload: bytes = b"ping", timeout_s: float = 3.0) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(payload)
        answer = s.recv(4096)
    return answer, time.monotonic() - started


def test_toxiproxy_forwards_delays_and_cuts(run, echo):
    tox = private.Toxiproxy(run)
    proxy = tox.proxy("echo", echo)
    assert proxy.port != tox.port and proxy.upstream == echo
    assert ask(proxy.port)[0] == b"ping"

    proxy.add_toxic("latency", latency=300)
    answer, took = ask(proxy.port)
    assert answer == b"ping" and took >= 0.29, took
    assert [t["type"] for t in proxy.toxics()] == ["latency"]

    proxy.cut()
    assert not proxy.enabled
    with pytest.raises(OSError):
        ask(proxy.port, timeout_s=1)
    proxy.restore()
    proxy.clear()
    answer, took = ask(proxy.port)
    assert answer == b"ping" and took < 0.25

    with pytest.raises(LabsError, match="toxiproxy POST"):
        proxy.add_toxic("no-such-toxic")


def test_two_runs_have_their_own_injectors(tmp_path, monkeypatch, echo):
    monkeypatch.setenv("LABS_WORK_DIR", str(tmp_path / "work"))
    a, b = runs.Run("s6", runs.new_id()), runs.Run("s6", runs.new_id())
    try:
        pa = private.Toxiproxy(a).proxy("echo", echo)
        pb = private.Toxiproxy(b).proxy("echo", echo)
        pa.cut()
        assert ask(pb.port)[0] == b"ping"  # b's path is untouched by a's fault
        assert private.stop_all(a) == 1
        assert ask(pb.port)[0] == b"ping"
    finally:
        private.stop_all(a), private.stop_all(b)


@pytest.mark.slow
def test_mariadb_survives_a_kill_and_keeps_its_binlog(run):
    db = private.MariaDB(run, "primary")
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT @@log_bin, @@binlog_format")
        assert cur.fetchone() == (1, "ROW")
        cur.execute("CREATE DATABASE shop")
        cur.execute("CREATE TABLE shop.t (id INT PRIMARY KEY) ENGINE=InnoDB")
        cur.execute("INSERT INTO shop.t VALUES (1), (2)")
    db.kill()
    assert not db.alive
    db.start()
    with db.connect("shop") as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t")
        assert cur.fetchone() == (2,)  # committed rows survive the crash
    assert db.binlogs(), "the server writes a binlog"
    dump = subprocess.run([private.tool("mariadb-binlog"), str(db.binlogs()[0])], capture_output=True, text=True)
    assert dump.returncode == 0 and "CREATE TABLE" in dump.stdout


def test_servers_die_with_the_process_that_started_them(tmp_path):
    """A kernel that dies (a crash, the grader's kill) takes its private servers with it."""
    code = textwrap.dedent("""
        from labs import private, runs
        tox = private.Toxiproxy(runs.Run("s6", runs.new_id()))
        print(tox.pid, flush=True)
        import time; time.sleep(60)
    """)
    env = {**os.environ, "LABS_WORK_DIR": str(tmp_path / "work")}
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    child = int(parent.stdout.readline())
    assert psutil.pid_exists(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and psutil.pid_exists(child) and psutil.Process(child).status() != "zombie":
        time.sleep(0.05)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie"


def test_a_missing_build_says_how_to_get_it(run, monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(LabsError, match="make setup"):
        private.Toxiproxy(run)

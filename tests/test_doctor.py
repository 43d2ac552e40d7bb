"""labs doctor names each problem with its fix."""

from __future__ import annotations

import socket

from labs import doctor


def test_all_checks_report(monkeypatch):
    names = [c.name for c in doctor.run_checks()]
    for expected in ("python", "java", "maven", "mariadb binaries", "stack jars", "airflow metadata template",
                     "memory", "disk"):
        assert expected in names


def test_missing_mariadb_names_the_install_command(monkeypatch):
    monkeypatch.setattr(doctor, "binary", lambda name: None)
    check = doctor._mariadb()
    assert not check.ok and "apt-get install" in check.fix and "mariadb-server" in check.fix


def test_old_java_is_flagged(monkeypatch):
    class Fake:
        stderr = 'openjdk version "11.0.2" 2019-01-15'

    monkeypatch.setattr(doctor.subprocess, "run", lambda *a, **k: Fake())
    check = doctor._java()
    assert not check.ok and "17" in check.fix


def test_taken_port_is_flagged_with_its_variable(monkeypatch):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        monkeypatch.setenv("LABS_REGISTRY_PORT", str(port))
        monkeypatch.setattr(doctor.process, "find", lambda name: None)
        checks = {c.name: c for c in doctor._ports()}
    bad = checks[f"port {port} (gate)"]  # the gate answers on the registry's public port
    assert not bad.ok and "LABS_REGISTRY_PORT" in bad.fix


def test_missing_airflow_template_names_make_setup(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_CACHE_DIR", str(tmp_path / "empty-cache"))
    check = doctor._airflow()
    assert not check.ok and "make setup" in check.fix
    assert not (tmp_path / "empty-cache").exists(), "the doctor only looks; it builds nothing"


def test_grader_zygotes_start_here_or_say_why(monkeypatch):
    check = doctor._zygotes()
    assert check.ok, check.detail
    from labs.grading import execute

    def broken(*args, **kwargs):
        raise RuntimeError("importing x started a thread; a zygote must stay single-threaded")

    monkeypatch.setattr(execute, "start_zygote", broken)
    check = doctor._zygotes()
    if check.detail.startswith("not "):  # no zygote is tried here (not Linux, or a view without root)
        return
    assert not check.ok and "started a thread" in check.detail and "--no-fork" in check.fix

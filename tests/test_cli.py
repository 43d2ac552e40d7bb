"""The ``labs`` command: a problem the user can fix is one line on stderr with exit code 2 (no
traceback), ``--version``, and the grading options' defaults taken from ``Limits``."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys

import pytest

from labs import cli
from labs.errors import LabsError
from labs.grading.limits import Limits


def test_bad_port_variable_is_one_line_naming_the_fix():
    env = {**os.environ, "LABS_KAFKA_PORT": "abc"}
    out = subprocess.run([sys.executable, "-m", "labs.cli", "stack", "status"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("labs: ")
    assert "LABS_KAFKA_PORT" in out.stderr and "integer like 9092" in out.stderr


def test_out_of_range_port_and_unknown_service(monkeypatch, capsys):
    monkeypatch.setenv("LABS_CONNECT_PORT", "70000")
    assert cli.main(["stack", "status"]) == 2
    assert "LABS_CONNECT_PORT=70000" in capsys.readouterr().err
    monkeypatch.delenv("LABS_CONNECT_PORT")
    assert cli.main(["stack", "down", "kafak"]) == 2
    assert "unknown service(s) kafak; choose from kafka" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"labs {importlib.metadata.version('labs')}"


def test_bad_grading_options_are_reported_once(capsys):
    assert cli.main(["grade", "--shard", "4/3"]) == 2
    assert capsys.readouterr().err == "labs: --shard '4/3': K must be between 1 and N, for example 1/3\n"
    assert cli.main(["demo-class", "--only", "perfect,nope"]) == 2
    assert "unknown variant(s) nope" in capsys.readouterr().err
    assert cli.main(["release", "no_such_lab", "--check"]) == 2
    assert "unknown assignment(s): no_such_lab" in capsys.readouterr().err


def test_grade_limits_default_to_limits(monkeypatch, capsys):
    from labs.grading import batch
    from labs.grading.course import Course

    seen = []

    def fake_grade(course, assignments, options):
        seen.append(options.limits)
        raise LabsError("stopped before grading")

    monkeypatch.setattr(batch, "grade", fake_grade)
    assert cli.main(["grade"]) == 2
    assert cli.main(["grade", "--timeout", "30", "--memory", "512", "--cell-timeout", "7"]) == 2
    assert seen == [Limits(cell_timeout=Course.load().cell_timeout),
                    Limits(cell_timeout=7, notebook_timeout=30, memory_mb=512)]
    with pytest.raises(SystemExit):
        cli.main(["grade", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {Limits.notebook_timeout})" in help_text and f"(default: {Limits.memory_mb})" in help_text

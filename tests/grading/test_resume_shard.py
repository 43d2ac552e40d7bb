"""Serial = parallel; kill -9 then resume; skip by hash; shard and merge."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from labs.grading import demo
from labs.grading import gradebook as gbook

from .conftest import ASSIGNMENT, LIMITS, SUBSET, grade, make_course, snapshot


@pytest.fixture(scope="module")
def reference(graded_class):
    """Gradebook content of SUBSET from the parallel run of the whole class."""
    return snapshot(graded_class["course"], SUBSET)


def _grade_cli(course, *extra):
    env = {**os.environ, "LABS_HOME": str(course.root)}
    return [sys.executable, "-m", "labs.cli", "grade", "--no-progress", "--workers", "2",
            "--cell-timeout", str(LIMITS.cell_timeout), "--timeout", str(LIMITS.notebook_timeout),
            "--memory", str(LIMITS.memory_mb), *extra], env


def test_serial_run_equals_parallel_run(tmp_path, reference):
    course = make_course(tmp_path / "serial")
    demo.write_class(course, ASSIGNMENT, SUBSET)
    summary = grade(course, workers=1)
    assert summary.graded == len(SUBSET)
    assert snapshot(course) == reference


def test_kill_9_mid_batch_then_resume_gives_the_same_gradebook(tmp_path, reference):
    course = make_course(tmp_path / "killed")
    written = demo.write_class(course, ASSIGNMENT, SUBSET)
    before = {s: p.read_bytes() for s, p in written.items()}
    cmd, env = _grade_cli(course)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    recorded = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if course.db_path.exists():
            try:
                recorded = len(gbook.graded_keys(course.db_url, ASSIGNMENT))
            except Exception:  # noqa: BLE001 (tables not created yet)
                recorded = 0
            if recorded >= 1:
                break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = len(gbook.graded_keys(course.db_url, ASSIGNMENT))
    assert 1 <= recorded < len(SUBSET), f"the kill should land mid-batch ({recorded} graded)"

    summary = grade(course)
    assert summary.skipped == recorded
    assert summary.graded == len(SUBSET) - recorded
    assert snapshot(course) == reference
    assert {s: p.read_bytes() for s, p in written.items()} == before

    # unchanged submissions are skipped; a changed one is graded again; --force regrades
    again = grade(course)
    assert (again.graded, again.skipped) == (0, len(SUBSET))
    path = written["empty"]
    path.write_bytes(path.read_bytes().replace(b'"cells": [', b'"cells": [\n  {"cell_type": "markdown", '
                                                                b'"id": "note0001", "metadata": {}, '
                                                                b'"source": "my notes"},', 1))
    changed = grade(course)
    assert (changed.graded, changed.skipped) == (1, len(SUBSET) - 1)
    forced = grade(course, students="perfect", force=True)
    assert (forced.graded, forced.skipped) == (1, 0)
    assert snapshot(course, ["perfect"]) == snapshot_of(reference, "perfect")


def snapshot_of(snap: dict, student: str) -> dict:
    return {part: {k: v for k, v in rows.items() if k.split("/")[1] == student} for part, rows in snap.items()}


def test_shards_merged_equal_a_single_run(tmp_path, reference):
    shards = []
    for k in (1, 2):
        course = make_course(tmp_path / f"shard{k}")
        demo.write_class(course, ASSIGNMENT, SUBSET)
        grade(course, shard=(k, 2))
        shards.append(course)
    first, second = (set(gbook.graded_keys(c.db_url, ASSIGNMENT)) for c in shards)
    assert first and second and not first & second and first | second == set(SUBSET)

    target = tmp_path / "merged.db"
    env = {**os.environ, "LABS_HOME": str(shards[0].root)}
    merged = subprocess.run([sys.executable, "-m", "labs.cli", "gradebook", "merge", str(shards[0].db_path),
                             str(shards[1].db_path), "--into", str(target)], env=env, capture_output=True,
                            text=True)
    assert merged.returncode == 0, merged.stderr
    assert snapshot(f"sqlite:///{target}") == reference

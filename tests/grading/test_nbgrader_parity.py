"""Ordinary submissions score exactly what `nbgrader autograde` gives them."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from labs.grading import demo

from .conftest import ASSIGNMENT, ORDINARY, make_course, scores, snapshot


def _nbgrader(course, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), *args], cwd=course.root, env=env,
                            capture_output=True, text=True, timeout=600)
    return result


def test_scores_equal_nbgrader_autograde(tmp_path, graded_class):
    course = make_course(tmp_path / "nbgrader")
    demo.write_class(course, ASSIGNMENT, ORDINARY + ["stderr-correct"])
    generated = _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    assert generated.returncode == 0, generated.stderr[-2000:]
    autograded = _nbgrader(course, "autograde", ASSIGNMENT)
    assert autograded.returncode == 0, autograded.stderr[-2000:]

    theirs, ours = scores(course), scores(graded_class["course"])
    assert {s: theirs[s] for s in ORDINARY} == {s: ours[s] for s in ORDINARY}
    assert {s: ours[s] for s in ORDINARY} == {"perfect": 15.0, "partial": 5.0, "wrong": 0.0, "empty": 0.0,
                                              "nbformat-44": 15.0}
    # per question too, and the same "No response." comments on untouched answers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine, nbg = snapshot(graded_class["course"], ORDINARY), snapshot(course, ORDINARY)
    assert mine["grades"] == nbg["grades"]
    assert mine["comments"] == nbg["comments"]

    # The one deliberate difference: a test whose code passes while something prints to
    # stderr. nbgrader scores it 0 (here the warning shows in the Q1 and Q2 tests).
    assert theirs["stderr-correct"] == 5.0
    assert ours["stderr-correct"] == 15.0

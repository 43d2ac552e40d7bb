"""A corrupted or missing notebook costs only that notebook, not the whole submission."""

from __future__ import annotations

import shutil

from labs.grading import demo
from labs.grading import gradebook as gbook

from .conftest import ASSIGNMENT, grade, make_course, scores


def test_corrupted_or_missing_notebook_costs_only_itself(tmp_path):
    course = make_course(tmp_path / "pair")
    pair = course.source_dir / "s0_pair"
    pair.mkdir()
    for name in ("part1", "part2"):
        shutil.copy(course.source_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", pair / f"{name}.ipynb")
    ctx = demo.context(course, ASSIGNMENT)
    good, broken = demo.perfect(ctx), demo.corrupted(ctx)
    for student, files in {"alice": {"part1": broken, "part2": good},
                           "bob": {"part2": good}}.items():
        folder = course.submission_dir(student, "s0_pair")
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / f"{name}.ipynb").write_bytes(data)

    summary = grade(course, assignments=("s0_pair",))
    assert summary.graded == 2

    runs = gbook.runs(course.db_url)
    assert runs[("s0_pair", "alice", "part1")]["status"] == "corrupted"
    assert runs[("s0_pair", "alice", "part2")]["status"] == "ok"
    assert runs[("s0_pair", "bob", "part1")]["status"] == "missing"
    assert runs[("s0_pair", "bob", "part2")]["status"] == "ok"
    totals = {s: v for s, v in scores_of(course, "s0_pair").items()}
    assert totals == {"alice": 15.0, "bob": 15.0}


def scores_of(course, assignment):
    import warnings

    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url, course.course_id) as gb:
            return {s.student.id: float(s.score) for s in gb.assignment_submissions(assignment)}


assert scores  # the helper of conftest is used by the other test modules

"""An instructor's JupyterLab, in a real browser: nbgrader's formgrader loads with this course's
nbgrader_config.py, lists the assignments, and after `labs grade` the submissions with the names and
scores our grader wrote to the gradebook; a written answer graded by hand in the formgrader is stored
in the gradebook and shows in `labs gradebook export`."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from grading.conftest import ASSIGNMENT, WRITTEN, WRITTEN_POINTS, add_written_answer, grade, make_course, scores

from labs.grading import demo
from labs.grading.report import export

from .conftest import artefacts
from .lab import JupyterLab

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.slow]
STUDENTS = ["perfect", "partial", "empty"]


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = add_written_answer(make_course(tmp_path_factory.mktemp("instructor") / "course"))
    demo.write_class(course, ASSIGNMENT, variants=STUDENTS)
    grade(course, workers=2)
    return course


def test_formgrader_lists_assignments_and_graded_scores(page, graded_course):
    shots = artefacts("instructor-formgrader")
    lab = JupyterLab(graded_course.root, graded_course.root.parent / "jupyter", shots / "jupyterlab.log").start()
    try:
        page.goto(lab.page_url("lab"))
        page.get_by_text("Nbgrader", exact=True).first.click()
        page.get_by_text("Assignment List", exact=True).first.click()    # nbgrader's student page
        page.get_by_text("Released assignments", exact=True).first.wait_for()
        page.get_by_text("There are no assignments to fetch.").first.wait_for()
        page.screenshot(path=str(shots / "00-assignment-list.png"))
        assert not page.get_by_text("exchange directory does not exist").count(), "nbgrader's exchange is missing"
        page.get_by_text("Nbgrader", exact=True).first.click()
        page.get_by_text("Formgrader", exact=True).first.click()
        frame = page.frame_locator("iframe").first
        frame.get_by_text("Manage Assignments").first.wait_for()
        for name in ("s0_warmup", "s1_batch_vs_stream", "c2_exactly_once_payments"):
            frame.get_by_text(name, exact=True).first.wait_for()
        page.screenshot(path=str(shots / "01-assignments.png"))
        expected = scores(graded_course)
        page.goto(lab.page_url(f"formgrader/manage_submissions/{ASSIGNMENT}"))
        for student in STUDENTS:
            page.get_by_text(student, exact=True).first.wait_for()
        page.screenshot(path=str(shots / "02-submissions.png"))
        assert sorted(expected.values()) == [0.0, 5.0, 15.0], f"the demo class should score 0, 5 and 15: {expected}"
        total = 15 + WRITTEN_POINTS
        for student, score in expected.items():
            row = page.locator("tr", has=page.get_by_text(student, exact=True)).first.inner_text()
            assert f"{score:g} / {total}" in row, f"formgrader shows {row!r} for {student}; gradebook: {score:g}"
            assert f"Demo, {student.capitalize()}" in row, f"formgrader shows {row!r}: the demo student has no name"

        # The perfect submission's written answer waits for a hand grade: the export says so, and
        # the formgrader's grading page takes it
        assert _export(graded_course)["perfect"][f"{ASSIGNMENT}/awaiting_hand_grading"] == WRITTEN
        page.goto(lab.page_url(f"formgrader/submissions/{_notebook_id(graded_course, 'perfect')}"))
        score = page.locator(f"input.score#{WRITTEN}")
        score.wait_for()
        page.screenshot(path=str(shots / "03-written-answer-to-grade.png"), full_page=True)
        score.fill(str(WRITTEN_POINTS - 0.5))
        page.keyboard.press("Tab")                      # the page saves a score when the field changes
        deadline = time.monotonic() + 30
        while _manual_score(graded_course, "perfect") is None and time.monotonic() < deadline:
            time.sleep(0.3)
        page.screenshot(path=str(shots / "04-written-answer-graded.png"))
        assert _manual_score(graded_course, "perfect") == WRITTEN_POINTS - 0.5, "the hand grade was not stored"
        row = _export(graded_course)["perfect"]
        assert float(row[f"{ASSIGNMENT}/{WRITTEN}"]) == WRITTEN_POINTS - 0.5, row
        assert float(row[f"{ASSIGNMENT}/total"]) == 15 + WRITTEN_POINTS - 0.5, row
        assert row[f"{ASSIGNMENT}/awaiting_hand_grading"] == "", row
    finally:
        lab.stop()


def _export(course) -> dict[str, dict[str, str]]:
    """`labs gradebook export` run as an instructor would, on the course; its grades.csv by student."""
    out = subprocess.run([str(Path(sys.executable).with_name("labs")), "gradebook", "export"], capture_output=True,
                         text=True, env=dict(os.environ, LABS_HOME=str(course.root)), timeout=120)
    assert out.returncode == 0, out.stderr
    with (course.autograded_dir / "grades.csv").open() as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def _gradebook(course):
    from nbgrader.api import Gradebook

    warnings.simplefilter("ignore")
    return Gradebook(course.db_url, course.course_id)


def _notebook_id(course, student: str) -> str:
    """The formgrader's id of a student's graded notebook (its grading page is submissions/<id>)."""
    with _gradebook(course) as gb:
        return gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).id


def _manual_score(course, student: str) -> float | None:
    with _gradebook(course) as gb:
        return gb.find_grade(WRITTEN, ASSIGNMENT, ASSIGNMENT, student).manual_score


def test_report_renders_offline_sorts_and_fits_a_laptop_screen(page, graded_course):
    """report.html from `labs grade`: every plot drawn with no request leaving the machine, the student
    table sorts by a click on a column, and nothing is wider than a 1280 px screen."""
    shots = artefacts("instructor-report")
    export(graded_course)
    requests = []

    def refuse(route):
        if not route.request.url.startswith(("file://", "data:", "blob:")):
            requests.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", refuse)
    page.goto((graded_course.autograded_dir / "report.html").as_uri())
    plots = page.locator(".js-plotly-plot")
    plots.first.locator(".main-svg").first.wait_for()
    assert plots.count() >= 3, f"{plots.count()} plots drawn"
    for i in range(plots.count()):
        assert plots.nth(i).locator(".main-svg").count(), f"plot {i + 1} has no drawing"
    assert not requests, f"the report asked the network for {requests}"
    page.screenshot(path=str(shots / "01-report.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "the report is wider than the screen"

    table = page.locator("table.sortable").first
    header = table.locator("th", has_text="total").last
    column = header.evaluate("th => th.cellIndex")

    def totals():
        return [float(t) for t in table.locator(f"tbody tr td:nth-child({column + 1})").all_inner_texts()]

    header.click()
    assert totals() == sorted(totals()), f"ascending after one click: {totals()}"
    header.click()
    assert totals() == sorted(totals(), reverse=True), f"descending after a second click: {totals()}"
    assert len(set(totals())) == len(STUDENTS), totals()
    page.screenshot(path=str(shots / "02-sorted.png"), full_page=True)

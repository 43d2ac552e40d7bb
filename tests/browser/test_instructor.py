"""An instructor's JupyterLab, in a real browser: nbgrader's formgrader loads with this course's
nbgrader_config.py, lists the assignments, and after `labs grade` the submissions with the scores our
grader wrote to the gradebook."""

from __future__ import annotations

import pytest
from grading.conftest import ASSIGNMENT, grade, make_course, scores

from labs.grading import demo
from labs.grading.report import export

from .conftest import artefacts
from .lab import JupyterLab

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.slow]
STUDENTS = ["perfect", "partial", "empty"]


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("instructor") / "course")
    demo.write_class(course, ASSIGNMENT, variants=STUDENTS)
    grade(course, workers=2)
    return course


def test_formgrader_lists_assignments_and_graded_scores(page, graded_course):
    shots = artefacts("instructor-formgrader")
    lab = JupyterLab(graded_course.root, graded_course.root.parent / "jupyter", shots / "jupyterlab.log").start()
    try:
        page.goto(lab.page_url("lab"))
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
        for student, score in expected.items():
            row = page.locator("tr", has=page.get_by_text(student, exact=True)).first.inner_text()
            assert f"{score:g} / 15" in row, f"formgrader shows {row!r} for {student}; the gradebook says {score:g}"
    finally:
        lab.stop()


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

"""A student's JupyterLab, in a real browser: a released notebook run cell by cell through the UI, a
visible test failing with the message it is written to give, a correct answer typed in and passing,
plots that render, and a solved notebook that survives "Restart Kernel and Run All Cells"."""

from __future__ import annotations

import time

import nbformat
import pytest

from .conftest import REPO, artefacts
from .lab import IDLE, Notebook, kernel_is

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.slow]

S1 = "s1_batch_vs_stream"


def solution(lab: str, cell: str) -> str:
    """The source (solved) code of a cell, as the student would type it."""
    nb = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    code = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell)
    return "\n".join(line for line in code.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def test_student_runs_s1_cell_by_cell_and_fixes_an_answer(page, student_lab):
    """Stub, then a plausible wrong answer, then the right one, in the first part of S1; then the
    part's Spark measurement and its matplotlib plot, with the UI usable while the stream runs."""
    nb = Notebook(page, student_lab, f"release/{S1}/{S1}.ipynb", artefacts("student-s1")).open()

    nb.run_until("s1_1_model")
    out = nb.run("s1_1_model_test")
    nb.shot("stub test fails")
    assert "NotImplementedError" in out, f"the stub's test should fail with NotImplementedError; it shows:\n{out}"

    right = solution(S1, "s1_1_model")
    wrong = right.replace("return period_end + job_s - t", "return list(period_end + job_s - t)")
    assert wrong != right, "the solution of s1_1_model changed: update the wrong answer typed by this test"
    nb.type_into("s1_1_model", wrong)
    nb.run("s1_1_model")
    out = nb.run("s1_1_model_test")
    nb.shot("wrong answer test message")
    assert "AssertionError: one latency per event, as a numpy array" in out, \
        f"a list instead of an array should fail with the test's own message; it shows:\n{out}"

    nb.type_into("s1_1_model", right)
    nb.run("s1_1_model")
    out = nb.run("s1_1_model_test")
    nb.shot("right answer passes")
    assert not nb.has_traceback("s1_1_model_test"), f"the solution should pass the visible test:\n{out}"

    # The Spark measurement runs a batch job and a streaming query; the page must stay usable meanwhile.
    nb.type_into("s1_1_measure", solution(S1, "s1_1_measure"))
    nb.cell("s1_1_measure").locator(".jp-InputPrompt").first.click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(kernel_is("busy"))
    started = time.monotonic()
    page.get_by_text("Kernel", exact=True).first.click()          # a menu opens while the kernel is busy
    page.get_by_text("Interrupt Kernel").first.wait_for(state="visible")
    menu_s = time.monotonic() - started
    nb.shot("menu open while the stream runs")
    page.keyboard.press("Escape")
    page.wait_for_function(IDLE, timeout=180_000)
    assert not nb.has_traceback("s1_1_measure"), nb.output("s1_1_measure")
    assert menu_s < 10, f"the Kernel menu took {menu_s:.1f} s to open while a cell ran"

    nb.run("s1_1_plot")
    nb.cell("s1_1_plot").locator(".jp-RenderedImage img").first.wait_for(state="visible")
    nb.shot("matplotlib plot")
    box = nb.cell("s1_1_plot").locator(".jp-RenderedImage img").first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100, f"the plot is not drawn at a readable size: {box}"
    out = nb.run("s1_1_measure_test")
    assert not nb.has_traceback("s1_1_measure_test"), out
    assert "stream latency: median" in out, out


@pytest.mark.parametrize("lab", ["c1_cdc_debezium"])
def test_solved_notebook_restarts_and_runs_all(page, student_lab, lab):
    """Kernel > Restart Kernel and Run All Cells on a solved notebook: every cell runs, none leaves a
    traceback, and the plotly figure renders in the page."""
    nb = Notebook(page, student_lab, f"source/{lab}/{lab}.ipynb", artefacts(f"run-all-{lab}")).open()
    page.get_by_text("Kernel", exact=True).first.click()
    page.get_by_text("Restart Kernel and Run All Cells…").first.click()
    page.locator(".jp-Dialog .jp-mod-accept").first.click()             # the dialog's "Restart" button
    last = nb.names[-1]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        prompt = nb.cell(last).locator(".jp-InputPrompt").first.inner_text().strip()
        if prompt[1:-2].isdigit():
            break
        errors = nb.errors()
        if errors:
            break
        time.sleep(1)
    nb.shot("after run all")
    errors = nb.errors()
    assert not errors, "cells with a traceback after Run All:\n" + "\n\n".join(f"{k}:\n{v}" for k, v in errors.items())
    assert prompt[1:-2].isdigit(), f"the last cell did not run within 240 s (prompt {prompt!r})"
    assert page.locator(".jp-Notebook .js-plotly-plot").count() >= 1, "no plotly figure in the page"
    page.locator(".jp-Notebook .js-plotly-plot").first.scroll_into_view_if_needed()
    nb.shot("plotly figure")

"""A student's JupyterLab, in a real browser: a released notebook run cell by cell through the UI, a
visible test failing with the message it is written to give, a correct answer typed in and passing,
plots that render, and a solved notebook that survives "Restart Kernel and Run All Cells"."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from .conftest import REPO, artefacts
from .lab import IDLE, Notebook, kernel_is

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.slow]

S1 = "s1_batch_vs_stream"
C2 = "c2_exactly_once_payments"


def _no_delimiters(code: str) -> str:
    return "\n".join(line for line in code.splitlines() if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def solution(lab: str, cell: str) -> str:
    """The source (solved) code of a cell, as the student would type it."""
    nb = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    return _no_delimiters(next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell))


def recorded_wrong(lab: str, name: str, cell: str) -> str:
    """A recorded wrong answer (tests/fixtures/<lab>/wrong_variants.json) for a cell, as typed."""
    variants = json.loads((REPO / "tests" / "fixtures" / lab / "wrong_variants.json").read_text())
    found = [v["replace"][cell] for v in variants if v["name"].startswith(name) and cell in v["replace"]]
    assert found, f"no recorded wrong answer {name!r} for {cell} in {lab}: update this test"
    return _no_delimiters(found[0])


def fix_an_answer(nb: Notebook, lab: str, answer: str, test: str, wrong: str, message: str) -> None:
    """The stub's test fails with NotImplementedError, a plausible wrong answer with the test's own
    message, the right answer (typed in) passes."""
    out = nb.run(test)
    nb.shot(f"{test} fails on the stub")
    assert "NotImplementedError" in out, f"the stub's test should fail with NotImplementedError; it shows:\n{out}"

    nb.type_into(answer, wrong)
    nb.run(answer)
    out = nb.run(test)
    nb.shot(f"{test} message on a wrong answer")
    assert message in out, f"a plausible wrong answer should fail with {message!r}; it shows:\n{out}"

    nb.type_into(answer, solution(lab, answer))
    nb.run(answer)
    out = nb.run(test)
    nb.shot(f"{test} passes")
    assert not nb.has_traceback(test), f"the solution should pass the visible test:\n{out}"


def test_student_runs_s1_cell_by_cell_and_fixes_an_answer(page, student_lab):
    """Stub, then a plausible wrong answer, then the right one, in the first part of S1; then the
    part's Spark measurement and its matplotlib plot, with the UI usable while the stream runs."""
    nb = Notebook(page, student_lab, f"release/{S1}/{S1}.ipynb", artefacts("student-s1")).open()
    nb.run_until("s1_1_model")
    right = solution(S1, "s1_1_model")
    wrong = right.replace("return period_end + job_s - t", "return list(period_end + job_s - t)")
    assert wrong != right, "the solution of s1_1_model changed: update the wrong answer typed by this test"
    fix_an_answer(nb, S1, "s1_1_model", "s1_1_model_test", wrong,
                  "AssertionError: one latency per event, as a numpy array")

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
    for i in range(page.locator(".jp-Notebook .js-plotly-plot").count()):
        covered = page.locator(".jp-Notebook .js-plotly-plot").nth(i).evaluate(LEGEND_COVERS)
        assert not covered, f"plotly figure {i + 1}: its legend covers {covered}"


# The parts of a plotly figure its legend covers: the title, the plot area, tick labels or axis titles.
LEGEND_COVERS = """plot => {
  const legend = plot.querySelector(".legend");
  if (!legend) return [];
  const l = legend.getBoundingClientRect();
  const parts = plot.querySelectorAll(".gtitle, .nsewdrag, .xtick text, .ytick text, .y2tick text, "
                                      + ".g-xtitle, .g-ytitle, .g-y2title");
  return Array.from(parts).filter(e => { const b = e.getBoundingClientRect();
      return b.width > 0 && l.left < b.right && b.left < l.right && l.top < b.bottom && b.top < l.bottom; })
    .map(e => (e.getAttribute("class") || "").split(" ")[0] + (e.textContent ? " " + e.textContent : ""));
}"""


def test_student_runs_c2_cell_by_cell_and_fixes_an_answer(page, student_lab):
    """C2's setup and first part through the UI on the running Kafka and MariaDB: the key and schema
    test on the stub, on keys taken from the delivery position, and on the right answer; the next
    test passes once its answer is typed; the closing cell removes what the run created."""
    nb = Notebook(page, student_lab, f"release/{C2}/{C2}.ipynb", artefacts("student-c2")).open()
    nb.run_until("c2_1_keys")
    assert not nb.errors(), f"the setup cells of {C2} left a traceback: {nb.errors()}"
    wrong = recorded_wrong(C2, "idempotency key from the delivery position", "c2_1_keys")
    fix_an_answer(nb, C2, "c2_1_keys", "c2_1_schema_test", wrong, "AssertionError: a redelivery must have the same key")
    out = nb.run("c2_1_dedupe_test")
    assert not nb.has_traceback("c2_1_dedupe_test"), f"the solution's new_payments should pass its test:\n{out}"
    out = nb.run("cleanup")
    nb.shot("cleaned up")
    assert not nb.has_traceback("cleanup"), out

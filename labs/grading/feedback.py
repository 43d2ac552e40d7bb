"""Per-student feedback: feedback/<student>/<assignment>/<notebook>.html.

The page opens with a table of the tests (score, passed or failed, the error's name and
message) and then shows the graded notebook, redacted so that hidden tests never appear:

- each test cell shows the version the student received (visible tests only), and its
  output is replaced by the one-line result (no traceback: tracebacks quote the failing
  line, which can be a hidden check);
- any output line holding a line of a hidden test or of the reference solution, whatever
  printed it (a student can print the input history after the tests ran, or a file found on
  the machine), is replaced; each output of a student's cell is cut to ``OUTPUT_CHARS``;
- as a last guard the finished page is searched for every hidden-test line; if one is
  found, only the table is published.
"""

from __future__ import annotations

import copy
import html
from pathlib import Path

import nbformat
from nbformat.v4.nbbase import new_markdown_cell, new_output

from .course import Course
from .files import write_atomic

REDACTED = "[hidden test text removed]"
OUTPUT_CHARS = 5000  # of one output of a student's cell, in the feedback page
MIN_QUOTE = 12  # shorter secret lines are only redacted when a whole output line equals them


def _holds_secret(line: str, secrets: set[str]) -> bool:
    stripped = line.strip()
    return stripped in secrets or any(len(s) >= MIN_QUOTE and s in line for s in secrets)


def _scrub_text(text: str, secrets: set[str]) -> str:
    return "\n".join(REDACTED if _holds_secret(line, secrets) else line for line in text.split("\n"))


def _cut(text: str) -> str:
    if len(text) <= OUTPUT_CHARS:
        return text
    return text[:OUTPUT_CHARS] + f"\n[{len(text) - OUTPUT_CHARS} more characters not shown in feedback]\n"


def _scrub_outputs(cell, secrets: set[str]) -> None:
    kept = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            out["text"] = _cut(_scrub_text("".join(out.get("text", "")), secrets))
        elif kind == "error":
            out["traceback"] = [_cut(_scrub_text(line, secrets)) for line in out.get("traceback", [])[:50]]
            out["evalue"] = _cut(_scrub_text(out.get("evalue", ""), secrets))
        else:
            texts = [v if isinstance(v, str) else str(v) for v in out.get("data", {}).values()]
            if any(_holds_secret(line, secrets) for text in texts for line in text.split("\n")):
                out = new_output("stream", name="stdout", text=REDACTED + "\n")
            elif any(len(text) > OUTPUT_CHARS for key, text in zip(out.get("data", {}), texts, strict=True)
                     if not key.startswith("image/")):
                out = new_output("stream", name="stdout", text=f"[an output of {max(map(len, texts))} characters "
                                                                f"not shown in feedback]\n")
        kept.append(out)
    cell["outputs"] = kept


def _result_line(test: dict | None) -> str:
    if not test:
        return "not graded"
    if test.get("passed"):
        return "passed"
    if test.get("score") is None:
        return "needs manual grading"
    if test.get("ename"):
        message = f"{test['ename']}: {test['evalue']}" if test.get("evalue") else test["ename"]
        return f"failed: {message}"
    return "failed"


def redacted_notebook(released, executed, tests: dict, hidden: set[str], solution: set[str] = frozenset()):
    """The graded notebook without hidden tests, tracebacks of tests, or echoes of them or of
    the reference solution in outputs (the student's own code is shown as written)."""
    from nbgrader import utils

    visible = {c.metadata.nbgrader["grade_id"]: c.source for c in released.cells
               if "nbgrader" in c.get("metadata", {}) and "grade_id" in c.metadata.nbgrader}
    nb = copy.deepcopy(executed if executed is not None else released)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            cell.source = visible.get(gid, "# (test cell)")
            cell["outputs"] = [new_output("stream", name="stdout", text=f"{gid}: {_result_line(tests.get(gid))}\n")]
        elif cell.cell_type == "code":
            _scrub_outputs(cell, hidden | solution)
        elif gid in visible and utils.is_locked(cell):
            cell.source = visible[gid]
    return nb


def summary_html(student: str, assignment: str, notebook: str, outcome) -> str:
    rows = []
    total = maximum = 0.0
    for gid, test in outcome.tests.items():
        score = test.get("score") or 0.0
        total += score
        maximum += test.get("max_score") or 0.0
        rows.append(f"<tr><td>{html.escape(gid)}</td><td>{score:g} / {test.get('max_score', 0):g}</td>"
                    f"<td>{html.escape(_result_line(test))}</td></tr>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in outcome.notes if not n.startswith("suspicious"))
    return (f"<h1>Feedback: {html.escape(assignment)} / {html.escape(notebook)}</h1>"
            f"<p>Student: <b>{html.escape(student)}</b>. Status: <b>{html.escape(outcome.status)}</b>. "
            f"Score: <b>{total:g} / {maximum:g}</b>.</p>"
            f"<table border='1' cellpadding='4'><tr><th>Test</th><th>Score</th><th>Result</th></tr>"
            f"{''.join(rows)}</table>" + (f"<ul>{notes}</ul>" if notes else ""))


def _leaks(page: str, hidden: set[str]) -> bool:
    return any(h in page or html.escape(h) in page for h in hidden if len(h) >= 16)


def render(released, outcome, student: str, assignment: str, hidden: set[str],
           solution: set[str] = frozenset()) -> str:
    from nbconvert import HTMLExporter

    summary = summary_html(student, assignment, outcome.notebook, outcome)
    nb = redacted_notebook(released, outcome.executed, outcome.tests, hidden, solution)
    nb.cells.insert(0, new_markdown_cell(""))
    nb.cells[0].source = summary  # markdown cells may hold HTML
    try:
        page, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.from_dict(nb))
    except Exception:  # noqa: BLE001 (fall back to the table alone)
        page = None
    if page is None or _leaks(page, hidden):
        page = f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{summary}</body></html>"
    return page


def write_feedback(course: Course, spec, student: str, outcomes) -> list[Path]:
    written = []
    for outcome in outcomes:
        released = spec.released[outcome.notebook]
        page = render(released, outcome, student, spec.name, spec.hidden_lines, spec.solution_lines)
        path = course.feedback_dir / student / spec.name / f"{outcome.notebook}.html"
        write_atomic(path, page)
        written.append(path)
    return written

"""The whole demo class graded in parallel: scores, statuses, sandbox, outputs."""

from __future__ import annotations

import html
import os
import re

import nbformat
import pandas as pd
import psutil
import pytest

from labs.grading import demo
from labs.grading import gradebook as gbook
from labs.grading.execute import ACCOUNT_PREFIX
from labs.grading.release import secret_text
from labs.stack import confine

from .conftest import ASSIGNMENT, grade, make_course, scores

# variant -> (total out of 15, status of the notebook, per-question scores q1, q2, q3)
EXPECTED = {
    "perfect": (15, "ok", (5, 5, 5)),
    "partial": (5, "ok", (5, 0, 0)),
    "wrong": (0, "ok", (0, 0, 0)),
    "empty": (0, "ok", (0, 0, 0)),
    "stderr-correct": (15, "ok", (5, 5, 5)),
    "infinite-loop": (10, "timeout", (5, 0, 5)),
    "ignores-interrupt": (10, "timeout", (5, 5, 0)),
    "os-exit": (5, "kernel_died", (5, 0, 0)),
    "memory-bomb": (10, "memory_limit", (5, 0, 5)),
    "process-spray": (15, "ok", (5, 5, 5)),
    "output-flood": (15, "ok", (5, 5, 5)),
    "corrupted-json": (0, "corrupted", (0, 0, 0)),
    "nbformat-44": (15, "ok", (5, 5, 5)),
    "deleted-test": (15, "tampered", (5, 5, 5)),
    "altered-test": (10, "tampered", (0, 5, 5)),
    "duplicated-test": (15, "ok", (5, 5, 5)),
    "retyped-test": (15, "tampered", (5, 5, 5)),
    "reads-source": (15, "ok", (5, 5, 5)),
    "searches-disk": (15, "ok", (5, 5, 5)),
    "tampers-with-stack": (15, "ok", (5, 5, 5)),
    "writes-gradebook": (0, "ok", (0, 0, 0)),
    "monkeypatch-asserts": (0, "ok", (0, 0, 0)),
}
QUESTIONS = ("s0_1_dedupe_test", "s0_2_windows_test", "s0_3_late_test")


@pytest.fixture(scope="module")
def graded(graded_class):
    return graded_class


def test_every_variant_is_written_and_graded(graded):
    assert set(graded["submitted"]) == set(EXPECTED)
    assert graded["summary"].graded == len(EXPECTED)
    assert graded["summary"].messages == []
    if os.geteuid() == 0:  # the class's runners were forked from the slots' zygotes, inside the view
        assert graded["summary"].forked


def test_scores_and_statuses(graded):
    course = graded["course"]
    totals = scores(course)
    runs = gbook.runs(course.db_url)
    got, want = {}, {}
    for student, (total, status, per_question) in EXPECTED.items():
        run = runs[(ASSIGNMENT, student, ASSIGNMENT)]
        got[student] = (totals[student], run["status"],
                        tuple(run["tests"][q]["score"] for q in QUESTIONS))
        want[student] = (float(total), status, tuple(float(x) for x in per_question))
    assert got == want


def test_notes_explain_what_happened(graded):
    runs = gbook.runs(graded["course"].db_url)

    def notes(student):
        return " | ".join(runs[(ASSIGNMENT, student, ASSIGNMENT)]["notes"])

    assert "s0_2_windows_test was deleted; restored" in notes("deleted-test")
    assert "s0_1_dedupe_test was edited; restored" in notes("altered-test")
    assert "appears 2 times" in notes("duplicated-test")
    assert "changed from code to markdown" in notes("retyped-test")
    assert "truncated" in notes("output-flood")
    assert "not a readable notebook" in notes("corrupted-json")
    assert "suspicious" in notes("monkeypatch-asserts")
    assert runs[(ASSIGNMENT, "monkeypatch-asserts", ASSIGNMENT)]["flagged"]
    assert notes("perfect") == "" and notes("nbformat-44") == ""


def test_stderr_in_a_passing_test_keeps_its_points(graded):
    course = graded["course"]
    nb = nbformat.read(course.autograded_notebook("stderr-correct", ASSIGNMENT, ASSIGNMENT), as_version=4)
    graded_with_stderr = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                          and any(o.get("name") == "stderr" for o in c.get("outputs", []))]
    assert graded_with_stderr, "the stderr output should stay in the autograded notebook"
    runs = gbook.runs(course.db_url)
    tests = runs[(ASSIGNMENT, "stderr-correct", ASSIGNMENT)]["tests"]
    assert tests["s0_1_dedupe_test"]["stderr"] and tests["s0_1_dedupe_test"]["passed"]


def test_submitted_files_are_never_modified(graded):
    for student, path in graded["submitted"].items():
        assert path.read_bytes() == graded["before"][student], student


def _stdout(course, student):
    nb = nbformat.read(course.autograded_notebook(student, ASSIGNMENT, ASSIGNMENT), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_a_submission_searching_the_whole_disk_finds_no_clone_of_the_course(graded):
    """The private view: a world-readable second clone of the course elsewhere on the machine is
    out of sight, and so is everything else outside the system, the Python environment, the labs
    package and the run's own folder."""
    course, clone = graded["course"], graded["clone"]
    out = _stdout(course, "searches-disk")
    assert re.search(r"course notebooks found: 0 \(of \d+ files seen\)", out), out[-2000:]
    assert str(clone) not in out and str(course.root) not in out
    page = (course.feedback_dir / "searches-disk" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert str(clone) not in page and "course notebook found: /" not in page


STACK_PROBES = ("kafka: other topics listed", "kafka: Connect's stored configurations read",
                "kafka: topic created outside the run", "connect: connectors listed",
                "connect: a connector of another run deleted", "connect: its internal port",
                "registry: subjects listed",
                "registry: every subject's compatibility changed", "registry: its internal port")


def test_a_submission_reaching_for_the_stack_gets_only_its_own_run(graded, stack):
    """Kafka's ACLs, the gate and the firewall: every probe of the tampers-with-stack variant is
    refused (or sees nothing), and it still scores as its correct answers deserve."""
    out = _stdout(graded["course"], "tampers-with-stack")
    seen = dict(re.findall(r"^(\w+: [^:\n]+): (.*)$", out, flags=re.M))
    assert set(STACK_PROBES) <= set(seen), out[-2000:]
    assert [p for p in STACK_PROBES if not seen[p].startswith("blocked")] == [], out[-2000:]
    assert "blocked AttributeError" not in out and "blocked NameError" not in out, out[-2000:]


def test_without_the_private_view_the_same_search_finds_the_clone(tmp_path, second_clone):
    """The control of the test above: the search does find the clone when nothing hides it, and
    then the feedback still shows no line of the solutions or hidden tests it printed."""
    course = make_course(tmp_path / "course")
    demo.write_class(course, ASSIGNMENT, variants=["searches-disk"])
    grade(course, workers=1, feedback=True, private_view="off")
    out = _stdout(course, "searches-disk")
    assert f"course notebook found: {second_clone}/source/" in out, out[-2000:]
    hidden = _hidden_lines(course)
    assert any(h in out for h in hidden), "the control printed no hidden test line: it tests nothing"
    raw = (course.feedback_dir / "searches-disk" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    page = html.unescape(re.sub(r"<[^>]+>", "", raw))
    assert "hidden test text removed" in page
    assert [h for h in hidden if h in page] == []


def test_sandbox_blocked_reading_and_writing_grader_files(graded):
    course = graded["course"]

    def stdout(student):
        return _stdout(course, student)

    reads = stdout("reads-source")
    writes = stdout("writes-gradebook")
    for label in ("relative source", "absolute source", "list submitted"):
        assert f"{label}: blocked" in reads
    for label in ("gradebook write", "autograded write", "relative gradebook"):
        assert f"{label}: blocked" in writes
    assert not re.search(r"^[a-z ]+: LEAKED$", reads + writes, re.MULTILINE)
    assert not (course.autograded_dir / "pwned.txt").exists()
    assert "fork refused after" in stdout("process-spray")


def test_nothing_is_left_running_or_on_disk(graded):
    # zombies (killed processes their new parent, pid 1, has not reaped yet) run nothing
    leftovers = [p.info for p in psutil.process_iter(["pid", "username", "cmdline", "status"])
                 if (p.info["username"] or "").startswith(ACCOUNT_PREFIX) and p.info["status"] != psutil.STATUS_ZOMBIE]
    assert leftovers == []
    assert not any(confine.runs_folder().glob("labs-grade-*/work"))


def _hidden_lines(course) -> set[str]:
    source = nbformat.read(course.source_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return {line for line in secret_text(course, source).hidden if len(line) >= 8}


def test_feedback_shows_results_but_never_hidden_tests(graded):
    course = graded["course"]
    hidden = _hidden_lines(course)
    assert len(hidden) > 10
    pages = sorted(course.feedback_dir.glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    assert len(pages) == len(EXPECTED)
    for page in pages:
        raw = page.read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", raw))
        found = [h for h in hidden if h in raw or h in text or html.escape(h) in raw]
        assert found == [], f"{page}: {found[:3]}"
    perfect = (course.feedback_dir / "perfect" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "s0_1_dedupe_test: passed" in perfect
    wrong = html.unescape((course.feedback_dir / "wrong" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "failed: AssertionError" in wrong
    # the student who printed the input history sees it redacted
    reads = (course.feedback_dir / "reads-source" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "hidden test text removed" in reads


def test_csv_has_one_row_per_student_and_question_columns(graded):
    course = graded["course"]
    frame = pd.read_csv(course.autograded_dir / "grades.csv")
    assert sorted(frame["student"]) == sorted(EXPECTED)
    for q in QUESTIONS:
        assert f"{ASSIGNMENT}/{q}" in frame.columns
    for column in (f"{ASSIGNMENT}/total", f"{ASSIGNMENT}/status", "total", "max_total"):
        assert column in frame.columns
    row = frame.set_index("student").loc["os-exit"]
    assert row[f"{ASSIGNMENT}/status"] == "kernel_died" and row["total"] == 5 and row["max_total"] == 15


def test_report_is_self_contained_with_the_plots(graded):
    course = graded["course"]
    page = (course.autograded_dir / "report.html").read_text()
    for title in ("Score distribution per assignment", "Per-question mean and failure rate",
                  "Hardest questions", "Run time per submission", "Status counts"):
        assert title in page
    assert not re.search(r"<script[^>]+src=\"https?://", page), "plotly.js must be inline (no CDN)"
    assert "Plotly.newPlot" in page

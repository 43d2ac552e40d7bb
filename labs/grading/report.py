"""Class-level outputs from the gradebook: ``grades.csv`` and ``report.html``.

Both are built from the gradebook alone (nbgrader's scores plus the grader's run table), so
they can be rebuilt at any time, including after merging gradebooks of several machines.
"""

from __future__ import annotations

import html
from pathlib import Path

import nbformat
import pandas as pd

from . import gradebook as gbook
from .course import Course
from .files import write_atomic


def _question_order(course: Course, assignment: str, notebook: str, names: list[str]) -> list[str]:
    """Grade ids in notebook order when the source is available, else sorted."""
    path = course.source_dir / assignment / f"{notebook}.ipynb"
    order = []
    if path.exists():
        for cell in nbformat.read(path, as_version=4).cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in names and gid not in order:
                order.append(gid)
    return order + sorted(set(names) - set(order))


def _prefix(assignment: str, notebook: str) -> str:
    return assignment if notebook == assignment else f"{assignment}/{notebook}"


def tables(course: Course) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(class table, per-question long table, per-notebook run table)."""
    from nbgrader.api import Gradebook

    run_rows = gbook.runs(course.db_url)
    wide: dict[str, dict] = {}
    long_rows, nb_rows = [], []
    with Gradebook(course.db_url, course.course_id) as gb:
        students = sorted(s.id for s in gb.students)
        for student in students:
            wide[student] = {"student": student}
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            submitted = {s.student.id: s for s in gb.assignment_submissions(assignment.name)}
            for nb in sorted(assignment.notebooks, key=lambda n: n.name):
                prefix = _prefix(assignment.name, nb.name)
                max_scores = {c.name: float(c.max_score) for c in nb.grade_cells}
                order = _question_order(course, assignment.name, nb.name, list(max_scores))
                for student in students:
                    row = wide[student]
                    sub = submitted.get(student)
                    scores, by_hand = {}, []
                    if sub is not None:
                        subnb = next((x for x in sub.notebooks if x.name == nb.name), None)
                        if subnb is not None:
                            scores = {g.name: float(g.score) for g in subnb.grades}
                            by_hand = [g.name for g in subnb.grades if g.needs_manual_grade]
                    run = run_rows.get((assignment.name, student, nb.name))
                    status = run["status"] if run else ("not_submitted" if sub is None else "graded_elsewhere")
                    for gid in order:
                        row[f"{prefix}/{gid}"] = scores.get(gid, 0.0)
                        if sub is not None:
                            test = (run or {}).get("tests", {}).get(gid, {})
                            long_rows.append({
                                "assignment": assignment.name, "notebook": nb.name, "question": gid,
                                "student": student, "score": scores.get(gid, 0.0), "max_score": max_scores[gid],
                                "passed": scores.get(gid, 0.0) >= max_scores[gid],
                                "error": test.get("ename") or "", "awaiting_hand_grading": gid in by_hand})
                    row[f"{prefix}/total"] = sum(scores.get(g, 0.0) for g in order)
                    row[f"{prefix}/status"] = status
                    # answers graded by hand (a written answer) that nobody has graded yet: they count 0 until then
                    row[f"{prefix}/awaiting_hand_grading"] = " ".join(g for g in order if g in by_hand)
                    if sub is not None:
                        nb_rows.append({"assignment": assignment.name, "notebook": nb.name, "student": student,
                                        "status": status, "duration": (run or {}).get("duration", 0.0),
                                        "score": row[f"{prefix}/total"], "max_score": sum(max_scores.values()),
                                        "awaiting_hand_grading": len(by_hand),
                                        "notes": "; ".join((run or {}).get("notes", []))})
        total_max = sum(float(c.max_score) for a in gb.assignments for nb in a.notebooks for c in nb.grade_cells)
    frame = pd.DataFrame(list(wide.values()))
    if not frame.empty:
        totals = [c for c in frame.columns if c.endswith("/total")]
        frame["total"] = frame[totals].sum(axis=1) if totals else 0.0
        frame["max_total"] = total_max
    return frame, pd.DataFrame(long_rows), pd.DataFrame(nb_rows)


def write_csv(course: Course, frame: pd.DataFrame | None = None) -> Path:
    frame = tables(course)[0] if frame is None else frame
    path = course.autograded_dir / "grades.csv"
    write_atomic(path, frame.to_csv(index=False))
    return path


def _figures(questions: pd.DataFrame, notebooks: pd.DataFrame) -> list[tuple[str, object]]:
    import plotly.express as px
    import plotly.graph_objects as go

    figs = []
    if not notebooks.empty:
        per_assignment = notebooks.groupby(["assignment", "student"], as_index=False)[["score", "max_score"]].sum()
        fig = px.histogram(per_assignment, x="score", color="assignment", barmode="overlay", nbins=20,
                           title="Score distribution per assignment")
        fig.update_layout(xaxis_title="score", yaxis_title="students")
        figs.append(("Score distribution", fig))
    if not questions.empty:
        per_q = questions.groupby(["assignment", "question"], as_index=False).agg(
            mean=("score", "mean"), max_score=("max_score", "first"), failure_rate=("passed", lambda s: 1 - s.mean()))
        per_q["label"] = per_q["assignment"] + "/" + per_q["question"]
        per_q["mean_fraction"] = per_q["mean"] / per_q["max_score"].where(per_q["max_score"] > 0, 1)
        fig = go.Figure([
            go.Bar(name="mean score (fraction of points)", x=per_q["label"], y=per_q["mean_fraction"]),
            go.Bar(name="failure rate", x=per_q["label"], y=per_q["failure_rate"]),
        ])
        fig.update_layout(barmode="group", title="Per-question mean and failure rate", yaxis_range=[0, 1])
        figs.append(("Questions", fig))
        hardest = per_q.sort_values(["mean_fraction", "failure_rate"], ascending=[True, False]).head(10)
        fig = go.Figure(go.Bar(x=hardest["mean_fraction"], y=hardest["label"], orientation="h",
                               text=[f"{r:.0%} fail" for r in hardest["failure_rate"]]))
        fig.update_layout(title="Hardest questions (lowest mean score)", xaxis_title="mean score (fraction)",
                          yaxis_autorange="reversed", xaxis_range=[0, 1])
        figs.append(("Hardest questions", fig))
    if not notebooks.empty:
        runs = notebooks.sort_values("duration", ascending=False)
        fig = px.bar(runs, x="student", y="duration", color="status", facet_row="assignment" if
                     runs["assignment"].nunique() > 1 else None, title="Run time per submission (seconds)")
        figs.append(("Run times", fig))
        counts = notebooks.groupby(["assignment", "status"], as_index=False).size()
        fig = px.bar(counts, x="status", y="size", color="assignment", barmode="group", title="Status counts")
        fig.update_layout(yaxis_title="notebooks")
        figs.append(("Statuses", fig))
    return figs


# Click a header of a table.sortable to sort its rows by that column (numbers as numbers), again to reverse.
_SORT_JS = """
document.addEventListener("click", function (event) {
  var th = event.target.closest("table.sortable th");
  if (!th) return;
  var table = th.closest("table"), body = table.tBodies[0], column = th.cellIndex;
  var order = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
  table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", order);
  var key = function (row) {
    var text = row.cells[column].textContent.trim();
    return /^-?[0-9]+([.][0-9]+)?$/.test(text) ? parseFloat(text) : text;
  };
  var rows = Array.prototype.slice.call(body.rows).sort(function (a, b) {
    var x = key(a), y = key(b);
    var c = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
    return order === "ascending" ? c : -c;
  });
  rows.forEach(function (row) { body.appendChild(row); });
});
"""


def write_report(course: Course) -> Path:
    """autograded/report.html: plots and tables, plotly.js inlined once (opens offline)."""
    import plotly.io as pio

    frame, questions, notebooks = tables(course)
    parts = []
    for i, (_, fig) in enumerate(_figures(questions, notebooks)):
        parts.append(pio.to_html(fig, full_html=False, include_plotlyjs=(i == 0)))
    flagged = notebooks[notebooks["status"] != "ok"] if not notebooks.empty else notebooks
    table = (flagged[["assignment", "student", "notebook", "status", "score", "notes"]]
             .to_html(index=False, escape=True, classes="sortable") if not flagged.empty else "<p>none</p>")
    totals = [c for c in frame.columns if c == "student" or c.endswith("/total") or c == "total"]
    students = frame[totals].to_html(index=False, escape=True, classes="sortable") if len(frame) else "<p>none</p>"
    n_students = len(frame)
    waiting = awaiting_hand_grading(course)
    by_hand = (f"<p><b>{waiting[0]} answer(s) in {waiting[1]} submission(s) await hand grading</b> and count 0 "
               f"until graded: {html.escape(HAND_GRADING)}.</p>" if waiting[0] else "")
    mean_total = frame["total"].mean() if n_students and "total" in frame else 0.0
    max_total = frame["max_total"].iloc[0] if n_students and "max_total" in frame else 0.0
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Class report: {html.escape(course.course_id)}</title>
<style>body{{font-family:sans-serif;margin:2em;}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;font-size:90%}} .sortable th{{cursor:pointer}}
.sortable th[aria-sort=ascending]::after{{content:" \\25B2"}}
.sortable th[aria-sort=descending]::after{{content:" \\25BC"}}
.plotly-graph-div{{max-width:100%}}</style>
<script>{_SORT_JS}</script></head>
<body><h1>Class report: {html.escape(course.course_id)}</h1>
<p>{n_students} students; mean total {mean_total:.1f} / {max_total:g}.
Scores come from the gradebook (autograded/gradebook.db); the per-question table is autograded/grades.csv.</p>
{by_hand}
{''.join(parts)}
<h2>Students (click a column to sort)</h2>{students}
<h2>Submissions that need a look (status other than ok)</h2>{table}
</body></html>"""
    path = course.autograded_dir / "report.html"
    write_atomic(path, page)
    return path


HAND_GRADING = "run `make instructor`, then Nbgrader > Formgrader > Manual Grading"


def awaiting_hand_grading(course: Course) -> tuple[int, int]:
    """(answers, submissions) that wait for a grade by hand (nbgrader's ``needs_manual_grade``)."""
    from nbgrader.api import Grade, Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        rows = gb.db.query(Grade.notebook_id).filter(Grade.needs_manual_grade).all()
    return len(rows), len({r[0] for r in rows})


def export(course: Course) -> tuple[Path, Path]:
    return write_csv(course), write_report(course)

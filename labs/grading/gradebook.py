"""The gradebook: nbgrader's database plus the grader's run table, merge and snapshots.

Scores live in nbgrader's own tables (``nbgrader.api.Gradebook``). Next to them, in the same
database, two small tables record each graded submission (the resume marker, written in
one transaction after the scores are committed) and each graded notebook (status, notes,
run time, per-test results). Keeping them in the gradebook means a gradebook merged from
several machines carries everything the CSV, the report and the feedback need.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from contextlib import contextmanager

import sqlalchemy as sa

from labs.errors import LabsError

_meta = sa.MetaData()

SUBMISSIONS = sa.Table(
    "labs_grading_submission", _meta,
    sa.Column("assignment", sa.String(128), primary_key=True),
    sa.Column("student", sa.String(128), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False),           # hash of submission + source + settings
    sa.Column("status", sa.String(32), nullable=False),        # worst notebook status
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("graded_at", sa.String(32), nullable=False),
)

NOTEBOOKS = sa.Table(
    "labs_grading_notebook", _meta,
    sa.Column("assignment", sa.String(128), primary_key=True),
    sa.Column("student", sa.String(128), primary_key=True),
    sa.Column("notebook", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),               # JSON list of strings
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("tests", sa.Text, nullable=False),               # JSON {grade_id: {...}}
    sa.Column("flagged", sa.Boolean, nullable=False, default=False),
)


@contextmanager
def engine_for(db_url: str):
    engine = sa.create_engine(db_url, future=True)
    try:
        _meta.create_all(engine)
        yield engine
    finally:
        engine.dispose()


_shared_lock = threading.Lock()


@contextmanager
def shared_engines():
    """While a batch grades, every ``nbgrader.api.Gradebook`` (about five a notebook: the grader's
    and those nbgrader's preprocessors open) gets the same SQLAlchemy engine for the same database.
    SQLAlchemy keeps compiled statements per engine, so a Gradebook with an engine of its own
    compiles each of its queries anew: a third of the grader's gradebook time. ``Gradebook.close``
    still ends its session and returns its connections; the engines are disposed of at the end."""
    import nbgrader.api as api

    with _shared_lock:
        original = api.create_engine
        if getattr(original, "labs_shared", False):  # a batch of this process shares them already
            yield
            return
        engines: dict = {}

        def create_engine(url, **kwargs):
            key = (str(url), repr(sorted(kwargs.items())))
            with _shared_lock:
                if key not in engines:
                    engines[key] = original(url, **kwargs)
                return engines[key]

        create_engine.labs_shared = True
        api.create_engine = create_engine
    try:
        yield
    finally:
        with _shared_lock:
            api.create_engine = original
        for engine in engines.values():
            engine.dispose()


def ensure(db_url: str) -> None:
    """Create nbgrader's tables (through its API) and the grader's tables when missing."""
    from nbgrader.api import Gradebook

    Gradebook(db_url).close()
    with engine_for(db_url):
        pass


def record(db_url: str, assignment: str, student: str, key: str, status: str, duration: float,
           notebooks: list[dict]) -> None:
    """Write the run rows of one submission in one transaction (the resume marker)."""
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with engine_for(db_url) as engine, engine.begin() as conn:
        where = (NOTEBOOKS.c.assignment == assignment) & (NOTEBOOKS.c.student == student)
        conn.execute(NOTEBOOKS.delete().where(where))
        conn.execute(SUBMISSIONS.delete().where(
            (SUBMISSIONS.c.assignment == assignment) & (SUBMISSIONS.c.student == student)))
        for row in notebooks:
            conn.execute(NOTEBOOKS.insert().values(
                assignment=assignment, student=student, notebook=row["notebook"], status=row["status"],
                notes=json.dumps(row["notes"]), duration=row["duration"], tests=json.dumps(row["tests"]),
                flagged=bool(row.get("flagged"))))
        conn.execute(SUBMISSIONS.insert().values(assignment=assignment, student=student, key=key,
                                                 status=status, duration=duration, graded_at=now))


def graded_keys(db_url: str, assignment: str) -> dict[str, str]:
    """student -> key of the submissions already graded (present in nbgrader's tables too)."""
    with engine_for(db_url) as engine, engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT s.student, s.key FROM labs_grading_submission s "
            "JOIN submitted_assignment sa ON sa.student_id = s.student "
            "JOIN assignment a ON a.id = sa.assignment_id AND a.name = s.assignment "
            "WHERE s.assignment = :a"), {"a": assignment}).all()
    return {student: key for student, key in rows}


def runs(db_url: str) -> dict[tuple[str, str, str], dict]:
    """(assignment, student, notebook) -> run row."""
    with engine_for(db_url) as engine, engine.connect() as conn:
        rows = conn.execute(sa.select(NOTEBOOKS)).mappings().all()
    return {(r["assignment"], r["student"], r["notebook"]): {
        "status": r["status"], "notes": json.loads(r["notes"]), "duration": r["duration"],
        "tests": json.loads(r["tests"]), "flagged": r["flagged"]} for r in rows}


def submission_runs(db_url: str) -> dict[tuple[str, str], dict]:
    with engine_for(db_url) as engine, engine.connect() as conn:
        rows = conn.execute(sa.select(SUBMISSIONS)).mappings().all()
    return {(r["assignment"], r["student"]): dict(r) for r in rows}


# --- snapshots (what "the same gradebook" means) -----------------------------------------------

def snapshot(db_url: str, course_id: str = "default_course") -> dict:
    """Everything that grading decides, without ids, timestamps of the run or run times."""
    from nbgrader.api import Gradebook

    out = {"grades": {}, "comments": {}, "notebooks": {}, "runs": {}}
    with Gradebook(db_url, course_id) as gb:
        for assignment in gb.assignments:
            for submission in gb.assignment_submissions(assignment.name):
                student = submission.student.id
                for nb in submission.notebooks:
                    key = f"{assignment.name}/{student}/{nb.name}"
                    out["notebooks"][key] = {"flagged": bool(nb.flagged),
                                             "late_penalty": nb.late_submission_penalty}
                    for grade in nb.grades:
                        out["grades"][f"{key}/{grade.name}"] = (
                            grade.auto_score, grade.manual_score, grade.extra_credit, grade.needs_manual_grade)
                    for comment in nb.comments:
                        out["comments"][f"{key}/{comment.name}"] = (comment.auto_comment, comment.manual_comment)
    for (assignment, student, notebook), row in runs(db_url).items():
        out["runs"][f"{assignment}/{student}/{notebook}"] = {
            "status": row["status"], "notes": row["notes"], "tests": row["tests"], "flagged": row["flagged"]}
    return out


# --- merge -------------------------------------------------------------------------------------

class MergeError(LabsError):
    """Two gradebooks disagree on an assignment's structure; the message names it."""


def _copy_assignment(src_gb, dst_gb, name: str) -> None:
    """Create assignment ``name`` in dst with the structure it has in src (nbgrader API)."""
    a = src_gb.find_assignment(name)
    dst_gb.update_or_create_assignment(name, duedate=a.duedate)
    for nb in a.notebooks:
        dst_gb.update_or_create_notebook(nb.name, name, kernelspec=nb.kernelspec)
        for c in nb.grade_cells:
            dst_gb.update_or_create_grade_cell(c.name, nb.name, name, max_score=c.max_score, cell_type=c.cell_type)
        for c in nb.solution_cells:
            dst_gb.update_or_create_solution_cell(c.name, nb.name, name)
        for c in nb.task_cells:
            dst_gb.update_or_create_task_cell(c.name, nb.name, name, max_score=c.max_score, cell_type=c.cell_type)
        for c in nb.source_cells:
            dst_gb.update_or_create_source_cell(c.name, nb.name, name, cell_type=c.cell_type, locked=c.locked,
                                                source=c.source, checksum=c.checksum)


def _structure(gb, name: str) -> dict:
    a = gb.find_assignment(name)
    return {nb.name: sorted((c.name, c.checksum) for c in nb.source_cells) for nb in a.notebooks}


def merge(target_url: str, source_urls: list[str], course_id: str = "default_course") -> dict:
    """Merge the gradebooks ``source_urls`` into ``target_url``.

    Assignments must have the same source (same cells and checksums) everywhere. When the
    same submission was graded in several places, the most recent grading wins.
    Returns counts of what was copied.
    """
    from nbgrader.api import Gradebook, MissingEntry

    ensure(target_url)
    counts = {"submissions": 0, "skipped_older": 0, "students": 0}
    target_runs = submission_runs(target_url)
    for src_url in source_urls:
        ensure(src_url)
        src_runs = submission_runs(src_url)
        src_nb_runs = runs(src_url)
        with Gradebook(src_url, course_id) as src, Gradebook(target_url, course_id) as dst:
            for assignment in src.assignments:
                try:
                    dst.find_assignment(assignment.name)
                except MissingEntry:
                    _copy_assignment(src, dst, assignment.name)
                if _structure(src, assignment.name) != _structure(dst, assignment.name):
                    raise MergeError(f"assignment {assignment.name} differs between {src_url} and {target_url}: "
                                     "they were released from different sources")
            for student in src.students:
                dst.update_or_create_student(student.id, first_name=student.first_name, last_name=student.last_name,
                                             email=student.email, lms_user_id=student.lms_user_id)
                counts["students"] += 1
            for assignment in src.assignments:
                for sub in src.assignment_submissions(assignment.name):
                    key = (assignment.name, sub.student.id)
                    mine, theirs = src_runs.get(key), target_runs.get(key)
                    if theirs and (not mine or mine["graded_at"] < theirs["graded_at"]):
                        counts["skipped_older"] += 1
                        continue
                    dst_sub = dst.update_or_create_submission(assignment.name, sub.student.id,
                                                              timestamp=sub.timestamp, extension=sub.extension)
                    for nb in sub.notebooks:
                        dst_nb = dst.find_submission_notebook(nb.name, assignment.name, sub.student.id)
                        dst_nb.flagged = nb.flagged
                        dst_nb.late_submission_penalty = nb.late_submission_penalty
                        for grade in nb.grades:
                            g = dst.find_grade(grade.name, nb.name, assignment.name, sub.student.id)
                            g.auto_score, g.manual_score = grade.auto_score, grade.manual_score
                            g.extra_credit, g.needs_manual_grade = grade.extra_credit, grade.needs_manual_grade
                        for comment in nb.comments:
                            c = dst.find_comment(comment.name, nb.name, assignment.name, sub.student.id)
                            c.auto_comment, c.manual_comment = comment.auto_comment, comment.manual_comment
                    dst.db.commit()
                    del dst_sub
                    if mine:
                        rows = [{"notebook": nb_name, **row} for (a, s, nb_name), row in src_nb_runs.items()
                                if (a, s) == key]
                        record(target_url, assignment.name, sub.student.id, mine["key"], mine["status"],
                               mine["duration"], rows)
                        _keep_graded_at(target_url, key, mine["graded_at"])
                        target_runs[key] = mine
                    counts["submissions"] += 1
    return counts


def _keep_graded_at(db_url: str, key: tuple[str, str], graded_at: str) -> None:
    with engine_for(db_url) as engine, engine.begin() as conn:
        conn.execute(SUBMISSIONS.update().where(
            (SUBMISSIONS.c.assignment == key[0]) & (SUBMISSIONS.c.student == key[1])).values(graded_at=graded_at))

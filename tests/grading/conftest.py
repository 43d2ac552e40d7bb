"""Shared set-up of the grader tests: course copies and one graded demo class.

Every test works on a copy of the course (nbgrader_config.py, source/, release/, tests/fixtures/) in a
temporary folder, so the checkout is never graded or modified. Limits are short so the whole
folder runs in a few minutes on 2 cores.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from labs.grading import batch, demo
from labs.grading import gradebook as gbook
from labs.grading.course import Course
from labs.grading.execute import Limits
from labs.grading.report import export

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "s0_warmup"
# processes: the process-spray variant forks until refused; a kernel with pandas loaded forks in
# about 10 ms on a busy 2-core machine, so a lower budget keeps that cell far from its time limit
LIMITS = Limits(cell_timeout=6, notebook_timeout=20, memory_mb=1024, processes=96)

# Submissions whose grading is deterministic and quick: used to compare runs.
ORDINARY = ["perfect", "partial", "wrong", "empty", "nbformat-44"]
SUBSET = ["perfect", "partial", "wrong", "empty", "stderr-correct", "deleted-test"]


def make_course(folder: Path) -> Course:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    for name in ("source", "release", "tests/fixtures"):  # fixtures: the demo class's wrong answers
        shutil.copytree(REPO / name, folder / name)
    (folder / "autograded").mkdir()
    return Course.load(folder)


WRITTEN = "s0_3_explain"  # the written answer add_written_answer puts in a course copy, graded by hand
WRITTEN_POINTS = 2


def add_written_answer(course: Course, assignment: str = ASSIGNMENT) -> Course:
    """Give a course copy's assignment a written answer graded by hand (a markdown solution cell
    with points, after the last test), release it again, and return the reloaded course."""
    import nbformat

    from labs.grading.release import release

    path = course.source_notebooks(assignment)[0]
    nb = nbformat.read(path, as_version=4)
    last_test = max(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")
                    and not c.metadata.nbgrader.get("solution"))
    prompt = nbformat.v4.new_markdown_cell("## Q0.4 In your words (graded by hand)\n\nWhy must duplicates be "
                                           "removed before the window counts are taken?")
    prompt.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                   "grade_id": f"{WRITTEN}_prompt", "schema_version": 3}
    answer = nbformat.v4.new_markdown_cell("A redelivered event would be counted twice in its window, "
                                           "so every count after it would be too high.")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "locked": False, "points": WRITTEN_POINTS,
                                   "grade_id": WRITTEN, "schema_version": 3}
    nb.cells[last_test + 1:last_test + 1] = [prompt, answer]
    nbformat.write(nb, path)
    course = Course.load(course.root)
    release(course, [assignment])
    return course


def grade(course: Course, workers: int = 2, assignments=(ASSIGNMENT,), feedback: bool = False,
          **kwargs) -> batch.Summary:
    options = batch.Options(workers=workers, limits=kwargs.pop("limits", LIMITS), progress=False,
                            feedback=feedback, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return batch.grade(course, list(assignments), options, log=lambda msg: None)


def snapshot(course: Course | str, students: list[str] | None = None) -> dict:
    """Gradebook content (see labs.grading.gradebook.snapshot) of a course or a database URL."""
    db_url = course if isinstance(course, str) else course.db_url
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap = gbook.snapshot(db_url, "data-pipeline-lab")
    if students is not None:
        keep = set(students)
        snap = {part: {k: v for k, v in rows.items() if k.split("/")[1] in keep} for part, rows in snap.items()}
    return snap


def scores(course: Course) -> dict[str, float]:
    """student -> total score of the assignment, from nbgrader's gradebook API."""
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url, course.course_id) as gb:
            return {s.student.id: float(s.score) for s in gb.assignment_submissions(ASSIGNMENT)}


@pytest.fixture(scope="session")
def second_clone():
    """A world-readable copy of the course's source notebooks outside the graded course and
    outside /tmp, like an instructor's working copy next to the grading copy."""
    import stat
    import uuid

    folder = Path("/srv") / f"labs-second-clone-{uuid.uuid4().hex[:8]}"
    shutil.copytree(REPO / "source", folder / "source")
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory, second_clone):
    """The whole demo class (every variant) graded once, in parallel, with a second clone of
    the course on the machine."""
    course = make_course(tmp_path_factory.mktemp("class") / "course")
    written = demo.write_class(course, ASSIGNMENT)
    before = {s: p.read_bytes() for s, p in written.items()}
    summary = grade(course, workers=2, feedback=True, private_view="on")
    export(course)
    return {"course": course, "summary": summary, "submitted": written, "before": before, "clone": second_clone}

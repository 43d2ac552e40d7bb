"""``labs bench grade``: ``labs grade`` against serial ``nbgrader autograde`` in one run.

Both graders grade the same N submissions of a small Spark notebook in two throw-away
copies of a generated course (the checkout is never touched). The notebook asks for one
Spark aggregation, so each run pays what every Spark lab pays: a Spark session and a first
query. nbgrader runs it twice: with the same Spark Connect server (``labs.spark.session()``
finds it, a pure grader comparison) and with a classic in-process Spark session per
notebook (what a course without a Spark Connect server pays). Figures only; no pass/fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labs import config

from . import batch, release
from .course import Course, cpu_count
from .limits import Limits

ASSIGNMENT = "bench_spark"

SOLUTION = '''def events_per_user(df):
    """Spark DataFrame with columns user, n: events per user."""
    ### BEGIN SOLUTION
    from pyspark.sql import functions as F
    return df.groupBy("user").agg(F.count("*").alias("n"))
    ### END SOLUTION'''

TESTS = '''"""events_per_user counts the events of each user."""
import pandas as pd
rows = [("a",), ("b",), ("a",)]
got = {r["user"]: r["n"] for r in events_per_user(spark.createDataFrame(rows, ["user"])).collect()}
assert got == {"a": 2, "b": 1}
### BEGIN HIDDEN TESTS
import numpy as np
users = np.random.default_rng(11).choice(list("pqrstu"), 500)
pdf = pd.DataFrame({"user": users})
got = {r["user"]: r["n"] for r in events_per_user(spark.createDataFrame(pdf)).collect()}
assert got == pdf["user"].value_counts().to_dict()
### END HIDDEN TESTS'''


def _cell(cell, grade_id: str, **flags):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                                 "locked": False, **flags}
    return cell


def bench_notebook():
    return new_notebook(cells=[
        _cell(new_markdown_cell("# Bench: one Spark aggregation"), "intro", locked=True),
        _cell(new_code_cell("from labs import spark as labs_spark\nspark = labs_spark.session()"), "setup",
              locked=True),
        _cell(new_code_cell(SOLUTION), "answer", solution=True),
        _cell(new_code_cell(TESTS), "answer_test", grade=True, locked=True, points=5),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def make_course(folder: Path, submissions: int, empty: bool = False) -> Course:
    """A course with the bench assignment released and ``submissions`` copies of one submission."""
    folder.mkdir(parents=True)
    shutil.copy(config.project_root() / "nbgrader_config.py", folder / "nbgrader_config.py")
    (folder / "source" / ASSIGNMENT).mkdir(parents=True)
    (folder / "autograded").mkdir()
    nbformat.write(bench_notebook(), folder / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    course = Course.load(folder)
    release.generate(course, ASSIGNMENT, use_database=True)
    which = course.release_dir if empty else course.source_dir
    for i in range(submissions):
        target = course.submission_dir(f"student-{i:02d}", ASSIGNMENT)
        target.mkdir(parents=True)
        shutil.copy(which / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", target)
        (target / "timestamp.txt").write_text("2024-01-15 12:00:00.000000 UTC\n")
    return course


def _scores(course: Course) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with warnings.catch_warnings(), Gradebook(course.db_url, course.course_id) as gb:
        warnings.simplefilter("ignore")
        return {s.student.id: float(s.score) for s in gb.assignment_submissions(ASSIGNMENT)}


def run_labs(course: Course, workers: int) -> float:
    options = batch.Options(workers=workers, limits=Limits(cell_timeout=120, notebook_timeout=300),
                            feedback=False, progress=False)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch.grade(course, [ASSIGNMENT], options, log=lambda msg: None)
    return time.perf_counter() - t0


def run_nbgrader(course: Course, spark_mode: str) -> float:
    nbgrader = Path(os.sys.executable).with_name("nbgrader")
    env = {**os.environ, "LABS_SPARK_MODE": spark_mode}
    t0 = time.perf_counter()
    done = subprocess.run([str(nbgrader), "autograde", ASSIGNMENT, "--force"], cwd=course.root, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def run(args) -> int:
    n, workers = args.submissions, cpu_count()
    with tempfile.TemporaryDirectory(prefix="labs-bench-", dir=config.work_dir()) as tmp:
        root = Path(tmp)
        print(f"grading {n} submissions of a one-question Spark notebook ({workers} workers for labs grade)")
        ours = make_course(root / "labs", n)
        t_labs = run_labs(ours, workers)
        print(f"  labs grade                      {t_labs:7.1f} s  ({t_labs / n:5.2f} s per submission)")
        theirs = make_course(root / "nbgrader", n)
        t_nb = run_nbgrader(theirs, "auto")
        print(f"  nbgrader autograde (Spark Connect) {t_nb:4.1f} s  ({t_nb / n:5.2f} s per submission)"
              f"  -> labs grade is {t_nb / t_labs:.1f}x faster")
        same = _scores(ours) == _scores(theirs)
        print(f"  identical scores: {same} (all {sorted(set(_scores(ours).values()))})")
        if not args.no_classic:
            classic = make_course(root / "classic", n)
            t_cl = run_nbgrader(classic, "classic")
            print(f"  nbgrader autograde (Spark per notebook) {t_cl:5.1f} s  ({t_cl / n:5.2f} s per submission)"
                  f"  -> labs grade is {t_cl / t_labs:.1f}x faster")
            same = same and _scores(classic) == _scores(ours)
        empty = make_course(root / "empty", 1, empty=True)
        t_empty = run_labs(empty, 1)
        print(f"  one empty submission (released stub) with labs grade: {t_empty:.2f} s (target <= 3 s)")
    return 0 if same else 1

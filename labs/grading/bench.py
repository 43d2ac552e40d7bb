"""``labs bench grade``: ``labs grade`` against serial ``nbgrader autograde``, round by round.

Both graders grade the same N submissions of a small Spark notebook in two throw-away
copies of a generated course (the checkout is never touched). The notebook asks for one
Spark aggregation, so each run pays what every Spark lab pays: a Spark session and a first
query. nbgrader runs it twice: with the same Spark Connect server (``labs.spark.session()``
finds it, a pure grader comparison) and with a classic in-process Spark session per
notebook (what a course without a Spark Connect server pays). The comparison is repeated
``--runs`` times, the graders in turn, and ratios are taken round by round: the machine is shared
and one round's figure can be a quarter off. Figures only; no pass/fail.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labs import config

from . import batch, release
from .course import Course, cpu_count
from .execute import ACCOUNT_PREFIX
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


class PeakRSS:
    """The largest sums of memory, sampled every 0.2 s, of this process, its descendants and every
    process of the grader's sandbox accounts (the whole grading run): resident (RSS, which counts
    a page shared by several processes once in each, as forked kernels share their zygote's) and
    proportional (PSS, each shared page divided among its sharers: what the run costs the machine)."""

    def __init__(self):
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.2):
            total = pss = 0
            for proc in psutil.process_iter(["username"]):
                try:
                    info = getattr(proc, "info", {})  # a process that ended while listed has no attributes
                    ours = (info.get("username") or "").startswith(ACCOUNT_PREFIX) or proc.pid == me.pid \
                        or me.pid in {p.pid for p in proc.parents()}
                    if ours:
                        full = proc.memory_full_info()
                        total += full.rss
                        pss += getattr(full, "pss", full.rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                    continue
            self.peak = max(self.peak, total)
            self.peak_pss = max(self.peak_pss, pss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_labs(course: Course, workers: int, fork: bool = True) -> tuple[float, batch.Summary]:
    options = batch.Options(workers=workers, limits=Limits(cell_timeout=120, notebook_timeout=300),
                            feedback=False, progress=False, fork=fork)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = batch.grade(course, [ASSIGNMENT], options, log=lambda msg: None)
    return time.perf_counter() - t0, summary


def run_nbgrader(course: Course, spark_mode: str) -> float:
    nbgrader = Path(os.sys.executable).with_name("nbgrader")
    env = {**os.environ, "LABS_SPARK_MODE": spark_mode}
    t0 = time.perf_counter()
    done = subprocess.run([str(nbgrader), "autograde", ASSIGNMENT, "--force"], cwd=course.root, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def run_lab(lab: str, n: int) -> int:
    """``n`` submissions of a real lab (perfect, partial, wrong and empty in turn) graded by
    ``labs grade`` in a throw-away copy of the course: time, memory and scores per variant."""
    from . import demo

    workers = cpu_count()
    kinds = list(demo.LAB_DEMO)
    with tempfile.TemporaryDirectory(prefix="labs-bench-", dir=config.work_dir()) as tmp:
        root = Path(tmp) / "course"
        root.mkdir()
        source = config.project_root()
        shutil.copy(source / "nbgrader_config.py", root / "nbgrader_config.py")
        for name in ("source", "release", "tests/fixtures"):
            shutil.copytree(source / name, root / name)
        (root / "autograded").mkdir()
        course = Course.load(root)
        for i in range(n):
            demo.write_class(course, lab, variants=[kinds[i % len(kinds)]], prefix=f"s{i:02d}-")
        print(f"grading {n} submissions of {lab} ({', '.join(kinds)} in turn; {workers} workers)")
        options = batch.Options(workers=workers, feedback=False, progress=True)
        with PeakRSS() as rss, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            summary = batch.grade(course, [lab], options, log=lambda msg: None)
            wall = time.perf_counter() - t0
        from nbgrader.api import Gradebook

        with warnings.catch_warnings(), Gradebook(course.db_url, course.course_id) as gb:
            warnings.simplefilter("ignore")
            scores = {s.student.id: (float(s.score), float(s.max_score)) for s in gb.assignment_submissions(lab)}
        by_kind = {k: sorted({scores[st][0] for st in scores if st.endswith(f"-{k}")}) for k in kinds}
        full = max(m for _, m in scores.values())
        print(f"  {wall:.1f} s ({wall / n:.2f} s per submission, {summary.warm_starts} of {n} runners started ahead), "
              f"peak RSS {rss.peak / 2**20:.0f} MB (PSS {rss.peak_pss / 2**20:.0f} MB); "
              f"statuses {dict(summary.statuses)}")
        for kind, values in by_kind.items():
            print(f"  {kind:8s} scores {values} of {full:g}")
        ok = (by_kind["perfect"] == [full] and by_kind["empty"] == [0.0]
              and all(len(v) == 1 and v[0] < full for k, v in by_kind.items() if k in ("partial", "wrong")))
        print(f"  expected scores (perfect full, empty 0, each variant the same every time, partial and wrong "
              f"below full): {ok}")
    return 0 if ok else 1


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):5.2f}  (runs {', '.join(f'{v:.2f}' for v in values)})"


def run(args) -> int:
    if getattr(args, "labs", None):
        return max(run_lab(lab, args.submissions) for lab in args.labs)
    n, workers, rounds = args.submissions, cpu_count(), max(1, args.runs)
    with tempfile.TemporaryDirectory(prefix="labs-bench-", dir=config.work_dir()) as tmp:
        root = Path(tmp)
        print(f"grading {n} submissions of a one-question Spark notebook ({workers} workers for labs grade), "
              f"{rounds} round(s) of labs grade, labs grade --no-fork and nbgrader autograde in turn")
        # the first gradings after the server started pay its warm-up (JIT, first plans): not measured
        run_labs(make_course(root / "warm-up", 2 * workers), workers)
        t_labs, t_cold, t_nb, starts, same = [], [], [], [], True
        for r in range(rounds):
            ours = make_course(root / f"labs-{r}", n)
            seconds, summary = run_labs(ours, workers)
            t_labs.append(seconds)
            starts.append(summary.warm_starts)
            cold = make_course(root / f"anew-{r}", n)
            t_cold.append(run_labs(cold, workers, fork=False)[0])
            theirs = make_course(root / f"nbgrader-{r}", n)
            t_nb.append(run_nbgrader(theirs, "auto"))
            same = same and _scores(ours) == _scores(theirs) == _scores(cold)
            print(f"  round {r + 1}: labs grade {t_labs[-1]:.1f} s, --no-fork {t_cold[-1]:.1f} s, "
                  f"nbgrader autograde {t_nb[-1]:.1f} s -> {t_nb[-1] / t_labs[-1]:.2f}x")
        # memory in a round of its own: sampling every process's memory five times a second takes
        # a tenth of the machine, which would slow the timed rounds of labs grade alone
        with PeakRSS() as rss:
            run_labs(make_course(root / "memory", n), workers)
        print(f"  labs grade (s)                     {_spread(t_labs)}; at least {min(starts)} of {n} runners "
              f"started ahead; peak RSS {rss.peak / 2**20:.0f} MB (PSS {rss.peak_pss / 2**20:.0f} MB), "
              f"in a round of its own")
        print(f"  labs grade --no-fork (s)           {_spread(t_cold)}")
        print(f"  nbgrader autograde, Spark Connect  {_spread(t_nb)}")
        print(f"  per submission: labs grade {statistics.median(t_labs) / n:.2f} s, nbgrader "
              f"{statistics.median(t_nb) / n:.2f} s")
        print(f"  like for like, nbgrader / labs grade, round by round: "
              f"{_spread([b / a for a, b in zip(t_labs, t_nb, strict=True)])}")
        print(f"  zygotes, --no-fork / labs grade, round by round:      "
              f"{_spread([c / a for a, c in zip(t_labs, t_cold, strict=True)])}")
        print(f"  identical scores: {same} (all {sorted(set(_scores(ours).values()))})")
        if not args.no_classic:
            classic = make_course(root / "classic", n)
            t_cl = run_nbgrader(classic, "classic")
            print(f"  nbgrader autograde (Spark per notebook) {t_cl:5.1f} s  ({t_cl / n:5.2f} s per submission)"
                  f"  -> labs grade is {t_cl / statistics.median(t_labs):.1f}x faster")
            same = same and _scores(classic) == _scores(ours)
        empty = make_course(root / "empty", 5, empty=True)
        _, summary = run_labs(empty, 1)
        times = sorted(summary.durations)
        print(f"  empty submissions (released stub), one worker: median {statistics.median(times):.2f} s of "
              f"{len(times)} ({', '.join(f'{t:.2f}' for t in times)}; the first has no runner started ahead)")
    return 0 if same else 1

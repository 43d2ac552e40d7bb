"""Grade a class: parallel scheduling, progress, resume, shards.

One job per (assignment, student). Jobs run in a pool of worker threads (default: one per
core); each takes a sandbox slot (its own system account when running as root), runs the
trusted pre-steps, executes each notebook in the sandbox, then runs the post-steps. All
gradebook access is serialized by one lock; execution, the slow part, runs in parallel.

Resume: after a submission's scores are committed, one transaction records its key (hash of
the submitted files, of the source and of the grader version). A batch killed at any moment
(even ``kill -9``) is rerun with the same command: submissions whose key is recorded are
skipped, the others are graded again from scratch, and the gradebook ends the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labs.errors import BadValueError, LabsError
from labs.stack import confine, gate, rights

from . import autograde, execute, firewall, kafka_clients, pool, spark_sessions, view
from . import gradebook as gbook
from .course import Course, cpu_count
from .files import write_atomic
from .release import generate, secret_text

GRADER_VERSION = "labs-grade-1"


@dataclass
class RunHooks:
    """What the batch does around each notebook run: ``provision(run_id)`` gives the run's extra
    environment, ``finish(run_id)`` removes what it left and returns notes for the gradebook.
    The default works on the course's local stack (labs.runs) and gives each run a Spark Connect
    session that is released when it ends (spark_sessions)."""
    provision: Callable[[str], dict] = spark_sessions.provision
    finish: Callable[[str], list[str]] = spark_sessions.finish


@dataclass
class Options:
    students: str = "*"
    workers: int = 0
    force: bool = False
    shard: tuple[int, int] | None = None
    limits: execute.Limits = field(default_factory=execute.Limits)
    feedback: bool = True
    progress: bool = True
    hooks: RunHooks = field(default_factory=RunHooks)
    private_view: str = "auto"  # labs.grading.view: auto (when it works), on (required), off
    warm: bool = True  # labs.grading.pool: start each slot's next runner while its current notebook runs
    fork: bool = True  # labs.grading.zygote: fork a slot's runners and kernels from a process that imported them


@dataclass
class Summary:
    graded: int = 0
    skipped: int = 0
    statuses: Counter = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)
    wall: float = 0.0
    messages: list[str] = field(default_factory=list)
    warm_starts: int = 0  # notebooks whose runner was started ahead of them
    forked: bool = False  # whether runners were forked from zygotes


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise BadValueError(f"--shard {text!r}: expected K/N, for example 1/3") from None
    if not (n >= 1 and 1 <= k <= n):
        raise BadValueError(f"--shard {text!r}: K must be between 1 and N, for example 1/3")
    return k, n


def in_shard(student: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic split of students into N shards (same answer on every machine)."""
    if shard is None:
        return True
    k, n = shard
    # md5 as a stable, evenly spread split key (not for security)
    return int(hashlib.md5(student.encode()).hexdigest(), 16) % n == k - 1


def prepare(course: Course, assignment: str, workdir: Path) -> autograde.AssignmentSpec:
    """Sync the gradebook with source/ (nbgrader's generate_assignment into a temp folder)."""
    release_root = workdir / "release"
    generate(course, assignment, release_root=release_root)
    released = {p.stem: nbformat.read(p, as_version=4) for p in sorted((release_root / assignment).glob("*.ipynb"))}
    digest = hashlib.sha256()
    src_dir = course.source_dir / assignment
    supporting, hidden, solution = [], set(), set()
    for path in sorted(p for p in src_dir.rglob("*") if p.is_file()):
        rel = str(path.relative_to(src_dir))
        if ".ipynb_checkpoints" in path.parts or "__pycache__" in path.parts:
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
        if path.suffix == ".ipynb":
            secrets = secret_text(course, nbformat.read(path, as_version=4))
            hidden |= secrets.hidden
            solution |= secrets.solution
        else:
            supporting.append((path, rel))
    return autograde.AssignmentSpec(name=assignment, released=released, source_hash=digest.hexdigest(),
                                    supporting_files=supporting, hidden_lines=hidden, solution_lines=solution)


def submission_key(course: Course, spec: autograde.AssignmentSpec, student: str) -> str:
    digest = hashlib.sha256(f"{GRADER_VERSION}\0{spec.source_hash}\0".encode())
    folder = course.submission_dir(student, spec.name)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _timestamp(course: Course, folder: Path):
    try:
        return course.coursedir().get_existing_timestamp(str(folder))
    except (Exception, SystemExit):  # noqa: BLE001 (an unreadable timestamp.txt is ignored)
        return None


def _extra_files(course: Course, spec: autograde.AssignmentSpec, student: str) -> list[tuple[Path, str]]:
    """Submitted non-notebook files, then the source's supporting files on top (like nbgrader)."""
    folder = course.submission_dir(student, spec.name)
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".ipynb"):
        if path.name != "timestamp.txt" and path.stat().st_size < 50 * 1024 * 1024:
            files[str(path.relative_to(folder))] = path
    for src, rel in spec.supporting_files:
        files[rel] = src
    return [(path, rel) for rel, path in files.items()]


def grade_submission(course: Course, spec: autograde.AssignmentSpec, student: str, key: str,
                     borrow: Callable[[], contextlib.AbstractContextManager[pool.Slot]], lock: threading.Lock,
                     feedback: bool = True) -> dict:
    """Grade one submission end to end; returns {status, duration, notebooks}.

    Each notebook runs on a worker slot that ``borrow()`` lends for the run alone: the slot goes
    back as soon as the run's processes are killed, so the next notebook starts on it while
    this one's session, stack names and principal are removed and its scores written."""
    from . import feedback as fb

    started = time.monotonic()
    folder = course.submission_dir(student, spec.name)
    timestamp = _timestamp(course, folder)
    extra = _extra_files(course, spec, student)
    outcomes = []
    for name in spec.released:
        outcome = autograde.NotebookOutcome(notebook=name)
        path = folder / f"{name}.ipynb"
        nb_started = time.monotonic()
        try:
            if not path.exists():
                outcome.status = "missing"
                outcome.notes.append(f"{name}.ipynb was not submitted")
                with lock:
                    outcome.tests = autograde.zero_notebook(course, spec.name, student, name, timestamp)
                outcomes.append(outcome)
                continue
            raw = path.read_bytes()  # work on a copy: the submitted file is never written
            try:
                with lock:
                    nb, tampered, notes = autograde.sanitize(course, spec, student, name, raw)
            except autograde.CorruptedNotebook as exc:
                outcome.status, outcome.flagged = "corrupted", True
                outcome.notes.append(str(exc))
                with lock:
                    outcome.tests = autograde.zero_notebook(course, spec.name, student, name, timestamp)
                    autograde.set_flag(course, spec.name, student, name, True)
                outcomes.append(outcome)
                continue
            outcome.notes.extend(notes)
            log_path = course.log_file(student, spec.name, name)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            runner = None
            try:
                with borrow() as slot:
                    runner = slot.take(nb.metadata.get("kernelspec", {}).get("name"))
                    run = execute.finish(runner, nb, supporting_files=extra, log_path=log_path)
            finally:  # after the slot went back: the run's clean-up overlaps the slot's next run
                if runner is not None:
                    outcome.notes.extend(slot.finish_run(runner.run_id))
            why = "the notebook hit its deadline" if run.deadline_hit else "the kernel stopped before it"
            executed = autograde.merge_results(nb, run, why)
            status, run_notes = autograde.status_of(run, executed)
            if status == "ok" and tampered:
                status = "tampered"
            outcome.status = status
            outcome.notes.extend(run_notes)
            outcome.flagged = tampered or any(n.startswith("suspicious") for n in outcome.notes)
            with lock:
                executed, outcome.tests = autograde.score_and_save(course, spec, student, name, executed, timestamp)
                autograde.set_flag(course, spec.name, student, name, outcome.flagged)
            outcome.executed = executed
            write_atomic(course.autograded_notebook(student, spec.name, name), nbformat.writes(executed), 0o444)
        except Exception as exc:  # noqa: BLE001 (one broken notebook must not stop the batch)
            outcome.status, outcome.flagged = "error", True
            outcome.notes.append(f"grader error: {type(exc).__name__}: {exc}")
            try:
                with lock:
                    outcome.tests = autograde.zero_notebook(course, spec.name, student, name, timestamp)
                    autograde.set_flag(course, spec.name, student, name, True)
            except Exception as inner:  # noqa: BLE001
                outcome.notes.append(f"could not record a zero score: {inner}")
        finally:
            outcome.duration = time.monotonic() - nb_started
        outcomes.append(outcome)
    status = autograde.worst([o.status for o in outcomes])
    duration = time.monotonic() - started
    if feedback:
        fb.write_feedback(course, spec, student, outcomes)
    with lock:
        gbook.record(course.db_url, spec.name, student, key, status, duration, [o.to_row() for o in outcomes])
    return {"status": status, "duration": duration, "notebooks": [o.to_row() for o in outcomes]}


@contextlib.contextmanager
def _batch_lock(course: Course):
    course.autograded_dir.mkdir(parents=True, exist_ok=True)
    path = course.autograded_dir / ".labs-grade.lock"
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabsError(f"another `labs grade` is running on this course ({path}); wait until it ends, "
                            "or grade a copy of the course") from None
        yield


def _cleanup_stale(accounts: list[execute.Account]) -> None:
    """Processes and work dirs left by a batch that was killed (kill -9) before it cleaned up.
    Each account is cleaned while holding its lock: a run of another grader on this machine is
    waited for, never killed."""
    for account in accounts:
        if not account.dedicated:
            continue
        with execute.account_lock(account):
            execute.kill_account(account)
            for base in confine.runs_folder().glob("labs-grade-*"):
                with contextlib.suppress(OSError):
                    if (base / "work").stat().st_uid == account.uid:
                        shutil.rmtree(base, ignore_errors=True)


def grade(course: Course, assignments: list[str], options: Options, log=None) -> Summary:
    """Grade every (assignment, student) selected; returns counts and run times."""
    from tqdm import tqdm

    log = log or (lambda msg: print(msg, file=sys.stderr))
    summary = Summary()
    workers = options.workers or cpu_count()
    started = time.monotonic()
    prefixes = sorted({name.split("_")[0] for name in assignments})

    def provision(run_id: str) -> dict:
        env = options.hooks.provision(run_id)
        mine = [f"{tag}-{run_id}" for tag in prefixes]
        return {**env, **rights.grant(run_id, mine), "LABS_RUN_PREFIXES": ",".join(mine)}

    def finish(run_id: str) -> list[str]:
        return options.hooks.finish(run_id) + rights.revoke(run_id)

    with (_batch_lock(course), tempfile.TemporaryDirectory(prefix="labs-grade-prep-") as tmp,
          contextlib.ExitStack() as cleanup):
        # two accounts a slot, taking turns (labs.grading.pool)
        accounts = [execute.sandbox_account(n) for n in range(2 * workers)]
        execute.ensure_python_access(accounts[0], log=log)  # the view is tried as the first account
        private_view = view.decide(options.private_view, accounts[0].uid, accounts[0].gid, log)
        zygotes = None
        if options.fork and pool.zygote_possible(private_view):
            zygotes = pool.Zygotes([], private_view=private_view, log=log)
            cleanup.callback(zygotes.close)
            zygotes.begin()  # it imports the runner's and the kernel's modules while the batch gets ready
        elif options.fork:
            log("note: every runner starts as a new Python: forking runners into a private view needs root")
        for context in (rights.grading(), kafka_clients.admin_clients(), rights.grader_database(),
                        rights.run_principals(), gate.grader_direct(), gbook.shared_engines()):
            cleanup.enter_context(context)
        gbook.ensure(course.db_url)
        if os.geteuid() == 0:
            execute.protect([course.source_dir, course.submitted_dir, course.autograded_dir, course.feedback_dir]
                            + ([course.db_path] if course.db_path else []))
        else:
            log("note: not running as root, so student code runs under your own account "
                "(limits and a separate working directory still apply)")
        jobs, specs = [], []
        for assignment in assignments:
            spec = prepare(course, assignment, Path(tmp) / assignment)
            specs.append(spec)
            done = gbook.graded_keys(course.db_url, assignment)
            for student in course.students(assignment, options.students):
                if not in_shard(student, options.shard):
                    continue
                key = submission_key(course, spec, student)
                if not options.force and done.get(student) == key:
                    summary.skipped += 1
                    continue
                jobs.append((spec, student, key))
        lock = threading.Lock()
        left = [len(jobs)]  # submissions not started yet: a slot warms a runner only when one is left

        def more() -> bool:
            with lock:
                return left[0] > 0

        slots: queue.Queue = queue.Queue()
        preload = pool.preload_modules(nb for spec in specs for nb in spec.released.values()) \
            if options.warm or options.fork else []
        if zygotes is not None:
            if jobs:
                zygotes.load(preload)  # the notebooks' modules, before the first run is forked
            else:
                zygotes.close()
                zygotes = None
        execute.ensure_python_access_all(accounts[1:], log=log)
        firewall.shut(accounts, log=log)
        _cleanup_stale(accounts)
        made = [pool.Slot((accounts[2 * n], accounts[2 * n + 1]), options.limits, provision=provision,
                          finish=finish, private_view=private_view, warm=options.warm, more=more,
                          preload=preload, zygotes=zygotes, log=log)
                for n in range(workers)]
        for slot in made:
            slots.put(slot)

        def work(spec, student, key):
            started = []

            @contextlib.contextmanager
            def borrow():
                slot = slots.get()
                if not started:  # the submission's first run: one submission fewer left to warm for
                    started.append(slot)
                    with lock:
                        left[0] -= 1
                try:
                    yield slot
                finally:
                    slots.put(slot)

            try:
                return grade_submission(course, spec, student, key, borrow, lock, feedback=options.feedback)
            finally:
                if not started:  # nothing of it ran (missing, corrupted)
                    with lock:
                        left[0] -= 1

        bar = tqdm(total=len(jobs), unit="submission", desc="grading", disable=not options.progress or None,
                   file=sys.stderr, dynamic_ncols=True)
        try:
            # twice as many threads as slots: while one notebook's run is cleaned up and scored,
            # the next one runs on its slot
            with ThreadPoolExecutor(max_workers=2 * workers) as executor:
                futures = {executor.submit(work, *job): job for job in jobs}
                for future in as_completed(futures):
                    spec, student, _ = futures[future]
                    try:
                        result = future.result()
                    except Exception as exc:  # noqa: BLE001
                        summary.statuses["error"] += 1
                        summary.messages.append(f"{spec.name}/{student}: {type(exc).__name__}: {exc}")
                    else:
                        summary.graded += 1
                        summary.durations.append(result["duration"])
                        for row in result["notebooks"]:
                            summary.statuses[row["status"]] += 1
                    bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in sorted(summary.statuses.items())))
                    bar.update(1)
        finally:
            bar.close()
            for slot in made:
                summary.messages.extend(slot.close())
            summary.warm_starts = sum(slot.warm_hits for slot in made)
            summary.forked = zygotes is not None and zygotes.enabled
    summary.wall = time.monotonic() - started
    return summary

"""Runners forked from a slot's zygote (labs.grading.zygote): the same view, account and limits as
a runner started anew, nothing of one run in the next, and the kernel a fresh one to the notebook."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from labs.grading import execute, pool, view
from labs.grading.limits import Limits

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
LIMITS = Limits(cell_timeout=30, notebook_timeout=90)

PROBE = r'''
import hashlib, json, os, socket, sys, resource
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
def found(digest):
    """Whether a 32-hex-digit text whose sha256 is ``digest`` is anywhere in this process's
    writable memory (searched by its digest, so the search itself does not hold it)."""
    import hashlib, re
    pattern = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("rw"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            if end - start > 1 << 28:
                continue
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            if any(hashlib.sha256(m.group()).hexdigest() == digest for m in pattern.finditer(chunk)):
                return True
    return False
try:
    others = sorted(os.listdir(os.path.dirname(os.getcwd().rstrip("/").rsplit("/", 1)[0])))
except OSError as exc:
    others = type(exc).__name__
import multiprocessing, numpy
multiprocessing.get_context("fork").Lock()  # a POSIX semaphore, in /dev/shm
shared = {d: sorted(os.listdir(d)) for d in ("/dev/shm", "/var/tmp")}
for d in shared:
    open(os.path.join(d, "left-by-" + str(os.getuid())), "w").write("x")
print(json.dumps({
    "shared": shared,
    "uid": os.getuid(), "cap_eff": status["CapEff"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "host": socket.gethostname(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "host_runs": os.listdir("/.labs-host-runs") if os.path.exists("/.labs-host-runs") else [],
    "tmp": sorted(os.listdir("/tmp")), "runs": others,
    "as": resource.getrlimit(resource.RLIMIT_AS)[0], "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    "secret": os.environ.get("LABS_TEST_SECRET"), "cwd": os.getcwd(), "path0": sys.path[0],
    "earlier_secret_in_memory": found(os.environ.get("LABS_TEST_EARLIER", "")),
    "own_secret_in_memory": found(hashlib.sha256(os.environ["LABS_TEST_SECRET"].encode()).hexdigest()),
    "random": __import__("random").random(), "numpy_random": float(numpy.random.rand()),
    "preloaded": "colorsys" in sys.modules,
}))
open("mine.txt", "w").write("x")
'''


def _probe(run) -> dict:
    import json

    cell = run.cells[0]
    text = "".join(o.get("text", "") for o in cell.get("outputs", []))
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors and text, (errors, run.log_tail[-3000:])
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.skipif(os.geteuid() != 0 or view.problem() is not None, reason="needs root and bubblewrap")
def test_forked_runs_get_the_view_account_and_limits_and_nothing_of_the_run_before(tmp_path):
    accounts = (execute.sandbox_account(0), execute.sandbox_account(1))
    for account in accounts:
        execute.ensure_python_access(account)
    secrets_given: list[str] = []

    def provision(run_id):
        secret = secrets.token_hex(16)
        earlier = hashlib.sha256(secrets_given[-1].encode()).hexdigest() if secrets_given else ""
        secrets_given.append(secret)
        return {"LABS_TEST_SECRET": secret, "LABS_TEST_EARLIER": earlier}

    slot = pool.Slot(accounts, LIMITS, provision=provision, finish=lambda rid: [], more=lambda: True,
                     preload=["colorsys", "numpy"], private_view=True, fork=True)
    assert slot.fork, "root with bubblewrap: runs are forked"
    probes = []
    try:
        for _ in range(3):
            runner = slot.take("python3")
            assert isinstance(runner.proc, execute.ForkedRun), "the runner was started anew, not forked"
            run = execute.finish(runner, new_notebook(cells=[new_code_cell(PROBE)], metadata=KERNEL))
            assert run.finished and not run.deadline_hit, run.log_tail[-3000:]
            probes.append(_probe(run))
    finally:
        slot.close()
    for probe, account, secret in zip(probes, [accounts[0], accounts[1], accounts[0]], secrets_given[:3], strict=True):
        assert probe["uid"] == account.uid
        assert probe["cap_eff"] == "0000000000000000" and probe["no_new_privs"] == "1"
        assert probe["host"] == "labs-sandbox"
        assert max(probe["pids"]) < 20, probe["pids"]  # its own process namespace
        assert probe["host_runs"] == [], "the zygote's view of every run's folder reached the run"
        # a private /tmp, holding only the way to its own folder (and to the course's Python, when
        # the course is checked out under /tmp, as a runner started anew sees it too)
        assert probe["tmp"] == sorted({"labs-runs"} | {p.relative_to("/tmp").parts[0] for p in view.readonly_paths()
                                                       if Path("/tmp") in p.parents})
        assert probe["runs"] == "PermissionError"  # other runs' folders cannot be listed
        assert probe["as"] == LIMITS.memory_mb * 1024 * 1024 and probe["nproc"] == LIMITS.processes
        assert probe["secret"] == secret  # its own environment, not the zygote's
        assert probe["path0"] == probe["cwd"]  # modules next to the notebook import, as in `python -m`
        assert probe["preloaded"]
        assert probe["shared"] == {"/dev/shm": [], "/var/tmp": []}  # its own: nothing left by the run before
    # the request of a run (its credentials) never passes through the zygote, so the next run,
    # forked from the same zygote, cannot find it in the memory it inherits
    assert [p["earlier_secret_in_memory"] for p in probes[1:]] == [False, False]
    assert all(p["own_secret_in_memory"] for p in probes)  # the control: the search finds what is there
    assert len({p["random"] for p in probes}) == 3 and len({p["numpy_random"] for p in probes}) == 3
    assert len({p["cwd"] for p in probes}) == 3


def test_a_zygote_that_cannot_start_leaves_the_slot_starting_runners_anew(monkeypatch):
    notes = []

    def broken(*args, **kwargs):
        raise RuntimeError("importing x started a thread; a zygote must stay single-threaded")

    monkeypatch.setattr(execute, "start_zygote", broken)
    accounts = (execute.sandbox_account(0), execute.sandbox_account(1))
    slot = pool.Slot(accounts, LIMITS, provision=lambda rid: {}, finish=lambda rid: [], more=lambda: False,
                     fork=True, log=notes.append)
    try:
        runner = slot.take("python3")
        assert not isinstance(runner.proc, execute.ForkedRun)
        run = execute.finish(runner, new_notebook(cells=[new_code_cell("print(6 * 7)")], metadata=KERNEL))
    finally:
        slot.close()
    assert "42" in "".join(o.get("text", "") for o in run.cells[0].get("outputs", []))
    assert not slot.fork and len(notes) == 1 and "started a thread" in notes[0], notes


@pytest.mark.skipif(os.geteuid() != 0 or view.problem() is not None, reason="needs root and bubblewrap")
def test_the_slots_of_a_batch_share_one_zygote_that_outlives_the_threads_using_it_and_loads_late():
    """Two slots fork from the batch's one zygote, each run taken from a thread that then ends (as
    the grader's worker threads do): bubblewrap's --die-with-parent must not end the zygote with
    the thread that first asked for it."""
    import threading

    accounts = [execute.sandbox_account(n) for n in range(4)]
    for account in accounts:
        execute.ensure_python_access(account)
    zygotes = pool.Zygotes([], private_view=True)
    zygotes.begin()  # the runner's and the kernel's modules, as a batch starts
    zygotes.load(["numpy", "colorsys"])  # the notebooks' modules, once the batch knows them
    slots = [pool.Slot(tuple(accounts[2 * n:2 * n + 2]), LIMITS, provision=lambda rid: {}, finish=lambda rid: [],
                       more=lambda: False, private_view=True, zygotes=zygotes) for n in range(2)]
    runs, pids = [], set()

    def one(slot):
        runner = slot.take("python3")
        cell = new_code_cell("import sys\nprint(6 * 7, 'numpy' in sys.modules, 'colorsys' in sys.modules)")
        runs.append((runner, execute.finish(runner, new_notebook(cells=[cell], metadata=KERNEL))))
        pids.add(zygotes.get().proc.pid)

    try:
        for slot in [*slots, *slots]:
            thread = threading.Thread(target=one, args=(slot,))
            thread.start()
            thread.join()
    finally:
        for slot in slots:
            slot.close()
        zygotes.close()
    assert len(runs) == 4 and len(pids) == 1, pids  # one zygote for both slots, never started again
    for runner, run in runs:
        assert isinstance(runner.proc, execute.ForkedRun)
        # numpy was imported by the zygote (load); colorsys is not among the modules it may import
        assert "42 True False" in "".join(o.get("text", "") for o in run.cells[0].get("outputs", [])), \
            run.log_tail[-2000:]

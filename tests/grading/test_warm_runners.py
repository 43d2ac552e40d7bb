"""Warm runners (labs.grading.pool): a slot starts its next runner while the current notebook
runs, on the other of its two accounts; nothing of a runner serves two notebooks."""

from __future__ import annotations

import time

import nbformat
import psutil
from nbformat.v4 import new_code_cell, new_notebook

from labs.grading import execute, pool
from labs.grading.limits import Limits
from labs.grading.runner import cell_timeouts

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
LIMITS = Limits(cell_timeout=20, notebook_timeout=60)


def probe_notebook(label: str):
    """Prints what would leak between two notebooks if anything were reused."""
    return new_notebook(cells=[new_code_cell(
        "import os\n"
        f"print('label=' + {label!r})\n"
        "print(f'pid={os.getpid()}')\nprint(f'cwd={os.getcwd()}')\nprint(f'uid={os.getuid()}')\n"
        "print(f\"run={os.environ.get('LABS_RUN_ID')}\")\n"
        "print(f\"seen={'secret' in globals()} {sorted(os.listdir('.'))}\")\n"
        "import sys\n"
        "print(f\"preloaded={'colorsys' in sys.modules} {[n for n in globals() if 'labs' in n]} {len(In)}\")\n"
        "secret = 42\n"
        "open('mine.txt', 'w').write('x')")], metadata=KERNEL)


def _output(run: execute.RunResult) -> str:
    cell = run.cells[0]
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def test_each_notebook_gets_its_own_kernel_folder_account_and_run(tmp_path):
    accounts = (execute.sandbox_account(0), execute.sandbox_account(1))
    provisioned, finished = [], []
    slot = pool.Slot(accounts, LIMITS, provision=lambda rid: provisioned.append(rid) or {},
                     finish=lambda rid: finished.append(rid) or [], more=lambda: True, preload=["colorsys"])
    outputs, run_ids, logs = [], [], []
    try:
        for label in ("first", "second", "third"):
            runner = slot.take("python3")
            run = execute.finish(runner, probe_notebook(label))
            slot.finish_run(runner.run_id)
            assert run.finished and not run.deadline_hit, run
            outputs.append(_output(run))
            run_ids.append(runner.run_id)
            logs.append(run.log_tail)
    finally:
        notes = slot.close()
    assert notes == []
    assert slot.warm_hits == 2 and slot.cold_starts == 1
    lines = [dict(line.split("=", 1) for line in out.strip().splitlines()) for out in outputs]
    assert [line["label"] for line in lines] == ["first", "second", "third"]
    assert all(line["seen"].startswith("False") and "mine.txt" not in line["seen"] for line in lines), lines
    # preloaded modules are imported, without a name or a history entry in the notebook
    assert [line["preloaded"] for line in lines] == ["True [] 2"] * 3, "runner logs:\n" + "\n---\n".join(logs)
    assert len({line["pid"] for line in lines}) == 3
    assert len({line["cwd"] for line in lines}) == 3  # a fresh folder each time
    assert [line["run"] for line in lines] == run_ids and len(set(run_ids)) == 3
    if accounts[0].dedicated:  # the accounts take turns
        uids = [int(line["uid"]) for line in lines]
        assert uids == [accounts[0].uid, accounts[1].uid, accounts[0].uid]
    # the runner warmed for a fourth notebook was discarded and its run finished
    assert len(provisioned) == 4 and sorted(finished) == sorted(provisioned)
    deadline = time.monotonic() + 5
    while (left := [p.info for p in psutil.process_iter(["username", "status", "cmdline"])
                    if (p.info["username"] or "").startswith(execute.ACCOUNT_PREFIX)
                    and p.info["status"] != psutil.STATUS_ZOMBIE]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []


def test_a_notebook_may_shorten_its_cells_limit_but_never_lengthen_it():
    nb = new_notebook(cells=[new_code_cell("1")])
    assert cell_timeouts(nb, 120)(nb.cells[0]) == 120
    nb.metadata["labs"] = {"cell_timeout": 10}
    assert cell_timeouts(nb, 120)(nb.cells[0]) == 10
    nb.metadata["labs"] = {"cell_timeout": 100000}
    assert cell_timeouts(nb, 120)(nb.cells[0]) == 120
    for bad in (0, -5, True, "3", 2.5):
        nb.metadata["labs"] = {"cell_timeout": bad}
        assert cell_timeouts(nb, 120)(nb.cells[0]) == 120
    assert cell_timeouts(nbformat.from_dict(nb), None)(nb.cells[0]) is None  # 2.5 is no int: no limit given


def test_the_modules_worth_preloading_are_the_notebooks_imports_and_what_they_import_late():
    nb = new_notebook(cells=[
        new_code_cell("import numpy as np, json\nfrom labs import spark as labs_spark\n"
                      "from collections import Counter"),
        new_code_cell("%matplotlib inline\nimport not_a_module_anywhere\nfrom . import relative"),
        new_code_cell("def broken(:")])
    got = pool.preload_modules([nb])
    assert got[:2] == ["numpy", "json"]
    assert "labs.spark" in got and got.index("pyspark.sql.connect.session") == got.index("labs.spark") + 1
    assert "collections" in got and "collections.Counter" not in got  # a class, not a module
    assert "not_a_module_anywhere" not in got and len(got) == len(set(got))
    other = new_notebook(cells=[new_code_cell("import json\nimport duckdb")])
    assert "numpy.linalg" not in got
    both = pool.preload_modules([nb, other])   # a batch of two labs: only what both import
    assert both == ["json"], both


def test_choosing_what_to_preload_imports_nothing_in_the_grader():
    """Airflow configures the process that imports it (logging, a home folder): finding out that
    `airflow.sdk` exists must not import `airflow` in the grader."""
    import subprocess
    import sys

    code = ("import sys, nbformat\n"
            "from nbformat.v4 import new_code_cell, new_notebook\n"
            "from labs.grading import pool\n"
            "nb = new_notebook(cells=[new_code_cell('import dagster as dg\\nfrom airflow.sdk import DAG, task\\n"
            "from sklearn.linear_model import LogisticRegression')])\n"
            "got = pool.preload_modules([nb])\n"
            "print(got, sorted(m for m in ('airflow', 'dagster', 'sklearn') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['dagster', 'airflow.sdk', 'sklearn.linear_model'] []", done.stdout


def test_workers_auto_is_one_per_core_unless_memory_is_short():
    import pytest

    from labs.errors import BadValueError
    from labs.grading.commands import _workers
    from labs.grading.course import auto_workers

    assert auto_workers(2048, cores=8, available_mb=64_000) == 8
    assert auto_workers(2048, cores=8, available_mb=8_000) == 2  # 6000 MB for slots of 2348 MB
    assert auto_workers(2048, cores=8, available_mb=500) == 1
    assert _workers("3", LIMITS) == 3 and 1 <= _workers("auto", LIMITS)
    for bad in ("0", "-1", "many"):
        with pytest.raises(BadValueError, match="--workers"):
            _workers(bad, LIMITS)

"""One notebook run: its id, the names of everything it creates, and its clean-up.

Every run of a lab has a run id (8 hex digits). Everything the run creates on the shared stack
carries it, so two runs (two students graded side by side, a notebook run twice) never meet,
and what a run left behind can be found and removed by name alone:

    run = runs.current("c1")          # in the setup cell
    run.topic("orders")               # 'c1-<id>-orders'       topics, consumer groups, transactional ids
    run.database("sink")              # 'c1_<id>_sink'         MariaDB databases (run.database(): 'c1_<id>')
    run.connector("main")             # 'c1-<id>-main'         Kafka Connect connectors
    run.subject("orders-value")       # 'c1-<id>-orders-value' schema registry subjects
    run.query("totals")               # 'c1_<id>_totals'       Spark query and table names
    run.path("lake")                  # <work dir>/runs/c1-<id>/lake: files, lake tables, private services
    run.clean()                       # in the closing cell: stop its streams, remove all of the above

The grader gives each graded notebook its id through ``LABS_RUN_ID`` and removes what the run
left afterwards (``labs sweep --run ID`` by hand).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from labs import config
from labs.errors import BadValueError

ID = r"[0-9a-f]{8}"
RUN_ID = re.compile(rf"^{ID}$")
LAB = re.compile(r"^[a-z]\d*$")
# What a run may create: a lab prefix (s1, c1, d, ...) then a run id, or the grader's own per-run
# database and account (labs_<id>, run_<id>). Nothing else is ever swept.
RESOURCE = re.compile(rf"^([a-z]\d*[-_]{ID}(?![0-9a-f])|(labs|run)_{ID}$)")


def new_id() -> str:
    """A fresh run id."""
    return secrets.token_hex(4)


def check_id(run_id: str) -> str:
    """``run_id`` itself, or an error when it is not 8 lowercase hex digits."""
    if not RUN_ID.match(run_id or ""):
        raise BadValueError(f"run id {run_id!r}: expected 8 lowercase hex digits, as printed by the notebook's setup")
    return run_id


def current_id() -> str:
    """``LABS_RUN_ID`` when set (the grader sets it), else a fresh id."""
    given = os.environ.get("LABS_RUN_ID", "")
    if given and not RUN_ID.match(given):
        raise BadValueError(f"LABS_RUN_ID={given!r}: expected 8 lowercase hex digits (or unset it)")
    return given or new_id()


def matcher(run_id: str | None = None):
    """``name -> bool``: names created by run ``run_id``, or by any run when None."""
    if run_id is None:
        return lambda name: bool(RESOURCE.match(name))
    check_id(run_id)
    return lambda name: run_id in name and bool(RESOURCE.match(name))


def account(run_id: str) -> str:
    """The grader's MariaDB account for one run."""
    return f"run_{check_id(run_id)}"


def home_database(run_id: str) -> str:
    """The database a run's own account starts in."""
    return f"labs_{check_id(run_id)}"


@dataclass(frozen=True)
class Run:
    lab: str  # the lab's short prefix: s1, c1, d, ...
    id: str

    def __post_init__(self):
        if not LAB.match(self.lab):
            raise BadValueError(f"lab prefix {self.lab!r}: expected a letter and optional digits, e.g. 's2' or 'd'")
        check_id(self.id)

    @property
    def prefix(self) -> str:
        return f"{self.lab}-{self.id}"

    def _dashed(self, name: str) -> str:
        return f"{self.prefix}-{name}" if name else self.prefix

    def _underscored(self, name: str) -> str:
        base = f"{self.lab}_{self.id}"
        return f"{base}_{name}" if name else base

    def topic(self, name: str) -> str:
        return self._dashed(name)

    def group(self, name: str) -> str:
        return self._dashed(name)

    def transactional_id(self, name: str) -> str:
        return self._dashed(name)

    def connector(self, name: str = "") -> str:
        return self._dashed(name)

    def subject(self, name: str) -> str:
        return self._dashed(name)

    def database(self, name: str = "") -> str:
        return self._underscored(name)

    def query(self, name: str) -> str:
        return self._underscored(name)

    def path(self, name: str = "") -> Path:
        """A folder of this run under the work directory (created on first use)."""
        folder = config.work_dir() / "runs" / self.prefix
        target = folder / name if name else folder
        target.mkdir(parents=True, exist_ok=True)
        return target

    def clean(self, verbose: bool = True):
        """Stop this kernel's Spark streaming queries, then remove everything named after the run."""
        from labs import sweep

        stopped = _stop_spark_streams()
        swept = sweep.sweep(self.id)
        shutil.rmtree(config.work_dir() / "runs" / self.prefix, ignore_errors=True)
        if verbose:
            print(f"run {self.id}: stopped {stopped} streaming quer{'y' if stopped == 1 else 'ies'}, "
                  f"removed {swept.summary()}")
            for error in swept.errors:
                print(f"could not remove {error}; run `labs sweep --run {self.id}` later")
        return swept


def provision(run_id: str) -> dict:
    """Extra environment of a graded run (when MariaDB answers): a DSN for an account that may only
    touch databases named after the run. ``finish`` removes it."""
    from labs import sweep

    return sweep.run_environment(run_id)


def finish(run_id: str) -> list[str]:
    """Remove what a finished graded run left on the stack; returns notes for its gradebook entry."""
    from labs import sweep

    swept = sweep.sweep(run_id)
    home = home_database(run_id)  # the grader's own, not left by the run
    left = [n for n in swept.connectors + swept.topics + swept.databases if n != home]
    notes = []
    if left:
        more = f" and {len(left) - 8} more" if len(left) > 8 else ""
        notes.append(f"removed what the run left on the stack: {', '.join(left[:8])}{more}")
    notes += [f"could not remove what the run left: {error}" for error in swept.errors]
    return notes


def current(lab: str) -> Run:
    """The run of this notebook (see ``current_id``)."""
    return Run(lab, current_id())


def _stop_spark_streams() -> int:
    """Stop the active streaming queries of the Spark session this kernel uses (if it uses one)."""
    if "pyspark" not in sys.modules:
        return 0
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        return 0
    active = list(session.streams.active)
    for query in active:
        query.stop()
    return len(active)

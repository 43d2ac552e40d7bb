"""Warm runners: each worker slot starts the runner of its next notebook while the current
one runs, so a notebook does not wait for an interpreter, its imports and a kernel to start.

A slot owns two sandbox accounts that take turns: the one running a notebook is killed whole
(every process of the account) when the notebook ends, which must not touch the runner
warming up for the next notebook, so that runner belongs to the other account. A warm runner
is a fresh process with a fresh kernel in a fresh folder, made for one notebook and never
reused: what is saved is waiting, not isolation. Its run id is provisioned on the stack when
it starts (so its environment is complete before its kernel starts) and finished after its
notebook, or when the batch ends without giving it one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from labs import runs

from . import execute
from .limits import Limits


class Zygotes:
    """The zygote the slots of a batch fork their runs from (``labs.grading.zygote``): one for all
    of them, since its imports cost a CPU second and a fork a few milliseconds, taken in turn.
    ``begin`` starts it in the background as soon as the batch knows whether runs get a private
    view (it imports the runner's and the kernel's modules meanwhile); ``load`` adds the batch's
    notebook modules once they are known. It is started again if it dies. When it cannot start,
    that is said once and every slot starts its runners anew. It is always started from one
    thread that lives until ``close``: bubblewrap's ``--die-with-parent`` ends the zygote when the
    thread that started it ends."""

    def __init__(self, preload: list[str], *, private_view: bool, log: Callable[[str], None] = lambda msg: None):
        self.preload = list(preload)
        self.private_view = private_view
        self.log = log
        self.enabled = zygote_possible(private_view)
        self.zygote = None
        self.starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labs-zygote")

    def begin(self) -> None:
        """Start the zygote now, in the background (``get`` waits for it)."""
        if self.enabled:
            self.starter.submit(self._ready)

    def load(self, modules: list[str]) -> None:
        """Have the zygote import ``modules`` too, in the background, before any run is forked."""
        self.preload = list(modules)
        if self.enabled:
            self.starter.submit(self._load)

    def get(self):
        """The zygote (started on first use), or None: without one, or when it cannot start."""
        return self.starter.submit(self._ready).result() if self.enabled else None

    def _ready(self):
        if not self.enabled:
            return None
        if self.zygote is None or not self.zygote.alive():
            try:
                self.zygote = execute.start_zygote(self.preload, private_view=self.private_view)
            except (RuntimeError, OSError) as exc:
                self._give_up(exc)
        return self.zygote

    def _load(self) -> None:
        zygote = self._ready()
        if zygote is not None:
            try:
                zygote.load(self.preload)
            except (RuntimeError, OSError) as exc:
                self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        self.enabled = False
        self.log(f"note: runners start anew, without a zygote ({exc})")
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None

    def close(self) -> None:
        self.starter.shutdown(wait=True)
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None


class Slot:
    """One worker slot: ``take`` returns a runner for the next notebook (warm when the slot had
    time to start one) and starts warming the following one when ``more()`` says work is left.
    Its runs are forked from ``zygotes`` (the batch's), or, with ``fork`` and none given, from a
    zygote of its own."""

    def __init__(self, accounts: tuple[execute.Account, execute.Account], limits: Limits, *,
                 provision: Callable[[str], dict], finish: Callable[[str], list[str]],
                 private_view: bool = False, warm: bool = True, more: Callable[[], bool] = lambda: True,
                 preload: list[str] = (), fork: bool = False, zygotes: Zygotes | None = None,
                 log: Callable[[str], None] = lambda msg: None):
        self.accounts = accounts
        self.limits = limits
        self.provision = provision
        self.finish_run = finish
        self.private_view = private_view
        self.warm = warm
        self.more = more
        self.preload = list(preload)
        self.turn = 0
        self.pending: Future | None = None
        self.starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labs-warm")
        self.warm_hits = 0
        self.cold_starts = 0
        self.own_zygotes = zygotes is None and fork
        self.zygotes = Zygotes(preload, private_view=private_view, log=log) if self.own_zygotes else zygotes

    @property
    def fork(self) -> bool:
        """Whether this slot's runs are forked from a zygote (False after one failed to start)."""
        return self.zygotes is not None and self.zygotes.enabled

    def _start(self, account: execute.Account, kernel_name: str | None) -> execute.Warm:
        run_id = runs.new_id()
        env = self.provision(run_id)
        try:
            return execute.prestart(account=account, limits=self.limits, kernel_name=kernel_name, run_id=run_id,
                                    extra_env=env, private_view=self.private_view, preload=self.preload,
                                    zygote=self.zygotes.get() if self.zygotes is not None else None)
        except BaseException:
            self.finish_run(run_id)
            raise

    def take(self, kernel_name: str | None) -> execute.Warm:
        """The runner for the next notebook of this slot (the caller ends it with ``execute.finish``
        and then calls ``finish_run(runner.run_id)``)."""
        runner = None
        if self.pending is not None:
            pending, self.pending = self.pending, None
            try:
                runner = pending.result()
                self.warm_hits += 1
            except Exception:  # noqa: BLE001 (a warm start that failed is retried cold, where errors surface)
                runner = None
        if runner is None:
            runner = self._start(self.accounts[self.turn], kernel_name)
            self.cold_starts += 1
        self.turn = 1 - self.turn
        if self.warm and self.more():
            self.pending = self.starter.submit(self._start, self.accounts[self.turn], kernel_name)
        return runner

    def close(self) -> list[str]:
        """Discard the runner still warming (no notebook is left for it); notes of its clean-up."""
        notes: list[str] = []
        if self.pending is not None:
            with contextlib.suppress(Exception):
                runner = self.pending.result()
                execute.discard(runner)
                notes += self.finish_run(runner.run_id)
            self.pending = None
        self.starter.shutdown(wait=True)
        if self.own_zygotes:
            self.zygotes.close()
        return notes


def zygote_possible(private_view: bool) -> bool:
    """Whether runs can be forked from a zygote with the isolation they have when started anew:
    as root (the zygote makes the run's view and changes account itself), or without a view
    under the grader's own account (nothing to make)."""
    return os.geteuid() == 0 if private_view else True


# What a course module imports on first use rather than on import (so the notebook's import
# statements do not name it): labs.spark's Spark Connect client takes a second to import.
WARM_IMPORTS = {"labs.spark": ("pyspark.sql.connect.session",)}


def preload_modules(notebooks) -> list[str]:
    """Modules worth importing in a kernel before its notebook arrives: those that every one of the
    notebooks imports in its code cells, plus what they import on first use (``WARM_IMPORTS``).
    Only modules this environment has, in a stable order. A kernel never holds a module its own
    notebook does not import: in a batch of several labs another lab's engines would take
    address space that the notebook's memory limit counts."""
    imported = [_imports(nb) for nb in notebooks]
    common = set.intersection(*map(set, imported)) if imported else set()
    out: list[str] = []
    for name in (imported[0] if imported else []):
        if name in out or name not in common or not _installed(name):
            continue
        out.append(name)
        out += [m for m in WARM_IMPORTS.get(name, ()) if m not in out and _installed(m)]
    return out


def _installed(name: str) -> bool:
    """Whether module ``name`` exists here, found on disk without importing anything: asking
    ``importlib`` about ``a.b`` imports ``a``, and some packages (Airflow) configure the process that
    imports them (its logging, a home folder)."""
    import importlib.util

    top, *rest = name.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: only looked up, never imported
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not rest:
        return True
    for base in spec.submodule_search_locations or []:
        path = Path(base, *rest)
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() \
                or any(path.parent.glob(f"{path.name}.*.so")):
            return True
    return False


def _imports(nb) -> list[str]:
    """Names the code cells of ``nb`` import (modules, and ``module.name`` for from-imports), in order."""
    import ast

    found: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
                found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found

"""Crash injection for labs and their tests: kill a process at the worst moment, for real.

``ExitOnCall`` wraps an object (a database connection, a Kafka producer) so that the n-th call
of one method ends the whole process with ``os._exit(CRASHED)``, just before or just after the
real call: no ``finally`` block, no flush, no commit runs after it. ``run_in_child`` runs a
function in a forked child and reports how it ended, with the child's traceback when it raised
(a child's output would otherwise be lost with it).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

CRASHED = 86  # exit code of a child that died at the injected point


class ExitOnCall:
    """Wraps ``target``: the n-th call of ``method`` (counted over every wrapper sharing ``counter``)
    ends the process with ``os._exit(CRASHED)``, before the real call or, with ``after``, right after it."""

    def __init__(self, target, method: str, n: int, after: bool, counter: Counter):
        self._target, self._method, self._n, self._after, self._counter = target, method, n, after, counter

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if name != self._method:
            return attr

        def call(*args, **kwargs):
            self._counter[name] += 1
            hit = self._counter[name] == self._n
            if hit and not self._after:
                os._exit(CRASHED)
            result = attr(*args, **kwargs)
            if hit:
                os._exit(CRASHED)
            return result
        return call

    def __enter__(self):
        self._target.__enter__()
        return self

    def __exit__(self, *exc):
        return self._target.__exit__(*exc)


@dataclass
class ChildEnd:
    exitcode: int | None   # CRASHED: died at the injected point; 0: finished; 1: raised; None: killed at timeout
    traceback: str = ""    # what the child raised, if it did

    @property
    def crashed(self) -> bool:
        return self.exitcode == CRASHED


def run_in_child(fn: Callable[[], object], timeout_s: float = 60) -> ChildEnd:
    """Run ``fn()`` in a forked child whose output is discarded; a traceback comes back over a pipe."""
    reader, writer = multiprocessing.get_context("fork").Pipe(duplex=False)

    def child():
        sys.stdout = sys.stderr = open(os.devnull, "w")  # a dying child must not write to the notebook
        try:
            fn()
        except BaseException:  # noqa: BLE001 (sent to the parent, which shows it)
            writer.send(traceback.format_exc())
            os._exit(1)
        os._exit(0)

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    writer.close()
    proc.join(timeout_s)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return ChildEnd(None)
    try:
        text = reader.recv() if reader.poll(0.5) else ""
    except EOFError:  # the child ended without sending anything
        text = ""
    reader.close()
    return ChildEnd(proc.exitcode, text)

"""Two graders on one machine never share a sandbox account at the same time: the second waits."""

from __future__ import annotations

import threading
import time

from labs.grading.execute import Account, account_lock


def test_a_dedicated_account_is_held_by_one_run_at_a_time():
    account = Account(name="labs-lock-test", uid=54321, gid=54321)
    events: list[str] = []

    def run(label: str, hold: float) -> None:
        with account_lock(account):
            events.append(f"{label} in")
            time.sleep(hold)
            events.append(f"{label} out")

    first = threading.Thread(target=run, args=("a", 0.5))
    first.start()
    time.sleep(0.1)
    second = threading.Thread(target=run, args=("b", 0))
    second.start()
    first.join()
    second.join()
    assert events == ["a in", "a out", "b in", "b out"]


def test_the_grader_own_account_is_not_locked():
    account = Account(name="me")
    with account_lock(account), account_lock(account):
        pass

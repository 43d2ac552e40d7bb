"""Crash injection (labs.faults): a child dies exactly at the injected call, and a child that
raises sends its traceback back."""

from __future__ import annotations

from collections import Counter

from labs import faults


class Box:
    """Stands in for a connection: each real commit is appended to a file."""

    def __init__(self, path):
        self.path = path

    def commit(self):
        with self.path.open("a") as fh:
            fh.write("commit\n")


def test_the_nth_call_ends_the_child_before_or_after_the_real_call(tmp_path):
    for after, commits in ((False, 1), (True, 2)):
        marks = tmp_path / f"commits-{after}"

        def work(after=after, marks=marks):
            box = faults.ExitOnCall(Box(marks), "commit", 2, after, Counter())
            for _ in range(3):
                box.commit()

        end = faults.run_in_child(work)
        assert end.crashed and end.traceback == ""
        assert marks.read_text().splitlines() == ["commit"] * commits


def test_a_child_that_raises_returns_its_traceback_and_one_that_hangs_is_killed():
    def broken():
        raise RuntimeError("the student's process failed here")

    end = faults.run_in_child(broken)
    assert end.exitcode == 1 and "RuntimeError: the student's process failed here" in end.traceback
    assert faults.run_in_child(lambda: None).exitcode == 0

    def hangs():
        import time
        time.sleep(30)

    assert faults.run_in_child(hangs, timeout_s=0.5).exitcode is None

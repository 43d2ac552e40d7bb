"""The limits of one sandboxed notebook run, with their defaults (the ``labs grade`` options default to them)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Limits of one notebook run (seconds, megabytes)."""

    cell_timeout: int = 120
    notebook_timeout: int = 900
    memory_mb: int = 2048
    processes: int = 256
    file_mb: int = 256
    open_files: int = 1024
    max_output_bytes: int = 1_000_000
    start_timeout: int = 60

    def for_runner(self, dedicated_account: bool, existing_tasks: int = 0) -> dict:
        """What the runner applies to itself; ``existing_tasks``: threads the account already runs
        elsewhere (0 for a dedicated account), added to the process budget."""
        return {
            "memory_bytes": self.memory_mb * 1024 * 1024,
            "file_bytes": self.file_mb * 1024 * 1024,
            "cpu_seconds": 2 * self.notebook_timeout + 60,
            "open_files": self.open_files,
            "processes": self.processes,
            "dedicated_account": dedicated_account,
            "existing_tasks": existing_tasks,
        }


def uid_tasks(uid: int) -> int:
    """Threads currently owned by ``uid`` (what RLIMIT_NPROC counts), from /proc."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"].strip())
        except (OSError, KeyError, ValueError):
            continue
    return count

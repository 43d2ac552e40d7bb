"""The limits of one sandboxed notebook run, with their defaults (the ``labs grade`` options default to them)."""

from __future__ import annotations

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

    def for_runner(self, dedicated_account: bool) -> dict:
        return {
            "memory_bytes": self.memory_mb * 1024 * 1024,
            "file_bytes": self.file_mb * 1024 * 1024,
            "cpu_seconds": 2 * self.notebook_timeout + 60,
            "open_files": self.open_files,
            "processes": self.processes,
            "dedicated_account": dedicated_account,
        }

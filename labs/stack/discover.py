"""The folder a running service of the stack was started from.

The grader may run from another copy of the course than the one that started the stack
(``LABS_HOME`` pointing at a grading copy): what belongs to the running stack (the broker's
admin secret, the gate's table of runs, the graders holding the course closed) is then in the
stack's ``var`` folder, not in the grader's. It is found from the process that listens on the
service's port: its command line names a file of its folder.
"""

from __future__ import annotations

import functools
import os
import secrets
from pathlib import Path

import psutil


@functools.lru_cache(maxsize=16)
def listener_cmdline(port: int) -> tuple[str, ...]:
    """The command line of the process listening on loopback ``port`` (empty when none is visible;
    looked up once per process and port)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return ()
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                return tuple(psutil.Process(conn.pid).cmdline())
            except psutil.Error:
                return ()
    return ()


def stored_secret(path: Path) -> str:
    """The secret in ``path``, made on first use in a file only the stack's account may read."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24) + "\n")
        return path.read_text().strip()

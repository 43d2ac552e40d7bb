"""The folder a running service of the stack was started from.

The grader may run from another copy of the course than the one that started the stack
(``LABS_HOME`` pointing at a grading copy): what belongs to the running stack (the broker's
admin secret, the gate's table of runs, the graders holding the course closed) is then in the
stack's ``var`` folder, not in the grader's. It is found from the process that listens on the
service's port: its command line names a file of its folder.
"""

from __future__ import annotations

import psutil


def listener_cmdline(port: int) -> list[str] | None:
    """The command line of the process listening on loopback ``port`` (None when none is visible)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                return psutil.Process(conn.pid).cmdline()
            except psutil.Error:
                return None
    return None

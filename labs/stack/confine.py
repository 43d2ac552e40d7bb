"""The view the shared Spark Connect server runs in.

Every graded notebook sends its Spark plans to one server, which reads and writes files as the
account that started the stack. Started by root (the instructor grading a class), that server
could read any file of the machine for a submission (another clone of the course, with its
hidden tests) and write any (the gradebook). With bubblewrap, the server runs in a view of the
machine like a graded kernel's (``labs.grading.view``): the system folders, the Python
environment, the ``labs`` package and the stack's jars read-only; the folders Spark works in
read-write: the course's work and data folders (``LABS_WORK_DIR``, ``LABS_DATA_DIR``, where a
student's own runs keep their files) and the folder of graded runs (``labs-runs`` in the system
temp folder). The course checkout, its source, submissions, gradebook and feedback, homes and any
other folder are out of its sight. It keeps root's rights on what it sees (graded runs' folders
belong to their sandbox accounts) and the machine's network.

Without bubblewrap, or not as root, the server runs as before (``labs doctor`` says so).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from labs import config

CONFINED = ("spark-connect",)


def problem() -> str | None:
    """Why the server is not confined here (None when it is)."""
    if os.geteuid() != 0:
        return "the stack does not run as root, so the server has only your own account's rights"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: make setup installs it as root"
    return None


def runs_folder() -> Path:
    """Where graded runs get their folders: the one part of the system temp folder the server sees."""
    folder = Path(tempfile.gettempdir()).resolve() / "labs-runs"
    folder.mkdir(mode=0o711, exist_ok=True)
    if folder.stat().st_uid == os.geteuid():
        os.chmod(folder, 0o711)  # sandbox accounts may enter their own run's folder, not list the others
    return folder


def writable() -> list[Path]:
    folders = {config.work_dir(), config.data_dir(), runs_folder()}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return sorted(folders)


def wrap(service: str, argv: list[str]) -> list[str]:
    """``argv`` run inside the view, for a confined service when the view can be built."""
    if service not in CONFINED or problem() is not None:
        return argv
    from labs.grading import view

    args = ["bwrap", "--cap-add", "ALL", "--unshare-ipc", "--unshare-uts"]
    for folder in view.SYSTEM:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    args += ["--proc", "/proc", "--dev", "/dev", "--ro-bind-try", "/sys", "/sys"]
    for path in [*view.readonly_paths(), config.jvm_dir()]:
        args += ["--ro-bind", str(path), str(path)]
    for path in writable():
        args += ["--bind", str(path), str(path)]
    if not os.environ.get("PYSPARK_PYTHON"):  # Python workers (foreachBatch, UDFs): this environment's
        args += ["--setenv", "PYSPARK_PYTHON", sys.executable]  # interpreter, whatever PATH finds outside
    return [*args, "--chdir", str(config.work_dir()), "--", *argv]

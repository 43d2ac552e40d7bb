"""The views the shared servers that run a submission's requests are confined to.

Two servers of the stack act on files for whoever asks: the Spark Connect server runs every
notebook's Spark plans (file sources and sinks, and native code: Spark SQL's ``reflect()`` calls
static Java methods, ``System.load`` among them), and MariaDB reads and writes files for SQL
(``LOAD_FILE``, ``SELECT ... INTO OUTFILE``). Started by root (the instructor grading a class),
either could otherwise read any file of the machine for a submission (another clone of the
course, with its hidden tests) and write any (the gradebook).

With bubblewrap, each runs in a view of the machine like a graded kernel's
(``labs.grading.view``): the system folders read-only (password hashes and SSH keys masked),
a process namespace of its own (it sees, signals and traces no process outside it), its own
``/tmp`` and the machine's network, plus what it works on:

- Spark Connect: the Python environment, the ``labs`` package and the stack's jars read-only;
  the course's work and data folders (``LABS_WORK_DIR``, ``LABS_DATA_DIR``, where a student's own
  runs keep their files) and the folder of graded runs (``labs-runs`` in the system temp folder)
  read-write, with root's rights on files there (graded runs' folders belong to their sandbox
  accounts) and no other capability;
- MariaDB: its own folder, its socket's and log's folders read-write, no capability.

The course checkout, its source, submissions, gradebook and feedback, homes and any other folder
are out of their sight. Without bubblewrap, or not as root, they run as before (``labs doctor``
says so).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from labs import config

FILE_CAPABILITIES = ("CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER")
MASKED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
MASKED_FOLDERS = ("/etc/ssh", "/etc/ssl/private")


def problem() -> str | None:
    """Why the servers are not confined here (None when they are)."""
    if os.geteuid() != 0:
        return "the stack does not run as root, so its servers have only your own account's rights"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: make setup installs it as root"
    return None


def runs_folder() -> Path:
    """Where graded runs get their folders: the one part of the system temp folder Spark sees."""
    folder = Path(tempfile.gettempdir()).resolve() / "labs-runs"
    folder.mkdir(mode=0o711, exist_ok=True)
    if folder.stat().st_uid == os.geteuid():
        os.chmod(folder, 0o711)  # sandbox accounts may enter their own run's folder, not list the others
    return folder


def masked() -> list[str]:
    """``bwrap`` arguments hiding the password hashes and the machine's private keys from a view
    whose process may read them (it runs as root)."""
    args = []
    for path in MASKED_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    for path in MASKED_FOLDERS:
        if os.path.isdir(path):
            args += ["--tmpfs", path]
    return args


def _spark() -> dict:
    from labs.grading import view

    env = {} if os.environ.get("PYSPARK_PYTHON") else {"PYSPARK_PYTHON": sys.executable}  # Python workers
    return {"readonly": [*view.readonly_paths(), config.jvm_dir()],
            "writable": [config.work_dir(), config.data_dir(), runs_folder()],
            "hidden": [], "capabilities": FILE_CAPABILITIES, "env": env, "chdir": config.work_dir()}


def _mariadb() -> dict:
    var = config.var_dir()
    return {"readonly": [], "writable": [var / "mariadb", var / "run", config.log_dir(), config.work_dir() / "tmp"],
            "hidden": [var / "run" / "gate"],  # the gate's table of runs holds their Kafka credentials
            "capabilities": (), "env": {}, "chdir": var / "mariadb"}


CONFINED = {"spark-connect": _spark, "mariadb": _mariadb}


def wrap(service: str, argv: list[str]) -> list[str]:
    """``argv`` run inside the service's view, for a confined service when the view can be built."""
    if service not in CONFINED or problem() is not None:
        return argv
    from labs.grading import view

    spec = CONFINED[service]()
    args = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    for cap in spec["capabilities"]:
        args += ["--cap-add", cap]
    args += [*view.system_binds(), *masked(), "--tmpfs", "/tmp"]
    for path in spec["readonly"]:
        args += ["--ro-bind", str(path), str(path)]
    for path in spec["writable"]:
        Path(path).mkdir(parents=True, exist_ok=True)
        args += ["--bind", str(path), str(path)]
    for path in spec["hidden"]:
        Path(path).mkdir(parents=True, exist_ok=True)
        args += ["--tmpfs", str(path)]
    for key, value in spec["env"].items():
        args += ["--setenv", key, value]
    return [*args, "--chdir", str(spec["chdir"]), "--", *argv]

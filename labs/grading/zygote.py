"""A worker slot's zygote: one process that imports a run's modules once and forks every runner.

A runner started from scratch pays a Python interpreter, papermill, and a kernel that imports
ipykernel and the notebook's modules (pyspark's Spark Connect client, pandas): about 1.5 CPU
seconds per notebook, more than most notebooks' own work. The zygote pays it once per slot
and batch; each runner and its kernel are forked from it, ready.

Isolation is unchanged, because nothing of a run passes through the zygote:

- The zygote is a fresh interpreter (never a fork of the grader, which holds hidden tests and
  the gradebook), in a bubblewrap view without any course folder, as root with only the
  capabilities to make namespaces and mounts and to change account (``labs.grading.nsview``).
- It reads one kind of message: "fork", with three file descriptors (the run's stdin, its
  result pipe, its log). It forks, answers with the child's pid and a pidfd, and forgets them.
  The run's request (its account, folder, environment, credentials, limits) is read from that
  stdin by the forked child, so it never enters the zygote's memory, and no run can find an
  earlier run's secrets in the memory it inherits.
- The forked child (root, in the zygote's view) makes new namespaces (``nsview.isolate``); its
  own child is process 1 there, enters the run's view and account for good (``nsview.enter``)
  and reaps orphans; its child in turn is the runner (``labs.grading.runner.serve``), which
  applies the run's limits and forks the kernel from its already imported modules.
- The grader kills every process of the run's account after the notebook, as before.

What a forked kernel shares with the next one is what an exec'd kernel shares: the code of
the installed modules. Random generators are reseeded after the fork (Python's own does it;
numpy's legacy global one is reseeded by the runner), and ``hash()`` randomisation is the same
for the kernels of one zygote, as for those of one interpreter installation.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from . import nsview

CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID")
RESULT_FD = 3
# What every runner and kernel imports, whatever the notebook: the runner's papermill, and ipykernel
# with what a kernel imports as it starts (its debugger's debugpy, its history's sqlite3, its command
# line's argcomplete, tornado's queues, pdb: 0.07 CPU seconds a kernel).
BASE_IMPORTS = ("labs.grading.runner", "papermill", "papermill.engines", "nbclient", "jupyter_client.manager",
                "nbformat", "ipykernel.kernelapp", "ipykernel.ipkernel", "labs.grading.kafka_clients",
                "ipykernel.debugger", "sqlite3", "argcomplete", "tornado.queues", "IPython.extensions", "pdb")
# Of a notebook's modules, the zygote imports only these packages (and their submodules): big to
# import, and known to keep nothing of the process that imports them (environment, folders,
# home) for later. Any other module of the notebook is imported in each kernel after the fork, with
# the run's own environment and folder, as a kernel started anew would (dbt, for one, keeps the
# folders it finds at import time).
FORK_SAFE = ("numpy", "pandas", "pyarrow", "pyspark")


# --- the zygote process ----------------------------------------------------------------------------

def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _import_all(names: list[str]) -> list[str]:
    """Import ``names``; returns those that failed. Stops at a module that starts a thread (a
    process with threads cannot be forked safely)."""
    from .runner import SKIPPED_IMPORTS  # papermill is imported without them; a kernel may need them

    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 (the kernel imports it itself, and fails there if it must)
            failed.append(name)
        if _threads() > 1:
            raise RuntimeError(f"importing {name} started a thread; a zygote must stay single-threaded")
    for name in SKIPPED_IMPORTS:
        if sys.modules.get(name, 0) is None:
            del sys.modules[name]
    return failed


def _compile_validators() -> None:
    """nbformat compiles a notebook schema's validator on its first use, 0.03 CPU seconds that
    every runner would pay again (papermill validates the notebook it is given): compiled here
    once, for the notebook versions of today (4.5) and of the years before it (4.4)."""
    import nbformat

    for minor in sorted({nbformat.current_nbformat_minor, 4}):
        notebook = nbformat.v4.new_notebook()
        notebook.nbformat_minor = minor
        nbformat.validate(notebook)


def fork_safe(modules: list[str]) -> list[str]:
    """The modules of ``modules`` the zygote may import (``FORK_SAFE``)."""
    return [name for name in modules if name.split(".")[0] in FORK_SAFE]


def _take_in(modules: list[str], *, first: bool = False) -> dict:
    """Import ``modules`` (the first time, also compile the notebook validators) and freeze what
    is imported; the reply for the grader."""
    try:
        failed = _import_all(modules)
    except Exception as exc:  # noqa: BLE001 (reported to the grader, which runs without a zygote)
        return {"error": f"{type(exc).__name__}: {exc}"}
    if first:
        with contextlib.suppress(Exception):  # only saves time: each runner would compile its own
            _compile_validators()
    gc.collect()
    gc.freeze()  # the imported objects: left out of every collection in the forked runs and kernels,
    # which would otherwise write to (and so copy) every page holding one
    return {"ready": True, "failed": failed}


def serve(control: socket.socket, modules: list[str]) -> int:
    """The zygote's loop: import, say ready, then, until the grader closes the socket, fork a run
    for each "fork" message, or import more of the batch's modules (``{"import": [...]}``)."""
    reply = _take_in([*BASE_IMPORTS, *fork_safe(modules)], first=True)
    control.send(json.dumps(reply).encode())
    if "error" in reply:
        return 1
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked runs are reaped by the kernel; pidfds tell their end
    while True:
        message, fds, _flags, _addr = socket.recv_fds(control, 1 << 16, 3)
        if not message:
            return 0
        if not fds and message.startswith(b"{"):
            reply = _take_in(fork_safe(json.loads(message).get("import", [])))
            control.send(json.dumps(reply).encode())
            if "error" in reply:
                return 1
            continue
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                control.close()
                code = _run(*fds)
            except BaseException:  # noqa: BLE001 (whatever happens, the child never returns to the loop)
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = None
        try:
            socket.send_fds(control, [json.dumps({"pid": pid}).encode()], [pidfd] if pidfd is not None else [])
        finally:
            for fd in fds + ([pidfd] if pidfd is not None else []):
                os.close(fd)


def _read_line(fd: int) -> bytes:
    """One line from ``fd``, read byte by byte so nothing after it is consumed."""
    out = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte or byte == b"\n":
            return bytes(out)
        out += byte


def _wait_exit(pid: int) -> int:
    """Wait for child ``pid``, reaping any other child on the way; its exit code."""
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            return 1
        if done == pid:
            return os.waitstatus_to_exitcode(status) & 0xFF


def _run(stdin_fd: int, result_fd: int, log_fd: int) -> int:
    """The forked child: becomes one run (see the module's description)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd, target in ((stdin_fd, 0), (log_fd, 1), (log_fd, 2), (result_fd, RESULT_FD)):
        os.dup2(fd, target)
    os.closerange(RESULT_FD + 1, os.sysconf("SC_OPEN_MAX"))
    os.setsid()
    nsview.prctl(nsview.PR_SET_PDEATHSIG, signal.SIGKILL)
    request = json.loads(_read_line(0) or b"{}")
    os.nice(int(request.get("nice", 0)))
    if request.get("isolate"):
        nsview.isolate()
    first = os.fork()
    if first:
        return _wait_exit(first)
    # process 1 of the run's namespaces: its view and account, then it reaps what the run leaves
    nsview.prctl(nsview.PR_SET_PDEATHSIG, signal.SIGKILL)
    uid, gid = request.get("uid"), request.get("gid")
    workdir = Path(request["workdir"])
    if request.get("isolate"):
        nsview.enter(workdir, Path(request["runs_folder"]), uid, gid, request.get("shown", []))
    else:
        if uid is not None:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        nsview.prctl(nsview.PR_SET_NO_NEW_PRIVS, 1)
        os.chdir(workdir)
    os.umask(0o077)
    runner_pid = os.fork()
    if runner_pid:
        return _wait_exit(runner_pid)
    from . import runner

    os.environ.clear()
    os.environ.update(request.get("env", {}))
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the run's stdin: its notebook comes there)
    return runner.serve(RESULT_FD, request.get("header", {}), sys.stdin, fork_kernel=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(argv[0]))
    modules = json.loads(argv[1]) if len(argv) > 1 else []
    return serve(control, modules)


# --- the grader's handle ---------------------------------------------------------------------------

class Zygote:
    """A zygote started for a batch (``start``); ``load`` has it import more, ``spawn`` forks a run
    from it."""

    def __init__(self, proc: subprocess.Popen, control: socket.socket, failed: list[str]):
        self.proc = proc
        self.control = control
        self.failed = failed
        self.lock = threading.Lock()

    @classmethod
    def start(cls, modules: list[str], env: dict, *, view_args: list[str], log_path: Path,
              timeout: float = 120) -> Zygote:
        """Start a zygote importing ``modules``; ``view_args``: the bubblewrap prefix of its view
        (empty: no view). Raises RuntimeError when it cannot be used."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = open(log_path, "ab")  # noqa: SIM115 (handed to the process)
        try:
            proc = subprocess.Popen([*view_args, sys.executable, "-m", "labs.grading.zygote", str(theirs.fileno()),
                                     json.dumps(list(modules))],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    cwd="/", pass_fds=(theirs.fileno(),), start_new_session=True)
        finally:
            theirs.close()
            log.close()
        ours.settimeout(timeout)
        try:
            reply = json.loads(ours.recv(1 << 16) or b"{}")
        except (OSError, ValueError) as exc:
            reply = {"error": f"no answer ({exc})"}
        if not reply.get("ready"):
            ours.close()
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
            raise RuntimeError(reply.get("error") or f"the zygote ended (see {log_path})")
        ours.settimeout(30)
        return cls(proc, ours, reply.get("failed", []))

    def load(self, modules: list[str], timeout: float = 120) -> None:
        """Import ``modules`` too (those of ``FORK_SAFE``), before the runs that use them are
        forked. Raises RuntimeError when the zygote cannot (it has ended then)."""
        with self.lock:
            self.control.settimeout(timeout)
            try:
                self.control.send(json.dumps({"import": list(modules)}).encode())
                reply = json.loads(self.control.recv(1 << 16) or b"{}")
            except (OSError, ValueError) as exc:
                reply = {"error": f"no answer ({exc})"}
            finally:
                self.control.settimeout(30)
        if not reply.get("ready"):
            raise RuntimeError(reply.get("error") or "the zygote ended")
        self.failed += reply.get("failed", [])

    def spawn(self, stdin_fd: int, result_fd: int, log_fd: int) -> tuple[int, int | None]:
        """Fork a run with these descriptors as its stdin, result pipe and log: (pid, pidfd)."""
        with self.lock:
            socket.send_fds(self.control, [b"fork"], [stdin_fd, result_fd, log_fd])
            message, fds, _flags, _addr = socket.recv_fds(self.control, 1024, 1)
        if not message:
            raise RuntimeError("the zygote ended")
        return json.loads(message)["pid"], (fds[0] if fds else None)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.control.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    sys.exit(main())

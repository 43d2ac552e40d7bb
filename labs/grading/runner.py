"""The executor that runs inside the sandbox: one notebook, one kernel, papermill.

Started by :mod:`labs.grading.execute` as ``python -m labs.grading.runner RESULT_FD`` under
an unprivileged account, in a fresh working directory, often before its notebook is known
(a warm runner: see ``execute.prestart``). It reads a header line on stdin (limits, kernel
name), applies the resource limits to itself (the kernel inherits them), makes itself
non-dumpable (so the kernel, running under the same account, can neither ptrace it nor open
its file descriptors through /proc), imports papermill and starts the kernel; then it reads
the job (the notebook) on stdin and executes it in that kernel with a papermill engine that:

- runs every cell even after an error, like ``nbgrader autograde`` (interrupting a cell
  that exceeds the per-cell limit and recording a ``CellTimeoutError``);
- caps the output kept per cell, so a flood of prints cannot exhaust the grader;
- sends each executed cell as one JSON line on ``RESULT_FD``, a pipe that the kernel does
  not inherit, so the grader keeps the results of cells that finished before a crash or a
  deadline, and student code cannot forge them by writing files.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import resource
import signal
import sys
import time

PR_SET_DUMPABLE = 4
INTERRUPT_GRACE_S = 5  # a timed-out cell gets this long to stop after the interrupt
MAX_TRACEBACK_LINES = 200

# Same error nbgrader's Execute preprocessor records for a cell that timed out.
TIMEOUT_ERROR = {
    "ename": "CellTimeoutError",
    "evalue": "",
    "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"],
}


def make_undumpable() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover (not Linux)
        pass


def apply_limits(limits: dict) -> None:
    """Lower this process's limits; every process it starts (the kernel) inherits them."""
    def cap(which, value):
        if value:
            soft, hard = resource.getrlimit(which)
            value = int(value)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, limits.get("memory_bytes"))
    cap(resource.RLIMIT_FSIZE, limits.get("file_bytes"))
    cap(resource.RLIMIT_CPU, limits.get("cpu_seconds"))
    cap(resource.RLIMIT_NOFILE, limits.get("open_files"))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    processes = limits.get("processes")
    if processes:
        # RLIMIT_NPROC counts every thread of the account; when the account is shared with
        # other programs (grading without root), allow what already runs plus the budget.
        processes += limits.get("existing_tasks", 0)
        cap(resource.RLIMIT_NPROC, processes)


def cell_timeouts(nb, limit: int | None):
    """The per-cell limit of ``nb``'s cells: the grader's, or the notebook's own lower one
    (``metadata.labs.cell_timeout``, seconds). A notebook may shorten the time its cells get,
    never lengthen it."""
    own = nb.get("metadata", {}).get("labs", {}).get("cell_timeout")
    if isinstance(own, int) and not isinstance(own, bool) and own > 0:
        limit = min(own, limit) if limit else own
    return lambda cell: limit


def _build_engine(send, max_output_bytes: int):
    """A papermill engine (subclass of papermill's NBClientEngine) reporting each cell."""
    from nbclient.exceptions import CellControlSignal, CellTimeoutError, DeadKernelError
    from nbclient.util import run_sync
    from nbformat.v4 import output_from_msg  # noqa: F401 (imported for nbclient's output())
    from nbformat.v4.nbbase import new_output
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.utils import merge_kwargs, remove_args

    class SandboxClient(PapermillNotebookClient):
        kernel_died = False
        stuck = False

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._bytes: dict[int, int] = {}
            self._truncated: set[int] = set()
            self.on_cell_executed = self._record_unreported_error

        def _record_unreported_error(self, cell, execute_reply, **kwargs):
            # Same rule as nbgrader's Execute.on_cell_executed (not imported here: importing
            # nbgrader would add seconds to every run): an error reply without a matching
            # error output (a timeout) becomes an error output, so the cell scores 0.
            content = execute_reply["content"]
            if content["status"] != "error":
                return
            if any(o.output_type == "error" and o.ename == content["ename"] for o in cell.outputs):
                return
            cell.outputs.append(new_output("error", ename=content["ename"], evalue=content["evalue"],
                                           traceback=content["traceback"] or [
                                               "ERROR: An error occurred while showtraceback was disabled"]))

        def output(self, outs, msg, display_id, cell_index):
            out = super().output(outs, msg, display_id, cell_index)
            if out is None or out.get("output_type") == "error":
                return out
            size = len(out.get("text", "")) + sum(
                len(v) if isinstance(v, str) else len(json.dumps(v)) for v in out.get("data", {}).values())
            used = self._bytes.get(cell_index, 0) + size
            self._bytes[cell_index] = used
            if used <= max_output_bytes:
                return out
            if outs and outs[-1] is out:
                outs.pop()
            if cell_index not in self._truncated:
                self._truncated.add(cell_index)
                outs.append(new_output("stream", name="stdout",
                                       text=f"\n[output truncated by the grader after {max_output_bytes} bytes]\n"))
            return None

        def papermill_execute_cells(self):
            for index, cell in enumerate(self.nb.cells):
                self.nb_man.cell_start(cell, index)
                try:
                    self.execute_cell(cell, index)
                except DeadKernelError:
                    self.kernel_died = True
                    cell.setdefault("outputs", []).append(new_output(
                        "error", ename="DeadKernelError", evalue="the kernel died while running this cell",
                        traceback=["DeadKernelError: the kernel died while running this cell"]))
                    self.nb_man.cell_exception(cell, cell_index=index)
                except CellTimeoutError as exc:
                    cell.setdefault("outputs", []).append(new_output("error", **TIMEOUT_ERROR))
                    self.log.warning("cell %s: %s", index, exc)
                except CellControlSignal:
                    raise
                finally:
                    timed_out = any(o.get("ename") == TIMEOUT_ERROR["ename"] for o in cell.get("outputs", []))
                    if timed_out and not self.kernel_died and not self.kernel_answers_within(INTERRUPT_GRACE_S):
                        # the interrupt did not stop the cell: every later cell would wait out its
                        # own time limit behind it, so stop the kernel now; later cells score 0
                        self.log.warning("kernel still busy %ss after the interrupt; stopping it", INTERRUPT_GRACE_S)
                        run_sync(self.km.shutdown_kernel)(now=True)
                        self.stuck = True
                    self.nb_man.cell_complete(cell, cell_index=index)
                    for out in cell.get("outputs", []):
                        if out.get("output_type") == "error" and len(out.get("traceback", [])) > MAX_TRACEBACK_LINES:
                            tb = out["traceback"]
                            keep = MAX_TRACEBACK_LINES - 51
                            out["traceback"] = tb[:50] + ["... traceback truncated ..."] + tb[-keep:]
                    send({"event": "cell", "index": index, "cell": cell,
                          "truncated": index in self._truncated})
                if self.kernel_died or self.stuck:
                    break

        def kernel_answers_within(self, seconds: float) -> bool:
            """True when the kernel replies to a trivial request within ``seconds``."""

            async def probe() -> bool:
                msg_id = self.kc.execute("", silent=True, store_history=False)
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    try:
                        reply = await self.kc.get_shell_msg(timeout=left)
                    except queue.Empty:
                        return False
                    if reply.get("parent_header", {}).get("msg_id") == msg_id:
                        return True
                return False

            try:
                return run_sync(probe)()
            except Exception:  # noqa: BLE001 (a kernel that cannot be asked is not answering)
                return False

        def execute(self, **kwargs):
            self.reset_execution_trackers()
            with self.setup_kernel(**kwargs):
                send({"event": "kernel_started"})
                self.papermill_execute_cells()
            return self.nb

    class SandboxEngine(NBClientEngine):
        client: SandboxClient | None = None

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            # `km`, when given, is a kernel manager whose kernel already started (see start_kernel)
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log_output=log_output,
                                 timeout_func=cell_timeouts(nb_man.nb, execution_timeout))
            cls.client = SandboxClient(nb_man, **final)
            return cls.client.execute()

    return SandboxEngine


KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]


def _config(ipc: bool = True):
    from traitlets.config import Config

    cfg = Config()
    if ipc:
        cfg.KernelManager.transport = "ipc"  # no TCP port: the kernel is reachable only through files in the work dir
    return cfg


def start_kernel(kernel_name: str | None, ipc: bool = True, fork: bool = False):
    """Start the kernel the notebook will run in, the way nbclient would (same configuration,
    arguments and folder), before the notebook arrives. None when no kernel name is known.
    ``fork``: the kernel is a fork of this process (which has imported ipykernel: see
    ``labs.grading.zygote``) rather than a new interpreter."""
    if not kernel_name:
        return None
    from jupyter_client.manager import AsyncKernelManager  # the class nbclient itself uses
    from nbclient.util import run_sync

    cls = _forking_manager() if fork else AsyncKernelManager
    km = cls(kernel_name=kernel_name, config=_config(ipc))
    run_sync(km.start_kernel)(extra_arguments=KERNEL_ARGUMENTS, cwd=os.getcwd())
    return km


class _ForkedKernel:
    """What jupyter_client's provisioner needs of a kernel process (``subprocess.Popen``'s
    poll, wait, signals), for a kernel forked from this process."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._reap(os.WNOHANG)

    def wait(self, timeout: float | None = None) -> int | None:
        if timeout is None:
            return self._reap(0)
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _forking_manager():
    from jupyter_client.manager import AsyncKernelManager

    class ForkingKernelManager(AsyncKernelManager):
        async def _async_launch_kernel(self, kernel_cmd, **kw):
            launcher = ["-m", "ipykernel_launcher"]
            if kernel_cmd[1:3] != launcher:  # not this Python's ipykernel: started the usual way
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            argv = [*kernel_cmd[3:], f"--IPKernelApp.parent_handle={os.getpid()}"]
            env, cwd = dict(kw.get("env") or os.environ), str(kw.get("cwd") or os.getcwd())
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _kernel_child(argv, env, cwd)
            provisioner = self.provisioner
            provisioner.process = _ForkedKernel(pid)
            provisioner.pid, provisioner.pgid, provisioner.cwd = pid, pid, cwd
            self._reconcile_connection_info(provisioner.connection_info)

    return ForkingKernelManager


def _kernel_child(argv: list[str], env: dict, cwd: str) -> None:
    """The forked kernel: what ``python -m ipykernel_launcher ARGV`` would be, without the imports."""
    code = 1
    try:
        os.setsid()  # its own process group, as jupyter_client starts kernels (interrupts go to the group)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as an exec'd kernel is
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the result pipe above all
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.path[0] = cwd  # as `python -m` puts the folder it starts in first
        sys.argv = [sys.argv[0], *argv]
        signal.set_wakeup_fd(-1)
        import asyncio

        asyncio.events._set_running_loop(None)  # the runner's loop is running in the copy of its memory
        asyncio.set_event_loop(asyncio.new_event_loop())
        numpy = sys.modules.get("numpy")
        if numpy is not None:  # its legacy global generator was seeded once, in the zygote
            numpy.random.seed()
        from labs.grading import kafka_clients

        kafka_clients.install_from_env()  # what the run's sitecustomize does in an exec'd Python
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 (shown in the runner log; the runner sees a dead kernel)
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


PRELOAD = """import importlib as _labs_importlib
for _labs_module in {modules!r}:
    try:
        _labs_importlib.import_module(_labs_module)
    except Exception:
        pass
del _labs_importlib, _labs_module"""


def preload(km, modules: list[str], timeout: float) -> None:
    """Import ``modules`` in the waiting kernel, silently: nothing enters the notebook's history,
    outputs or names (only ``sys.modules``, as if a cell had imported them); a module that fails
    to import is left for the notebook to import (and fail) itself."""
    if not modules:
        return
    from jupyter_client.blocking import BlockingKernelClient

    kc = BlockingKernelClient()
    kc.load_connection_info(km.get_connection_info())
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=timeout)
        kc.execute_interactive(PRELOAD.format(modules=list(modules)), silent=True, store_history=False,
                               timeout=timeout)
    except Exception as exc:  # noqa: BLE001 (preloading only saves time; the notebook runs either way)
        print(f"preloading skipped: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    finally:
        kc.stop_channels()


def _shutdown(km) -> None:
    from nbclient.util import run_sync

    with contextlib.suppress(Exception):
        run_sync(km.shutdown_kernel)(now=True)


def run(job: dict, send, km=None) -> None:
    """Execute the job's notebook; ``km``: a started kernel, used when its name is the notebook's."""
    import nbformat
    import papermill
    from papermill.engines import papermill_engines
    from papermill.exceptions import PapermillExecutionError

    engine = _build_engine(send, int(job.get("max_output_bytes", 1_000_000)))
    papermill_engines.register("labs-sandbox", engine)
    nb = nbformat.from_dict(job["notebook"])
    kernel_name = job.get("kernel_name") or None
    if km is not None and kernel_name not in (None, km.kernel_name):
        _shutdown(km)  # started for another kernel than this notebook's
        km = None
    extra = {"km": km} if km is not None else {}
    error = None
    try:
        papermill.execute_notebook(
            nb, None, engine_name="labs-sandbox", kernel_name=kernel_name,
            progress_bar=False, request_save_on_cell_execute=False, log_output=False,
            start_timeout=int(job.get("start_timeout", 60)), execution_timeout=job.get("cell_timeout"),
            allow_errors=True, interrupt_on_timeout=True, raise_on_iopub_timeout=False,
            iopub_timeout=int(job.get("iopub_timeout", 5)), error_on_timeout=TIMEOUT_ERROR,
            extra_arguments=KERNEL_ARGUMENTS, config=_config(job.get("ipc", True)),
            record_timing=True, shutdown_kernel="immediate", **extra,
        )
    except PapermillExecutionError:
        pass  # errors in cells are part of the result, not a failure of the run
    except Exception as exc:  # noqa: BLE001 (reported to the grader, which decides)
        error = f"{type(exc).__name__}: {exc}"
    client = engine.client
    try:
        send({"event": "done", "kernel_died": bool(client and client.kernel_died), "error": error})
    finally:
        if km is not None:  # the grader kills the run once it reads "done"; this is for runs without one
            _shutdown(km)


# Modules the executor starts without. jsonschema imports the optional IRI checker
# rfc3987_syntax when present; building its grammar takes over a second and nbformat never needs
# it. papermill imports pyarrow (and numpy with it) for its HDFS handler, a fifth of its import
# time; the executor reads and writes notebooks only in memory. The kernel is another process.
SKIPPED_IMPORTS = ("rfc3987_syntax", "pyarrow.fs")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)
    header = json.loads(sys.stdin.readline() or "{}")
    return serve(int(argv[0]), header, sys.stdin)


def serve(result_fd: int, header: dict, stdin, fork_kernel: bool = False) -> int:
    """Run the notebook that ``stdin`` will bring, with the limits and kernel of ``header``;
    each executed cell goes to ``result_fd``."""
    make_undumpable()
    os.set_inheritable(result_fd, False)  # the kernel, started below, must not inherit it
    apply_limits(header.get("limits", {}))
    import papermill  # noqa: F401 (paid while the runner waits for its notebook)

    km = start_kernel(header.get("kernel_name"), header.get("ipc", True), fork=fork_kernel)
    try:
        if km is not None:
            preload(km, header.get("preload", []), float(header.get("start_timeout", 60)))
        text = stdin.read()
        if not text.strip():
            return 0  # discarded: no notebook came
        job = {**header, **json.loads(text)}
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        out = os.fdopen(result_fd, "w", buffering=1, encoding="utf-8")

        def send(message: dict) -> None:
            out.write(json.dumps(message) + "\n")
            out.flush()

        try:
            run(job, send, km)
            km = None
        finally:
            out.close()
    finally:
        if km is not None:
            _shutdown(km)
    return 0


if __name__ == "__main__":
    sys.exit(main())

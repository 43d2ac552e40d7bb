"""Run one notebook in a sandbox and collect its executed cells.

The trusted grader process never runs student code. For each notebook it:

1. makes a fresh working directory outside the course tree (under the system temp dir),
   owned by the sandbox account, and copies in the assignment's supporting files;
2. starts :mod:`labs.grading.runner` (papermill) as that account: a dedicated system user
   per worker slot when the grader runs as root (``labs-grader-<slot>``, created with
   ``useradd --system`` when missing), else the grader's own account; in a new session;
   with a minimal environment;
3. lets the runner apply the resource limits (address space, processes, file size, CPU
   time, open files, no core dumps) to itself before any kernel starts;
4. reads the executed cells from a private pipe until the runner ends or the notebook's
   deadline passes, then kills every process left: the session, and, with a dedicated
   account, every process of that account (which catches double-forked processes too).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import json
import os
import pwd
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labs import runs
from labs.errors import LabsError
from labs.stack import confine, gate

from . import kafka_clients, view
from .limits import Limits, uid_tasks

ACCOUNT_PREFIX = "labs-grader-"
MAX_RESULT_BYTES = 256 * 1024 * 1024
WARM_NICE = 10  # CPU priority of a runner warming up, until its notebook arrives


@dataclass(frozen=True)
class Account:
    """Who runs student code: a dedicated system user, or the grader itself (uid None)."""

    name: str
    uid: int | None = None
    gid: int | None = None

    @property
    def dedicated(self) -> bool:
        return self.uid is not None


def sandbox_account(slot: int) -> Account:
    """The account for worker slot ``slot``; created on first use when running as root."""
    if os.geteuid() != 0:
        return Account(name=pwd.getpwuid(os.geteuid()).pw_name)
    name = f"{ACCOUNT_PREFIX}{slot}"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", name],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(name)
    return Account(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def protect(paths: list[Path]) -> None:
    """Make course folders unreadable to sandbox accounts (owner and group keep access)."""
    for path in paths:
        if path.exists():
            mode = path.stat().st_mode & 0o7777
            if mode & 0o007:
                os.chmod(path, mode & ~0o007)


def protected(path: Path) -> bool:
    """True when 'other' users (sandbox accounts) cannot enter or read path."""
    return not (path.stat().st_mode & 0o005) if path.exists() else True


@dataclass
class RunResult:
    """What came back from one sandboxed run."""

    cells: dict[int, dict] = field(default_factory=dict)
    truncated: list[int] = field(default_factory=list)
    kernel_started: bool = False
    finished: bool = False          # the runner reported the end of the notebook
    kernel_died: bool = False
    deadline_hit: bool = False
    runner_error: str | None = None
    returncode: int | None = None
    duration: float = 0.0
    log_tail: str = ""
    run_id: str = ""


def _environment(workdir: Path, account: Account, run_id: str, extra: dict) -> dict:
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "USER": account.name,
        "LOGNAME": account.name,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TMPDIR": str(workdir / ".tmp"),
        "JUPYTER_RUNTIME_DIR": str(workdir / ".jupyter" / "runtime"),
        "JUPYTER_DATA_DIR": str(workdir / ".jupyter" / "data"),
        "JUPYTER_CONFIG_DIR": str(workdir / ".jupyter" / "config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(workdir / ".ipython"),
        "MPLCONFIGDIR": str(workdir / ".matplotlib"),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MALLOC_ARENA_MAX": "2",
        # pyarrow's own allocator reserves about 1 GB of address space on first use (Spark Connect's
        # createDataFrame, toPandas); under the address-space limit that left too little for threads
        # and DuckDB's buffers. The system allocator reserves only what is used.
        "ARROW_DEFAULT_MEMORY_POOL": "system",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
        "LABS_WORK_DIR": str(workdir / ".labs-work"),
        "LABS_DATA_DIR": str(workdir / ".labs-data"),
        "LABS_RUN_ID": run_id,  # names what the run creates on the stack, so the grader can remove it
    }
    # Endpoints of the stack (and any other LABS_ setting) pass through, except the paths
    # of the course itself.
    for key, value in os.environ.items():
        if key.startswith("LABS_") and key not in ("LABS_HOME",) and key not in env:
            env[key] = value
    env.update(extra)
    return env


def _chown_tree(path: Path, account: Account) -> None:
    if not account.dedicated:
        return
    for dirpath, _dirs, filenames in os.walk(path):
        os.chown(dirpath, account.uid, account.gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), account.uid, account.gid, follow_symlinks=False)


@contextlib.contextmanager
def account_lock(account: Account):
    """Hold a dedicated account for one run, machine-wide: a second grader on the same machine
    waits for the slot instead of sharing it (a run ends by killing every process of its account)."""
    if not account.dedicated:
        yield
        return
    path = Path(tempfile.gettempdir()) / f".{account.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def kill_account(account: Account) -> None:
    """Kill every process of a dedicated sandbox account (kill -9 -1 run as that account)."""
    if not account.dedicated:
        return
    for _ in range(5):
        subprocess.run(["kill", "-9", "-1"], user=account.uid, group=account.gid, extra_groups=[],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if not _account_processes(account.uid):
            return
        time.sleep(0.1)


def _account_processes(uid: int) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter(["uids", "status"]):
        try:
            # a zombie runs nothing and holds nothing but its pid, until its new parent reaps it
            if proc.info["uids"] and proc.info["uids"].real == uid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _kill_tree(proc: subprocess.Popen, known: dict, leader_exits: bool = False) -> None:
    """Kill a process, its session and every descendant seen during the run. ``leader_exits``:
    the process ends by itself once its descendants are gone (bubblewrap does), so they are
    killed first and it is given a moment to reap them, leaving no zombie behind it."""

    if leader_exits:
        _kill_known(known)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _kill_known(known)


def _kill_known(known: dict) -> None:
    import psutil

    for child_pid, created in list(known.items()):
        try:
            proc = psutil.Process(child_pid)
            if proc.create_time() == created:
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def _remember_descendants(pid: int, known: dict) -> None:
    import psutil

    try:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                known.setdefault(child.pid, child.create_time())
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        pass


class ForkedRun:
    """A runner forked by a zygote, seen from the grader like the ``subprocess.Popen`` of a started
    one. It is the zygote's child, not the grader's: its end is watched through a pidfd, and
    its exit code is not known (``wait`` returns None once it ended)."""

    returncode = None

    def __init__(self, pid: int, pidfd: int | None, stdin):
        self.pid = pid
        self.pidfd = pidfd
        self.stdin = stdin

    def wait(self, timeout: float | None = None) -> None:
        if self.pidfd is None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while _alive(self.pid):
                if deadline is not None and time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired("runner", timeout)
                time.sleep(0.05)
            return None
        if not select.select([self.pidfd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired("runner", timeout)
        return None

    def close(self) -> None:
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _spawn(zygote, request: dict, result_fd: int, log_file) -> ForkedRun:
    """Fork a runner from ``zygote``; its request goes to the child's stdin, never to the zygote."""
    stdin_r, stdin_w = os.pipe()
    try:
        pid, pidfd = zygote.spawn(stdin_r, result_fd, log_file.fileno())
    finally:
        os.close(stdin_r)
        os.close(result_fd)
    stdin = os.fdopen(stdin_w, "wb")
    with contextlib.suppress(BrokenPipeError):
        stdin.write((json.dumps(request) + "\n").encode())
        stdin.flush()
    return ForkedRun(pid, pidfd, stdin)


@dataclass
class Warm:
    """A sandboxed runner started ahead of its notebook: its account held, its fresh folder made,
    its limits applied and (with ``prestart``) its kernel starting. It serves exactly one
    notebook (``finish``) or none (``discard``); nothing of it outlives that."""

    account: Account
    limits: Limits
    run_id: str
    base: Path
    workdir: Path
    proc: subprocess.Popen
    read_fd: int
    log_file: object
    hold: contextlib.ExitStack
    private_view: bool
    kernel_name: str | None
    known: dict = field(default_factory=dict)
    done: bool = False


def prestart(*, account: Account, limits: Limits, kernel_name: str | None = None, run_id: str | None = None,
             extra_env: dict | None = None, private_view: bool = False, preload: list[str] = (),
             zygote=None) -> Warm:
    """Start the runner of a notebook not known yet: it applies its limits, imports what it
    needs and starts a kernel named ``kernel_name`` (importing the ``preload`` modules in it),
    then waits for its notebook. ``zygote`` (``labs.grading.zygote.Zygote``): the runner and its
    kernel are forked from it, in the same view and account, instead of started anew."""
    hold = contextlib.ExitStack()
    hold.enter_context(account_lock(account))
    try:
        run_id = run_id or runs.new_id()
        base = Path(tempfile.mkdtemp(prefix="labs-grade-", dir=confine.runs_folder()))
        os.chmod(base, 0o711)
        workdir = base / "work"
        workdir.mkdir(mode=0o700)
        for sub in (".tmp", ".jupyter/runtime", ".ipython", ".matplotlib"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        env = _environment(workdir, account, run_id, extra_env or {})
        creds = kafka_clients.from_env(env)
        if creds is not None:  # the run's own Kafka principal, for every Kafka client of every Python it starts
            site = workdir / ".labs-site"
            site.mkdir()
            (site / "sitecustomize.py").write_text(kafka_clients.SITECUSTOMIZE)
            env["PYTHONPATH"] = str(site)
        if account.dedicated:  # what the gate lets this account do on Kafka Connect and the registry
            gate.register(account.uid, run_id, [p for p in env.get("LABS_RUN_PREFIXES", "").split(",") if p],
                          {"bootstrap": env["LABS_KAFKA_BOOTSTRAP"], "java": creds.java()} if creds else None)
        _chown_tree(workdir, account)
        log_file = open(base / "runner.log", "wb")  # noqa: SIM115 (closed by finish or discard)
        read_fd, write_fd = os.pipe()
        header = {
            "start_timeout": limits.start_timeout,
            # a shared account's threads outside the run count against RLIMIT_NPROC too; counted
            # here, where they are visible (inside the view's process namespace they are not)
            "limits": limits.for_runner(account.dedicated, 0 if account.dedicated else uid_tasks(os.getuid())),
            "kernel_name": kernel_name,
            "preload": list(preload),
        }
        if zygote is not None:
            request = {"uid": account.uid, "gid": account.gid, "workdir": str(workdir),
                       "runs_folder": str(base.parent), "isolate": private_view, "nice": WARM_NICE,
                       "shown": [str(p) for p in view.readonly_paths()] if private_view else [],
                       "env": env, "header": header}
            proc = _spawn(zygote, request, write_fd, log_file)
        else:
            kwargs = {"user": account.uid, "group": account.gid, "extra_groups": []} if account.dedicated else {}
            prefix = view.command(workdir) if private_view else []
            try:
                proc = subprocess.Popen(
                    [*prefix, sys.executable, "-m", "labs.grading.runner", str(write_fd)],
                    stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir,
                    env=env, pass_fds=(write_fd,),
                    start_new_session=True, umask=0o077, **kwargs)
            finally:
                os.close(write_fd)
            with contextlib.suppress(OSError):  # warming uses only what running notebooks leave idle
                os.setpriority(os.PRIO_PROCESS, proc.pid, WARM_NICE)
            try:
                proc.stdin.write((json.dumps(header) + "\n").encode())
                proc.stdin.flush()
            except BrokenPipeError:
                pass
        warm = Warm(account=account, limits=limits, run_id=run_id, base=base, workdir=workdir, proc=proc,
                    read_fd=read_fd, log_file=log_file, hold=hold, private_view=private_view,
                    kernel_name=kernel_name)
        return warm
    except BaseException:
        hold.close()
        raise


def start_zygote(preload: list[str], *, private_view: bool):
    """A zygote for one worker slot (``labs.grading.zygote``): the runner's and the kernel's modules
    and ``preload`` imported once; in a view of its own when runs get one."""
    from . import nsview, zygote

    folder = Path(tempfile.mkdtemp(prefix="labs-zygote-", dir=confine.runs_folder()))
    home = Path("/tmp/labs-zygote")  # in its own /tmp (with a view): where imports may keep caches
    env = _environment(home, Account(name=pwd.getpwuid(os.geteuid()).pw_name), "", {})
    env.pop("LABS_RUN_ID", None)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # what ipykernel gives a kernel
    # pyarrow's jemalloc starts a background thread when loaded, and a process with threads cannot
    # be forked safely; the kernels' Arrow memory comes from the system allocator anyway
    env["JE_ARROW_MALLOC_CONF"] = "background_thread:false"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # ipykernel's debugger, imported there, warns on import otherwise
    args = view.zygote_command(zygote.CAPABILITIES, confine.runs_folder(), nsview.HOST_RUNS) if private_view else []
    try:
        return zygote.Zygote.start(preload, env, view_args=args, log_path=folder / "zygote.log")
    except RuntimeError as exc:
        tail = ""
        with contextlib.suppress(OSError):
            tail = (folder / "zygote.log").read_text(errors="replace")[-600:]
        raise RuntimeError(f"{exc}{': ' + tail.strip() if tail.strip() else ''}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def finish(warm: Warm, nb, *, supporting_files: list[tuple[Path, str]] = (), log_path: Path | None = None) -> RunResult:
    """Give the warm runner its notebook and collect the executed cells, then kill every process
    of the run and remove its folder. The notebook's time limit starts now."""
    result = RunResult(run_id=warm.run_id)
    started = time.monotonic()
    try:
        for src, rel in supporting_files:
            dest = warm.workdir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        if supporting_files:
            _chown_tree(warm.workdir, warm.account)
        _full_priority(warm.proc)
        job = {
            "notebook": nb,
            "cell_timeout": warm.limits.cell_timeout,
            "max_output_bytes": warm.limits.max_output_bytes,
            "kernel_name": nb.metadata.get("kernelspec", {}).get("name"),
        }
        try:
            warm.proc.stdin.write(json.dumps(job).encode())
            warm.proc.stdin.close()
        except BrokenPipeError:
            pass
        deadline = started + warm.limits.notebook_timeout
        _read_results(warm.read_fd, warm.proc, deadline, result, warm.known)
        if not result.deadline_hit and not result.finished:
            try:
                result.returncode = warm.proc.wait(timeout=max(5.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                result.deadline_hit = True
    finally:
        _end(warm, result)
        result.duration = time.monotonic() - started
    log = warm.base / "runner.log"
    with contextlib.suppress(OSError):
        if log_path:
            shutil.copyfile(log, log_path)
        with open(log, "rb") as fh:
            fh.seek(max(0, log.stat().st_size - 4000))
            result.log_tail = fh.read().decode("utf-8", "replace")
    shutil.rmtree(warm.base, ignore_errors=True)
    return result


def _full_priority(proc: subprocess.Popen) -> None:
    """Give a warm runner and its kernel back the normal CPU priority (possible as root; without
    root every runner stays at WARM_NICE, which treats all notebooks alike)."""
    import psutil

    try:
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        with contextlib.suppress(psutil.Error, OSError):
            p.nice(0)


def discard(warm: Warm) -> None:
    """End a warm runner that got no notebook (the batch ran out of work)."""
    if not warm.done:
        with contextlib.suppress(OSError, ValueError):
            warm.proc.stdin.close()  # no notebook: the runner stops its kernel, reaps it and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            warm.proc.wait(timeout=10)
        _end(warm, RunResult(run_id=warm.run_id))
    shutil.rmtree(warm.base, ignore_errors=True)


def _end(warm: Warm, result: RunResult) -> None:
    """Kill every process of the run, close its pipe and log, release its account."""
    if warm.done:
        return
    warm.done = True
    try:
        os.close(warm.read_fd)
        _remember_descendants(warm.proc.pid, warm.known)
        _kill_tree(warm.proc, warm.known, leader_exits=warm.private_view)
        kill_account(warm.account)
        if warm.account.dedicated:
            gate.unregister(warm.account.uid)
        if result.returncode is None:
            try:
                result.returncode = warm.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if isinstance(warm.proc, ForkedRun):
            warm.proc.close()
        warm.log_file.close()
        warm.hold.close()


def _read_results(fd: int, proc, deadline: float, result: RunResult, known: dict) -> None:
    buffer = bytearray()
    total = 0
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    last_scan = 0.0
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                result.deadline_hit = True
                return
            if now - last_scan > 0.5:
                _remember_descendants(proc.pid, known)
                last_scan = now
            if not sel.select(timeout=min(0.5, deadline - now)):
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return
            total += len(chunk)
            if total > MAX_RESULT_BYTES:
                result.runner_error = "the executor sent more data than allowed"
                return
            buffer.extend(chunk)
            while b"\n" in buffer:
                line, _, rest = bytes(buffer).partition(b"\n")
                buffer = bytearray(rest)
                _handle_message(line, result)
            if result.finished:  # every cell is in: what the runner does next is of no use
                return
    finally:
        sel.close()


def _handle_message(line: bytes, result: RunResult) -> None:
    try:
        message = json.loads(line)
    except ValueError:
        result.runner_error = "unreadable message from the executor"
        return
    event = message.get("event")
    if event == "kernel_started":
        result.kernel_started = True
    elif event == "cell":
        result.cells[int(message["index"])] = nbformat.from_dict(message["cell"])
        if message.get("truncated"):
            result.truncated.append(int(message["index"]))
    elif event == "done":
        result.finished = True
        result.kernel_died = bool(message.get("kernel_died"))
        result.runner_error = message.get("error") or result.runner_error


def account_group_name(account: Account) -> str:
    return grp.getgrgid(account.gid).gr_name if account.dedicated else ""


# --- letting the sandbox account run the course's Python ---------------------------------

_ACL_XATTR = "system.posix_acl_access"


def _acl_with_traverse(mode: int, uids: list[int]) -> bytes:
    """A POSIX access ACL equal to ``mode`` plus execute (traverse) for each uid."""
    import struct

    def entry(tag: int, perm: int, ident: int = 0xFFFFFFFF) -> bytes:
        return struct.pack("<HHI", tag, perm, ident)

    blob = struct.pack("<I", 2)
    blob += entry(0x01, (mode >> 6) & 7)
    for uid in sorted(uids):
        blob += entry(0x02, 1, uid)
    blob += entry(0x04, (mode >> 3) & 7)
    blob += entry(0x10, ((mode >> 3) & 7) | 1)
    blob += entry(0x20, mode & 7)
    return blob


def _acl_uids(path: str) -> list[int] | None:
    """Named-user entries of an existing ACL (None when the path has no ACL)."""
    import struct

    try:
        blob = os.getxattr(path, _ACL_XATTR)
    except OSError:
        return None
    uids = []
    for offset in range(4, len(blob), 8):
        tag, perm, ident = struct.unpack_from("<HHI", blob, offset)
        if tag == 0x02:
            uids.append(ident)
    return uids


def can_run_python(account: Account) -> bool:
    if not account.dedicated:
        return True
    try:
        probe = subprocess.run([sys.executable, "-c", "import labs.grading.runner"], user=account.uid,
                               group=account.gid, extra_groups=[], cwd="/", capture_output=True, check=False,
                               env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    except OSError:
        return False
    return probe.returncode == 0


def ensure_python_access(account: Account, log=print) -> None:
    """Make sure a dedicated account can execute the course's Python and import ``labs``.

    When the interpreter lives under a folder closed to other users (for example pyenv under
    /root, mode 0700), grant that account *traverse only* (x, no listing, no reading) on the
    blocking folders with a POSIX ACL entry, and say so.
    """
    if can_run_python(account):
        return
    blocking = []
    for target in (Path(os.path.realpath(sys.executable)), Path(__file__).resolve()):
        for folder in reversed(target.parents):
            st = folder.stat()
            if not st.st_mode & 0o001 and str(folder) not in blocking:
                blocking.append(str(folder))
    for folder in blocking:
        mode = os.stat(folder).st_mode & 0o777
        existing = _acl_uids(folder)
        uids = sorted(set((existing or []) + [account.uid]))
        try:
            # The ACL mask shows as the group bits (--x); the owning group itself keeps no access.
            os.setxattr(folder, _ACL_XATTR, _acl_with_traverse(mode, uids))
        except OSError as exc:
            raise LabsError(
                f"the sandbox account {account.name} cannot run {sys.executable}: {folder} is closed "
                f"to other users and an ACL could not be set ({exc}). Fix: `chmod o+x {folder}`, or "
                f"install the course's Python outside {folder}.") from exc
        log(f"granted traverse-only access (ACL u:{account.name}:--x) on {folder} so the sandbox "
            f"account can run the course's Python")
    if not can_run_python(account):
        raise LabsError(f"the sandbox account {account.name} still cannot run {sys.executable} "
                        f"and import labs; check the permissions of the virtualenv and the course")


def ensure_python_access_all(accounts: list[Account], log=print) -> None:
    """``ensure_python_access`` for each account: the accounts are tried at once (a Python started
    as each), and those that cannot run it are given access one after the other (the grants change
    the same folders' ACLs)."""
    from concurrent.futures import ThreadPoolExecutor

    if not accounts:
        return
    with ThreadPoolExecutor(max_workers=len(accounts)) as pool:
        able = list(pool.map(can_run_python, accounts))
    for account, ok in zip(accounts, able, strict=True):
        if not ok:
            ensure_python_access(account, log=log)

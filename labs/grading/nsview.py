"""A graded run's private view, entered by a process forked from a zygote (``labs.grading.zygote``).

A runner started with ``bwrap`` gets its view from bubblewrap. A runner forked from a zygote
cannot: bubblewrap starts a new program, and the point of the zygote is not to. The zygote
itself lives in a bubblewrap view (the system folders, the Python environment and the ``labs``
package read-only, no course folder), as root with only the capabilities this module needs;
what differs from one run to the next is done here, in the forked child, with the same Linux
calls bubblewrap makes:

- ``isolate()`` (still root): new mount, process-id, IPC and host-name namespaces;
- ``enter()`` (root, then the run's account for good): ``/proc`` of the new process namespace,
  a fresh private ``/tmp``, ``/var/tmp`` and ``/dev/shm``, the run's own work folder and nothing
  else of the runs' folder (the zygote sees all of them, at ``HOST_RUNS``, which is unmounted
  here), then the sandbox account, no supplementary group, no capability and no way to gain one
  (``no_new_privs``).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
HOST_RUNS = "/.labs-host-runs"  # where the zygote's view shows the machine's runs folder
HOSTNAME = "labs-sandbox"

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(text):
        return text.encode() if text is not None else None

    _check(_c().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} on {target}")


def prctl(option: int, value: int) -> None:
    _check(_c().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def isolate() -> None:
    """New namespaces for this process's next child (which is process 1 of its own)."""
    _check(_c().unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the zygote


def enter(workdir: Path, runs_folder: Path, uid: int | None, gid: int | None, shown: list[Path] = ()) -> None:
    """Become the run: its view of the files, then its account (``uid`` None: keep this one).
    ``shown``: the folders the zygote's view shows read-only; those under ``/tmp`` (a course
    checked out there) are shown again on the run's fresh ``/tmp``."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    under_tmp = [p for p in map(Path, shown) if Path("/tmp") in p.parents]
    held = [os.open(p, os.O_PATH | os.O_DIRECTORY) for p in under_tmp]  # reachable once /tmp is covered
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    # POSIX semaphores and shared memory (multiprocessing's locks), and /var/tmp: the run's own, as /tmp
    for folder in ("/dev/shm", "/var/tmp"):
        os.makedirs(folder, exist_ok=True)
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for path, fd in zip(under_tmp, held, strict=True):
        path.mkdir(parents=True, exist_ok=True)
        for folder in [path, *path.parents][1:]:  # the folders made above it: the run passes through
            if folder == Path("/tmp"):
                break
            os.chmod(folder, 0o755)
        _mount(f"/proc/self/fd/{fd}", str(path), None, MS_BIND | MS_REC)
        _mount(None, str(path), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    runs_folder.mkdir(parents=True, exist_ok=True)
    _mount("tmpfs", str(runs_folder), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711")
    workdir.mkdir(parents=True)
    rel = workdir.relative_to(runs_folder)
    _mount(str(Path(HOST_RUNS) / rel), str(workdir), None, MS_BIND)
    _check(_c().umount2(HOST_RUNS.encode(), MNT_DETACH), f"umount {HOST_RUNS}")
    name = HOSTNAME.encode()
    _check(_c().sethostname(name, len(name)), "sethostname")
    if uid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    os.chdir(workdir)

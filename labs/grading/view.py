"""The private filesystem view of a graded notebook run, built with bubblewrap (``bwrap``).

Student code sees only what a notebook needs, whatever the machine holds around it (another
clone of the course, a backup, a home folder, a cache): the system folders and the Python
environment read-only, the ``labs`` package and the course's cache read-only, its own fresh work
directory (holding the released assignment's files) read-write, and a private, empty ``/tmp``. It gets its own
process-id namespace (it sees no other process and nothing of their command lines) and keeps
the machine's network (the labs talk to the local stack on loopback).

bubblewrap runs unprivileged, as the sandbox account, through Linux user namespaces. Where it
is missing or the kernel refuses namespaces (macOS, some containers), ``labs grade`` says so in
one line and grades without the view, as before (``--private-view on`` makes that an error).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The system's programs, libraries and settings (`/etc` holds no course file; its secrets are
# root-only). Java lives under /usr/lib/jvm on Debian.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
MODES = ("auto", "on", "off")
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install -y bubblewrap; `make setup` does it as root)"


def _resolved(path: str | Path) -> Path:
    return Path(path).resolve()


def readonly_paths() -> list[Path]:
    """Folders outside the system ones that a notebook run must read: the Python environment
    (the virtual environment and the interpreter it was made from), the ``labs`` package, alone
    (the folder around it, the course checkout, stays out of the view), and the course's cache
    (``labs.cache``: built once, e.g. Airflow's migrated metadata database)."""
    import labs
    from labs import cache

    wanted = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent,
              Path(labs.__file__).parent, cache.folder()]
    if java := os.environ.get("JAVA_HOME"):
        wanted.append(Path(java))
    system = [_resolved(x) for x in SYSTEM if Path(x).exists()]
    paths = sorted({_resolved(p) for p in wanted if Path(p).exists()}, key=lambda p: len(p.parts))
    out: list[Path] = []
    for path in paths:
        if not any(path == seen or seen in path.parents for seen in system + out):
            out.append(path)
    return out


def system_binds() -> list[str]:
    """``bwrap`` arguments showing the system folders read-only, with /proc, /dev and /sys."""
    args = []
    for folder in SYSTEM:
        if os.path.islink(folder):  # merged /usr: /bin -> usr/bin and so on
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    return args + ["--proc", "/proc", "--dev", "/dev", "--ro-bind-try", "/sys", "/sys"]


def command(workdir: Path, readonly: list[Path] | None = None) -> list[str]:
    """The ``bwrap`` prefix that runs a program inside the view, with ``workdir`` writable."""
    args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "labs-sandbox", "--new-session", *system_binds(),
            "--tmpfs", "/tmp", "--dir", "/var/tmp"]
    for path in readonly_paths() if readonly is None else readonly:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--"]
    return args


def zygote_command(capabilities: tuple[str, ...], runs: Path, hidden_runs: str) -> list[str]:
    """The ``bwrap`` prefix of a grading zygote (``labs.grading.zygote``), run as root: the view of
    ``command`` without any run's folder, with the runs' folder ``runs`` at ``hidden_runs`` (each
    forked run shows its own folder and unmounts that), and only ``capabilities``."""
    from labs.stack import confine

    args = ["bwrap", "--die-with-parent"]
    for cap in capabilities:
        args += ["--cap-add", cap]
    args += [*system_binds(), *confine.masked(), "--tmpfs", "/tmp", "--dir", "/var/tmp"]
    shown = readonly_paths()
    # bubblewrap makes the folders above a bound path root's own (0700) when it runs as root;
    # the runs' accounts must pass through them, as they do in a view bubblewrap makes for them
    parents = sorted({p for path in [*shown, runs] for p in path.parents if p != Path("/")},
                     key=lambda p: len(p.parts))
    for parent in parents:
        args += ["--perms", "0755", "--dir", str(parent)]
    for path in shown:
        args += ["--ro-bind", str(path), str(path)]
    return [*args, "--dir", str(runs), "--bind", str(runs), hidden_runs, "--chdir", "/", "--"]


@functools.cache
def problem(uid: int | None = None, gid: int | None = None) -> str | None:
    """Why the view cannot be built for the account (``None`` when it can): bubblewrap is run
    once, as that account, on an empty work directory."""
    if shutil.which("bwrap") is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="labs-view-probe-") as tmp:
        os.chmod(tmp, 0o777)
        kwargs = {"user": uid, "group": gid, "extra_groups": []} if uid is not None else {}
        try:
            done = subprocess.run(command(Path(tmp)) + [sys.executable, "-c", "import labs"],
                                  capture_output=True, timeout=60, **kwargs)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bubblewrap could not start ({exc})"
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        return (f"bubblewrap cannot build the view here ({why[0]}); the kernel may refuse unprivileged "
                f"user namespaces (sysctl kernel.unprivileged_userns_clone=1, or "
                f"kernel.apparmor_restrict_unprivileged_userns=0)")
    return None


def decide(mode: str, uid: int | None, gid: int | None, log) -> bool:
    """Use the view? ``auto``: when it works, else one line saying why not; ``on``: it must work;
    ``off``: never."""
    from labs.errors import BadValueError, LabsError

    if mode not in MODES:
        raise BadValueError(f"--private-view {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "off":
        return False
    why = problem(uid, gid)
    if why is None:
        return True
    if mode == "on":
        raise LabsError(f"no private filesystem view for student code: {why}")
    log(f"note: student code sees the machine's files (no private view): {why}")
    return False

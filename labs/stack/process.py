"""Start, find and stop the stack's processes.

Each service we start gets a pid file (``var/run/<name>.pid``), written as soon as the
process is spawned, that records the pid and the process's start time, so a recycled pid is
never mistaken for ours and ``down`` stops only what ``up`` started. A process of ours that
lost its pid file is recognised by its command line (``untracked``). Services run in their
own session (process group), so stopping one stops every child it spawned.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from labs import config


def run_dir() -> Path:
    return config.var_dir() / "run"


def pid_file(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def find(name: str) -> psutil.Process | None:
    """The live process we started for ``name``, or None."""
    path = pid_file(name)
    try:
        record = json.loads(path.read_text())
        proc = psutil.Process(record["pid"])
        if abs(proc.create_time() - record["create_time"]) > 1 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (FileNotFoundError, ValueError, KeyError, psutil.Error):
        return None


def spawn(name: str, argv: list[str], log: Path, env: dict | None = None) -> psutil.Process:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log``, and write its pid file
    at once, so the process is ours even if the caller is killed while it starts."""
    log.parent.mkdir(parents=True, exist_ok=True)
    run_dir().mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
        out.flush()
        popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env={**os.environ, **(env or {})}, start_new_session=True)
    proc = psutil.Process(popen.pid)  # a child that already exited is a zombie, still there to record
    record(name, proc, argv)
    return proc


def record(name: str, proc: psutil.Process, argv: list[str]) -> None:
    """Write the pid file that makes ``proc`` the process we run for ``name``."""
    run_dir().mkdir(parents=True, exist_ok=True)
    tmp = pid_file(name).with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": proc.pid, "create_time": proc.create_time(), "argv": argv}))
    tmp.replace(pid_file(name))


def untracked(marks: tuple[str, ...]) -> psutil.Process | None:
    """The oldest live process whose command line holds every one of ``marks``, or None."""
    if not marks:
        return None
    found = []
    for proc in psutil.process_iter(["cmdline", "create_time", "status"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if proc.info["status"] != psutil.STATUS_ZOMBIE and all(mark in cmdline for mark in marks):
                found.append(proc)
        except psutil.Error:
            pass
    return min(found, key=lambda p: p.info["create_time"], default=None)


def tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def stop(name: str, timeout: float = 20.0) -> bool:
    """Stop the process we started for ``name`` and all its children. True if something was stopped."""
    proc = find(name)
    if proc is None:
        pid_file(name).unlink(missing_ok=True)
        return False
    procs = tree(proc)
    for sig_timeout, sig in ((timeout, signal.SIGTERM), (5.0, signal.SIGKILL)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for p in procs:
            try:
                p.send_signal(sig)
            except psutil.Error:
                pass
        _, procs = psutil.wait_procs(procs, timeout=sig_timeout)
        if not procs:
            break
    pid_file(name).unlink(missing_ok=True)
    return True


def rss_bytes(proc: psutil.Process) -> int:
    total = 0
    for p in tree(proc):
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def port_open(port: int, host: str = config.HOST, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.25,
               alive: Callable[[], bool] | None = None) -> bool:
    """Poll ``check`` until it is true, ``timeout`` passes, or ``alive`` says the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # a health probe that errors is just "not yet"
            pass
        if alive is not None and not alive():
            return False
        time.sleep(interval)
    return False


def java() -> str:
    """The java binary (``JAVA_HOME`` first, then PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return "java"


def jvm_opts(heap_mb: int) -> list[str]:
    """Small, quick-starting JVM settings shared by the stack's Java services."""
    return [f"-Xms{min(64, heap_mb)}m", f"-Xmx{heap_mb}m", "-XX:+UseSerialGC", "-XX:MaxMetaspaceSize=256m",
            "-XX:ReservedCodeCacheSize=64m", "-Xss512k", "-Djava.awt.headless=true",
            f"-Djava.io.tmpdir={config.work_dir() / 'tmp'}"]

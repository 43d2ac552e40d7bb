"""Bring the whole stack up, down, or report on it.

``up`` is idempotent: a service already running from our pid file is left alone, a process of
this stack that lost its pid file (known by its command line) is adopted, a port held by
anything else is reported with the variable that moves it, and nothing is started twice. Independent
services start together; Connect waits for Kafka. ``down`` stops a service together with
the services that depend on it, never what it depends on.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psutil

from labs.errors import LabsError
from labs.stack import confine, process
from labs.stack.connect import Connect
from labs.stack.gate import Gate
from labs.stack.kafka import Kafka
from labs.stack.mariadb import MariaDB
from labs.stack.registry import Registry
from labs.stack.service import Service
from labs.stack.spark_connect import SparkConnect

ORDER = ("kafka", "mariadb", "gate", "registry", "spark-connect", "connect")
KINDS = {"kafka": Kafka, "connect": Connect, "mariadb": MariaDB, "gate": Gate, "registry": Registry,
         "spark-connect": SparkConnect}


class StackError(LabsError):
    """A service could not be started; the message says what to do."""


def services(names: list[str] | None = None, with_dependents: bool = False) -> list[Service]:
    """The stack's services in start order: all of them, or those named with what they depend on
    (or, with ``with_dependents``, with what depends on them)."""
    unknown = set(names or ()) - set(KINDS)
    if unknown:
        raise StackError(f"unknown service(s) {', '.join(sorted(unknown))}; choose from {', '.join(ORDER)}")
    every = {name: KINDS[name]() for name in ORDER}
    wanted = set(names or ORDER)
    while True:  # close over dependencies (or dependents), transitively
        if with_dependents:
            more = {n for n, svc in every.items() if wanted & set(svc.depends_on)}
        else:
            more = {d for n in wanted for d in every[n].depends_on}
        if more <= wanted:
            break
        wanted |= more
    return [every[n] for n in ORDER if n in wanted]


@dataclass
class Status:
    name: str
    state: str  # up | starting | down | external | external-down | failed
    endpoint: str
    pid: int | None = None
    rss_mb: float | None = None
    seconds: float | None = None
    log: str = ""


def _probe(check) -> bool:
    try:
        return bool(check())
    except Exception:
        return False


def _healthy(svc: Service) -> bool:
    return _probe(svc.healthy)


def check_ports(svc: Service) -> None:
    for port, var in svc.ports.items():
        if process.port_open(port):
            raise StackError(
                f"port {port} on 127.0.0.1 is already in use by another program, so {svc.name} cannot start. "
                f"Stop that program, or choose another port: export {var}=<free port>, then run `labs stack up` again."
            )


def check_needs(svc: Service) -> None:
    for path, fix in svc.needs.items():
        if not path.exists():
            raise StackError(f"{svc.name}: {path} is missing; run `{fix}` first.")


def ours(svc: Service, log=print) -> psutil.Process | None:
    """The running process of ``svc`` we started: from its pid file, or a process of this stack that
    lost its pid file (a killed ``up`` left it), which is adopted (its pid file written again)."""
    proc = process.find(svc.name)
    if proc is None:
        proc = process.untracked(svc.marks())
        if proc is not None:
            process.record(svc.name, proc, proc.cmdline())
            log(f"  adopted {svc.name} (pid {proc.pid}): it runs from this stack's files but had no pid file")
    return proc


def start(svc: Service, log=print) -> Status:
    """Start one service (if it is not already ours and up) and wait until it is healthy."""
    t0 = time.monotonic()
    if svc.external:
        state = "external" if _healthy(svc) else "external-down"
        return Status(svc.name, state, svc.endpoint)
    proc = ours(svc, log)
    if proc is None:
        check_needs(svc)
        check_ports(svc)
        try:
            svc.prepare()
        except subprocess.CalledProcessError as exc:
            detail = (exc.stderr or b"").decode(errors="replace").strip()[-2000:]
            raise StackError(f"{svc.name}: preparing failed ({exc}).\n{detail}") from None
        proc = process.spawn(svc.name, confine.wrap(svc.name, svc.argv()), svc.log, env=svc.env())
        log(f"  starting {svc.name} (pid {proc.pid}, log {svc.log})")
    ok = process.wait_until(lambda: _probe(svc.answers), svc.start_timeout, alive=proc.is_running)
    if ok:
        svc.after_start()
        ok = process.wait_until(lambda: _healthy(svc), 10, alive=proc.is_running)
    if not ok:
        what = f"did not become healthy within {svc.start_timeout:.0f} s" if proc.is_running() else "exited"
        raise StackError(
            f"{svc.name} {what}; "
            f"see its log: {svc.log}  (last lines: `labs stack logs {svc.name}`)"
        )
    return Status(svc.name, "up", svc.endpoint, proc.pid, seconds=time.monotonic() - t0, log=str(svc.log))


def up(names: list[str] | None = None, log=print) -> list[Status]:
    """Start the stack (or the named services and what they depend on)."""
    chosen = services(names)
    futures: dict = {}

    def start_after_needs(svc: Service) -> Status:
        for need in svc.depends_on:
            try:
                futures[need].result()
            except LabsError:
                raise StackError(f"{svc.name}: not started because {need} is not up") from None
        return start(svc, log)

    with ThreadPoolExecutor(max_workers=len(chosen) or 1) as pool:
        for svc in chosen:  # in ORDER: what a service needs is submitted before it
            futures[svc.name] = pool.submit(start_after_needs, svc)
        results, errors = {}, []
        for name, fut in futures.items():
            try:
                results[name] = fut.result()
            except LabsError as exc:
                errors.append(str(exc))
    if errors:
        raise StackError("\n".join(errors))
    return [results[s.name] for s in chosen]


def down(names: list[str] | None = None, log=print) -> list[str]:
    """Stop what ``up`` started: the named services and every service that depends on them (dependents
    first), or the whole stack. Returns the names stopped."""
    stopped = []
    for svc in reversed(services(names, with_dependents=True)):
        if not svc.external:
            ours(svc, log)  # a process of ours that lost its pid file is adopted, then stopped like the others
        if process.stop(svc.name):
            log(f"  stopped {svc.name}")
            stopped.append(svc.name)
    return stopped


def status(names: list[str] | None = None) -> list[Status]:
    out = []
    for svc in services(names):
        if svc.external:
            out.append(Status(svc.name, "external" if _healthy(svc) else "external-down", svc.endpoint))
            continue
        proc = process.find(svc.name)
        if proc is None:
            out.append(Status(svc.name, "down", svc.endpoint, log=str(svc.log)))
            continue
        state = "up" if _healthy(svc) else "starting"
        out.append(Status(svc.name, state, svc.endpoint, proc.pid, process.rss_bytes(proc) / 2**20, log=str(svc.log)))
    return out


def table(rows: list[Status]) -> str:
    header = ("service", "state", "endpoint", "pid", "RSS MB", "ready s", "log")
    lines = [header]
    for r in rows:
        lines.append((r.name, r.state, r.endpoint, str(r.pid or "-"),
                      f"{r.rss_mb:.0f}" if r.rss_mb is not None else "-",
                      f"{r.seconds:.1f}" if r.seconds is not None else "-", r.log or "-"))
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in lines)


def tail(name: str, lines: int = 40) -> str:
    (svc,) = [s for s in services([name]) if s.name == name]
    if not svc.log.exists():
        return f"(no log yet at {svc.log})"
    with open(svc.log, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 256 * 1024))
        text = fh.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


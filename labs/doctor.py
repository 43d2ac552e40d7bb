"""``labs doctor``: a preflight of the machine and the stack.

Each check prints one line; each problem names the command that fixes it. The exit code
is the number of problems (0 when all is well), so CI and scripts can use it too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from labs import config
from labs.stack import manager, process
from labs.stack.mariadb import BINARIES, INSTALL_HINT, binary

MIN_MEMORY_GB = 6
MIN_DISK_GB = 5


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _java() -> Check:
    try:
        out = subprocess.run([process.java(), "-version"], capture_output=True, text=True, timeout=20).stderr
    except (OSError, subprocess.TimeoutExpired):
        return Check("java", False, "not found", "sudo apt-get install -y openjdk-17-jdk-headless")
    match = re.search(r'version "(\d+)', out)
    major = int(match.group(1)) if match else 0
    return Check("java", major >= 17, f"Java {major or '?'}", "" if major >= 17 else
                 "install Java 17+: sudo apt-get install -y openjdk-17-jdk-headless, or set JAVA_HOME")


def _maven() -> Check:
    found = shutil.which("mvn")
    return Check("maven", bool(found), found or "not found", "" if found else "sudo apt-get install -y maven")


def _python() -> Check:
    ok = (3, 10) <= sys.version_info[:2] < (3, 14)
    fix = "" if ok else "use Python 3.10-3.13: PYTHON=python3.12 make setup"
    return Check("python", ok, sys.version.split()[0], fix)


def _mariadb() -> Check:
    missing = [b for b in BINARIES if not binary(b)]
    return Check("mariadb binaries", not missing, "found" if not missing else f"missing: {', '.join(missing)}",
                 INSTALL_HINT if missing else "")


def _grading_guard(name: str, problem: Callable[[], str | None], works: str, hint: str) -> Check:
    """A protection of graded runs that only Linux offers: ``problem()`` says why it is off here."""
    if not sys.platform.startswith("linux"):
        return Check(name, True, f"not available on {sys.platform}: labs grade runs without it")
    why = problem()
    return Check(name, why is None, works if why is None else why, "" if why is None else hint)


def _private_view() -> Check:
    """Grading runs student code in a private filesystem view (labs.grading.view) where Linux allows it."""
    from labs.grading import view

    return _grading_guard("private view", view.problem, "bubblewrap works", view.INSTALL_HINT)


def _spark_view() -> Check:
    """The shared Spark Connect server runs in a view of the machine (labs.stack.confine)."""
    from labs.stack import confine

    return _grading_guard("spark server view", confine.problem, "bubblewrap confines the Spark Connect server",
                          "run the stack as root with bubblewrap installed (make setup installs it)")


def _course_rights() -> Check:
    """The stack's admin logs in to the broker, and the course is open on Kafka and MariaDB (or
    closed by a grader that is running)."""
    from labs.stack import rights

    if not rights.available():
        return Check("course rights", True, "external or stopped broker: the stack's rights do not apply")
    try:
        closed = [name for name, shut in (("Kafka", not rights.course_open()),
                                          ("MariaDB", rights.db_managed() and rights.database_closed())) if shut]
    except Exception as exc:  # noqa: BLE001 (one line of diagnosis)
        return Check("course rights", False, f"the stack's admin cannot log in ({type(exc).__name__}: {exc})"[:200],
                     "the broker runs with another admin password than var/kafka/admin.secret: "
                     "labs stack down kafka && labs stack up")
    if not closed:
        return Check("course rights", True, "course open (students' clients may do anything); graded runs get "
                                            "their own principal and account")
    graders = rights.closing_graders()
    if graders:
        return Check("course rights", True, f"{' and '.join(closed)} closed while grader pid "
                                            f"{', '.join(map(str, graders))} runs")
    return Check("course rights", False, f"{' and '.join(closed)} closed, and no grader is running",
                 "labs stack down kafka && labs stack up (starting the broker opens the course again)")


def _grading_firewall() -> Check:
    """Graded runs are kept off the internal ports of Connect and the registry (labs.grading.firewall)."""
    from labs.grading import firewall

    return _grading_guard("grading firewall", firewall.problem, "iptables works", firewall.INSTALL_HINT)


def _zygotes() -> Check:
    """Grading forks runners and kernels from a process per worker that imported them once
    (labs.grading.zygote); without root, only when notebooks run without a private view."""
    from labs.grading import execute, pool, view

    if not sys.platform.startswith("linux"):
        return Check("grader zygotes", True, f"not available on {sys.platform}: each runner starts anew")
    in_view = view.problem() is None
    if not pool.zygote_possible(in_view):
        return Check("grader zygotes", True, "not as root: runners in a private view start anew (slower)")
    try:
        zygote = execute.start_zygote([], private_view=in_view)
    except (RuntimeError, OSError) as exc:
        return Check("grader zygotes", False, f"a zygote cannot start: {exc}"[:300],
                     "labs grade --no-fork grades without them; report the message above")
    zygote.close()
    return Check("grader zygotes", True, "runners are forked" + (" into the private view" if in_view else ""))


def _jars() -> Check:
    wanted = ["kafka", "plugins/debezium-connector-mariadb", "apicurio", "spark-kafka"]
    missing = [w for w in wanted if not (config.jvm_dir() / w).exists()]
    return Check("stack jars", not missing, str(config.jvm_dir()) if not missing else f"missing: {', '.join(missing)}",
                 "make setup" if missing else "")


def _airflow() -> Check:
    """Lab S5 copies Airflow's migrated metadata database for each run (``make setup`` builds it)."""
    from labs import orchestrators

    ready = orchestrators.template_ready()
    return Check("airflow metadata template", ready is not None, str(ready) if ready else "not built yet",
                 "" if ready else "make setup (or the first run of lab S5 builds it, about 15 s)")


def _toxiproxy() -> Check:
    """Lab S6 starts a toxiproxy server per run (``make setup`` builds it with Go)."""
    from labs import private

    built = private.toxiproxy_binary()
    ok = built.is_file()
    return Check("toxiproxy", ok, str(built) if ok else "not built yet", "" if ok else private.TOXIPROXY_HINT)


def _memory() -> Check:
    total = psutil.virtual_memory().total / 2**30
    avail = psutil.virtual_memory().available / 2**30
    ok = total >= MIN_MEMORY_GB
    return Check("memory", ok, f"{total:.1f} GB total, {avail:.1f} GB available",
                 "" if ok else f"the stack with Spark and two kernels needs about {MIN_MEMORY_GB} GB; "
                 "close other programs or run only some services: labs stack up kafka mariadb")


def _disk() -> Check:
    path = config.var_dir() if config.var_dir().exists() else config.project_root()
    free = shutil.disk_usage(path).free / 2**30
    ok = free >= MIN_DISK_GB
    return Check("disk", ok, f"{free:.1f} GB free at {path}", "" if ok else
                 f"free at least {MIN_DISK_GB} GB, or set LABS_VAR_DIR to a roomier disk")


def _ports() -> list[Check]:
    checks = []
    for svc in manager.services():
        if svc.external:
            continue
        mine = process.find(svc.name) is not None
        for port, var in svc.ports.items():
            taken = process.port_open(port) and not mine
            checks.append(Check(f"port {port} ({svc.name})", not taken,
                                "in use by another program" if taken else ("ours" if mine else "free"),
                                f"stop that program or export {var}=<free port>" if taken else ""))
    return checks


def _services() -> list[Check]:
    out = []
    for row in manager.status():
        ok = row.state in ("up", "external")
        fix = "" if ok else ("labs stack up" if row.state == "down" else f"labs stack logs {row.name}")
        if row.state == "external-down":
            fix = f"the external endpoint {row.endpoint} does not answer; check it or unset its LABS_* variable"
        out.append(Check(f"service {row.name}", ok, f"{row.state} at {row.endpoint}", fix))
    return out


CHECKS: list[Callable[[], Check | list[Check]]] = [_python, _java, _maven, _mariadb, _private_view, _spark_view,
                                                   _grading_firewall, _zygotes, _jars, _airflow, _toxiproxy, _memory,
                                                   _disk, _ports, _services, _course_rights]


def run_checks() -> list[Check]:
    results: list[Check] = []
    for check in CHECKS:
        got = check()
        results.extend(got if isinstance(got, list) else [got])
    return results


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check Java, Maven, MariaDB, ports, memory, disk and the stack; name each fix")
    p.set_defaults(func=_run)


def _run(args) -> int:
    results = run_checks()
    width = max(len(c.name) for c in results)
    for c in results:
        mark = "ok " if c.ok else "!! "
        line = f"{mark}{c.name.ljust(width)}  {c.detail}"
        if c.fix:
            line += f"\n{' ' * (width + 5)}fix: {c.fix}"
        print(line)
    problems = sum(not c.ok for c in results)
    print(f"\n{problems} problem(s)" if problems else "\nall good")
    return min(problems, 100)

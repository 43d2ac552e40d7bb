"""Keep sandbox accounts off the stack's internal ports, with the system's firewall.

Kafka Connect and the schema registry listen on internal ports behind the gate
(``labs.stack.gate``), which decides what a graded run may do. A process of a sandbox account
that connected to an internal port directly would pass the gate by; an ``iptables`` rule per
account (owner match on loopback) resets such connections. The rules name the account in a
comment, are replaced when the ports move, and stay between batches (they concern only the
grader's sandbox accounts, which nothing else uses).

Without iptables, or where the kernel refuses it (not root, macOS, some containers), the grader
says so in one line and grades anyway.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

from labs import config
from labs.stack import gate

INSTALL_HINT = "install iptables (Debian/Ubuntu: apt-get install -y iptables; `make setup` does it as root)"


def internal_ports() -> list[int]:
    return sorted({internal for _public, internal in gate.fronted().values()} | {config.kafka_controller_port()})


def _iptables(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True, check=False)


def rule(name: str, uid: int, ports: list[int]) -> list[str]:
    return ["OUTPUT", "-o", "lo", "-p", "tcp", "-m", "owner", "--uid-owner", str(uid),
            "-m", "multiport", "--dports", ",".join(str(p) for p in ports),
            "-m", "comment", "--comment", f"labs-gate {name}", "-j", "REJECT", "--reject-with", "tcp-reset"]


def problem() -> str | None:
    """Why the rules cannot be set here (None when they can)."""
    if os.geteuid() != 0:
        return "the grader does not run as root"
    if shutil.which("iptables") is None:
        return f"iptables is not installed: {INSTALL_HINT}"
    listed = _iptables("-S", "OUTPUT")
    if listed.returncode != 0:
        return f"iptables does not work here ({(listed.stderr or listed.stdout).strip()[:200]})"
    return None


def shut(accounts, log=print) -> bool:
    """Reset connections from ``accounts`` (dedicated sandbox accounts) to the internal ports;
    False (after one line of explanation) when that is not possible here."""
    accounts = [a for a in accounts if a.dedicated]
    if not accounts:
        return False
    why = problem()
    if why is not None:
        log(f"note: graded notebooks can reach Kafka Connect and the registry past the gate, on their internal "
            f"ports, because {why}")
        return False
    ports = internal_ports()
    current = _iptables("-S", "OUTPUT").stdout.splitlines()
    for account in accounts:
        wanted = rule(account.name, account.uid, ports)
        mark = f'"labs-gate {account.name}"'
        present = False
        for line in current:
            if mark not in line:
                continue
            args = shlex.split(line)[1:]  # without "-A"
            if args == wanted:
                present = True
            else:
                _iptables("-D", *args)  # ports moved since
        if not present:
            added = _iptables("-A", *wanted)
            if added.returncode != 0:
                log(f"note: could not keep {account.name} off the internal ports ({added.stderr.strip()[:200]}); "
                    f"graded notebooks can pass the gate by")
                return False
    return True

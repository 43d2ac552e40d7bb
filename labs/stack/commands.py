"""``labs stack up | down | status | logs``."""

from __future__ import annotations

import time

from labs.stack import manager


def register(sub) -> None:
    stack = sub.add_parser("stack", help="start, stop and inspect the local data stack")
    ssub = stack.add_subparsers(dest="action", metavar="ACTION")
    ssub.required = True
    for action, help_text in (("up", "start the stack (idempotent) and wait until every service is healthy"),
                              ("down", "stop what `labs stack up` started (a service stops with those that "
                                       "depend on it, never with what it depends on)"),
                              ("status", "what runs where, with memory use")):
        p = ssub.add_parser(action, help=help_text)
        p.add_argument("services", nargs="*", help=f"services (default: all of {', '.join(manager.ORDER)})")
        p.set_defaults(func=globals()[f"_{action}"])
    p = ssub.add_parser("logs", help="the last lines of a service's log")
    p.add_argument("service", choices=manager.ORDER)
    p.add_argument("-n", "--lines", type=int, default=40)
    p.set_defaults(func=_logs)


def _up(args) -> int:
    t0 = time.monotonic()
    started = {s.name: s.seconds for s in manager.up(args.services or None)}
    rows = manager.status(args.services or None)
    for row in rows:
        row.seconds = started.get(row.name)
    print(manager.table(rows))
    print(f"stack ready in {time.monotonic() - t0:.1f} s")
    return 0


def _down(args) -> int:
    stopped = manager.down(args.services or None)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")
    return 0


def _status(args) -> int:
    rows = manager.status(args.services or None)
    print(manager.table(rows))
    return 0 if all(r.state in ("up", "external") for r in rows) else 3


def _logs(args) -> int:
    print(manager.tail(args.service, args.lines))
    return 0

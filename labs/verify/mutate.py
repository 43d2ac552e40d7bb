"""``labs mutate LAB``: mutation testing of a lab's graded tests.

Each mutant (see ``mutants``) is the source notebook with one solution cell slightly wrong; it
is *killed* when at least one graded test cell fails, and a *survivor* names a slip the hidden
tests let through. Recorded equivalent mutants (``tests/fixtures/<lab>/equivalent_mutants.json``:
``[{"id", "cell", "reason"}]``) are listed but neither run nor scored.

Several mutants share one notebook run only where attribution stays exact: a calibration first
measures each solution cell's *influence set* (the graded tests that fail when only that cell is
replaced by its released stub); mutants of different cells with disjoint influence sets are
packed together, a failed test is credited to the mutant whose cell influences it, and a run
with a failure no packed cell influences (or a run that broke) is repeated one mutant at a time.
The assumption behind packing: a mutant only breaks tests its cell's stub breaks too.

    labs mutate LAB [--budget N] [--seed S] [--jobs J] [--timeout SEC] [--min-kill RATE] [--list] [--no-record]
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import mutants as gen
from . import notebook, record

Runner = Callable[..., notebook.Run]  # runner(nb, cwd, timeout=...) -> Run; notebook.run by default
EQUIVALENT = "equivalent_mutants.json"


def register(sub) -> None:
    """Add ``labs mutate`` to the command line."""
    p = sub.add_parser("mutate", help="mutation-test a lab: do its graded tests notice small slips in the solution?")
    p.add_argument("assignment", metavar="LAB", help="assignment (source/<LAB>/<LAB>.ipynb)")
    p.add_argument("--budget", type=int, default=None, help="run at most N mutants, spread over the cells")
    p.add_argument("--seed", type=int, default=0, help="seed of the --budget sample (default 0)")
    p.add_argument("--jobs", type=int, default=2, help="notebook runs at a time (default 2)")
    p.add_argument("--timeout", type=int, default=300,
                   help="seconds a cell of a notebook run may take; past it the run counts as broken (default 300)")
    p.add_argument("--min-kill", type=float, default=0.85, help="exit 1 below this kill rate (default 0.85)")
    p.add_argument("--list", action="store_true", help="list the mutants and run nothing")
    p.add_argument("--no-record", action="store_true",
                   help="do not write tests/fixtures/<LAB>/mutation.json (the lab's recorded mutation pass)")
    p.set_defaults(func=run)


def equivalents(root: Path, assignment: str, known: list[gen.Mutant]) -> tuple[dict[str, str], list[str]]:
    """Recorded equivalent mutants (id -> reason) and what is wrong with the record."""
    path = record.fixtures_dir(root, assignment) / EQUIVALENT
    if not path.exists():
        return {}, []
    cells = {m.id: m.cell for m in known}
    out, warnings = {}, []
    for entry in json.loads(path.read_text()):
        mid, reason = entry.get("id"), entry.get("reason", "")
        if mid not in cells:
            warnings.append(f"{EQUIVALENT}: {mid!r} is no mutant of today's solution (stale record?)")
        elif entry.get("cell") != cells[mid]:
            warnings.append(f"{EQUIVALENT}: {mid!r} is a mutant of {cells[mid]}, recorded as {entry.get('cell')!r}")
        if not reason:
            warnings.append(f"{EQUIVALENT}: {mid!r} gives no reason")
        out[mid] = reason
    return out, warnings


def failed_tests(result: notebook.Run | str, tests: set[str]) -> set[str]:
    """Graded tests that failed or did not report; every test when the run broke."""
    if isinstance(result, str):
        return set(tests)
    return {t for t in tests if not result.passed.get(t, False)}


def execute(items: list[tuple[str, object]], runner: Runner, jobs: int, timeout: int, tests: set[str],
            log: Callable[[str], None], phase: str) -> list[notebook.Run | str]:
    """Run each (label, notebook) in its own temporary directory, ``jobs`` at a time; a run that
    raised (a cell timed out, the kernel died) gives its error message instead of a Run."""
    lock, done = threading.Lock(), [0]

    def one(item):
        label, body = item
        try:
            with tempfile.TemporaryDirectory(prefix="mutate-") as cwd:
                result = runner(body, Path(cwd), timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - any failure of the run itself is reported, not raised
            result = f"{type(exc).__name__}: {str(exc)[:300]}"
        with lock:
            done[0] += 1
            what = (f"run broke ({result[:120]})" if isinstance(result, str) else f"{len(failed_tests(result, tests))}/"
                    f"{len(tests)} test cells failed in {result.total_seconds:.1f} s")
            log(f"  [{done[0]}/{len(items)}] {phase} {label}: {what}")
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, items))


def calibrate(nb, runner: Runner, jobs: int, timeout: int, log) -> tuple[notebook.Run | str, dict[str, set[str]]]:
    """The solution's own run, and each solution cell's influence set (tests its stub alone fails)."""
    tests = set(notebook.graded_tests(nb))
    stubs = {notebook.meta(c)["grade_id"]: c.source for c in notebook.stubbed(nb).cells
             if notebook.meta(c).get("solution") and c.cell_type == "code"}
    items = [("solution", nb)] + [(f"stub of {cell}", notebook.substitute(nb, {cell: code}))
                                  for cell, code in stubs.items()]
    results = execute(items, runner, jobs, timeout, tests, log, "calibration")
    return results[0], {cell: failed_tests(r, tests) for cell, r in zip(stubs, results[1:], strict=True)}


def pack(mutants: list[gen.Mutant], influence: dict[str, set[str]]) -> list[list[gen.Mutant]]:
    """Groups of mutants that may share a run: all in different cells with pairwise disjoint influence sets."""
    groups: list[list[gen.Mutant]] = []
    for m in mutants:
        for group in groups:
            if all(x.cell != m.cell and not (influence[x.cell] & influence[m.cell]) for x in group):
                group.append(m)
                break
        else:
            groups.append([m])
    return groups


def attribute(group: list[gen.Mutant], result: notebook.Run | str, influence: dict[str, set[str]],
              tests: set[str]) -> dict[str, list[str]] | None:
    """Failed tests credited to each mutant of a run; None when a packed run cannot be attributed."""
    failed = failed_tests(result, tests)
    if len(group) == 1:
        return {group[0].id: sorted(failed)}
    covered = set().union(*(influence[m.cell] for m in group))
    if isinstance(result, str) or failed - covered:
        return None
    return {m.id: sorted(failed & influence[m.cell]) for m in group}


def _outcome(m: gen.Mutant, failed: list[str], result, packed: bool) -> dict:
    """The record of one run mutant."""
    error = result if isinstance(result, str) else next((result.errors[t] for t in failed if t in result.errors), None)
    return {**m.as_dict(), "status": "killed" if failed else "survived", "failed": failed,
            "error": error if failed else None, "run": "packed" if packed else "alone"}


def label(group: list[gen.Mutant]) -> str:
    """How a run of these mutants is named in the progress lines."""
    return ", ".join(f"{m.id} ({m.cell})" for m in group)


def run_mutants(nb, mutants: list[gen.Mutant], influence: dict[str, set[str]], runner: Runner = notebook.run,
                jobs: int = 2, timeout: int = 300, log: Callable[[str], None] = print) -> tuple[dict[str, dict], int]:
    """Outcome of each mutant (by id) and how many notebook runs it took."""
    tests = set(notebook.graded_tests(nb))
    groups = pack(mutants, influence)
    items = [(label(g), notebook.substitute(nb, {m.cell: m.source for m in g})) for g in groups]
    results = execute(items, runner, jobs, timeout, tests, log, "mutants")
    outcomes, again = {}, []
    for group, result in zip(groups, results, strict=True):
        credited = attribute(group, result, influence, tests)
        if credited is None:
            again += group
            continue
        for m in group:
            outcomes[m.id] = _outcome(m, credited[m.id], result, len(group) > 1)
    if again:
        log(f"  {len(again)} mutants again one at a time (a failure their shared run could not attribute)")
        singles = [(label([m]), notebook.substitute(nb, {m.cell: m.source})) for m in again]
        for m, result in zip(again, execute(singles, runner, jobs, timeout, tests, log, "alone"), strict=True):
            outcomes[m.id] = _outcome(m, sorted(failed_tests(result, tests)), result, False)
    return outcomes, len(items) + len(again)


def _rate(killed: int, survived: int) -> float | None:
    """Killed over killed plus survived; None when nothing was scored."""
    return round(killed / (killed + survived), 4) if killed + survived else None


def summarize(cells: list[str], listed: list[dict]) -> dict[str, dict]:
    """Per solution cell: mutants, killed, survived, equivalent and kill rate."""
    out = {}
    for cell in cells:
        mine = [m for m in listed if m["cell"] == cell]
        count = {s: sum(m["status"] == s for m in mine) for s in ("killed", "survived", "equivalent")}
        out[cell] = {"mutants": len(mine), **count, "kill_rate": _rate(count["killed"], count["survived"])}
    return out


def mutate(root: Path, assignment: str, budget: int | None = None, seed: int = 0, jobs: int = 2,
           timeout: int = 300, min_kill: float = 0.85, runner: Runner = notebook.run,
           log: Callable[[str], None] = print) -> dict:
    """The whole mutation pass of ``assignment``: a result fit for ``report`` and JSON."""
    t0 = time.monotonic()
    nb = notebook.load(root / "source" / assignment / f"{assignment}.ipynb")
    everything = gen.of_notebook(nb)
    chosen = gen.sample(everything, budget, seed)
    equivalent, warnings = equivalents(root, assignment, everything)
    todo = [m for m in chosen if m.id not in equivalent]
    log(f"{assignment}: {len(everything)} mutants, {len(chosen)} chosen (seed {seed}), "
        f"{len(chosen) - len(todo)} recorded equivalent; {jobs} notebook runs at a time")
    baseline, influence = calibrate(nb, runner, jobs, timeout, log)
    tests = set(notebook.graded_tests(nb))
    problems = [f"the solution fails {t}: {baseline.errors.get(t, '') if not isinstance(baseline, str) else baseline}"
                for t in sorted(failed_tests(baseline, tests))]
    outcomes, runs = ({}, 0) if problems else run_mutants(nb, todo, influence, runner, jobs, timeout, log)
    listed = [{**m.as_dict(), "status": "equivalent", "reason": equivalent[m.id]} if m.id in equivalent
              else outcomes.get(m.id, {**m.as_dict(), "status": "not run"}) for m in chosen]
    killed = sum(m["status"] == "killed" for m in listed)
    survived = sum(m["status"] == "survived" for m in listed)
    rate = _rate(killed, survived)
    return {
        "assignment": assignment, "seed": seed, "budget": budget, "generated": len(everything),
        "chosen": len(chosen), "killed": killed, "survived": survived, "equivalent": len(chosen) - len(todo),
        "kill_rate": rate, "min_kill": min_kill,
        "passed": not problems and (rate is None or rate >= min_kill),
        "problems": problems, "warnings": warnings,
        "influence": {cell: sorted(touched) for cell, touched in influence.items()},
        "cells": summarize(notebook.solution_ids(nb), listed),
        "notebook_runs": runs + 1 + len(influence), "jobs": jobs, "seconds": round(time.monotonic() - t0, 1),
        "mutants": listed,
    }


def one_line(text: str, width: int = 100) -> str:
    """A snippet on one line, shortened to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def report(result: dict, log: Callable[[str], None] = print) -> None:
    """Print the per-cell table, the overall kill rate and every survivor."""
    log(f"{'cell':28s} {'mutants':>7s} {'killed':>6s} {'survived':>8s} {'equivalent':>10s} {'kill rate':>9s}")
    for cell, row in result["cells"].items():
        rate = "-" if row["kill_rate"] is None else f"{row['kill_rate']:.2f}"
        log(f"{cell:28s} {row['mutants']:7d} {row['killed']:6d} {row['survived']:8d} {row['equivalent']:10d} "
            f"{rate:>9s}")
    survivors = [m for m in result["mutants"] if m["status"] == "survived"]
    if survivors:
        log(f"survivors: add a hidden input that kills each, or record it in "
            f"tests/fixtures/{result['assignment']}/{EQUIVALENT} with a one-line reason")
    for m in survivors:
        log(f"  {m['id']}  {m['cell']}  {m['operator']}  line {m['line']}: "
            f"{one_line(m['original'])}  ->  {one_line(m['mutated'])}")
    for text in result["warnings"]:
        log(f"warning: {text}")
    for text in result["problems"]:
        log(f"problem: {text}")
    rate = "-" if result["kill_rate"] is None else f"{result['kill_rate']:.2f}"
    log(f"{result['assignment']}: kill rate {rate} ({result['killed']} of {result['killed'] + result['survived']} "
        f"non-equivalent mutants killed, {result['equivalent']} equivalent; minimum {result['min_kill']:.2f}) in "
        f"{result['seconds']:.0f} s, {result['notebook_runs']} notebook runs")


def write(result: dict) -> Path:
    """Save the result as ``<var>/mutate/<assignment>.json``."""
    from labs import config

    path = config.var_dir() / "mutate" / f"{result['assignment']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def _list(nb) -> int:
    """Print every mutant of the notebook, one a line."""
    for m in gen.of_notebook(nb):
        print(f"{m.id}  {m.cell}  {m.operator}  line {m.line}: {one_line(m.original)}  ->  {one_line(m.mutated)}")
    return 0


def run(args) -> int:
    """``labs mutate``: 0 at or above --min-kill, 1 below it, 2 when the lab cannot be judged."""
    from labs.grading.course import Course

    root = Course.load(getattr(args, "course", None)).root
    path = root / "source" / args.assignment / f"{args.assignment}.ipynb"
    if not path.exists():
        print(f"labs mutate: no notebook {path}", file=sys.stderr)
        return 2
    if args.list:
        return _list(notebook.load(path))
    ran_on = record.mutation_inputs(root, args.assignment)
    result = mutate(root, args.assignment, budget=args.budget, seed=args.seed, jobs=args.jobs,
                    timeout=args.timeout, min_kill=args.min_kill)
    report(result)
    print(f"written to {write(result)}")
    if not args.no_record and not result["problems"]:
        try:
            print(f"recorded in {record.write_mutation(root, args.assignment, result, ran_on)}")
        except ValueError as exc:
            print(f"labs mutate: not recorded: {exc}", file=sys.stderr)
            return 2
    if result["problems"]:
        return 2
    return 0 if result["passed"] else 1

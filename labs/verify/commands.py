"""``labs verify``: full discrimination runs and their records; ``labs bench labs``: where a
lab's run time goes.

    labs verify LAB [LAB...]   run the full discrimination, record it when it passes
    labs verify --all          every lab with recorded variants
    labs verify --stale        only the labs whose record does not match today's files
    labs verify --status       which labs are verified and which changed (exit 1 if any changed)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from . import discriminate, notebook, record


def _root(args) -> Path:
    from labs.grading.course import Course

    return Course.load(getattr(args, "course", None)).root


def register(sub) -> None:
    p = sub.add_parser("verify", help="run a lab's full discrimination (every recorded variant) and record it")
    p.add_argument("labs", nargs="*", metavar="LAB", help="assignments to verify")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--all", action="store_true", help="every lab with tests/fixtures/<lab>/wrong_variants.json")
    which.add_argument("--stale", action="store_true", help="only labs whose record does not match their files")
    which.add_argument("--status", action="store_true", help="print each lab's record state; exit 1 if one changed")
    p.add_argument("--jobs", type=int, default=2, help="notebook runs at a time (default 2)")
    p.add_argument("--no-record", action="store_true", help="run, but do not write verified.json")
    p.set_defaults(func=run)


def run(args) -> int:
    root = _root(args)
    known = record.verifiable(root)
    unknown = [lab for lab in args.labs if lab not in known]
    if unknown:
        print(f"labs verify: no recorded variants for {', '.join(unknown)} (known: {', '.join(known)}); "
              f"add tests/fixtures/<lab>/wrong_variants.json first", file=sys.stderr)
        return 2
    states = {lab: record.freshness(root, lab) for lab in known}
    if args.status:
        mutation = {lab: record.mutation_state(root, lab) for lab in known}
        for lab, state in states.items():
            print(state.describe())
            m = mutation[lab]
            print(f"{lab}: mutation pass {'recorded, nothing changed since' if m.fresh else '; '.join(m.reasons)}")
        return 0 if all(s.fresh for s in [*states.values(), *mutation.values()]) else 1
    if args.all:
        chosen = known
    elif args.stale:
        chosen = [lab for lab, s in states.items() if not s.fresh]
    else:
        chosen = args.labs
    if not chosen:
        print("labs verify: nothing to do (name labs, or --all / --stale)" if not args.stale
              else "labs verify: every lab's record matches its files")
        return 0 if args.stale else 2
    failed = []
    for lab in chosen:
        ran_on = record.inputs(root, lab)
        result = discriminate.full(root, lab, jobs=args.jobs)
        if result["passed"]:
            try:
                where = "not recorded (--no-record)" if args.no_record else record.write(root, lab, result, ran_on)
            except ValueError as exc:
                print(f"{lab}: {exc}", file=sys.stderr)
                failed.append(lab)
                continue
            print(f"{lab}: verified in {result['seconds']:.0f} s ({result['notebook_runs']} notebook runs); {where}")
        else:
            failed.append(lab)
            print(f"{lab}: NOT verified, the record is left as it was:", file=sys.stderr)
            for problem in result["problems"]:
                print(f"  - {problem}", file=sys.stderr)
    return 1 if failed else 0


def bench_labs(root: Path, labs: list[str], slowest: int = 3) -> list[dict]:
    """Run each lab's solution and stub once, serially; print a table of seconds and slowest cells."""
    rows = []
    print(f"{'lab':28s} {'solution s':>10s} {'stub s':>7s}  slowest cells of the solution")
    for lab in labs:
        nb = notebook.load(root / "source" / lab / f"{lab}.ipynb")
        with tempfile.TemporaryDirectory() as cwd:
            solution = notebook.run(nb, Path(cwd))
        with tempfile.TemporaryDirectory() as cwd:
            stub = notebook.run(notebook.stubbed(nb), Path(cwd))
        cells = ", ".join(f"{name} {sec:.1f}" for name, sec in solution.slowest(slowest))
        failed = [t for t, ok in solution.passed.items() if not ok]
        note = f"  (solution FAILED {failed})" if failed else ""
        print(f"{lab:28s} {solution.total_seconds:10.1f} {stub.total_seconds:7.1f}  {cells}{note}", flush=True)
        rows.append({"lab": lab, "solution_s": solution.total_seconds, "stub_s": stub.total_seconds,
                     "slowest": solution.slowest(slowest), "failed": failed})
    total = sum(r["solution_s"] + r["stub_s"] for r in rows)
    print(f"{'total':28s} {sum(r['solution_s'] for r in rows):10.1f} {sum(r['stub_s'] for r in rows):7.1f}"
          f"  ({total:.0f} s serial for solution + stub of {len(rows)} labs)")
    return rows


def stability(root: Path, labs: list[str], rounds: int, jobs: int = 2) -> dict[str, dict[str, int]]:
    """Run every lab's solution ``rounds`` times, ``jobs`` notebooks at once (the load of a grader with
    two workers), and print how often each graded test cell passed: a timing-dependent check that
    fails here is flaky under load."""
    from concurrent.futures import ThreadPoolExecutor

    plan = [lab for _ in range(rounds) for lab in labs]  # consecutive labs differ, so pairs mix labs
    notebooks = {lab: notebook.load(root / "source" / lab / f"{lab}.ipynb") for lab in labs}

    def once(lab: str):
        with tempfile.TemporaryDirectory(prefix=f"stability-{lab}-") as cwd:
            return lab, notebook.run(notebooks[lab], Path(cwd))

    passes: dict[str, dict[str, int]] = {lab: {} for lab in labs}
    failures: list[str] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (lab, result) in enumerate(pool.map(once, plan), 1):
            for test, ok in result.passed.items():
                passes[lab][test] = passes[lab].get(test, 0) + ok
                if not ok:
                    failures.append(f"{lab} {test}: {result.errors.get(test, '')}")
            print(f"  [{i}/{len(plan)}] {lab}: {sum(result.passed.values())}/{len(result.passed)} "
                  f"in {result.total_seconds:.0f} s", flush=True)
    print(f"\n{'lab':28s} {'test cell':32s} passed (of {rounds})")
    for lab, tests in passes.items():
        for test, n in sorted(tests.items()):
            print(f"{lab:28s} {test:32s} {n}{'' if n == rounds else '   <- FLAKY'}")
    for line in failures:
        print(f"  failed: {line[:300]}")
    return passes

"""The full discrimination run of a lab: the source solution passes every graded test cell,
the released stub fails every one, each recorded wrong variant fails exactly the cells it
targets, and each recorded correct variant (a right answer written differently) passes them
all. Variants are packed into shared notebook runs only where attribution stays exact, and
runs go two at a time (each run has its own run id, as two graded submissions would)."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import notebook, record


def touched(variant: dict) -> set[str]:
    """Tests a wrong variant fails, or may fail: ``may_fail`` lists later cells whose outcome
    depends on how the run happens to go (e.g. whether a duplicate lands in the same poll)."""
    return set(variant.get("fails", ())) | set(variant.get("may_fail", ()))


def rounds(variants: list[dict]) -> list[list[dict]]:
    """Pack variants into runs whose replaced cells and touched tests do not overlap.

    Wrong and correct variants are packed separately (a correct one may fail no test at all, so
    it must not hide behind a test a wrong one is expected to fail)."""
    packed: list[list[dict]] = []
    for v in variants:
        for r in packed:
            cells = {c for x in r for c in x["replace"]}
            tests = {t for x in r for t in touched(x)}
            if not (cells & set(v["replace"])) and not (tests & touched(v)):
                r.append(v)
                break
        else:
            packed.append([v])
    return packed


@dataclass
class Variants:
    wrong: list[dict]
    correct: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, root: Path, assignment: str) -> Variants:
        folder = record.fixtures_dir(root, assignment)
        wrong = json.loads((folder / "wrong_variants.json").read_text())
        path = folder / "correct_variants.json"
        correct = json.loads(path.read_text()) if path.exists() else []
        for v in correct:
            if v.get("fails"):
                raise ValueError(f"correct variant {v['name']!r} of {assignment} lists tests it fails")
        return cls(wrong, correct)

    def problems(self, nb) -> list[str]:
        """What is wrong with the fixture files themselves (unknown cells, thin coverage)."""
        out = []
        solutions, tests = set(notebook.solution_ids(nb)), set(notebook.graded_tests(nb))
        names = [v["name"] for v in self.wrong + self.correct]
        out += [f"variant name {n!r} is used twice" for n in sorted({n for n in names if names.count(n) > 1})]
        for v in self.wrong + self.correct:
            if unknown := set(v["replace"]) - solutions:
                out.append(f"{v['name']!r} replaces cells that are not solution cells: {sorted(unknown)}")
            if unknown := touched(v) - tests:
                out.append(f"{v['name']!r} names tests that are not graded test cells: {sorted(unknown)}")
        counts = {t: sum(t in v["fails"] for v in self.wrong) for t in tests}
        thin = {t: n for t, n in counts.items() if n < 2}
        if thin:
            out.append(f"graded cells with fewer than two recorded wrong variants: {thin}")
        return out


@dataclass
class Outcome:
    name: str
    kind: str          # "wrong" or "correct"
    expected: list[str]
    failed: list[str]  # graded tests that failed in its run (among those it was meant to fail, for wrong)
    ok: bool


def full(root: Path, assignment: str, jobs: int = 2, log: Callable[[str], None] = print) -> dict:
    """Run the whole discrimination of ``assignment``; return a result fit for ``record.write``."""
    nb_path = root / "source" / assignment / f"{assignment}.ipynb"
    nb = notebook.load(nb_path)
    variants = Variants.load(root, assignment)
    problems = variants.problems(nb)
    tests = notebook.graded_tests(nb)
    plan: list[tuple[str, list[dict], object]] = [("solution", [], nb), ("stub", [], notebook.stubbed(nb))]
    for group in rounds([{**v, "kind": "wrong"} for v in variants.wrong]) + \
            rounds([{**v, "kind": "correct"} for v in variants.correct]):
        replace = {cell: code for v in group for cell, code in v["replace"].items()}
        plan.append((f"round of {len(group)}", group, notebook.substitute(nb, replace)))
    log(f"{assignment}: {len(variants.wrong)} wrong and {len(variants.correct)} correct variants in "
        f"{len(plan) - 2} runs, plus the solution and the stub, {jobs} at a time")

    t0 = time.monotonic()
    done = [0]

    def execute(item):
        label, group, body = item
        with tempfile.TemporaryDirectory(prefix=f"verify-{assignment}-") as cwd:
            run = notebook.run(body, Path(cwd))
        done[0] += 1
        log(f"  [{done[0]}/{len(plan)}] {label}: {sum(run.passed.values())}/{len(tests)} test cells passed "
            f"in {run.total_seconds:.0f} s")
        return label, group, run

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(execute, plan))

    outcomes: list[Outcome] = []
    runs = {}
    for label, group, run in results:
        if label == "solution":
            failed = sorted(t for t, ok in run.passed.items() if not ok)
            problems += [f"the solution fails {t}: {run.errors.get(t, '')}" for t in failed]
            if set(run.passed) != set(tests):
                problems.append(f"the solution ran {sorted(run.passed)}, expected {sorted(tests)}")
            runs["solution"] = {"seconds": round(run.total_seconds, 1), "failed": failed}
            continue
        if label == "stub":
            passed = sorted(t for t, ok in run.passed.items() if ok)
            problems += [f"the stub passes {passed}"] if passed else []
            runs["stub"] = {"seconds": round(run.total_seconds, 1), "passed": passed}
            continue
        must_fail = {t for v in group for t in touched(v)}
        for v in group:
            kind = v["kind"]
            failed = sorted(t for t, ok in run.passed.items() if not ok and t in v.get("fails", ()))
            survived = sorted(set(v.get("fails", ())) - set(failed))
            ok = not survived
            if kind == "wrong" and survived:
                problems.append(f"wrong variant {v['name']!r} still passes {survived}")
            outcomes.append(Outcome(v["name"], kind, sorted(v.get("fails", ())), failed, ok))
        broken = sorted(t for t, ok in run.passed.items() if not ok and t not in must_fail)
        if broken:
            names = [v["name"] for v in group]
            problems.append(f"run {names} also fails {broken}: "
                            + "; ".join(f"{t}: {run.errors.get(t, '')}" for t in broken))
            for o in outcomes[-len(group):]:
                o.ok = False
    seconds = time.monotonic() - t0
    return {
        "passed": not problems,
        "problems": problems,
        "seconds": round(seconds, 1),
        "jobs": jobs,
        "notebook_runs": len(plan),
        "runs": runs,
        "variants": [o.__dict__ for o in outcomes],
    }

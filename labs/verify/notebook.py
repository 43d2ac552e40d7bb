"""Run an nbgrader source notebook with some solution cells swapped, and see which graded
test cells pass. A test cell passes when it raised no error (stderr text is not a failure)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat


def load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_tests(nb) -> dict[str, float]:
    """grade_id -> points of every autograded test cell."""
    return {meta(c)["grade_id"]: float(meta(c).get("points", 0)) for c in nb.cells
            if meta(c).get("grade") and not meta(c).get("solution") and c.cell_type == "code"}


def solution_ids(nb) -> list[str]:
    return [meta(c)["grade_id"] for c in nb.cells if meta(c).get("solution") and c.cell_type == "code"]


def substitute(nb, replacements: dict[str, str]):
    """A copy of ``nb`` with the code of the named solution cells replaced."""
    unknown = set(replacements) - set(solution_ids(nb))
    if unknown:
        raise KeyError(f"no solution cells named {sorted(unknown)}")
    out = copy.deepcopy(nb)
    for cell in out.cells:
        gid = meta(cell).get("grade_id")
        if gid in replacements:
            cell.source = replacements[gid]
    return out


def stubbed(nb):
    """The notebook as released (solutions replaced by nbgrader's stubs) but with hidden tests kept."""
    from nbgrader.preprocessors import ClearSolutions

    out = copy.deepcopy(nb)
    ClearSolutions().preprocess(out, {})
    return out


@dataclass
class Run:
    """What one execution of a notebook gave: pass/fail per graded test cell, seconds per cell."""
    passed: dict[str, bool]
    seconds: list[tuple[str, float]] = field(default_factory=list)  # (cell label, seconds) in order
    errors: dict[str, str] = field(default_factory=dict)            # failed test cell -> "Error: message"

    @property
    def total_seconds(self) -> float:
        return sum(s for _, s in self.seconds)

    def slowest(self, n: int = 3) -> list[tuple[str, float]]:
        return sorted(self.seconds, key=lambda item: -item[1])[:n]


def _label(index: int, cell) -> str:
    return meta(cell).get("grade_id") or cell.get("id") or f"cell {index}"


def _cell_seconds(cell) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    return (datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()


def run(nb, cwd: Path, timeout: int = 300, parameters: dict | None = None) -> Run:
    """Execute a copy of ``nb`` in ``cwd`` (errors allowed) and report each graded test cell."""
    from nbclient import NotebookClient

    nb = copy.deepcopy(nb)
    if parameters:
        for cell in nb.cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                cell.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    tests = graded_tests(nb)
    result = Run(passed={})
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        result.seconds.append((_label(i, cell), _cell_seconds(cell)))
        gid = meta(cell).get("grade_id")
        if gid in tests:
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            result.passed[gid] = not errors
            if errors:
                result.errors[gid] = f"{errors[0].get('ename')}: {str(errors[0].get('evalue'))[:300]}"
    return result

"""Run an nbgrader source notebook with some solution cells swapped, and see which graded
test cells pass. Used to check that hidden tests discriminate: the solution passes every
test cell, the stub fails every one, and each recorded wrong variant fails its own."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearSolutions

ROOT = Path(__file__).resolve().parents[2]


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
    out = copy.deepcopy(nb)
    unknown = set(replacements) - set(solution_ids(nb))
    if unknown:
        raise KeyError(f"no solution cells named {sorted(unknown)}")
    for cell in out.cells:
        gid = meta(cell).get("grade_id")
        if gid in replacements:
            cell.source = replacements[gid]
    return out


def stubbed(nb):
    """The notebook as released (solutions replaced by nbgrader's stubs) but with hidden tests kept."""
    out = copy.deepcopy(nb)
    ClearSolutions().preprocess(out, {})
    return out


def run(nb, cwd: Path, timeout: int = 300, parameters: dict | None = None) -> dict[str, bool]:
    """Execute ``nb`` (errors allowed) and return grade_id -> passed for each graded test cell.

    A test cell passes when it produced no error output (stderr text is not a failure)."""
    nb = copy.deepcopy(nb)
    if parameters:
        for cell in nb.cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                cell.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    results = {}
    tests = graded_tests(nb)
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if gid in tests:
            results[gid] = not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    return results


def wrong_variants(path: Path) -> list[dict[str, str]]:
    """Recorded wrong solutions: a JSON list of {solution grade_id: replacement code} sets."""
    return json.loads(path.read_text())

"""Repository hygiene that CI enforces: lint-clean code, notebooks stored without outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "labs", "tests"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-4000:]


def test_committed_notebooks_have_no_outputs():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    dirty = []
    for name in tracked:
        if ".ipynb_checkpoints" in name:
            dirty.append(f"{name}: checkpoint file")
            continue
        nb = json.loads((ROOT / name).read_text())
        if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"):
            dirty.append(f"{name}: has outputs (clear them: jupyter nbconvert --clear-output --inplace {name})")
    assert not dirty, "\n".join(dirty)


def test_release_is_in_sync_with_source_and_leaks_nothing():
    result = subprocess.run([sys.executable, "-m", "labs.cli", "release", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr

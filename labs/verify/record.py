"""The verification record of a lab: ``tests/fixtures/<assignment>/verified.json``.

A full discrimination run (solution, stub, every recorded variant) is slow, so CI does not
repeat it for a lab that has not changed. What "changed" means is mechanical: the record
holds a hash of every file the run depended on (the lab's source folder, its fixture files,
every module of ``labs`` its notebook imports, directly or through other ``labs`` modules, and
the verifier itself). A lab whose files hash as recorded is *fresh*; any difference makes it
*stale*, and CI runs its full discrimination. Only ``labs verify`` writes a record, and only
after a full run passed.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

RECORD = "verified.json"
MUTATION = "mutation.json"
# what a mutation pass depends on: the lab (its solution cells are mutated, its hidden tests judge),
# its recorded equivalent mutants and the mutant generator. The kit modules are left out on purpose:
# a kit change is re-checked by the (much faster) discrimination run, not by a new mutation pass.
MUTATION_FILES = ("equivalent_mutants.json",)
MUTATOR = ("labs/verify/mutants.py",)
FIXTURE_FILES = ("wrong_variants.json", "correct_variants.json", "equivalent_mutants.json")
# the verifier: what decides whether a variant passed or failed
VERIFIER = ("labs/verify/notebook.py", "labs/verify/discriminate.py")


def fixtures_dir(root: Path, assignment: str) -> Path:
    return root / "tests" / "fixtures" / assignment


def record_path(root: Path, assignment: str) -> Path:
    return fixtures_dir(root, assignment) / RECORD


def verifiable(root: Path) -> list[str]:
    """Assignments with recorded wrong variants (the labs that go through verification)."""
    return sorted(p.parent.name for p in (root / "tests" / "fixtures").glob("*/wrong_variants.json")
                  if (root / "source" / p.parent.name).is_dir())


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _run_time_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` (never run, only read by type checkers)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        skipped = node.body if isinstance(node, ast.If) and _is_type_checking(node.test) else []
        pending.extend(c for c in ast.iter_child_nodes(node) if not any(c is b for b in skipped))


def _dotted(node: ast.expr) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def _imported(trees: list[ast.AST], package: str | None) -> set[str]:
    """Dotted names of the ``labs`` modules some syntax trees (one file, or a notebook's cells, which share
    their names) import, and of the names they use from them (``from labs.data import generate_x`` and
    ``data.generate_x`` both give ``labs.data.generate_x``); ``package``: their own, for relative imports."""
    names: set[str] = set()
    aliases: dict[str, str] = {}
    nodes = [node for tree in trees for node in _run_time_nodes(tree)]
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                names.add(a.name)
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level and package:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            for a in node.names:
                names.add(f"{module}.{a.name}")  # `from labs import kafka` names a module
                aliases[a.asname or a.name] = f"{module}.{a.name}"
    for node in nodes:  # `data.generate_x` where `data` is bound to a labs module
        dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
        if dotted and dotted[0] in aliases:
            names.add(".".join([aliases[dotted[0]], *dotted[1:]]))
    return {n for n in names if n == "labs" or n.startswith("labs.")}


def _lazy_package(path: Path) -> bool:
    """A package whose ``__init__`` resolves some names on first use (a module-level ``__getattr__``)."""
    return path.name == "__init__.py" and any(
        isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in ast.parse(path.read_text()).body)


def _lazy_name(root: Path, package: str, attr: str) -> set[str]:
    """The modules behind ``package.attr`` when a lazy package resolves it at run time: asked from the
    package itself when the installed ``labs`` is the one under ``root``, else every module of it."""
    import importlib

    folder = root.joinpath(*package.split("."))
    everything = {f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
    if Path(importlib.import_module("labs").__file__).resolve().parent != (root / "labs").resolve():
        return everything
    try:
        value = getattr(importlib.import_module(package), attr)  # labs modules have no side effects on import
    except (ImportError, AttributeError):
        return set()  # not a name the package has: the run itself will fail on it
    owner = getattr(value, "__name__", "") if isinstance(value, type(importlib)) else getattr(value, "__module__", "")
    # a name with no module of its own, or the package's own lookup by name (``generate("x")``): all of it
    return {owner} if owner.startswith(f"{package}.") else everything


def _notebook_cells(path: Path) -> list[str]:
    """The Python of each code cell (magic and shell lines blanked: they are not Python)."""
    out = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell.get("cell_type") == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out.append("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                  for line in source.splitlines()))
    return out


def _imports_of_code(texts: list[str], package: str | None) -> set[str]:
    trees = []
    for text in texts:
        try:
            trees.append(ast.parse(text))
        except SyntaxError:  # a broken cell imports nothing; the run itself will say what is wrong
            pass
    return _imported(trees, package)


def labs_dependencies(root: Path, assignment: str) -> list[str]:
    """Repository paths of the ``labs`` modules the lab's notebooks and helper modules import,
    transitively, with the ``__init__`` of every package on the way. A name a lazy package resolves
    on first use (``data.generate_payments``) counts as the module it comes from; imports under
    ``if TYPE_CHECKING:`` do not count (they never run)."""
    lab_dir = root / "source" / assignment
    pending: set[str] = set()
    for path in sorted(lab_dir.rglob("*")):
        if path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts:
            pending |= _imports_of_code(_notebook_cells(path), None)
        elif path.suffix == ".py" and "__pycache__" not in path.parts:
            pending |= _imports_of_code([path.read_text()], None)
    seen: dict[str, Path] = {}
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = _module_file(root, module)
        if path is None:  # a name from a module (`from labs.kafka import read_topic`), not a module itself
            parent, _, attr = module.rpartition(".")
            parent_path = _module_file(root, parent) if parent else None
            if parent_path is not None and _lazy_package(parent_path):
                pending |= _lazy_name(root, parent, attr)
            continue
        seen[module] = path
        parts = module.split(".")
        pending |= {".".join(parts[:i]) for i in range(1, len(parts))}  # parent packages run first
        package = module if path.name == "__init__.py" else ".".join(parts[:-1])
        pending |= _imports_of_code([path.read_text()], package)
    return sorted(str(p.relative_to(root)) for p in seen.values())


def _hashes(root: Path, assignment: str, fixtures: tuple[str, ...], others: list[str]) -> dict[str, str]:
    """Repository path -> sha256 of the lab's source folder, the named fixture files and ``others``."""
    files = [p for p in sorted((root / "source" / assignment).rglob("*"))
             if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts]
    files += [fixtures_dir(root, assignment) / name for name in fixtures]
    files += [root / rel for rel in others]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def inputs(root: Path, assignment: str) -> dict[str, str]:
    """Repository path -> sha256 of every file a verification of ``assignment`` depends on."""
    return _hashes(root, assignment, FIXTURE_FILES, [*labs_dependencies(root, assignment), *VERIFIER])


@dataclass
class Freshness:
    assignment: str
    fresh: bool
    reasons: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.fresh:
            return f"{self.assignment}: verified, nothing changed since"
        return f"{self.assignment}: needs a full verification ({'; '.join(self.reasons)})"


def load(root: Path, assignment: str) -> dict | None:
    path = record_path(root, assignment)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); run `make verify-lab LAB={assignment}` "
                         f"to write it again") from None


def freshness(root: Path, assignment: str) -> Freshness:
    """Is the recorded full verification of ``assignment`` still about today's files?"""
    record = load(root, assignment)
    if record is None:
        return Freshness(assignment, False, ["no verification record"])
    if not record.get("passed"):
        return Freshness(assignment, False, ["its last recorded verification did not pass"])
    now, then = inputs(root, assignment), record.get("inputs", {})
    reasons = [f"changed {p}" for p in sorted(now) if p in then and now[p] != then[p]]
    reasons += [f"new {p}" for p in sorted(set(now) - set(then))]
    reasons += [f"removed {p}" for p in sorted(set(then) - set(now))]
    return Freshness(assignment, not reasons, reasons)


def write(root: Path, assignment: str, result: dict, ran_on: dict[str, str] | None = None) -> Path:
    """Store a passed full verification with the hashes of what it ran on (``ran_on``: the
    hashes taken when the run started; a file edited during the run makes the record refused)."""
    if not result.get("passed"):
        raise ValueError("only a verification that passed is recorded")
    from labs.grading.files import write_atomic

    now = inputs(root, assignment)
    if ran_on is not None and ran_on != now:
        edited = sorted(p for p in set(now) | set(ran_on) if now.get(p) != ran_on.get(p))
        raise ValueError(f"files changed while {assignment} was being verified ({', '.join(edited)}); "
                         f"run `make verify-lab LAB={assignment}` again")
    record = {"assignment": assignment, **result, "inputs": now}
    path = record_path(root, assignment)
    write_atomic(path, json.dumps(record, indent=1) + "\n")
    return path


def mutation_inputs(root: Path, assignment: str) -> dict[str, str]:
    """Repository path -> sha256 of every file a mutation pass of ``assignment`` depends on."""
    return _hashes(root, assignment, MUTATION_FILES, list(MUTATOR))


def write_mutation(root: Path, assignment: str, result: dict, ran_on: dict[str, str]) -> Path:
    """Store the summary of a mutation pass (figures per cell and every survivor) with the hashes
    of what it ran on, in ``tests/fixtures/<assignment>/mutation.json``."""
    from labs.grading.files import write_atomic

    if result.get("problems"):
        raise ValueError("a mutation pass whose solution failed is not recorded")
    now = mutation_inputs(root, assignment)
    if ran_on != now:
        edited = sorted(p for p in set(now) | set(ran_on) if now.get(p) != ran_on.get(p))
        raise ValueError(f"files changed during the mutation pass of {assignment} ({', '.join(edited)}); "
                         f"run `labs mutate {assignment}` again")
    keep = ("seed", "budget", "generated", "chosen", "killed", "survived", "equivalent", "kill_rate",
            "min_kill", "passed", "cells", "seconds")
    survivors = [{k: m[k] for k in ("id", "cell", "operator", "line", "original", "mutated")}
                 for m in result["mutants"] if m["status"] == "survived"]
    entry = {"assignment": assignment, **{k: result[k] for k in keep}, "survivors": survivors, "inputs": now}
    path = fixtures_dir(root, assignment) / MUTATION
    write_atomic(path, json.dumps(entry, indent=1) + "\n")
    return path


def mutation_state(root: Path, assignment: str) -> Freshness:
    """Does a recorded mutation pass of ``assignment`` meet its minimum kill rate, on today's files?"""
    path = fixtures_dir(root, assignment) / MUTATION
    fix = f"run `labs mutate {assignment} --budget 60` and commit {path.relative_to(root)}"
    if not path.exists():
        return Freshness(assignment, False, [f"no mutation record: {fix}"])
    entry = json.loads(path.read_text())
    reasons = []
    if not entry.get("passed"):
        rate = entry.get("kill_rate")
        reasons.append(f"its recorded kill rate {rate} is below {entry.get('min_kill')}")
    now, then = mutation_inputs(root, assignment), entry.get("inputs", {})
    changed = sorted(p for p in set(now) | set(then) if now.get(p) != then.get(p))
    if changed:
        reasons.append(f"changed since the mutation pass: {', '.join(changed)}; {fix}")
    return Freshness(assignment, not reasons, reasons)

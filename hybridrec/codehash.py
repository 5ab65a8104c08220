"""Which project files a piece of code runs: the import closure of a module within the project (``hybridrec``
and ``baselines``), and a hash of those files' sources.

Used twice: ``tests/test_dvc_deps.py`` checks that every DVC stage declares its closure as dependencies, and
the per-task cache of the comparison (:mod:`hybridrec.taskcache`) keys each task by the source of the code it
runs (a family's module and its closure, plus the shared comparison code), so that a change to one family
invalidates that family's tasks only and a change to shared code invalidates every task.

The closure follows every ``import`` statement (module level and inside functions) that resolves to a file of
the project. Model families are found by :mod:`hybridrec.registry` without an import statement: ``closure``
adds them only when asked (``families=True``, for the stages that build models).
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGES = ("hybridrec", "baselines")
ROOT = Path(__file__).resolve().parents[1]  # the folder that holds the packages this process runs
BUILDER = "hybridrec/zoo.py"  # builds every family through the registry


def module_file(module: str, root: Path = ROOT) -> str | None:
    """The project file of a dotted module name (relative to ``root``), or None when it is not ours."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand.relative_to(root).as_posix()
    return None


def _counts(rel: str, root: Path) -> bool:
    """An ``__init__.py`` that holds nothing but a docstring changes no behaviour."""
    return not rel.endswith("__init__.py") or _has_code((root / rel).read_text())


@lru_cache(maxsize=1024)
def _has_code(source: str) -> bool:
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in ast.parse(source).body)


@lru_cache(maxsize=1024)
def _imported_names(source: str, rel: str) -> tuple[str, ...]:
    """Every module name an ``import`` statement of ``source`` names, in order (parsed once per content: a
    comparison hashes the closures of 25 models, which share most files)."""
    names = []
    for node in ast.walk(ast.parse(source, filename=rel)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return tuple(names)


def imports_of(rel: str, root: Path = ROOT) -> set[str]:
    """Project files imported by the file ``rel`` (and the packages on the way, when they do something)."""
    out = set()
    for name in _imported_names((root / rel).read_text(), rel):
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__, a/b/__init__, ...
            f = module_file(".".join(parts[:i]), root)
            if f is not None:
                out.add(f)
    return {f for f in out if _counts(f, root)}


def closure(start: str, root: Path = ROOT, families: bool = True) -> set[str]:
    """``start`` and every project file it imports, transitively (with ``families``: through the builder, every
    model family module too)."""
    from hybridrec import registry  # noqa: PLC0415

    seen, todo = set(), [start]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        todo.extend(imports_of(f, root) - seen)
        if families and f == BUILDER:
            todo.extend(module_file(m, root) for m in registry.family_modules())
    return seen


@lru_cache(maxsize=64)
def source_hash(files: frozenset, root: Path = ROOT) -> str:
    """sha256 over the (path, content) of ``files``, in path order."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.encode() + b"\0" + (root / f).read_bytes() + b"\0")
    return h.hexdigest()


def family_code_hash(family_module: str) -> str:
    """The source hash of what a task of a family runs: the comparison's shared code (``hybridrec/experiment.py``
    and its closure, without the other families) and the family's own module with its closure."""
    shared = closure("hybridrec/experiment.py", families=False)
    own = closure(module_file(family_module) or family_module, families=False)
    return source_hash(frozenset(shared | own))

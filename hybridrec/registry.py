"""The model families of the comparison: ``kind`` in params.yaml -> the predictor class that implements it.

A family is a :class:`~hybridrec.predictors.RatingPredictor` subclass with a ``kind``, in a module of
``baselines/`` (comparators) or ``hybridrec/recommenders/`` (the suite's own models). Every module there is
found here by itself, so adding a family is one new module plus its ``compare.models`` entry in params.yaml
(see the README's "Add a model").

Family modules keep heavy imports (torch, libraries) inside their methods: loading params.yaml imports every
family to check the specs, and that must stay cheap for stages that never build a model.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

PACKAGES = ("baselines", "hybridrec.recommenders")


def family_modules() -> list[str]:
    """Dotted names of every module that may hold a family."""
    out = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        out += [f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if not m.ispkg]
    return sorted(out)


@functools.cache
def families() -> dict:
    """kind -> predictor class, over every family module."""
    from hybridrec.predictors import RatingPredictor  # noqa: PLC0415

    import os  # noqa: PLC0415

    from hybridrec.errors import UserError  # noqa: PLC0415

    out = {}
    for name in family_modules():
        try:
            module = importlib.import_module(name)
        except Exception as e:  # a researcher's module that does not import: one line, not a traceback
            if os.environ.get("HYBRIDREC_TRACEBACK"):
                raise
            where = f"{name.replace('.', '/')}.py"
            if isinstance(e, SyntaxError) and e.lineno:
                where += f", line {e.lineno}"
            raise UserError(f"{where}: the model family module does not import: {type(e).__name__}: "
                            f"{' '.join(str(e).split())[:300]} (HYBRIDREC_TRACEBACK=1 shows where)") from None
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, RatingPredictor) and cls.__module__ == name and cls.kind:
                if cls.kind in out and out[cls.kind] is not cls:
                    raise UserError(f"two model families claim kind {cls.kind!r}: {out[cls.kind].__module__}."
                                    f"{out[cls.kind].__name__} and {name}.{cls.__name__} (rename one's `kind`)")
                out[cls.kind] = cls
    return out


def family(kind: str):
    """The predictor class registered for ``kind``."""
    return families()[kind]

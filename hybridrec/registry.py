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

    out = {}
    for name in family_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, RatingPredictor) and cls.__module__ == name and cls.kind:
                if cls.kind in out and out[cls.kind] is not cls:
                    raise TypeError(f"two model families claim kind {cls.kind!r}: {out[cls.kind]} and {cls}")
                out[cls.kind] = cls
    return out


def family(kind: str):
    """The predictor class registered for ``kind``."""
    return families()[kind]

"""``hybridrec new-model NAME``: a researcher's own model family in three files, ready for `dvc repro`.

Writes a tunable family module (``hybridrec/recommenders/NAME.py``, or ``baselines/NAME.py`` for a
comparator), its ``compare.models`` entry in params.yaml (role, protocols, options, a search range) and a test
of it on the shared fixtures (``tests/test_NAME.py``). The module starts as a working model, an item mean
with a user bias whose two shrinkage strengths are tuned, so the next `dvc repro` gives its verdict against
the paper's model and the best baseline at once; replace its ``fit`` and ``score`` with your model.

Nothing is overwritten: an existing file, model entry or family kind is an error, and params.yaml is
rewritten (comments kept) only when the new entry loads and checks.
"""

from __future__ import annotations

import importlib
import keyword
import re
from pathlib import Path

from hybridrec.errors import UserError

FOLDERS = {"candidate": "hybridrec/recommenders", "baseline": "baselines"}

MODULE = '''"""{label}: a model family of the comparison (written by `hybridrec new-model {name}`; make it yours).

It starts as an item mean with a user bias:  rating(u, i) = mu + b_u + b_i, where
    b_i = sum over i's training ratings of (r - mu) / (n_i + reg_item)
    b_u = sum over u's training ratings of (r - mu - b_i) / (n_u + reg_user)
(biases shrunk towards 0 for anime and users with few ratings; an anime unseen in training gets b_i = 0).

How the comparison uses it (README "Add a model"):
- params.yaml `compare.models.{name}` names the family by ``kind``, its ``role`` (who it is tested against),
  the ``protocols`` it runs in, fixed ``options`` and a ``search`` space; `check_spec` refuses a bad entry when
  params.yaml loads, before any stage does work.
- `from_spec` builds a predictor from the entry: the defaults, then its options, then the settings tuning chose
  (``ctx.tuned``), then a tuning trial's ``override``. `defaults()` and `settings()` are the first tuning trial:
  tuning never ends worse than the model as it stands.
- `fit(data, seed)` trains on ``data.train`` (columns user_idx, anime_idx, rating; ``data.n_users``,
  ``data.n_anime``, ``data.scale``; ``data.graph_inputs(["synopsis", "genres"])`` gives node features,
  ``data.item_text()`` the synopses); `score(users, anime)` returns raw predicted ratings for index arrays
  (every metric clamps them to the rating range and the report counts those outside it).
Keep heavy imports (torch, libraries) inside methods: loading params.yaml imports every family.
"""

from __future__ import annotations

import numpy as np

from hybridrec.errors import ParamsError
from hybridrec.predictors import RatingPredictor, SplitData

# every option of the family with its default (the first tuning trial takes the defaults)
DEFAULTS = {{"reg_item": 10.0, "reg_user": 5.0}}


class {cls}(RatingPredictor):
    """{label}."""

    kind = "{name}"  # its name in params.yaml (compare.models.<entry>.kind)
    spec_keys = ("options", "search")  # the entry keys it takes beyond kind, label, role and protocols
    default_role = "{role}"  # when the entry names no role
    deterministic = True  # the seed does not change it: one fit per replicate (False: one per seed)

    def __init__(self, options: dict, label: str):
        self.options, self.name = options, label

    @classmethod
    def check_spec(cls, spec, key: str) -> None:
        for opt in list(spec.options) + list(spec.search):
            if opt not in DEFAULTS:
                raise ParamsError(f"params.yaml: {{key}}: unknown option {{opt!r}} (known: {{', '.join(DEFAULTS)}})")
        for opt, value in spec.options.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ParamsError(f"params.yaml: {{key}}.options.{{opt}} = {{value!r}}: must be a number >= 0")

    @classmethod
    def defaults(cls, spec) -> dict:
        return dict(DEFAULTS)

    @classmethod
    def describe(cls, spec) -> dict:
        return {{"consumes": "training ratings", "unseen_item": "the global mean plus the user's bias"}}

    @classmethod
    def from_spec(cls, spec, ctx, override: dict | None = None) -> "{cls}":
        return cls({{**DEFAULTS, **spec.options, **ctx.tuned.get(spec.name, {{}}), **(override or {{}})}}, spec.label)

    def settings(self) -> dict:
        return dict(self.options)

    def fit(self, data: SplitData, seed: int) -> "{cls}":
        users = data.train["user_idx"].to_numpy()
        anime = data.train["anime_idx"].to_numpy()
        rating = data.train["rating"].to_numpy(np.float64)
        self.mu = float(rating.mean())
        dev = rating - self.mu
        n_i = np.bincount(anime, minlength=data.n_anime)
        self.b_item = np.bincount(anime, dev, data.n_anime) / (n_i + self.options["reg_item"])
        dev = dev - self.b_item[anime]
        n_u = np.bincount(users, minlength=data.n_users)
        self.b_user = np.bincount(users, dev, data.n_users) / (n_u + self.options["reg_user"])
        # an index never seen in training (0 / 0 with no shrinkage) has no bias
        self.b_item, self.b_user = np.nan_to_num(self.b_item), np.nan_to_num(self.b_user)
        return self

    def score(self, users: np.ndarray, anime: np.ndarray) -> np.ndarray:
        return self.mu + self.b_user[np.asarray(users)] + self.b_item[np.asarray(anime)]
'''

TEST = '''"""Tests of the {name} family (written by `hybridrec new-model {name}`): extend them as the model grows.

Run: pytest tests/test_{name}.py
"""

import numpy as np
import pandas as pd

from hybridrec import params, zoo
from hybridrec.metrics import rating_metrics
from hybridrec.predictors import SplitData
from tests.conftest import REPO, raw_params


def build(options=None):
    """The compare.models entry of params.yaml, with ``options`` as a tuning trial would set them."""
    p = params.parse(raw_params())
    return zoo.build("{name}", zoo.Context(p), override=options)


def test_the_params_entry_loads():
    spec = params.load(REPO / "params.yaml").compare.models["{name}"]
    assert spec.kind == "{name}" and spec.role == "{role}"


def test_it_beats_the_global_mean_on_held_out_ratings(toy_split):
    """On the shared toy split (anime effects planted) it predicts held-out ratings better than their mean."""
    model = build().fit(toy_split, seed=0)
    pred = model.predict(toy_split.test)
    assert np.isfinite(pred).all() and len(pred) == len(toy_split.test)
    ours = rating_metrics(pred, toy_split.test["rating"], toy_split.scale)["rmse"]
    mean = rating_metrics(np.full(len(pred), toy_split.train["rating"].mean()), toy_split.test["rating"],
                          toy_split.scale)["rmse"]
    assert ours < mean


def test_it_recovers_planted_biases_without_shrinkage():
    """rating = 5 + item effect + user effect exactly: with no shrinkage every prediction is exact."""
    users, anime = np.meshgrid(np.arange(12), np.arange(6), indexing="ij")
    df = pd.DataFrame({{"user_idx": users.ravel(), "anime_idx": anime.ravel()}})
    df["rating"] = 5.0 + (df["anime_idx"] % 3) + 0.5 * (df["user_idx"] % 2)
    data = SplitData(df, df, df, 12, 6)
    model = build({{"reg_item": 0.0, "reg_user": 0.0}}).fit(data, seed=0)
    np.testing.assert_allclose(model.predict(df), df["rating"], atol=1e-9)
'''


def entry_text(name: str, role: str, protocols: list[str], module: str) -> str:
    """The compare.models entry, as block YAML under ``  models:`` (4 spaces)."""
    return (f"    {name}:                 # `hybridrec new-model {name}`: {module}\n"
            f"      kind: {name}\n"
            f"      label: \"{name}\"\n"
            f"      role: {role}             # paper | baseline | candidate | ablation: who it is tested against\n"
            f"      protocols: [{', '.join(protocols)}]   # where it runs (cold_items: anime unseen in training)\n"
            f"      options: {{}}             # fixed settings (the family's DEFAULTS fill the rest)\n"
            f"      search:                 # tuned with the same budget as every model; the first trial: DEFAULTS\n"
            f"        reg_item: {{low: 0.1, high: 100.0, log: true}}\n"
            f"        reg_user: {{low: 0.1, high: 100.0, log: true}}\n")


def insert_entry(text: str, entry: str, path) -> str:
    """``text`` (params.yaml) with ``entry`` appended to compare.models, every other line untouched."""
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == "compare:")
        models = next(i for i in range(start + 1, len(lines)) if re.match(r"^  models:\s*(#.*)?$", lines[i]))
    except StopIteration:
        raise UserError(f"{path}: no `compare:` section with a block `  models:` mapping to add the entry to") from None
    end = models + 1
    for i in range(models + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line.startswith("    "):
            break  # the next key of compare (or a top-level line) ends the models
        if line.strip() and not line.lstrip().startswith("#"):
            end = i + 1
    return "".join(lines[:end] + [entry] + lines[end:])


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part) or "Model"


def new_model(name: str, role: str = "candidate", protocols: list[str] | None = None, root: Path = Path("."),
              params_file: str = "params.yaml") -> list[Path]:
    """Write the family module, its params entry and its test under ``root``; return the files written."""
    import yaml  # noqa: PLC0415

    from hybridrec import io, params, registry  # noqa: PLC0415

    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise UserError(f"new-model {name!r}: a model name is lower case letters, digits and _ (a Python module "
                        "name, e.g. item_user_bias)")
    if role not in FOLDERS:
        raise UserError(f"--role {role!r}: new-model writes a candidate or a baseline")
    protocols = protocols or ["random"]
    path = root / params_file
    if not path.is_file():
        raise UserError(f"{path}: file not found (run new-model in the project's folder)")
    text = path.read_text(encoding="utf-8")
    current = params.parse(yaml.safe_load(text))
    if name in current.compare.models:
        raise UserError(f"{path}: compare.models already has an entry {name!r}")
    if name in registry.families():
        raise UserError(f"new-model {name!r}: a model family of kind {name!r} exists already "
                        f"({registry.family(name).__module__})")
    unknown = [x for x in protocols if x not in current.compare.protocols]
    if unknown:
        raise UserError(f"--protocols {','.join(protocols)}: {unknown[0]!r} is not a protocol of compare.protocols "
                        f"({', '.join(current.compare.protocols)})")
    module = root / FOLDERS[role] / f"{name}.py"
    test = root / "tests" / f"test_{name}.py"
    package = importlib.import_module(FOLDERS[role].replace("/", "."))
    if Path(package.__path__[0]).resolve() != module.parent.resolve():
        raise UserError(f"{module.parent}: this Python imports the model families from {package.__path__[0]}, not "
                        "from here: run new-model in the project you installed (`pip install -e .` in its folder)")
    for f in (module, test):
        if f.exists():
            raise UserError(f"{f}: exists already; new-model never overwrites a file")
    new_text = insert_entry(text, entry_text(name, role, protocols, module.relative_to(root).as_posix()), path)
    fields = {"name": name, "cls": camel(name), "label": name, "role": role}
    io.write_text(module, MODULE.format(**fields))
    importlib.invalidate_caches()  # the registry lists the folder again
    registry.families.cache_clear()
    try:  # the entry must load with the new family before params.yaml changes
        check = yaml.safe_load(new_text)
        params.parse(check)
    except BaseException:
        module.unlink()
        registry.families.cache_clear()
        raise
    io.write_text(test, TEST.format(**fields))
    io.write_text(path, new_text)
    return [module, path, test]

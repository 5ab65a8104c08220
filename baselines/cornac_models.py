"""Cornac models behind the suite's RatingPredictor interface (family ``kind: cornac``).

Two rating models of Cornac (https://cornac.preferred.ai), chosen by ``algo``:

* ``MF``: Cornac's biased matrix factorisation (SGD), a cross-check of Surprise SVD from another library.
  It reads the ratings only.
* ``HFT``: Hidden Factors as Topics (McAuley & Leskovec, RecSys 2013), a rating model that reads the
  synopses: each anime's latent factors double as the topic proportions of its text (an LDA-like corpus
  likelihood), so an anime's synopsis shapes its factors. The synopses come from ``SplitData.item_text()``
  and enter Cornac through a ``TextModality`` (Cornac's HFT reads each synopsis as its set of distinct words:
  counts are dropped). Cornac's default HFT (max_iter = grad_iter = 50) takes minutes per fit at the real
  size (a pure-Python Gibbs sampler and L-BFGS loops): set them in ``options``.

``options`` are the Cornac model's constructor arguments (checked against its signature when params load),
plus for HFT the ``text_*`` options of the vocabulary (:data:`TEXT_DEFAULTS`): the adapter builds the
TextModality and sets HFT's ``vocab_size`` to the size of the vocabulary it gets. ``seed`` goes to Cornac
(``seed=``); the adapter sets ``verbose=False``.

Ids: our user_idx / anime_idx are contiguous ints; Cornac maps raw ids to its own inner indices
(``uid_map`` / ``iid_map``). After fitting, the adapter copies Cornac's parameters into arrays indexed by
*our* ids (zero rows where Cornac has none), so scoring is one vectorised formula,
``mu + b_u + b_i + p_u . q_i``, for any index arrays and the full user x anime matrix alike; a test checks it
against Cornac's own ``model.score`` on Cornac's inner indices.

Unseen users and anime (no training rating): see each algorithm's ``unseen_user`` / ``unseen_item`` in
:data:`ALGORITHMS` (also set on every predictor, for the reports). In short: a zero row stands in for what
the model does not know, so an unseen user gets ``mu + b_i`` and an unseen anime ``mu + b_u`` (MF) or
``mu + b_u + p_u . q_i`` with ``q_i`` inferred from the synopsis (HFT, which sees every anime's text
while it trains).
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from hybridrec.errors import ParamsError
from hybridrec.predictors import RatingPredictor, SplitData

# Constructor arguments the adapter sets itself (not options).
RESERVED = {"self", "name", "seed", "verbose", "trainable", "init_params", "num_threads", "vocab_size"}

VECTORISED_HFT = True  # fit HFT with baselines/hft_vectorised.py (False: Cornac's own loops, e.g. to compare)

# The vocabulary HFT reads (``text_<name>`` options; TextModality / BaseTokenizer arguments). Defaults follow
# Cornac's HFT example (examples/hft_example.py): English stop words, 5,000 words at most, words in more than
# half of the synopses dropped.
TEXT_DEFAULTS = {"max_vocab": 5000, "max_doc_freq": 0.5, "min_doc_freq": 1, "stop_words": "english"}


@dataclass(frozen=True)
class Algorithm:
    cls: str  # the class in cornac.models
    arguments: frozenset  # its constructor arguments an entry may set (a test checks them against Cornac's)
    text: bool  # reads the synopses (TextModality)
    consumes: str  # what the model reads (for the reports)
    unseen_user: str  # what the adapter predicts for a user with no training rating
    unseen_item: str  # ... and for an anime with no training rating


ALGORITHMS = {
    "MF": Algorithm(
        "MF", frozenset({"backend", "batch_size", "dropout", "early_stop", "k", "lambda_reg", "learning_rate",
                         "max_iter", "optimizer", "use_bias"}), text=False, consumes="ratings only",
        unseen_user="global mean + item bias (Cornac's own MF.score for an unknown user); "
                    "global mean if the anime is unseen too",
        unseen_item="global mean + user bias (Cornac raises for an unknown item); global mean if the user "
                    "is unseen too. use_bias: false -> the training mean for every pair with an unseen user "
                    "or anime (Cornac would predict 0)"),
    "HFT": Algorithm(
        "HFT", frozenset({"grad_iter", "k", "l2_reg", "lambda_text", "max_iter"}), text=True, consumes="ratings + synopses (bag of words)",
        unseen_user="offset + item bias (Cornac raises for an unknown user); offset if the anime is unseen too",
        unseen_item="offset + user bias + user factors . item factors inferred from the synopsis: every "
                    "anime's text is in the corpus HFT trains on, so an anime without ratings still gets "
                    "topic factors (its item bias, never trained, is set to 0); an anime with an empty "
                    "synopsis ends with ~0 factors, i.e. offset + user bias"),
}


def _cornac_class(algo: str):
    import cornac.models  # noqa: PLC0415 (heavy: ~1 s; params.yaml loading imports every family module)

    return getattr(cornac.models, ALGORITHMS[algo].cls)


def _arguments(algo: str) -> frozenset:
    """The constructor arguments of the Cornac class that an entry may set (listed, so that loading params.yaml
    does not import Cornac)."""
    return ALGORITHMS[algo].arguments


def _signature_arguments(algo: str) -> frozenset:
    """The same, read from Cornac's own signature (what the test compares the list with)."""
    return frozenset(inspect.signature(_cornac_class(algo).__init__).parameters) - RESERVED


def _split(options: dict) -> tuple[dict, dict]:
    """(model kwargs, text kwargs) from flat options (``text_*`` -> the vocabulary)."""
    model = {k: v for k, v in options.items() if not k.startswith("text_")}
    text = {k.removeprefix("text_"): v for k, v in options.items() if k.startswith("text_")}
    return model, text


def _one_space(t: str) -> str:
    return " ".join(t.split())


def _tokenizer(stop_words):
    """Cornac's BaseTokenizer (lower case; tags, digits and punctuation removed; split on spaces), with any
    whitespace run made one space first and the empty token dropped: Cornac splits on ' ' only, so line
    breaks would glue words and a trailing space (e.g. left by removed punctuation) would count as a word."""
    from cornac.data.text import DEFAULT_PRE_RULES, ENGLISH_STOPWORDS, BaseTokenizer  # noqa: PLC0415

    if stop_words == "english":
        stop_words = ENGLISH_STOPWORDS
    elif isinstance(stop_words, str):
        raise ValueError(f"text_stop_words = {stop_words!r}: 'english', a list of words or null")
    return BaseTokenizer(pre_rules=list(DEFAULT_PRE_RULES) + [_one_space],
                         stop_words=set(stop_words or ()) | {""})


class CornacPredictor(RatingPredictor):
    kind = "cornac"
    default_role = "baseline"  # a comparator (params.yaml `role` overrides it)
    spec_keys = ("algo", "options", "search")
    deterministic = False  # the seed sets Cornac's initialisation (and HFT's topic sampling)

    @classmethod
    def platform_invariant(cls, spec) -> bool:
        """MF is Cornac's Cython SGD in a prebuilt wheel (the same bits under the SSE4 kernel set,
        reports/stability.md); HFT computes with NumPy's BLAS and vector exp, whose kernels differ by CPU."""
        return spec.algo == "MF"

    def __init__(self, algo: str, options: dict | None = None, label: str | None = None):
        if algo not in ALGORITHMS:
            raise ParamsError(f"params.yaml: unknown Cornac algorithm {algo!r} (known: {', '.join(ALGORITHMS)})")
        self.algo_name, self.options = algo, dict(options or {})
        self.name = label or f"Cornac {algo}"
        a = ALGORITHMS[algo]
        self.consumes, self.unseen_user, self.unseen_item = a.consumes, a.unseen_user, a.unseen_item

    # --- the family ------------------------------------------------------------------------
    @classmethod
    def check_spec(cls, spec, key: str) -> None:
        if spec.algo not in ALGORITHMS:
            raise ParamsError(f"params.yaml: {key}.algo = {spec.algo!r}: must be a Cornac algorithm "
                              f"({', '.join(ALGORITHMS)})")
        text = ALGORITHMS[spec.algo].text
        known = set(_arguments(spec.algo))
        for opt in list(spec.options) + list(spec.search):
            if opt == "vocab_size" and text:
                raise ParamsError(f"params.yaml: {key}: {spec.algo} option 'vocab_size' is set from the "
                                  "vocabulary; limit it with text_max_vocab")
            if text and opt.startswith("text_"):
                if opt.removeprefix("text_") not in TEXT_DEFAULTS:
                    raise ParamsError(f"params.yaml: {key}: {spec.algo} has no text option {opt!r} "
                                      f"(known: {', '.join('text_' + t for t in TEXT_DEFAULTS)})")
            elif opt not in known:
                extra = f"; text_* for the vocabulary: {', '.join('text_' + t for t in TEXT_DEFAULTS)}" if text else ""
                raise ParamsError(f"params.yaml: {key}: Cornac {spec.algo} has no option {opt!r} "
                                  f"(known: {', '.join(sorted(known))}{extra})")

    @classmethod
    def default_label(cls, spec) -> str:
        return f"Cornac {spec.algo}"

    @classmethod
    def defaults(cls, spec) -> dict:
        params = inspect.signature(_cornac_class(spec.algo).__init__).parameters
        return {k: v.default for k, v in params.items() if v.default is not inspect.Parameter.empty}

    @classmethod
    def describe(cls, spec) -> dict:
        a = ALGORITHMS[spec.algo]
        return {"consumes": a.consumes, "unseen_item": a.unseen_item}

    @classmethod
    def from_spec(cls, spec, ctx, override: dict | None = None):
        return cls(spec.algo, {**spec.options, **ctx.tuned.get(spec.name, {}), **(override or {})}, spec.label)

    # --- the predictor ---------------------------------------------------------------------
    def settings(self) -> dict:
        """The options, with the vocabulary defaults the adapter adds for a text model."""
        if ALGORITHMS[self.algo_name].text:
            return {**{f"text_{k}": v for k, v in TEXT_DEFAULTS.items()}, **self.options}
        return dict(self.options)

    def fit(self, data: SplitData, seed: int):
        import cornac  # noqa: PLC0415

        algorithm = ALGORITHMS[self.algo_name]
        model_kw, text_kw = _split(self.options)
        train = data.train
        users = np.unique(train["user_idx"].to_numpy())
        # Cornac's inner indices: training users in id order; every anime for the text model (its corpus
        # covers anime without ratings too), else the anime rated in training.
        items = np.arange(data.n_anime) if algorithm.text else np.unique(train["anime_idx"].to_numpy())
        uid_map = OrderedDict((int(u), k) for k, u in enumerate(users))
        iid_map = OrderedDict((int(i), k) for k, i in enumerate(items))
        triples = zip(train["user_idx"].tolist(), train["anime_idx"].tolist(), train["rating"].tolist())
        ts = cornac.data.Dataset.build(list(triples), global_uid_map=uid_map, global_iid_map=iid_map, seed=seed)
        if algorithm.text:
            text = self._text_modality(data, text_kw, iid_map)
            ts.add_modalities(item_text=text)
            model_kw["vocab_size"] = self.vocab_size = text.count_matrix.shape[1]  # words HFT models
        try:
            self.model = _cornac_class(self.algo_name)(**model_kw, seed=seed, verbose=False)
        except TypeError as e:
            raise ParamsError(f"params.yaml: bad option for Cornac {self.algo_name}: {e}") from None
        if algorithm.text:
            # HFT's Gibbs sampler draws from NumPy's global RNG (cornac/models/hft/hft.py: np.random.randint,
            # np.random.rand), which seed= does not reach: seed it for the fit, then put it back.
            # Cornac's inner model runs with its Python loops vectorised (baselines/hft_vectorised.py: the same
            # objective, gradient and topic draws; HFT was the comparison's most expensive model).
            state = np.random.get_state()
            np.random.seed(seed)
            try:
                if VECTORISED_HFT:
                    from baselines.hft_vectorised import vectorised_model  # noqa: PLC0415

                    with vectorised_model().patch():
                        self.model.fit(ts)
                else:
                    self.model.fit(ts)
            finally:
                np.random.set_state(state)
        else:
            self.model.fit(ts)
        self.model.train_set = None  # Cornac keeps the training data for later fit() calls; not needed here
        self._to_raw_ids(data, uid_map, iid_map)
        return self

    def _text_modality(self, data: SplitData, text_kw: dict, iid_map: dict):
        from cornac.data import TextModality  # noqa: PLC0415

        if data.item_text is None:
            raise ValueError(f"{self.name} reads the synopses, but this split has no item_text")
        corpus = list(data.item_text())
        if len(corpus) != data.n_anime:
            raise ValueError(f"item_text() gave {len(corpus)} synopses for {data.n_anime} anime")
        kw = {**TEXT_DEFAULTS, **text_kw}
        try:
            modality = TextModality(corpus=[t if isinstance(t, str) else "" for t in corpus],
                                    ids=list(range(data.n_anime)), tokenizer=_tokenizer(kw.pop("stop_words")), **kw)
            return modality.build(id_map=iid_map)
        except (TypeError, ValueError) as e:
            raise ParamsError(f"params.yaml: bad text option for Cornac {self.algo_name}: {e}") from None

    def _to_raw_ids(self, data: SplitData, uid_map: dict, iid_map: dict) -> None:
        """Cornac's parameters as arrays over our ids: ``mu``, ``bu`` [n_users], ``bi`` [n_anime], ``pu``
        [n_users, k], ``qi`` [n_anime, k], zero where Cornac has nothing (the unseen fallbacks)."""
        m = self.model
        if self.algo_name == "MF":
            mu, bu, bi, pu, qi = m.global_mean, m.u_biases, m.i_biases, m.u_factors, m.i_factors
        else:  # HFT
            mu, bu, bi, pu, qi = m.alpha, m.beta_u, m.beta_i, m.gamma_u, m.gamma_i
        u_raw = np.fromiter(uid_map.keys(), np.int64, len(uid_map))
        u_in = np.fromiter(uid_map.values(), np.int64, len(uid_map))
        i_raw = np.fromiter(iid_map.keys(), np.int64, len(iid_map))
        i_in = np.fromiter(iid_map.values(), np.int64, len(iid_map))
        k = np.shape(pu)[1]
        self.mu = float(mu)
        self.bu, self.pu = np.zeros(data.n_users), np.zeros((data.n_users, k))
        self.bi, self.qi = np.zeros(data.n_anime), np.zeros((data.n_anime, k))
        self.bu[u_raw] = np.asarray(bu, np.float64)[u_in]
        self.pu[u_raw] = np.asarray(pu, np.float64)[u_in]
        self.bi[i_raw] = np.asarray(bi, np.float64)[i_in]
        self.qi[i_raw] = np.asarray(qi, np.float64)[i_in]
        self.known_user = np.zeros(data.n_users, bool)
        self.known_item = np.zeros(data.n_anime, bool)
        self.known_user[data.train["user_idx"].to_numpy()] = True
        self.known_item[data.train["anime_idx"].to_numpy()] = True
        self.bi[~self.known_item] = 0.0  # HFT: never trained (left at its random initial value)
        # Without biases Cornac's MF predicts 0 for an unseen user (mu = 0): use the training mean instead.
        self.fallback = None if getattr(m, "use_bias", True) else float(data.train["rating"].mean())

    def score(self, users, anime):
        u, i = np.asarray(users), np.asarray(anime)
        est = self.mu + self.bu[u] + self.bi[i] + np.einsum("nk,nk->n", self.pu[u], self.qi[i])
        if self.fallback is not None:
            est[~(self.known_user[u] & self.known_item[i])] = self.fallback
        return est

    def score_matrix(self, n_users: int, n_anime: int) -> np.ndarray:
        if n_users > len(self.bu) or n_anime > len(self.bi):
            raise ValueError(f"score_matrix({n_users}, {n_anime}): fitted on {len(self.bu)} users, {len(self.bi)} anime")
        est = self.mu + self.bu[:n_users, None] + self.bi[None, :n_anime] + self.pu[:n_users] @ self.qi[:n_anime].T
        if self.fallback is not None:
            est[~(self.known_user[:n_users, None] & self.known_item[None, :n_anime])] = self.fallback
        return est

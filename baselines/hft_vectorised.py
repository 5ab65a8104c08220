"""Cornac's HFT inner model with its two Python loops vectorised: the same objective, gradient and Gibbs
sampler, 4-5x faster.

``cornac/models/hft/hft.py`` (Cornac 3.0.1) computes the rating loss and its gradient with a Python loop over
every user and then every item (``Model._func``, called by L-BFGS-B ``grad_iter`` times per iteration), and
resamples each word's topic in a Python loop over every word of every document (``assign_word_topics``).
Profiled on the synthetic default (63k training ratings), they were 7.5 s and 2.4 s of a 12.2 s fit: HFT was
the most expensive model of the comparison. :class:`VectorisedModel` is a subclass that replaces both with
array operations and keeps everything else (initialisation, counts, L-BFGS-B, the result's layout):

* ``_func``: the user loop's and the item loop's sums become segment sums (``np.bincount``, ``np.add.reduceat``)
  over the flattened ratings. The loss and gradient are the same numbers up to the order of floating-point
  additions (a test: relative 1e-12), and so are the fitted models up to L-BFGS's sensitivity to that
  (a test: predictions within 1e-6). Cornac's own quirk is kept: the corpus terms use the ``kappa`` and
  ``gamma_i`` of the last topic assignment (``self.kappa``, ``self.gamma_i``), not the ones being optimised.
* ``assign_word_topics``: a word's topic scores depend only on the parameters, which the loop does not change,
  so every word is scored at once; the uniform draws come from NumPy's global RNG in the loop's order (the
  legacy generator yields the same numbers one by one or as an array), each topic is the first whose running
  sum of the normalised scores reaches its draw (the loop's scan), and the counts are updated with the same
  moves. Same topics, same counts (a test: identical to Cornac's loop).

Used by :mod:`baselines.cornac_models` for every HFT fit (``VectorisedModel.patch()`` swaps it in for the fit).
"""

from __future__ import annotations

import contextlib

import numpy as np


def _make():
    from cornac.models.hft import hft  # noqa: PLC0415

    class VectorisedModel(hft.Model):
        """Cornac's ``hft.Model`` with a vectorised ``_func`` and ``assign_word_topics`` (module doc)."""

        _flat = None

        def _flatten(self, user_data, item_data):
            """The ratings as flat arrays grouped by user (Cornac's order), with the segments of each user and,
            through a stable sort, of each item (computed once per fit)."""
            key = (id(user_data), id(item_data))
            if self._flat is None or self._flat[0] != key:
                counts = np.array([len(x) for x in user_data[0]], dtype=np.int64)
                users = np.repeat(np.arange(self.n_user), counts)
                items = np.concatenate(user_data[0]).astype(np.int64) if counts.sum() else np.zeros(0, np.int64)
                ratings = np.concatenate(user_data[1]).astype(np.float64) if counts.sum() else np.zeros(0)
                by_item = np.argsort(items, kind="stable")
                self._flat = (key, users, items, ratings, _segments(users, self.n_user),
                              by_item, _segments(items[by_item], self.n_item))
            return self._flat[1:]

        def _func(self, X, *args):
            users, items, ratings, user_seg, by_item, item_seg = self._flatten(args[0], args[1])
            grad = np.zeros_like(X)
            alpha, kappa, beta_u, beta_i, gamma_u, gamma_i, topic_word = self._get_view(params=X)
            dalpha, dkappa, dbeta_u, dbeta_i, dgamma_u, dgamma_i, dtopic_word = self._get_view(params=grad)
            gu, gi = gamma_u[users], gamma_i[items]
            err = alpha + beta_u[users] + beta_i[items] + np.einsum("nk,nk->n", gu, gi) - ratings
            cf_loss = float(np.sum(err ** 2))
            dalpha += 2 * np.sum(err)
            dbeta_u += 2 * np.bincount(users, weights=err, minlength=self.n_user)
            dbeta_i += 2 * np.bincount(items, weights=err, minlength=self.n_item)
            _segment_add(dgamma_u, 2 * err[:, None] * gi, user_seg)
            _segment_add(dgamma_i, (2 * err[:, None] * gu)[by_item], item_seg)
            reg_loss = 0.0
            if self.l2_reg > 0:
                reg_loss += self.l2_reg * np.sum(gamma_u ** 2)
                dgamma_u += 2 * self.l2_reg * gamma_u
                reg_loss += self.l2_reg * np.sum(gamma_i ** 2)
                dgamma_i += 2 * self.l2_reg * gamma_i
            # the corpus terms exactly as Cornac computes them (with the last assignment's kappa and gamma_i)
            e_theta = np.exp(self.kappa * self.gamma_i)
            t_z = e_theta.sum(axis=1, keepdims=True)
            corpus_likelihood = self.lambda_text * np.sum(self.item_topic_cnt * (self.kappa * self.gamma_i - np.log(t_z)))
            e_phi = np.exp(self.background_word + topic_word)
            word_z = e_phi.sum(axis=0, keepdims=True)
            corpus_likelihood += self.lambda_text * np.sum(
                self.word_topic_cnt * (self.background_word + topic_word - np.log(word_z)))
            q = -self.lambda_text * (self.item_topic_cnt - self.item_word * e_theta / t_z)
            dgamma_i += kappa * q
            dkappa += np.sum(gamma_i * q)
            dtopic_word += -self.lambda_text * (self.word_topic_cnt - self.topic_cnt * e_phi / word_z)
            return cf_loss + reg_loss - corpus_likelihood, grad

        def assign_word_topics(self, docs):
            _, self.kappa, _, _, _, self.gamma_i, self.topic_word = self._get_view(self.params)
            lengths = np.array([len(d) for d in docs], dtype=np.int64)
            total = int(lengths.sum())
            if total:
                doc_of = np.repeat(np.arange(len(docs)), lengths)
                words = np.concatenate([np.asarray(d, dtype=np.int64) for d in docs])
                old = np.concatenate([np.asarray(t, dtype=np.int64) for t in self.topic_assignment])
                score = np.exp(self.kappa * self.gamma_i[doc_of] + self.background_word[words] + self.topic_word[words])
                score = score / np.sum(score, axis=1, keepdims=True)
                thr = np.sum(score, axis=1) * np.random.rand(total)  # the loop's draws, in its order
                csum = np.cumsum(score, axis=1)
                new = np.minimum((csum < thr[:, None]).sum(1), self.k - 1)  # the first running sum >= the draw
                moved = new != old
                w, d, o, n = words[moved], doc_of[moved], old[moved], new[moved]
                np.add.at(self.word_topic_cnt, (w, o), -1)
                np.add.at(self.word_topic_cnt, (w, n), 1)
                np.add.at(self.topic_cnt, (np.zeros_like(o), o), -1)
                np.add.at(self.topic_cnt, (np.zeros_like(n), n), 1)
                np.add.at(self.item_topic_cnt, (d, o), -1)
                np.add.at(self.item_topic_cnt, (d, n), 1)
                starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
                for di in np.unique(d):
                    self.topic_assignment[di][:] = new[starts[di]:starts[di] + lengths[di]]
            average = self.topic_word.sum(axis=1)[:, np.newaxis] / self.k
            self.topic_word -= average
            self.background_word += average

        @classmethod
        @contextlib.contextmanager
        def patch(cls):
            """Cornac's HFT builds ``hft.Model`` inside ``fit``: this one instead, for the ``with`` block."""
            original = hft.Model
            hft.Model = cls
            try:
                yield
            finally:
                hft.Model = original

    return VectorisedModel


def _segments(sorted_keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys present, start of each one's run) of a sorted key array."""
    present, starts = np.unique(sorted_keys, return_index=True)
    return present, starts


def _segment_add(out: np.ndarray, rows: np.ndarray, seg) -> None:
    """out[key] += the sum of ``rows`` over each key's run (rows sorted by key)."""
    present, starts = seg
    if len(present):
        out[present] += np.add.reduceat(rows, starts, axis=0)


_cache: dict = {}


def vectorised_model():
    """The :class:`VectorisedModel` class (built on first use: Cornac is imported only where HFT runs)."""
    if "cls" not in _cache:
        _cache["cls"] = _make()
    return _cache["cls"]

"""Design-based estimates from a stratified blind sample.

The sample is stratified simple random sampling without replacement: stratum ``h`` holds
``N_h`` units of the run, ``n_h`` of them coded by hand (``k_h`` of those carry the code).
Every estimate here weights a coded unit by ``N_h / n_h`` (the inverse of its inclusion
probability).

* :func:`stratified_share`: the stratified estimator of a proportion
  ``p = sum_h (N_h/N) k_h/n_h`` and its standard error with the finite population correction
  (Cochran 1977, *Sampling Techniques*, 3rd ed., 5.2 and 5A.2).  Its 95% interval is the
  finite-population posterior under a Jeffreys Beta(1/2, 1/2) prior in each stratum: the
  ``N_h - n_h`` uncoded units of each stratum are drawn from a beta-binomial given its ``k_h``
  of ``n_h``, and the interval is the 2.5-97.5% quantiles of the simulated population share
  (Ericson 1969, JRSS B 31:195; Jeffreys intervals: Brown, Cai & DasGupta 2001, Stat. Sci.
  16:101).  A Wald or Korn-Graubard interval collapses when a large stratum's sample holds no
  positive (the usual case for a rare code among units the model left uncoded) and then covers
  the truth far less than 95% of the time; this one does not (``tests/test_validate.py``
  checks its coverage by simulation).
* :func:`weighted_scores`: precision, recall, F1 and Cohen's kappa of the model against the
  hand codes, as population estimates (weighted 2x2 table), vectorised over many weight
  vectors so that :func:`stratified_bootstrap` gets intervals from resampling within strata.
"""

from __future__ import annotations

import numpy as np

ALPHA = 0.05
DRAWS = 4000


def stratified_share(y, strata, N_h: dict, *, seed: int = 0) -> dict:
    """Estimate the population share of ``y`` (0/1 for each coded unit) from a stratified sample.

    ``strata``: the stratum of each coded unit; ``N_h``: the population size of every stratum
    (a non-empty stratum without coded units is an error: its share cannot be estimated).
    """
    y = np.asarray(y, dtype=float)
    strata = np.asarray(strata)
    names = [h for h, Nh in N_h.items() if Nh > 0]
    k = np.array([y[strata == h].sum() for h in names])
    n = np.array([(strata == h).sum() for h in names])
    Nh = np.array([N_h[h] for h in names], dtype=float)
    if (n == 0).any():
        raise ValueError(f"stratum {names[int(np.argmin(n))]!r} has no coded unit")
    W = Nh / Nh.sum()
    p_h = k / n
    s2 = np.where(n > 1, p_h * (1 - p_h) * n / np.maximum(n - 1, 1), 0.0)  # sample variance of 0/1 values
    var = float(np.sum(W ** 2 * (1 - n / Nh) * s2 / n))
    lo, hi = share_interval(k, n, Nh, seed=seed)  # rounded outward: the truth on a bound stays inside
    return {"estimate": float(np.sum(W * p_h)), "se": var ** 0.5, "ci": [float(np.floor(lo * 1e4) / 1e4), float(np.ceil(hi * 1e4) / 1e4)],
            "n": int(n.sum())}


def share_interval(k, n, N, *, draws: int = DRAWS, seed: int = 0, alpha: float = ALPHA):
    """95% interval of the population share given ``k`` positives in ``n`` coded of ``N`` units
    per stratum (last axis = strata; leading axes are batched, e.g. simulated samples)."""
    k, n, N = (np.asarray(a, dtype=float) for a in (k, n, N))
    rng = np.random.default_rng(seed)
    shape = k.shape + (draws,)
    theta = rng.beta(k[..., None] + 0.5, n[..., None] - k[..., None] + 0.5, size=shape)
    rest = rng.binomial(np.broadcast_to((N - n)[..., None], shape).astype(np.int64), theta)
    share = (k.sum(-1)[..., None] + rest.sum(-2)) / N.sum(-1)[..., None]
    lo, hi = np.quantile(share, [alpha / 2, 1 - alpha / 2], axis=-1)
    return lo, hi


def weighted_scores(gold: np.ndarray, pred: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and kappa of ``pred`` against ``gold`` (0/1 per unit) weighted by each
    row of ``W`` (shape (B, n)); NaN where a score is undefined (e.g. no predicted positive)."""
    W = np.atleast_2d(W).astype(float)
    g, p = np.asarray(gold, bool), np.asarray(pred, bool)
    tp, fp = W @ (g & p), W @ (~g & p)
    fn, tn = W @ (g & ~p), W @ (~g & ~p)
    tot = tp + fp + fn + tn
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        f1 = 2 * tp / (2 * tp + fp + fn)
        po = (tp + tn) / tot
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / tot ** 2
        kappa = np.where(pe < 1, (po - pe) / (1 - pe), np.nan)
    return {"precision": precision, "recall": recall, "f1": f1, "kappa": kappa}


def stratified_bootstrap(strata, N_h: dict, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Weight vectors (n_boot, n): each resamples the coded units with replacement within their
    stratum (so every stratum keeps its n_h) and gives each draw the weight N_h / n_h.
    Take-all strata are not resampled: they carry no sampling error."""
    strata = np.asarray(strata)
    rng = np.random.default_rng(seed)
    W = np.zeros((n_boot, len(strata)))
    for h, Nh in N_h.items():
        idx = np.flatnonzero(strata == h)
        nh = len(idx)
        if nh == 0:
            continue
        if nh >= Nh:
            W[:, idx] = Nh / nh
            continue
        draws = rng.integers(0, nh, size=(n_boot, nh))
        counts = np.zeros((n_boot, nh))
        np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1)
        W[:, idx] = counts * (Nh / nh)
    return W


def design_weights(strata, N_h: dict) -> np.ndarray:
    strata = np.asarray(strata)
    n_h = {h: int((strata == h).sum()) for h in N_h}
    return np.array([N_h[h] / n_h[h] for h in strata], dtype=float)


def percentile_ci(values: np.ndarray, alpha: float = ALPHA) -> list[float] | None:
    v = values[~np.isnan(values)]
    if len(v) < 0.9 * len(values) or not len(v):  # undefined in too many resamples to trust
        return None
    lo, hi = np.quantile(v, [alpha / 2, 1 - alpha / 2])
    return [round(float(lo), 3), round(float(hi), 3)]

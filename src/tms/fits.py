"""Power-law fits with confidence intervals (BEYOND.md SCALE): the exponent of y ∝ x^k by least squares on log-log
axes, with the t-distribution interval of the slope (scipy.stats.linregress), and a bootstrap over seeds where
several seeds were trained."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class PowerLaw:
    """y ≈ prefactor · x^exponent, fitted on log-log axes."""

    exponent: float
    """The slope k of log y against log x (a loss falling as m^−α_m has exponent −α_m)."""
    prefactor: float
    lo: float
    """Lower end of the exponent's confidence interval."""
    hi: float
    """Upper end."""
    r2: float
    """The fit's coefficient of determination on log-log axes."""
    points: int


def _logs(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ConfigError(f"a power-law fit needs x and y of one equal length, got {x.shape} and {y.shape}")
    if len(x) < 2 or len(set(x.tolist())) < 2:
        raise ConfigError(f"a power-law fit needs at least 2 distinct x values, got {len(set(x.tolist()))}")
    if (x <= 0).any() or (y <= 0).any() or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ConfigError("a power-law fit needs positive, finite x and y")
    return np.log(x), np.log(y)


def fit_power_law(x: Sequence[float], y: Sequence[float], confidence: float = 0.95) -> PowerLaw:
    """Least squares of log y on log x; the exponent's interval from the slope's standard error and Student's t
    with len(x) − 2 degrees of freedom (infinite width, ±inf, with only two points)."""
    from scipy import stats

    lx, ly = _logs(x, y)
    fit = stats.linregress(lx, ly)
    dof = len(lx) - 2
    half = float(stats.t.ppf(0.5 + confidence / 2, dof) * fit.stderr) if dof > 0 else math.inf
    return PowerLaw(float(fit.slope), float(math.exp(fit.intercept)), float(fit.slope) - half, float(fit.slope) + half,
                    float(fit.rvalue**2), len(lx))


def bootstrap_exponent(x: Sequence[float], y_by_seed: Sequence[Sequence[float]], confidence: float = 0.95,
                       draws: int = 2000, seed: int = 0) -> PowerLaw:
    """The exponent of the mean over seeds, with a percentile bootstrap interval: each draw picks, at every x, one
    seed's y at random (with replacement) and refits. ``y_by_seed`` is ``[seeds][len(x)]``."""
    ys = np.asarray(y_by_seed, dtype=float)
    if ys.ndim != 2 or ys.shape[1] != len(x):
        raise ConfigError(f"y_by_seed must be [seeds][{len(x)}], got shape {ys.shape}")
    central = fit_power_law(x, ys.mean(axis=0), confidence)
    rng = np.random.default_rng(seed)
    lx = np.log(np.asarray(x, dtype=float))
    picks = rng.integers(0, ys.shape[0], size=(draws, len(x)))
    sample = np.log(ys[picks, np.arange(len(x))])  # [draws, len(x)]
    slopes = ((lx - lx.mean()) * (sample - sample.mean(axis=1, keepdims=True))).sum(axis=1) / ((lx - lx.mean()) ** 2).sum()
    lo, hi = np.quantile(slopes, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return PowerLaw(central.exponent, central.prefactor, float(lo), float(hi), central.r2, central.points)

"""Synthetic data distributions (PAPER.md §0, §4), by name: the registry behind ``RunConfig.data``.

A :class:`Distribution` draws ``[inst, batch, feat]`` batches from per-instance, per-feature densities
``[inst, feat]`` (the probability that a feature is non-zero), the run's feature sets and an explicit
``torch.Generator``. Members:

- ``independent``: x_i = 0 with probability 1 - p_i, otherwise x_i ~ U[0, 1], every feature and sample
  independently (PAPER.md §0);
- ``signed``: as ``independent`` but active values U[−1, 1] (PAPER.md §8's computation of |x|);
- ``sets``: correlated and anticorrelated feature sets (:class:`tms.config.FeatureSet`), the other features
  independent (PAPER.md §4). A correlated set shares one zero/non-zero draw; an anticorrelated set has at most
  one active member, member i with probability p_i. Active values are U[0, 1], independent of everything else;
- ``alt``: Roe & Goldstein 2025's data (BEYOND.md ALT): one target feature per sample, U[0, 1], every other
  feature on with probability p_i and then 0.1·U[0, 1]; :func:`sample_alt` also gives each sample's target.

The eager engine trains on any member; the fast engine draws the members it lists itself (:mod:`tms.engines`).

Batches are laid out ``[inst, batch, feat]`` so each instance's batch is a contiguous matrix and the model is
two batched matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from .config import FeatureSet, RunConfig
from .errors import ConfigError
from .kinds import DATA, Entry


def sample_features(density: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``[inst, batch, feat]`` features; ``density`` is ``[inst, feat]`` (probability non-zero).

    Two uniform draws per element, as in the paper's companion notebook: one decides whether the feature is
    active, the other is its value.
    """
    inst, feat = density.shape
    shape = (inst, batch_size, feat)
    active = torch.rand(shape, generator=generator, device=density.device) < density[:, None, :]
    values = torch.rand(shape, generator=generator, device=density.device)
    return values * active


def sample_signed(density: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``[inst, batch, feat]`` signed features (PAPER.md §8): 0 with probability 1 − p, else U[−1, 1)."""
    inst, feat = density.shape
    shape = (inst, batch_size, feat)
    active = torch.rand(shape, generator=generator, device=density.device) < density[:, None, :]
    values = torch.rand(shape, generator=generator, device=density.device).mul_(2.0).sub_(1.0)
    return values * active


def sample_features_one_draw(density: Tensor, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
    """Same distribution as :func:`sample_features` from one uniform draw per element.

    With u ~ U[0, 1): the feature is active when u < p, and then u / p is again U[0, 1) and independent of
    the event, so x = (u / p) * [u < p] has exactly the paper's distribution at half the random numbers.
    """
    inst, feat = density.shape
    u = torch.rand((inst, batch_size, feat), generator=generator, device=density.device)
    p = density[:, None, :]
    return torch.where(u < p, u / p, torch.zeros((), device=u.device))


def activation_layout(density: Tensor, sets: Sequence[FeatureSet] = ()) -> tuple[Tensor, Tensor, Tensor, int]:
    """How one uniform draw per *group* decides which features are active: ``(group [feat], lo [inst, feat],
    hi [inst, feat], groups)``; feature i is active when its group's draw u has ``lo_i <= u < hi_i``.

    A group is a feature in no set, or a whole set; groups are numbered in the order of their first feature.
    Independent feature: [0, p_i). Correlated set: [0, p) for every member (one shared event). Anticorrelated
    set: consecutive intervals [p_1 + ... + p_(k-1), p_1 + ... + p_k) in the set's order, so at most one member
    is active and member k with probability p_k. Without sets every feature is its own group and the draws are
    exactly :func:`sample_features`'s.
    """
    inst, feat = density.shape
    member: dict[int, FeatureSet] = {f: fs for fs in sets for f in fs.features}
    group = torch.empty(feat, dtype=torch.long)
    lo = torch.zeros(inst, feat, dtype=torch.float64)
    hi = density.detach().cpu().double().clone()
    groups = 0
    for f in range(feat):
        fs = member.get(f)
        if fs is None:
            group[f] = groups
            groups += 1
        elif f == min(fs.features):
            group[list(fs.features)] = groups
            groups += 1
            if fs.kind == "anticorrelated":
                upper = torch.cumsum(hi[:, list(fs.features)], dim=1)
                hi[:, list(fs.features)] = upper
                lo[:, list(fs.features)] = torch.cat([torch.zeros(inst, 1, dtype=torch.float64), upper[:, :-1]], dim=1)
    return group, lo.float().to(density.device), hi.float().to(density.device), groups


def sample_sets(density: Tensor, batch_size: int, generator: torch.Generator | None = None,
                sets: Sequence[FeatureSet] = ()) -> Tensor:
    """Draw ``[inst, batch, feat]`` features with correlated and anticorrelated sets (:func:`activation_layout`):
    one uniform draw per group decides the active features, a second per feature gives their values."""
    inst, feat = density.shape
    group, lo, hi, groups = activation_layout(density, sets)
    u = torch.rand((inst, batch_size, groups), generator=generator, device=density.device)
    values = torch.rand((inst, batch_size, feat), generator=generator, device=density.device)
    uf = u.index_select(2, group.to(density.device))
    active = (uf >= lo[:, None, :]) & (uf < hi[:, None, :])
    return values * active


ALT_NOISE = 0.1
"""The amplitude of the non-target features in data 'alt': Roe & Goldstein's train_linear.py scales them by 0.1."""


def sample_alt(density: Tensor, batch_size: int, generator: torch.Generator | None = None,
               noise: float = ALT_NOISE) -> tuple[Tensor, Tensor]:
    """Roe & Goldstein's linear-model data (BEYOND.md ALT): ``(x [inst, batch, feat], target [inst, batch])``.

    Each sample has exactly one target feature t, uniform over the features, with x_t ~ U[0, 1); every other
    feature i is on with probability ``density[:, i]`` (their ``SPARSITY``, 0.95) and then ``noise`` · U[0, 1).
    As in their train_linear.py one uniform per element gives the values and the target's on/off draw is
    overridden, so the target is on whatever its Bernoulli draw. The target index is returned because it
    cannot be read off x: x_t falls below the largest noise value in about one sample in ten.
    """
    inst, feat = density.shape
    shape = (inst, batch_size, feat)
    values = torch.rand(shape, generator=generator, device=density.device)
    target = torch.randint(0, feat, (inst, batch_size), generator=generator, device=density.device)
    on = torch.rand(shape, generator=generator, device=density.device) < density[:, None, :]
    scale = on.to(values.dtype).mul_(noise)
    scale.scatter_(2, target[..., None], 1.0)
    return values.mul_(scale), target


Sampler = Callable[[Tensor, int, "torch.Generator | None"], Tensor]
"""``sample(density [inst, feat], batch_size, generator) -> x [inst, batch, feat]``."""


@dataclass(frozen=True)
class Distribution:
    """A named data distribution (its label and description are its :data:`tms.kinds.DATA` entry)."""

    name: str
    bind: Callable[[Sequence[FeatureSet]], Sampler]
    """``bind(feature_sets)``: the sampler of a run with those sets (the config has checked that they fit)."""
    bind_run: "Callable[[RunConfig], Callable[..., Tensor | tuple[Tensor, Tensor]]] | None" = None
    """``bind_run(config)``: the run's sampler where it needs more of the config than its feature sets, or gives
    each sample's target feature too (``(x, target)``, the distributions of :data:`tms.kinds.TARGETED_DATA`);
    :func:`run_sampler` prefers it to :attr:`bind`."""

    @property
    def entry(self) -> Entry:
        """The distribution's name, label and description."""
        return DATA[self.name]


def _independent(sets: Sequence[FeatureSet]) -> Sampler:
    if sets:
        raise ConfigError("feature_sets need data 'sets', got data 'independent'")
    return sample_features


def _signed(sets: Sequence[FeatureSet]) -> Sampler:
    if sets:
        raise ConfigError("feature_sets need data 'sets', got data 'signed'")
    return sample_signed


def _sets(sets: Sequence[FeatureSet]) -> Sampler:
    sets = tuple(sets)
    return lambda density, batch_size, generator=None: sample_sets(density, batch_size, generator, sets)


def _alt(sets: Sequence[FeatureSet]) -> Sampler:
    if sets:
        raise ConfigError("feature_sets need data 'sets', got data 'alt'")
    return lambda density, batch_size, generator=None: sample_alt(density, batch_size, generator)[0]


DISTRIBUTIONS: dict[str, Distribution] = {
    "independent": Distribution("independent", _independent),
    "sets": Distribution("sets", _sets),
    "signed": Distribution("signed", _signed),
    "alt": Distribution("alt", _alt, bind_run=lambda config: lambda density, batch_size, generator=None: sample_alt(
        density, batch_size, generator, getattr(config, "noise", ALT_NOISE))),
}
"""The implementation of every name in :data:`tms.kinds.DATA`, by name."""


def get_distribution(name: str) -> Distribution:
    """The distribution called ``name``, or a ConfigError listing the known ones."""
    return DISTRIBUTIONS[DATA.check(name)]


def run_sampler(config: RunConfig) -> Callable[[Tensor, int, "torch.Generator | None"], tuple[Tensor, Tensor | None]]:
    """The sampler of a run: ``sample(density, batch_size, generator) -> (x, target)``. The distribution's draw
    (:attr:`Distribution.bind_run` where it has one, else :attr:`Distribution.bind` with the run's feature sets), its
    values times ``config.value_max`` (for the paper's members exactly U[0, value_max] or U[−value_max, value_max]),
    then, with ``config.normalize``, every sample divided by its length (an all-zero sample stays zero). ``target``
    is the distribution's target index for :data:`tms.kinds.TARGETED_DATA`, else None."""
    dist = get_distribution(config.data)
    sample = dist.bind_run(config) if dist.bind_run is not None else dist.bind(config.feature_sets)
    value_max, normalize = config.value_max, config.normalize

    def draw(density: Tensor, batch_size: int, generator: torch.Generator | None = None
             ) -> tuple[Tensor, Tensor | None]:
        drawn = sample(density, batch_size, generator)
        x, target = drawn if isinstance(drawn, tuple) else (drawn, None)
        if value_max != 1.0:
            x = x * value_max
        if normalize:
            norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
            x = x / torch.where(norm > 0, norm, torch.ones((), device=x.device))
        return x, target

    return draw


def draw_dataset(sample: Callable[[Tensor, int, "torch.Generator | None"], tuple[Tensor, Tensor | None]],
                 density: Tensor, size: int, generator: torch.Generator | None = None
                 ) -> tuple[Tensor, Tensor | None]:
    """A finite dataset (:attr:`tms.config.RunConfig.train_size`): ``size`` examples per instance drawn once,
    ``(x [inst, size, feat], target [inst, size] or None)``."""
    return sample(density, size, generator)


def epoch_batches(size: int, batch_size: int, generator: torch.Generator | None = None) -> list[Tensor]:
    """One epoch over a finite dataset of ``size`` examples: the whole set as one batch when ``batch_size >= size``
    (full batch, in order), else a fresh permutation cut into batches of ``batch_size`` (the last one shorter)."""
    if batch_size >= size:
        return [torch.arange(size)]
    order = torch.randperm(size, generator=generator, device=generator.device if generator else "cpu").cpu()
    return list(order.split(batch_size))


#: :func:`sample_sparse` draws a feature densely when some instance gives it a density above this, else by counts.
DENSE_ABOVE = 1.0 / 32


@dataclass(frozen=True)
class SparseBatch:
    """A batch of independent features ``[inst, batch, feat]`` as its active entries: entry k is instance
    ``inst[k]``, sample ``row[k]``, feature ``feat[k]``, value ``value[k]`` (every other entry is 0; no entry twice)."""

    inst: Tensor
    row: Tensor
    feat: Tensor
    value: Tensor
    shape: tuple[int, int, int]

    def dense(self) -> Tensor:
        """The batch as ``[inst, batch, feat]``."""
        out = torch.zeros(self.shape, device=self.value.device)
        out[self.inst, self.row, self.feat] = self.value
        return out


def _distinct_rows(keys_base: Tensor, batch_size: int, generator: torch.Generator | None) -> Tensor:
    """Rows for activations whose (instance, feature) pair is ``keys_base`` (pair × batch_size): uniform, and
    distinct within a pair; a row drawn twice for one pair is drawn again until none is (rejection, so each pair's
    rows are a uniformly random subset of its count)."""
    device = keys_base.device
    rows = torch.randint(0, batch_size, keys_base.shape, generator=generator, device=device)
    while True:
        keys = keys_base + rows
        order = torch.argsort(keys, stable=True)
        sorted_keys = keys[order]
        again = order[1:][sorted_keys[1:] == sorted_keys[:-1]]
        if again.numel() == 0:
            return rows
        rows[again] = torch.randint(0, batch_size, again.shape, generator=generator, device=device)


def sample_sparse(density: Tensor, batch_size: int, generator: torch.Generator | None = None,
                  value_max: float = 1.0, dense_above: float = DENSE_ABOVE) -> SparseBatch:
    """Data 'independent' (x_i = 0 with probability 1 − p_i, else U[0, value_max]) as a :class:`SparseBatch`, drawn
    in time proportional to the active entries where most features are rare (Liu, Liu & Gore 2025's frequency law,
    BEYOND.md SCALE). A feature with a density above ``dense_above`` (in some instance) is drawn densely, one
    uniform per entry; a rare feature gets its count of active samples c ~ Binomial(batch, p_i), and then c
    distinct samples uniformly at random, which is the same distribution as batch independent Bernoulli(p_i)
    draws. Values U[0, 1) × value_max. Not the same random numbers as :func:`sample_features`."""
    inst, feat = density.shape
    device = density.device
    frequent = density.max(dim=0).values > dense_above
    cols = frequent.nonzero().flatten()
    rare = (~frequent).nonzero().flatten()
    u = torch.rand((inst, batch_size, cols.numel()), generator=generator, device=device)
    on = u < density[:, cols][:, None, :]
    di, dr, dc = on.nonzero(as_tuple=True)
    dense_values = u[di, dr, dc] / density[di, cols[dc]]  # u/p given u < p is U[0, 1), as sample_features_one_draw
    counts = torch.binomial(torch.full((inst, rare.numel()), float(batch_size), dtype=density.dtype, device=device),
                            density[:, rare].contiguous(), generator=generator).long()
    pair = torch.arange(inst * rare.numel(), device=device).repeat_interleave(counts.flatten())
    ri = torch.div(pair, max(rare.numel(), 1), rounding_mode="floor")
    rf = rare[pair - ri * rare.numel()] if rare.numel() else pair
    rr = _distinct_rows(pair * batch_size, batch_size, generator)
    rare_values = torch.rand(pair.shape, generator=generator, device=device)
    return SparseBatch(torch.cat([di, ri]), torch.cat([dr, rr]), torch.cat([cols[dc], rf]),
                       torch.cat([dense_values, rare_values]) * value_max, (inst, batch_size, feat))

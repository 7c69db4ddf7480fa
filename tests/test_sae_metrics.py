"""SAE recovery metrics (tms.sae.metrics) on hand-computed cases, against naive versions, and their errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from tms.errors import ConfigError
from tms.sae import metrics as M


def unit(*v: float) -> list[float]:
    n = math.sqrt(sum(a * a for a in v))
    return [a / n for a in v]


def test_identity_dictionary_scores_one():
    F = torch.eye(4)
    assert M.mmcs(F, F).item() == pytest.approx(1.0)
    assert M.mcc(F, F).item() == pytest.approx(1.0)
    assert M.recovered_share(F, F).item() == 1.0


def test_permuted_sign_flipped_scaled_dictionary_scores_one():
    F = torch.eye(5)[:4] * torch.tensor([1.0, 0.7, 1.2, 0.9])[:, None]   # true directions need not be unit
    perm = [2, 0, 3, 1]
    D = -3.0 * F[perm]
    assert M.mmcs(F, D).item() == pytest.approx(1.0)
    assert M.mcc(F, D).item() == pytest.approx(1.0)
    (m,) = M.match(F, D)
    assert list(m.latent_of(4)) == [perm.index(i) for i in range(4)]


def test_45_degree_rotated_pair():
    F = torch.eye(2)
    c = math.cos(math.pi / 4)
    D = torch.tensor([[c, c], [-c, c]])   # rows: the two directions at ±45°
    assert M.abs_cosines(F, D).numpy() == pytest.approx(np.full((2, 2), 1 / math.sqrt(2)))
    assert M.mmcs(F, D).item() == pytest.approx(0.70710678)
    assert M.mcc(F, D).item() == pytest.approx(0.70710678)
    assert M.recovered_share(F, D).item() == 0.0
    assert M.recovered_share(F, D, threshold=0.7).item() == 1.0


def test_hungarian_beats_greedy():
    # |cos| = [[0.6, 0.5], [0.5, 0.1]]: greedy takes 0.6 then 0.1 (mean 0.35); the optimum pairs crosswise (0.5).
    F = torch.eye(3)[:2]
    D = torch.tensor([unit(0.6, 0.5, math.sqrt(0.39)), unit(0.5, 0.1, math.sqrt(0.74))])
    assert M.abs_cosines(F, D).numpy() == pytest.approx(np.array([[0.6, 0.5], [0.5, 0.1]]), abs=1e-6)
    assert M.mcc(F, D).item() == pytest.approx(0.5, abs=1e-6)
    assert M.mmcs(F, D).item() == pytest.approx(0.55, abs=1e-6)   # (0.6 + 0.5) / 2: MMCS may reuse a latent
    (m,) = M.match(F, D)
    assert list(m.latent_of(2)) == [1, 0]


def test_fewer_latents_than_features_mean_over_matched_pairs():
    F = torch.eye(3)
    D = torch.eye(3)[:2]
    assert M.mcc(F, D).item() == pytest.approx(1.0)         # two pairs, both exact
    assert M.mmcs(F, D).item() == pytest.approx(2 / 3)      # the third feature's best |cos| is 0
    assert list(M.match(F, D)[0].latent_of(3)) == [0, 1, -1]


def naive_cos(F, D):
    return [[abs(float(F[i] @ D[j]) / float(F[i].norm() * D[j].norm())) for j in range(len(D))]
            for i in range(len(F))]


def naive_mmcs(F, D):
    return np.mean([max(row) for row in naive_cos(F, D)])


def naive_mcc(F, D):
    cos = naive_cos(F, D)
    return max(np.mean([cos[i][p[i]] for i in range(len(F))]) for p in itertools.permutations(range(len(D)), len(F)))


def test_against_naive_versions_and_batched_equals_single():
    g = torch.Generator().manual_seed(3)
    F = torch.randn(4, 6, generator=g, dtype=torch.float64)
    D = torch.randn(3, 5, 6, generator=g, dtype=torch.float64)
    batched_mmcs, batched_mcc = M.mmcs(F, D), M.mcc(F, D)
    assert batched_mmcs.shape == batched_mcc.shape == (3,)
    for s in range(3):
        assert batched_mmcs[s].item() == pytest.approx(naive_mmcs(F, D[s]), abs=1e-12)
        assert batched_mcc[s].item() == pytest.approx(naive_mcc(F, D[s]), abs=1e-12)
        assert M.mcc(F, D[s]).item() == pytest.approx(batched_mcc[s].item(), abs=1e-12)
        assert batched_mcc[s] <= batched_mmcs[s] + 1e-12   # one-to-one can only lose against best-of-all


def test_represented_keeps_columns_above_half():
    W = torch.tensor([[1.0, 0.3, 0.0, 0.75], [0.0, 0.3, 0.2, 0.0]])
    assert M.represented(W).tolist() == [[1.0, 0.0], [0.75, 0.0]]   # rows [n, hidden]


def test_l0_and_dead_latents():
    c = torch.tensor([[0.0, 1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])
    assert M.l0(c).item() == pytest.approx(1.0)   # (2 + 0 + 1) / 3
    assert M.ever_fired(c).tolist() == [True, True, True, False]
    assert M.dead_latents(c).item() == 1
    both = torch.stack([c, torch.ones_like(c)])
    assert M.l0(both).tolist() == pytest.approx([1.0, 4.0])
    assert M.dead_latents(both).tolist() == [1, 0]
    # the true L0 of feature values, the same count
    assert M.l0(torch.tensor([[0.5, 0.0, 0.1], [0.0, 0.0, 0.0]])).item() == pytest.approx(1.0)


def test_explained_variance_and_shrinkage_by_hand():
    h = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    half = 0.5 * h
    assert M.explained_variance(h, half).item() == pytest.approx(0.75)   # 1 - 0.5 / 2
    assert M.explained_variance(h, h).item() == pytest.approx(1.0)
    assert M.shrinkage(h, half).item() == pytest.approx(0.5)
    both = torch.stack([h, half])
    assert M.explained_variance(h, both).tolist() == pytest.approx([1.0, 0.75])
    # a ratio of sums, not a mean of per-sample ratios (which a near-zero sample dominates: 1.5 here)
    h = torch.tensor([[1.0, 0.0], [0.01, 0.0]])
    assert M.shrinkage(h, torch.tensor([[1.0, 0.0], [0.02, 0.0]])).item() == pytest.approx(1.02 / 1.01)


def test_explained_variance_matches_naive_with_a_mean():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(50, 3, generator=g, dtype=torch.float64) + 2.0
    r = h + 0.1 * torch.randn(50, 3, generator=g, dtype=torch.float64)
    naive = 1 - ((h - r) ** 2).sum().item() / ((h - h.mean(0)) ** 2).sum().item()
    assert M.explained_variance(h, r).item() == pytest.approx(naive, abs=1e-12)


def test_detection_precision_recall_f1_by_hand():
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])
    codes = torch.tensor([[0.0, 2.0, 0.0], [0.0, 1.0, 5.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    d = M.detection(x, codes, np.array([1, 2]))
    # feature 0 ↔ latent 1 fires on rows 0, 1, 3: TP 2, FP 1, FN 0; feature 1 ↔ latent 2 fires on row 1 only
    assert d.precision.tolist() == pytest.approx([2 / 3, 1.0])
    assert d.recall.tolist() == pytest.approx([1.0, 0.5])
    assert d.f1.tolist() == pytest.approx([0.8, 2 / 3])
    # a latent that never fires and an unmatched feature score 0, not NaN
    d = M.detection(x, codes, np.array([0, -1]))
    assert d.precision.tolist() == [0.0, 0.0] and d.f1.tolist() == [0.0, 0.0]


def test_absorption_rate_conditions_on_parent_and_child():
    # parent 0, child 1; rows 0-3 have both, rows 4-5 the parent only
    x = torch.tensor([[1.0, 1.0, 0.0]] * 4 + [[1.0, 0.0, 0.0]] * 2)
    parent_latent = torch.tensor([0.0, 0.0, 0.0, 0.4, 0.9, 0.8])
    codes = torch.stack([parent_latent, torch.ones(6)], dim=1)
    assert M.absorption_rate(x, codes, parent=0, child=1, latent=0).item() == pytest.approx(0.75)
    assert M.absorption_rate(x, codes, parent=0, child=1, latent=1).item() == 0.0
    batched = torch.stack([codes, codes.flip(1)])
    assert M.absorption_rate(x, batched, 0, 1, torch.tensor([0, 1])).tolist() == pytest.approx([0.75, 0.75])
    assert math.isnan(M.absorption_rate(x, codes, parent=0, child=2, latent=0).item())


@pytest.mark.parametrize("call, field", [
    (lambda: M.mmcs(torch.eye(3), torch.eye(4)), "hidden size"),
    (lambda: M.mmcs(torch.eye(3), torch.ones(2, 5, 4)), "hidden size"),
    (lambda: M.mcc(torch.eye(3), torch.ones(3)), "decoder must be"),
    (lambda: M.mmcs(torch.ones(3), torch.eye(3)), "true features must be"),
    (lambda: M.mcc(torch.ones(0, 3), torch.eye(3)), "at least one direction"),
    (lambda: M.mcc(torch.eye(3), torch.ones(2, 0, 3)), "at least one direction"),
    (lambda: M.recovered_share(torch.eye(2), torch.eye(2), threshold=1.5), "threshold"),
    (lambda: M.shrinkage(torch.ones(4, 2), torch.ones(4, 3)), "reconstruction"),
    (lambda: M.explained_variance(torch.ones(4, 2), torch.ones(4, 2)), "zero variance"),
    (lambda: M.l0(torch.ones(3)), "activations must be"),
    (lambda: M.detection(torch.ones(4, 2), torch.ones(3, 2), np.array([0, 1])), "same batch"),
    (lambda: M.detection(torch.ones(4, 2), torch.ones(4, 2), np.array([0, 2])), "latent must"),
    (lambda: M.absorption_rate(torch.ones(4, 2), torch.ones(4, 2), 0, 2, 0), "child"),
    (lambda: M.absorption_rate(torch.ones(4, 2), torch.ones(4, 2), 0, 1, 5), "latent must"),
])
def test_impossible_shapes_raise_one_line(call, field):
    with pytest.raises(ConfigError) as e:
        call()
    assert field in str(e.value) and "\n" not in str(e.value)

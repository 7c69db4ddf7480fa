"""The exact expected loss (tms.exact): against the §3 closed forms, the k-gon losses of Chen et al. 2023, a naive
grid quadrature, Monte Carlo on random small models, finite differences of its gradient; the k-gon critical
points against their Table A.1."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tms import exact, theory
from tms.errors import ConfigError

F64 = torch.float64


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: torch's intra-op threads only cost time (ten times the CPU on a busy host)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _random_model(n: int, m: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(m, n, generator=g, dtype=F64) * 0.8
    b = torch.randn(n, generator=g, dtype=F64) * 0.3
    p = torch.rand(n, generator=g, dtype=F64) * 0.9 + 0.05
    imp = torch.rand(n, generator=g, dtype=F64) + 0.5
    return W, b, p, imp


@pytest.mark.parametrize("n_features", [2, 3])
@pytest.mark.parametrize("bias", ["paper", "optimal"])
def test_the_section3_candidates_have_their_closed_form_losses(n_features, bias):
    for candidate in theory.candidates(n_features):
        for p in (0.05, 0.3, 0.8):
            for r in (0.3, 2.0):
                W, b = theory.candidate_network(candidate, p, bias=bias)
                got = exact.expected_loss(torch.tensor(W), torch.tensor(b), p, theory.importance(n_features, r))
                want = float(theory.candidate_loss(candidate, r, p, bias=bias))
                assert float(got) == pytest.approx(want, abs=1e-12 + got.error), (candidate.name, p, r)


def test_an_antipodal_pair_errs_by_min_of_the_two_only_when_both_are_active():
    # hand-computed: x'_1 = ReLU(x_1 - x_2) misses min(x_1, x_2) when both are on, E[min(U, V)^2] = 1/6
    W, b = torch.tensor([[1.0, -1.0]], dtype=F64), torch.zeros(2, dtype=F64)
    got = exact.expected_loss(W, b, 0.3, [1.0, 2.0])
    assert got.parts == pytest.approx({"0": 0.0, "1": 0.0, "2": 3 * 0.09 / 6}, abs=1e-15)
    assert got.error == 0.0


@pytest.mark.parametrize("name", sorted(exact.KGON_LOSSES))
def test_kgon_losses_are_chen_et_al_s(name):
    k, positive = exact.parse_kgon(name)
    W, b = exact.kgon(k, 6, positive=positive)
    assert float(exact.single_feature_loss(W, b)) == pytest.approx(exact.KGON_LOSSES[name], abs=1e-4)


def test_a_positive_zero_column_saves_one_over_4c_squared():
    # its bias 1/(2c) predicts the mean when its feature is on (saves b/c) and costs b² otherwise: 1/(4c²) in all
    losses = [float(exact.single_feature_loss(*exact.kgon(4, 6, positive=s))) for s in range(3)]
    assert losses[0] == pytest.approx(2 / 6 / 3, rel=1e-13)
    assert np.diff(losses) == pytest.approx([-1 / 144, -1 / 144], rel=1e-12)


@pytest.mark.parametrize("name", ["6", "5", "5+", "4"])
def test_kgon_critical_points_are_table_a1_s_and_critical(name):
    k, _ = exact.parse_kgon(name)
    found = exact.kgon_critical(name)
    assert (found.length, found.bias) == pytest.approx(exact.TABLE_A1[k], abs=2e-5)
    assert found.grad_norm < 1e-6
    assert found.loss == pytest.approx(exact.KGON_LOSSES[name], abs=1e-4)


def test_a_point_off_the_critical_length_is_not_critical():
    W, b = exact.kgon(6, 6, length=1.25, bias=-0.61814)
    assert exact.loss_gradient_norm(W, b) > 1e-2


def test_single_feature_loss_is_a_naive_quadrature_of_the_one_hot_inputs():
    W, b, _, imp = _random_model(5, 2, 3)
    mu = (torch.arange(200_000, dtype=F64) + 0.5) / 200_000  # midpoint rule, error O(h²) off the kinks
    x = torch.eye(5, dtype=F64)[:, None, :] * mu[None, :, None]  # [active i, sample, feat]
    naive = ((x - torch.relu(x @ (W.T @ W) + b)) ** 2 * imp).sum(-1).mean()
    assert float(exact.single_feature_loss(W, b, imp)) == pytest.approx(float(naive), abs=1e-9)


def test_the_two_active_part_is_a_naive_grid_quadrature():
    W, b, p, imp = _random_model(4, 2, 5)
    exact_two = exact.expected_loss(W, b, p, imp).parts["2"]
    k = 1500
    t = (torch.arange(k, dtype=F64) + 0.5) / k
    u, v = torch.meshgrid(t, t, indexing="ij")
    naive = 0.0
    for i in range(4):
        for j in range(i + 1, 4):
            x = torch.zeros(k, k, 4, dtype=F64)
            x[..., i], x[..., j] = u, v
            err = ((x - torch.relu(x @ (W.T @ W) + b)) ** 2 * imp).sum(-1).mean()
            prob = float(torch.prod(torch.where(torch.isin(torch.arange(4), torch.tensor([i, j])), p, 1 - p)))
            naive += prob * float(err)
    assert exact_two == pytest.approx(naive, abs=2e-6)


@pytest.mark.parametrize("shape,seed", [((2, 1), 1), ((3, 2), 2), ((5, 2), 3), ((6, 3), 4)])
def test_expected_loss_agrees_with_monte_carlo(shape, seed):
    n, m = shape
    W, b, p, imp = _random_model(n, m, seed)
    got = exact.expected_loss(W, b, p, imp)
    mc, se = exact.monte_carlo_loss(W, b, p, imp, samples=400_000, generator=torch.Generator().manual_seed(seed))
    assert abs(float(got) - mc) < 4 * math.hypot(se, got.stderr)  # 4 σ: fails by chance about once in 16 000


def test_the_qmc_error_bound_covers_another_scrambling():
    W, b, p, imp = _random_model(6, 2, 7)
    a = exact.expected_loss(W, b, p, imp, seed=0)
    other = exact.expected_loss(W, b, p, imp, seed=1, samples=1 << 14)
    assert 0 < a.error < 1e-3 * a.parts["3+"]
    assert abs(float(a) - float(other)) < a.error + other.error
    assert float(exact.expected_loss(W, b, p, imp, seed=0)) == float(a)  # same seed, same number


def test_the_gradient_is_the_finite_difference_of_the_loss():
    W, b, p, imp = _random_model(5, 2, 11)
    points = exact.sobol_points(5, 1024, 2, seed=0)  # the same points: a smooth deterministic function

    def f(W, b):
        return exact.expected_loss(W, b, p, imp, points=points).value

    Wg, bg = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
    gW, gb = torch.autograd.grad(f(Wg, bg), (Wg, bg))
    h = 1e-6
    for (r, c) in [(0, 0), (1, 3), (0, 4)]:
        dW = torch.zeros_like(W)
        dW[r, c] = h
        assert float(gW[r, c]) == pytest.approx(float((f(W + dW, b) - f(W - dW, b)) / (2 * h)), rel=1e-6, abs=1e-8)
    for c in (0, 2):
        db = torch.zeros_like(b)
        db[c] = h
        assert float(gb[c]) == pytest.approx(float((f(W, b + db) - f(W, b - db)) / (2 * h)), rel=1e-6, abs=1e-8)


def test_single_feature_gradient_is_the_finite_difference_of_the_loss():
    W, b = exact.kgon(5, 6, length=1.1, bias=-0.2, positive=1)
    W[1, 5] = 0.3  # a zero column moved off zero: its kinks cross the interval
    Wg, bg = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
    gW, gb = torch.autograd.grad(exact.single_feature_loss(Wg, bg), (Wg, bg))
    h = 1e-6
    num = torch.zeros_like(W)
    for r in range(2):
        for c in range(6):
            d = torch.zeros_like(W)
            d[r, c] = h
            num[r, c] = (exact.single_feature_loss(W + d, b) - exact.single_feature_loss(W - d, b)) / (2 * h)
    assert torch.allclose(gW, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("call,field", [
    (lambda: exact.expected_loss(torch.zeros(2, 3), torch.zeros(2), 0.1), "b"),
    (lambda: exact.expected_loss(torch.zeros(2, 3), torch.zeros(3), 1.5), "density"),
    (lambda: exact.expected_loss(torch.zeros(2, 3), torch.zeros(3), 0.1, [1.0, -1.0, 1.0]), "importance"),
    (lambda: exact.expected_loss(torch.zeros(1, 2, 3), torch.zeros(3), 0.1), "W"),
    (lambda: exact.kgon(7, 6), "k"),
    (lambda: exact.kgon(5, 6, positive=2), "positive"),
    (lambda: exact.parse_kgon("x+"), "k-gon"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ConfigError, match=field):
        call()


def test_llc_1_holds_on_the_kgon_table_and_fails_off_it(tmp_path):
    from tms.analysis.folder import ExperimentFolder
    from tms.sections.llc import kgons

    exp = ExperimentFolder(tmp_path / "llc")
    kgons.analyze_kgons(exp)
    rows = exp.read(kgons.KGONS)
    assert [r["kgon"] for r in rows] == list(kgons.KGON_NAMES)
    result = kgons.LLC_1.check(exp)
    assert result.passed and result.measured < 1e-5, result.note
    assert all(r["grad_norm"] < 1e-6 for r in rows)
    moved = [{c.name: r[c.name] for c in kgons.KGONS.columns} for r in rows]
    moved[0]["exact_loss"] += 2e-4  # a loss off the published one by more than the tolerance
    exp.write(kgons.KGONS, moved)
    assert not kgons.LLC_1.check(exp).passed
    moved[0]["exact_loss"] -= 2e-4
    moved[2]["grad_norm"] = 1e-3  # not a critical point
    exp.write(kgons.KGONS, moved)
    off = kgons.LLC_1.check(exp)
    assert not off.passed and "NO" in off.note


def test_minimise_finds_the_section3_candidate_and_its_closed_form_loss():
    # dense enough that the extra feature is dropped (theory): W = [1, 0], b = [0, p/2], loss r (p/3 - p²/4)
    p, r = 0.5, 0.2
    start = torch.tensor([[0.9, 0.05]], dtype=F64), torch.tensor([0.05, 0.1], dtype=F64)
    m = exact.minimise(*start, p, [1.0, r])
    assert m.grad_max < 1e-8
    assert m.loss == pytest.approx(float(theory.candidate_loss(theory.candidates(2)[0], r, p)), abs=1e-12)
    assert torch.allclose(m.W, torch.tensor([[1.0, 0.0]], dtype=F64), atol=1e-6)
    assert torch.allclose(m.b, torch.tensor([0.0, p / 2], dtype=F64), atol=1e-6)
    held = exact.minimise(*start, p, [1.0, r], frozen=(1,))  # feature 1's column and bias stay as given
    assert float(held.W[0, 1]) == 0.05 and float(held.b[1]) == 0.1 and held.loss > m.loss

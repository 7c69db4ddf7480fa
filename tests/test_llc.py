"""The SGLD LLC estimator (tms.llc): hand-written gradients against autograd, the fast path against the eager
reference, one SGLD step against devinterp 1.3.2's optimizer, the estimate on a regular model against d / 2 and on a
k-gon against devinterp's estimate within the chains' noise, and the diagnostics on hand-made traces."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tms import llc
from tms.errors import ConfigError

#: Chen et al. 2023, Table A.1: (l*, b*) of the k-gon critical points at c = 6.
KGONS = {4: (1.0, 0.0), 5: (1.17046, -0.28230), 6: (1.32053, -0.61814)}


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one intra-op thread (on a busy 2-core machine, two threads spin-wait on each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def kgon(k: int, c: int = 6, zero_bias: float = -1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The k-gon critical point of the c = 6, m = 2 model: k columns at length l* on a regular polygon, bias
    b*, the other columns zero with bias ``zero_bias``."""
    length, bias = KGONS[k]
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    W = torch.zeros(2, c)
    W[0, :k] = (length * torch.cos(angles)).float()
    W[1, :k] = (length * torch.sin(angles)).float()
    b = torch.full((c,), zero_bias)
    b[:k] = bias
    return W, b


def dataset(n: int = 1000, seed: int = 0) -> torch.Tensor:
    return llc.one_hot_data(n, 6, torch.Generator().manual_seed(seed))


def random_params(chains: int, seed: int = 1) -> llc.Params:
    g = torch.Generator().manual_seed(seed)
    return {"W": torch.randn(chains, 2, 6, generator=g), "b": 0.3 * torch.randn(chains, 6, generator=g)}


def test_one_hot_data_has_one_active_feature_uniform_in_0_1():
    x = dataset(4000)
    assert torch.equal((x > 0).sum(1), torch.ones(4000, dtype=torch.long))
    counts = (x > 0).sum(0).double()
    assert (counts - 4000 / 6).abs().max() < 4 * math.sqrt(4000 / 6)  # i uniform: 4 binomial sd
    assert abs(x.sum(1).mean().item() - 0.5) < 4 * math.sqrt(1 / 12 / 4000)  # μ ~ U[0, 1]


@pytest.mark.parametrize("importance", [None, "per-feature", "per-chain"])
@pytest.mark.parametrize("batch", [None, 37])
def test_tied_relu_gradient_equals_autograd(importance, batch):
    x = dataset(200)
    imp = {None: None, "per-feature": torch.linspace(0.2, 1.5, 6),
           "per-chain": torch.rand(5, 6, generator=torch.Generator().manual_seed(3)) + 0.1}[importance]
    pot = llc.TiedReLU(x, imp)
    params = random_params(5)
    idx = None if batch is None else torch.randperm(200, generator=torch.Generator().manual_seed(2))[:batch]
    loss, grads = pot.loss_and_grad(params, idx)
    ref_loss, ref_grads = llc.autograd_loss_and_grad(pot, params, idx)
    torch.testing.assert_close(loss, ref_loss)
    for k in ("W", "b"):
        torch.testing.assert_close(grads[k], ref_grads[k], rtol=1e-5, atol=1e-6)
    # the loss is the paper's: summed over features (here by hand for chain 0, no importance)
    if importance is None and batch is None:
        out = torch.relu(x @ params["W"][0].T @ params["W"][0] + params["b"][0])
        assert loss[0].item() == pytest.approx(((out - x) ** 2).sum(1).mean().item(), rel=1e-5)


def test_linear_regression_gradient_equals_autograd_and_minimum_is_least_squares():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(300, 10, generator=g), torch.randn(300, generator=g)
    pot = llc.LinearRegression(X, y)
    params = {"w": torch.randn(4, 10, generator=g)}
    loss, grads = pot.loss_and_grad(params)
    ref_loss, ref_grads = llc.autograd_loss_and_grad(pot, params)
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(grads["w"], ref_grads["w"], rtol=1e-5, atol=1e-6)
    _, at_min = pot.loss_and_grad(pot.minimum())
    assert at_min["w"].abs().max() < 1e-4


def test_fast_path_follows_the_eager_reference_step_for_step():
    pot = llc.TiedReLU(dataset(300))
    W, b = kgon(5)
    center = llc.replicate({"W": W[None], "b": b[None]}, 3)
    for batch in (None, 64):
        cfg = llc.SGLD(draws=60, burn_in=10, chains=3, batch_size=batch)
        fast = llc.sgld_traces(pot, center, cfg, torch.Generator().manual_seed(7))
        eager = llc.sgld_traces(pot, center, cfg, torch.Generator().manual_seed(7), eager=True)
        torch.testing.assert_close(fast, eager, rtol=1e-4, atol=1e-6)


def test_sgld_step_is_devinterps_sgld_optimizer():
    """Our chain and devinterp 1.3.2's SGLD optimizer, given the same noise stream, take the same steps: the drift
    is ε/2 (nβ ∇ mean loss + γ (w − w*)), the noise √ε N(0, 1), the draw the loss before the step."""
    pytest.importorskip("devinterp")
    import warnings

    from devinterp.optim.sgld import SGLD as DevSGLD

    from tms.model import ToyModel

    x = dataset(400)
    W, b = kgon(6)
    cfg = llc.SGLD(step_size=2e-3, gamma=3.0, nbeta=50.0, draws=60, chains=1)
    ours = llc.sgld_traces(llc.TiedReLU(x), {"W": W[None], "b": b[None]}, cfg, torch.Generator().manual_seed(11))
    model = ToyModel(W[None], b[None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = DevSGLD(model.parameters(), lr=2e-3, localization=3.0, nbeta=50.0)
    noise = torch.Generator().manual_seed(11)
    theirs = []
    for _ in range(60):
        opt.zero_grad()
        loss = (model(x[None])[0] - x).pow(2).sum(-1).mean()
        loss.backward()
        opt.step(noise_generator=noise)
        theirs.append(loss.item())
    torch.testing.assert_close(ours[0], torch.tensor(theirs), rtol=1e-4, atol=1e-6)


def test_regular_model_estimate_is_half_the_dimension():
    """Linear regression, d = 10, at the least-squares point: λ = d / 2 = 5 (within 15 %, and within 4 standard
    errors of the chains)."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(1000, 10, generator=g)
    y = X @ torch.randn(10, generator=g) + 0.5 * torch.randn(1000, generator=g)
    pot = llc.LinearRegression(X, y)
    est = llc.sample(pot, pot.minimum(), llc.SGLD(step_size=1e-4, draws=1500, burn_in=200, chains=8))[0]
    assert est.escaped == 0
    assert abs(est.llc - 5.0) < 0.15 * 5.0
    assert abs(est.llc - 5.0) < 4 * est.stderr + 0.1


def test_effective_sample_size_of_ar1_and_iid_draws():
    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    n, rho = 40_000, 0.6
    # AR(1) x_t = ρ x_{t−1} + e_t: ESS = n (1 − ρ) / (1 + ρ); the mean over 5 chains within 5 %
    ratios = [llc.effective_sample_size(lfilter([1.0], [1.0, -rho], rng.standard_normal(n)))
              / (n * (1 - rho) / (1 + rho)) for _ in range(5)]
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.05) and min(ratios) > 0.8
    assert llc.effective_sample_size(rng.standard_normal(n)) == pytest.approx(n, rel=0.1)
    assert llc.effective_sample_size(np.ones(50)) == 50


def test_summary_applies_the_escape_rule_and_measures_drift_by_hand():
    # chain 0: losses 1, 2, 3, 4 above L* = 0.5; chain 1: 2 of 4 draws below L* (50 % > 5 %): dropped
    traces = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.4, 0.3, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    est = llc.summarize(traces, init_loss=0.5, nbeta=10.0)
    assert est.escaped == 1 and est.kept == (True, False, True)
    assert est.chain_llc == pytest.approx((20.0, 1.75, 15.0))
    assert est.llc == pytest.approx(17.5)
    assert est.std == pytest.approx(math.sqrt(12.5))
    # halves: chain 0 gives 10 (mean 1.5) then 30 (mean 3.5), chain 2 gives 15 and 15
    assert est.first_half == pytest.approx(12.5) and est.second_half == pytest.approx(22.5)
    assert est.drift == pytest.approx(10.0)
    # one draw in 20 below L* is exactly 5 %: kept
    assert llc.summarize(torch.tensor([[0.4] + [1.0] * 19]), 0.5, 1.0).escaped == 0


@pytest.mark.parametrize("field,value,words", [
    ("step_size", 0.0, "step_size must be a positive"), ("step_size", -1e-3, "step_size"),
    ("gamma", -1.0, "gamma (localization) must be"), ("draws", 0, "draws must be an integer >= 1"),
    ("chains", 0, "chains"), ("burn_in", -1, "burn_in"), ("nbeta", 0.0, "nbeta"), ("batch_size", 0, "batch_size"),
    ("seed", -1, "seed must be an integer >= 0, got -1")])
def test_bad_hyper_parameters_are_one_line_config_errors(field, value, words):
    with pytest.raises(ConfigError, match=None) as e:
        llc.SGLD(**{field: value}).check()
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_batch_larger_than_the_dataset_is_a_config_error():
    with pytest.raises(ConfigError) as e:
        llc.SGLD(batch_size=100).check_dataset(5)
    assert str(e.value) == "batch_size must be at most samples (the fixed dataset's n = 5), got batch_size 100"
    assert llc.SGLD(batch_size=5).check_dataset(5).batch_size == 5
    with pytest.raises(ConfigError, match="^batch_size must be at most samples"):
        llc.sample(llc.TiedReLU(dataset(5)), random_params(1), llc.SGLD(batch_size=6, draws=2, chains=1))


def test_descend_is_sgd_with_the_same_gradients():
    pot = llc.TiedReLU(dataset(200))
    start = random_params(2)
    end, kept = llc.descend(pot, start, lr=0.01, steps=3, generator=torch.Generator().manual_seed(0), every=1)
    w = {k: v.clone() for k, v in start.items()}
    for _ in range(3):
        w = {k: v - 0.01 * llc.autograd_loss_and_grad(pot, w)[1][k] for k, v in w.items()}
    for k in w:
        torch.testing.assert_close(end[k], w[k])
    assert [s for s, _, _ in kept] == [0, 1, 2, 3]
    torch.testing.assert_close(kept[-1][2], pot.loss(end))


def test_kgon_estimates_agree_with_devinterp_within_chain_noise():
    """One k-gon (the pentagon at c = 6), n = 1000, devinterp 1.3.2 and ours at the same hyper-parameters (ε =
    1e-3, γ = 1, nβ = n / ln n, full batch, 4 chains × 300 draws): the difference within 3 standard errors of the two
    chains' spreads, the escape rule applied to both samplers' traces (about 5 s of CPU, most of it devinterp's)."""
    pytest.importorskip("devinterp")
    x = dataset(1000)
    W, b = kgon(5)
    cfg = llc.SGLD(draws=300, chains=4, seed=3)
    ours = llc.sample(llc.TiedReLU(x), {"W": W[None], "b": b[None]}, cfg)[0]
    ref = llc.reference_estimate(W, b, x, cfg)
    theirs = llc.summarize(ref["traces"], ref["init_loss"], cfg.resolved_nbeta(1000))
    assert theirs.llc == pytest.approx(ref["llc"], rel=1e-5) or theirs.escaped > 0  # same formula as theirs
    noise = math.hypot(ours.stderr, theirs.stderr)
    assert abs(ours.llc - theirs.llc) < 3 * noise, (ours.llc, theirs.llc, noise)
    assert 5.0 < ours.llc < 10.0  # near the pentagon's theoretical 7 (the estimator overshoots it a little)

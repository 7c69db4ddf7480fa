"""Data 'alt' (BEYOND.md ALT, Roe & Goldstein's train_linear.py): one uniform target per sample, U[0, 1), every
other feature on with probability p and then 0.1·U[0, 1). Statistics at a fixed seed, 5-standard-error bounds."""

import math

import pytest
import torch

from tms.data import ALT_NOISE, get_distribution, sample_alt

N_FEAT, BATCH = 20, 100_000


@pytest.fixture(scope="module")
def drawn():
    density = torch.tensor([[0.95] * N_FEAT, [0.3] * N_FEAT])
    x, target = sample_alt(density, BATCH, torch.Generator().manual_seed(0))
    return density, x, target


def test_shapes_and_one_target_per_sample(drawn):
    density, x, target = drawn
    assert x.shape == (2, BATCH, N_FEAT) and target.shape == (2, BATCH) and target.dtype == torch.long
    assert x.min() >= 0 and x.max() < 1
    is_target = torch.zeros_like(x, dtype=torch.bool).scatter_(2, target[..., None], True)
    # every non-target value is below the noise amplitude; the target is the only feature that can exceed it
    assert x[~is_target].max() < ALT_NOISE
    assert (x[is_target] >= ALT_NOISE).float().mean().item() == pytest.approx(1 - ALT_NOISE, abs=5 * math.sqrt(0.09 / (2 * BATCH)))


def test_the_target_is_uniform_over_the_features(drawn):
    _, _, target = drawn
    for k in range(2):
        counts = torch.bincount(target[k], minlength=N_FEAT).double()
        q = 1 / N_FEAT
        se = math.sqrt(q * (1 - q) / BATCH)
        assert ((counts / BATCH - q).abs() <= 5 * se).all(), counts


def test_the_target_value_is_uniform_on_0_1(drawn):
    _, x, target = drawn
    xt = x.gather(2, target[..., None]).squeeze(2).double().flatten()
    n = xt.numel()
    assert abs(xt.mean().item() - 0.5) <= 5 * math.sqrt(1 / 12 / n)
    assert abs(xt.var().item() - 1 / 12) <= 5 * math.sqrt((1 / 80 - 1 / 144) / n)
    assert (xt > 0).all()  # on whatever its Bernoulli draw, as in their code


def test_the_other_features_are_on_with_probability_p_then_a_tenth_of_a_uniform(drawn):
    density, x, target = drawn
    is_target = torch.zeros_like(x, dtype=torch.bool).scatter_(2, target[..., None], True)
    for k, p in enumerate(density[:, 0].tolist()):
        others = x[k][~is_target[k]].double()
        n = others.numel()
        frac = (others > 0).double().mean().item()
        assert abs(frac - p) <= 5 * math.sqrt(p * (1 - p) / n), (k, frac)
        vals = others[others > 0] / ALT_NOISE  # U[0, 1) again
        m = vals.numel()
        assert abs(vals.mean().item() - 0.5) <= 5 * math.sqrt(1 / 12 / m)
        assert abs(vals.var().item() - 1 / 12) <= 5 * math.sqrt((1 / 80 - 1 / 144) / m)


def test_noise_does_not_depend_on_which_feature_is_the_target(drawn):
    # P(feature 0 on | target = 1) = p, and its mean value given target 1 or 2 is the same: independence.
    density, x, target = drawn
    p = density[0, 0].item()
    rows = x[0][target[0] == 1]
    frac = (rows[:, 0] > 0).double().mean().item()
    assert abs(frac - p) <= 5 * math.sqrt(p * (1 - p) / rows.shape[0])
    a, b = x[0][target[0] == 1][:, 0].double(), x[0][target[0] == 2][:, 0].double()
    sd = math.sqrt(p * ALT_NOISE**2 / 3)  # bound on the sd of one noise value
    assert abs(a.mean().item() - b.mean().item()) <= 5 * sd * math.sqrt(1 / a.numel() + 1 / b.numel())


def test_the_noise_amplitude_scales_the_other_features_only():
    density = torch.full((1, 8), 0.95)
    x1, t1 = sample_alt(density, 1000, torch.Generator().manual_seed(3), noise=0.1)
    x5, t5 = sample_alt(density, 1000, torch.Generator().manual_seed(3), noise=0.5)
    assert torch.equal(t1, t5)
    is_target = torch.zeros_like(x1, dtype=torch.bool).scatter_(2, t1[..., None], True)
    assert torch.equal(x1[is_target], x5[is_target])
    assert torch.allclose(x5[~is_target], 5 * x1[~is_target])


def test_same_seed_same_batch_and_the_registry_gives_x():
    density = torch.full((2, 10), 0.95)
    a, ta = sample_alt(density, 64, torch.Generator().manual_seed(7))
    b, tb = sample_alt(density, 64, torch.Generator().manual_seed(7))
    c, _ = sample_alt(density, 64, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and torch.equal(ta, tb) and not torch.equal(a, c)
    x = get_distribution("alt").bind(())(density, 64, torch.Generator().manual_seed(7))
    assert torch.equal(x, a)


def test_the_run_field_noise_reaches_the_sampler_and_only_alt_takes_it():
    from tms.config import RunConfig
    from tms.data import run_sampler
    from tms.errors import ConfigError

    cfg = RunConfig.uniform(10, 2, [0.95], model="linear", data="alt", noise=0.5)
    assert cfg.to_dict()["noise"] == 0.5 and RunConfig.from_dict(cfg.to_dict()) == cfg
    assert "noise" not in RunConfig.uniform(10, 2, [0.95], model="linear", data="alt").to_dict()
    x, t = run_sampler(cfg)(torch.tensor(cfg.density), 5000, torch.Generator().manual_seed(0))
    is_target = torch.zeros_like(x, dtype=torch.bool).scatter_(2, t[..., None], True)
    assert 0.45 < x[~is_target].max().item() < 0.5
    with pytest.raises(ConfigError, match="^noise is the amplitude of data 'alt'"):
        RunConfig.uniform(10, 2, [0.5], data="independent", noise=0.5)
    with pytest.raises(ConfigError, match=r"^noise must be in \[0, 1000\]"):
        RunConfig.uniform(10, 2, [0.5], data="alt", model="linear", noise=-1)


def test_init_normal_draws_W_and_b_from_a_standard_normal():
    from tms.model import get_family

    p = get_family("linear").init(4, 2, 2000, "normal", torch.Generator().manual_seed(0), 4)
    for v in (p["W"], p["b"]):
        assert abs(v.mean().item()) < 5 / math.sqrt(v.numel()) and abs(v.std().item() - 1) < 5 / math.sqrt(2 * v.numel())

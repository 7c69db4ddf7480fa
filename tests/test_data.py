"""The feature sampler's statistics (PAPER.md §0), with tolerances from the sample size."""

import math

import pytest
import torch

from tms.data import sample_features, sample_features_one_draw

SAMPLERS = [sample_features, sample_features_one_draw]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_density_mean_and_variance_match_the_paper_distribution(sampler):
    density = torch.tensor([[1.0, 0.5, 0.1], [0.02, 0.3, 0.9]])
    g = torch.Generator().manual_seed(0)
    batch = 200_000
    x = sampler(density, batch, g)
    assert x.shape == (2, batch, 3)
    assert x.min() >= 0 and x.max() < 1
    for k in range(2):
        for i in range(3):
            p = density[k, i].item()
            col = x[k, :, i]
            active = col > 0
            frac = active.float().mean().item()
            # P(active) = p within 5 binomial standard errors
            se = math.sqrt(p * (1 - p) / batch) + 1e-12
            assert abs(frac - p) <= 5 * se + 1e-9, (k, i, frac, p)
            vals = col[active].double()
            n = vals.numel()
            # active values are U[0, 1): mean 1/2 (sd 1/sqrt(12)), variance 1/12 (sd of the
            # sample variance of a uniform: sqrt((1/80 - 1/144) / n))
            assert abs(vals.mean().item() - 0.5) <= 5 * math.sqrt(1 / 12 / n)
            assert abs(vals.var().item() - 1 / 12) <= 5 * math.sqrt((1 / 80 - 1 / 144) / n)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_features_are_independent(sampler):
    # Correlation between two features of one instance, and across instances, is 0 within 5 SE.
    density = torch.full((2, 2), 0.5)
    batch = 100_000
    x = sampler(density, batch, torch.Generator().manual_seed(1))
    pairs = [(x[0, :, 0], x[0, :, 1]), (x[0, :, 0], x[1, :, 0])]
    for a, b in pairs:
        r = torch.corrcoef(torch.stack([a, b]))[0, 1].item()
        assert abs(r) < 5 / math.sqrt(batch)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_same_seed_same_batch_other_seed_other_batch(sampler):
    density = torch.full((3, 4), 0.3)
    a = sampler(density, 64, torch.Generator().manual_seed(7))
    b = sampler(density, 64, torch.Generator().manual_seed(7))
    c = sampler(density, 64, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_expected_loss_of_zero_model_matches_closed_form():
    # W = 0, b = 0 outputs 0, so the loss is E[I_i x_i^2] averaged over features = mean(I) * p / 3
    # (E[x^2] = p E[U^2] = p/3). Closed form against a Monte-Carlo estimate.
    from tms.model import forward, weighted_mse

    p, imp = 0.3, torch.tensor([1.0, 0.7, 0.49])
    density = torch.full((1, 3), p)
    W, b = torch.zeros(1, 2, 3), torch.zeros(1, 3)
    x = sample_features(density, 400_000, torch.Generator().manual_seed(3))
    loss = weighted_mse(forward(W, b, x), x, imp[None]).item()
    expected = imp.mean().item() * p / 3
    # sd of I_i x_i^2 per sample bounded by max(I) * sqrt(E[x^4]) = sqrt(p/5)
    se = math.sqrt(p / 5) / math.sqrt(400_000 * 3)
    assert abs(loss - expected) < 5 * se


# -- feature sets (PAPER.md §4) -------------------------------------------------------------------------------

from tms.config import FeatureSet, RunConfig  # noqa: E402
from tms.data import activation_layout, get_distribution, sample_sets  # noqa: E402


def _sets(*specs):
    return tuple(FeatureSet.parse(s, "set") for s in specs)


def test_sets_sampler_without_sets_is_the_independent_sampler_draw_for_draw():
    density = torch.tensor([[0.3, 0.7, 0.05], [1.0, 0.2, 0.5]])
    a = sample_sets(density, 500, torch.Generator().manual_seed(4))
    b = sample_features(density, 500, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_activation_layout_by_hand():
    density = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5]])
    group, lo, hi, groups = activation_layout(density, _sets("anticorrelated:3,1", "correlated:2,4"))
    # groups in order of first feature: {0}, {1, 3}, {2, 4}
    assert groups == 3 and group.tolist() == [0, 1, 2, 1, 2]
    # anticorrelated in the set's order (3 then 1): [0, 0.4) and [0.4, 0.6)
    assert torch.allclose(lo, torch.tensor([[0.0, 0.4, 0.0, 0.0, 0.0]]))
    assert torch.allclose(hi, torch.tensor([[0.1, 0.6, 0.3, 0.4, 0.5]]))


def test_correlated_set_statistics():
    # A correlated set: every member active together (co-activation P(both) = p, not p^2), with the right
    # marginal density; values independent U[0, 1] (correlation of the active values 0); features outside
    # the set independent of it.
    p, batch = 0.3, 200_000
    density = torch.tensor([[p, p, p, 0.6]])
    x = sample_sets(density, batch, torch.Generator().manual_seed(5), _sets("correlated:0,1,2"))
    active = x[0] > 0
    se = math.sqrt(p * (1 - p) / batch)
    for i in range(3):
        assert abs(active[:, i].float().mean().item() - p) < 5 * se
    assert torch.equal(active[:, 0], active[:, 1]) and torch.equal(active[:, 0], active[:, 2])
    both = active[:, 0]
    vals = x[0, both][:, :3].double()
    assert abs(vals.mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / vals.numel())
    r = torch.corrcoef(vals[:, :2].T)[0, 1].item()
    assert abs(r) < 5 / math.sqrt(vals.shape[0])
    # feature 3 independent: P(3 active | set active) = P(3 active) = 0.6
    cond = active[both, 3].float().mean().item()
    assert abs(cond - 0.6) < 5 * math.sqrt(0.24 / both.sum().item())


def test_anticorrelated_set_statistics():
    # At most one member at a time, member i with probability p_i, the set empty with 1 - sum p_i.
    batch = 200_000
    density = torch.tensor([[0.1, 0.25, 0.15, 0.5], [0.3, 0.3, 0.3, 0.3]])
    x = sample_sets(density, batch, torch.Generator().manual_seed(6), _sets("anticorrelated:0,1,2"))
    for k in range(2):
        active = x[k] > 0
        assert active[:, :3].sum(dim=1).max().item() == 1  # never two members at once
        for i in range(4):
            p = density[k, i].item()
            assert abs(active[:, i].float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / batch)
        none = (~active[:, :3].any(dim=1)).float().mean().item()
        q = 1 - density[k, :3].sum().item()
        assert abs(none - q) < 5 * math.sqrt(q * (1 - q) / batch)
        vals = x[k, active[:, 1], 1].double()
        assert abs(vals.mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / vals.numel())


def test_a_full_anticorrelated_set_always_has_exactly_one_member():
    density = torch.tensor([[0.5, 0.5]])
    x = sample_sets(density, 10_000, torch.Generator().manual_seed(2), _sets("anticorrelated:0,1"))
    assert torch.equal((x[0] > 0).sum(dim=1), torch.ones(10_000, dtype=torch.long))


def test_the_registry_binds_a_configs_sets():
    cfg = RunConfig(n_features=4, n_hidden=2, density=[[0.2] * 4], importance=[[1.0] * 4], data="sets",
                    feature_sets=["correlated:0,1", "anticorrelated:2,3"])
    sample = get_distribution(cfg.data).bind(cfg.feature_sets)
    x = sample(torch.tensor(cfg.density), 20_000, torch.Generator().manual_seed(0))
    active = x[0] > 0
    assert torch.equal(active[:, 0], active[:, 1]) and not (active[:, 2] & active[:, 3]).any()
    with pytest.raises(Exception, match="data 'sets'"):
        get_distribution("independent").bind(cfg.feature_sets)


def test_the_fast_engines_set_sampler_has_the_same_statistics():
    from tms.engines.fast import sample_features as fast_sample

    batch = 200_000
    density = torch.tensor([[0.3, 0.3, 0.1, 0.2, 0.3, 0.45]])
    x = fast_sample(density, batch, torch.Generator().manual_seed(9),
                    sets=_sets("correlated:0,1", "anticorrelated:2,3,4"))
    active = x[0] > 0
    assert torch.equal(active[:, 0], active[:, 1])
    assert active[:, 2:5].sum(dim=1).max().item() == 1
    for i in range(6):
        p = density[0, i].item()
        assert abs(active[:, i].float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / batch)
    vals = x[0][active].double()
    assert vals.min() >= 0 and vals.max() < 1
    assert abs(vals.mean().item() - 0.5) < 5 * math.sqrt(1 / 12 / vals.numel())
    r = torch.corrcoef(x[0, active[:, 0], :2].T.double())[0, 1].item()  # values within a set independent
    assert abs(r) < 5 / math.sqrt(active[:, 0].sum().item())


def test_signed_features_have_the_papers_section_8_distribution():
    from tms.data import sample_signed

    batch, p = 200_000, 0.3
    x = sample_signed(torch.tensor([[p, 1.0]]), batch, torch.Generator().manual_seed(11))[0]
    active = x[:, 0] != 0
    assert abs(active.float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / batch)
    vals = x[active, 0].double()
    assert vals.min() >= -1 and vals.max() < 1
    assert abs(vals.mean().item()) < 5 * math.sqrt(1 / 3 / vals.numel())  # U[-1, 1]: mean 0, variance 1/3
    assert abs(vals.var().item() - 1 / 3) < 5 * math.sqrt((1 / 5 - 1 / 9) / vals.numel())
    assert (x[:, 1] < 0).float().mean().item() == pytest.approx(0.5, abs=0.01)  # density 1: every value signed

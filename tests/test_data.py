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

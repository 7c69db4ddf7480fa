"""The toy model and its loss against hand computations (PAPER.md §0)."""

import math

import pytest
import torch

from tms.errors import ConfigError
from tms.model import ToyModel, forward, init_weights, weighted_mse

# One model, m = 1, n = 2: W = [[1, -1]] (an antipodal pair), x = (0.5, 0.2), I = (1, 2).
W = torch.tensor([[[1.0, -1.0]]])
X = torch.tensor([[[0.5, 0.2]]])
IMP = torch.tensor([[1.0, 2.0]])


def test_relu_output_by_hand():
    # h = 0.5 - 0.2 = 0.3; W^T h = (0.3, -0.3); ReLU -> (0.3, 0)
    out = forward(W, torch.zeros(1, 2), X, "relu")
    assert torch.allclose(out, torch.tensor([[[0.3, 0.0]]]))
    # loss = mean over features of I_i (x_i - x'_i)^2 = (1 * 0.2^2 + 2 * 0.2^2) / 2 = 0.06
    assert weighted_mse(out, X, IMP).item() == pytest.approx(0.06)


def test_linear_output_by_hand():
    out = forward(W, torch.zeros(1, 2), X, "linear")
    assert torch.allclose(out, torch.tensor([[[0.3, -0.3]]]))
    # (1 * 0.2^2 + 2 * 0.5^2) / 2 = 0.27
    assert weighted_mse(out, X, IMP).item() == pytest.approx(0.27)


def test_bias_by_hand():
    # z = (0.3 + 0.1, -0.3 + 0.1) = (0.4, -0.2) -> ReLU (0.4, 0); (1 * 0.1^2 + 2 * 0.2^2) / 2 = 0.045
    out = forward(W, torch.tensor([[0.1, 0.1]]), X, "relu")
    assert weighted_mse(out, X, IMP).item() == pytest.approx(0.045)


def test_instances_are_independent_and_batch_is_averaged():
    W2 = torch.cat([W, torch.tensor([[[0.0, 1.0]]])])  # second instance: feature 2 dedicated
    x = torch.tensor([[[0.5, 0.2], [0.0, 0.0]], [[0.5, 0.2], [1.0, 1.0]]])
    loss = weighted_mse(forward(W2, torch.zeros(2, 2), x), x, IMP.expand(2, 2))
    # instance 0: (0.06 + 0) / 2 samples; instance 1: sample 1 (1*0.25 + 0)/2, sample 2 (1*1 + 0)/2
    assert torch.allclose(loss, torch.tensor([0.03, (0.125 + 0.5) / 2]))


@pytest.mark.parametrize("scheme,instances,expected", [
    ("paper", 10, math.sqrt(2 / (2 * (5 + 10)))),
    ("paper", 400, math.sqrt(2 / (1 * (2 + 400)))),
    ("per_model", 400, math.sqrt(2 / (1 + 2))),
])
def test_init_scale(scheme, instances, expected):
    m, n = (2, 5) if instances == 10 else (1, 2)
    reps = max(1, 200_000 // (instances * m * n))
    w = torch.cat([init_weights(instances, m, n, scheme, torch.Generator().manual_seed(s)) for s in range(reps)])
    k = w.numel()
    # sample sd of a normal has relative standard error 1/sqrt(2k)
    assert abs(w.std().item() / expected - 1) < 5 / math.sqrt(2 * k)
    assert abs(w.mean().item()) < 5 * expected / math.sqrt(k)


def test_paper_init_matches_torch_xavier_on_the_notebook_layout():
    # The notebook's weight is [inst, feat, hidden]; torch's xavier_normal_ on it has this std.
    t = torch.empty(300, 7, 3)
    torch.nn.init.xavier_normal_(t, generator=torch.Generator().manual_seed(0))
    ours = init_weights(300, 3, 7, "paper", torch.Generator().manual_seed(0))
    assert abs(t.std().item() / ours.std().item() - 1) < 0.03


def test_toy_model_module_and_errors():
    model = ToyModel(W, torch.zeros(1, 2))
    assert torch.allclose(model(X), forward(W, torch.zeros(1, 2), X))
    with pytest.raises(ConfigError, match="W must be"):
        ToyModel(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="model must be one of relu, linear, hidden-relu, got 'tanh'"):
        ToyModel(W, torch.zeros(1, 2), "tanh")


def test_paper_init_scale_follows_the_settings_not_the_restarts():
    # 10 settings x 40 restarts: every restart is initialised like the notebook's 10-instance run.
    from tms.config import RunConfig
    from tms.train import initial_params

    cfg = RunConfig.uniform(5, 2, [1.0] * 10, 0.9, restarts=40)
    params = initial_params(cfg)
    W, b = params["W"], params["b"]
    expected = math.sqrt(2 / (2 * (5 + 10)))
    k = W.numel()
    assert W.shape == (400, 2, 5) and torch.all(b == 0)
    assert abs(W.std().item() / expected - 1) < 5 / math.sqrt(2 * k)
    one = initial_params(RunConfig.uniform(5, 2, [1.0] * 10, 0.9, restarts=1))["W"]
    assert abs(one.std().item() / expected - 1) < 5 / math.sqrt(2 * one.numel())

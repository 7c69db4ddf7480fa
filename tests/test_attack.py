"""The analytic attack of PAPER.md §6 (tms.attack): by hand on orthogonal models, against a plain forward pass of
every perturbed input, and against a brute-force search over directions."""

import math

import pytest
import torch

from tms.attack import attack, attacked_losses, directions, orthogonal_increase
from tms.data import sample_features


def _x(n, batch=4096, p=0.1, seed=0):
    return sample_features(torch.full((1, n), p), batch, torch.Generator().manual_seed(seed))[0]


def _forward_loss(W, b, x_in, x, imp):
    """The model's loss on the input ``x_in`` against the clean target ``x``."""
    G = W.double().T @ W.double()
    return float((imp.double() * (x.double() - torch.relu(x_in.double() @ G + b.double())) ** 2).mean())


def test_on_an_orthogonal_model_an_attack_moves_only_its_own_feature():
    Q = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64))[0]
    W = Q[:, :6]  # m = n = 6, WᵀW = I
    u = directions(W)
    assert torch.allclose(u, torch.eye(6, dtype=torch.float64), atol=1e-12)
    shift = 0.3 * u @ (W.T @ W)
    assert torch.allclose(shift, 0.3 * torch.eye(6, dtype=torch.float64), atol=1e-12)  # off-diagonal: nothing


def test_a_model_without_superposition_loses_lambda_squared_over_n():
    n, m = 8, 3
    W = torch.cat([torch.eye(m), torch.zeros(m, n - m)], dim=1)
    x = _x(n)
    a = attack(W, torch.zeros(n), x, torch.ones(n))
    assert a.lam == pytest.approx(0.1 * float(x.double().norm(dim=1).mean()))
    assert a.feature < m and a.increase == pytest.approx(orthogonal_increase(a.lam, n), rel=1e-9)
    assert a.clean == pytest.approx(float((x[:, m:].double() ** 2).mean(dim=0).sum() / n), rel=1e-9)


def test_the_shortcut_equals_a_forward_pass_of_every_perturbed_input():
    g = torch.Generator().manual_seed(3)
    W, b = torch.randn(4, 12, generator=g) * 0.5, -0.1 * torch.rand(12, generator=g)
    x, imp = _x(12, 512), torch.rand(12, generator=g) + 0.5
    lam = 0.2
    fast = attacked_losses(W, b, x, imp, lam)
    u = directions(W)
    slow = torch.tensor([_forward_loss(W, b, x.double() + lam * u[i], x, imp) for i in range(12)], dtype=torch.float64)
    assert torch.allclose(fast, slow, rtol=1e-9, atol=1e-12)


def test_on_a_pentagon_the_attack_is_the_worst_feature_and_beats_random_directions():
    # 5 features in 2 dimensions as a regular pentagon, slightly negative bias (PAPER.md §4)
    ang = torch.tensor([2 * math.pi * k / 5 for k in range(5)], dtype=torch.float64)
    W, b = torch.stack([torch.cos(ang), torch.sin(ang)]), torch.full((5,), -0.1, dtype=torch.float64)
    x, imp = _x(5, 8192, p=0.05), torch.ones(5)
    a = attack(W, b, x, imp)
    u = directions(W)
    per_feature = [_forward_loss(W, b, x.double() + a.lam * u[i], x, imp) for i in range(5)]
    assert a.attacked == pytest.approx(max(per_feature), rel=1e-9)
    assert a.feature == max(range(5), key=lambda i: per_feature[i])
    # a brute-force search over 2 000 random directions of the same norm: the analytic attack beats 95 % of them
    g = torch.Generator().manual_seed(5)
    rand = torch.randn(2000, 5, generator=g, dtype=torch.float64)
    rand = a.lam * rand / rand.norm(dim=1, keepdim=True)
    G = W.T @ W
    z = x.double() @ G + b
    losses = ((x.double()[None] - torch.relu(z[None] + (rand @ G)[:, None, :])) ** 2).mean(dim=(1, 2))
    assert a.attacked >= float(torch.quantile(losses, 0.95))


def test_the_adversarial_experiment_attacks_the_geometry_runs(tmp_path, capsys):
    from test_geometry_experiments import SHAPES, geometry_run

    from tms import pipeline
    from tms.sections.adversarial.analysis import MODELS, POINTS
    from tms.analysis.folder import ExperimentFolder
    from tms.sections.adversarial.claims import CLAIMS
    from tms.cli import main
    from tms.registry import all_experiments

    geometry_run(tmp_path / "geometry")
    exp = all_experiments()["adversarial"]
    folder = ExperimentFolder(tmp_path / "adversarial")
    pipeline.analyze(exp, folder)
    rows = folder.read(MODELS)
    assert len(rows) == 2 * len(SHAPES)
    by_x = {round(p["inverse_density"], 2): p for p in folder.read(POINTS)}
    # six dedicated (orthogonal) features, b = 0: exactly the reference model, vulnerability 1
    assert by_x[1.0]["vulnerability"] == pytest.approx(1.0, rel=1e-5)  # (W stored in float32)
    assert by_x[1.0]["features_per_dim"] == pytest.approx(1.0, rel=1e-6)
    # antipodal pairs: an attack on one feature pushes its partner's output down (no harm under the ReLU),
    # but the square antiprisms' neighbours get pushed up: more than the reference loses
    assert by_x[5.16]["vulnerability"] > 1.5 and by_x[5.16]["features_per_dim"] == pytest.approx(16 / 6)
    results = {c.id: c.check(folder) for c in CLAIMS}
    assert results["S6-2"].measured > 0.5
    # tms plot on the results folder redraws it after the geometry runs
    assert main(["plot", str(tmp_path)]) == 0
    assert str(tmp_path / "adversarial" / "figures" / "adversarial_vulnerability.png") in capsys.readouterr().out


def test_reproducing_adversarial_alone_reproduces_geometry_first():
    from tms.registry import get_experiments

    assert [e.name for e in get_experiments(["adversarial"])] == ["geometry", "adversarial"]
    assert [e.name for e in get_experiments(["geometry", "adversarial"])] == ["geometry", "adversarial"]

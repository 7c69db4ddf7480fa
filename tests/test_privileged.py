"""§7: neurons and regimes read from hand-made hidden-ReLU weights, and the claims S7-1…S7-3 on fabricated run
folders (passing on the paper's regimes, failing where they break)."""

from __future__ import annotations

import pytest
import torch

from tms import pipeline
from tms.analysis.folder import ExperimentFolder
from tms.sections.privileged.analysis import DEAD, MONO, POINTS, POLY, neurons, regime
from tms.sections.privileged.claims import CLAIMS
from tms.config import Recipe, RunConfig
from tms.registry import all_experiments
from tms.runs import save_run
from tms.train import TrainResult


def weights(represented: int, mono: int, poly: int, n: int = 10, m: int = 5) -> torch.Tensor:
    """W [m, n] in a regime: features 0..mono-1 on their own neurons (weight 1), the rest of the represented
    features each on two of the polysemantic neurons (weight 0.8), the others 0.05 (not represented)."""
    W = torch.full((m, n), 0.0)
    W[:, represented:] = 0.05
    for i in range(mono):
        W[i, i] = 1.0
    for j, f in enumerate(range(mono, represented)):
        W[mono + j % poly, f] = 0.8
        W[mono + (j + 1) % poly, f] = -0.8 if j % 2 else 0.8
    return W


def test_neurons_by_hand():
    W = torch.zeros(3, 4)
    W[0, 0] = 1.0                      # one feature: monosemantic
    W[1, 1], W[1, 2] = 0.9, -0.7       # two: polysemantic
    W[2, 3] = 0.15                     # feature 3 is not represented (‖W_3‖ = 0.15): neuron 2 carries nothing
    W[2, 1] = 0.1                      # below the carry threshold
    labels = [n["label"] for n in neurons(W)]
    assert labels == [MONO, POLY, DEAD]
    assert neurons(W)[1]["features"] == [1, 2]
    assert regime(W) == {"represented": 3, "monosemantic": 1, "polysemantic": 1, "dead": 1, "regime": "3/1/1"}


@pytest.mark.parametrize("r,a,p", [(5, 5, 0), (6, 3, 2), (7, 2, 3), (7, 1, 4), (8, 0, 5), (10, 0, 5)])
def test_the_fabricated_regimes_read_back(r, a, p):
    assert regime(weights(r, a, p))["regime"] == f"{r}/{a}/{p}"


PAPER = [(1.0, (5, 5, 0)), (0.5, (5, 5, 0)), (0.35, (6, 3, 2)), (0.2, (6, 3, 2)), (0.15, (7, 2, 3)),
         (0.12, (7, 1, 4)), (0.08, (8, 0, 5)), (0.05, (8, 0, 5)), (0.03, (10, 0, 5))]


def privileged_run(path, points=PAPER, restarts=2):
    cfg = RunConfig.uniform(10, 5, [p for p, _ in points], 0.75, model="hidden-relu", restarts=restarts,
                            recipe=Recipe(steps=1))
    # restart 0 (lower loss) in the regime given, the others all monosemantic on the top five
    Ws = [weights(*reg) if k == 0 else weights(5, 5, 0) for _, reg in points for k in range(restarts)]
    loss = torch.tensor([0.1 if k == 0 else 0.2 for _ in points for k in range(restarts)])
    W = torch.stack(Ws)
    save_run(path, cfg, TrainResult(params={"W": W, "b": torch.zeros(W.shape[0], 10)}, final_loss=loss,
                                    log_steps=[], log_losses=torch.empty(0, W.shape[0]), seconds=0.0, device="cpu",
                                    engine="eager"), extra={"experiment": "privileged", "run": "", "quick": False})
    folder = ExperimentFolder(path)
    pipeline.analyze(all_experiments()["privileged"], folder)
    return ExperimentFolder(path)


def test_claims_pass_on_the_papers_regimes(tmp_path):
    folder = privileged_run(tmp_path / "privileged")
    res = {c.id: c.check(folder) for c in CLAIMS}
    assert all(r.passed for r in res.values()), {k: r.note for k, r in res.items()}
    assert res["S7-3"].measured == 4  # 6/3/2 twice, 7/2/3 and 7/1/4 have both kinds of neuron
    pts = folder.read(POINTS)
    assert {p["reached"] for p in pts} == {1, 2} and all(p["gap"] == pytest.approx(1.0) for p in pts
                                                         if p["regime"] != "5/5/0")


def test_claims_fail_where_the_regimes_break(tmp_path):
    broken = [(1.0, (6, 3, 2)), (0.35, (8, 0, 5)), (0.2, (6, 3, 2)), (0.05, (8, 0, 5)), (0.03, (8, 0, 5))]
    folder = privileged_run(tmp_path / "privileged", broken)
    res = {c.id: c.check(folder) for c in CLAIMS}
    assert not res["S7-1"].passed            # dense but polysemantic
    assert not res["S7-2"].passed            # falls back from 8 to 6 features; never reaches 10
    assert res["S7-3"].passed

"""§8 computation in superposition: reading neurons, |x| pairs and the asymmetric-superposition detector on
hand-made weights, the claims on fabricated tables and runs (PAPER.md §8)."""

from __future__ import annotations

import pytest
import torch

from tms import pipeline
from tms.sections.computation.analysis import (
    DEAD,
    MONO,
    MOTIFS,
    NEURONS,
    PAIRS,
    POINTS,
    POLY,
    SWEEP_RUN,
    abs_pairs,
    clearest,
    find_motifs,
    neurons,
)
from tms.analysis.folder import ExperimentFolder
from tms.sections.computation.claims import CLAIMS
from tms.config import Recipe, RunConfig
from tms.registry import all_experiments
from tms.runs import save_run
from tms.train import TrainResult


def test_neurons_are_read_rescaled():
    W1 = torch.tensor([[3.0, 0.1, 0.0],     # monosemantic: 0.1 / 3 is below the carry threshold
                       [0.8, -0.4, 0.1],    # polysemantic: 1 and -0.5 rescaled; 0.125 not carried
                       [0.01, 0.0, 0.02],   # dead: nothing above 0.05
                       [0.0, 0.5, -0.5]])   # polysemantic, a tie
    W2 = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    cells = neurons(W1, W2)
    assert [c["label"] for c in cells] == [MONO, POLY, DEAD, POLY]
    assert cells[0]["scale"] == pytest.approx(3.0) and cells[0]["secondary"] == pytest.approx(0.1 / 3)
    assert cells[1]["features"] == [0, 1] and cells[1]["weights"] == pytest.approx([1.0, -0.5])
    assert cells[1]["secondary"] == pytest.approx(0.5) and cells[1]["carried"] == 2
    assert cells[0]["output_norm"] == pytest.approx(1.0) and cells[3]["output_norm"] == pytest.approx(3**0.5)
    # a neuron that writes nothing is dead however large its input weights
    W2[:, 0] = 0.0
    assert neurons(W1, W2)[0]["label"] == DEAD


def test_abs_pairs_need_both_signs_and_positive_outputs():
    W1 = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -0.5]])
    W2 = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 2.0]])
    assert abs_pairs(W1, W2) == {0: "+-", 1: "+-"}
    W2[1, 3] = -2.0  # the negative-side neuron of feature 1 now subtracts: no pair
    assert abs_pairs(W1, W2) == {0: "+-", 1: "+"}
    W1[1, 1] = 0.9  # neuron 1 polysemantic: feature 0 keeps only its positive side
    assert abs_pairs(W1, W2)[0] == "+"


def motif_weights(inhibition: float, out_weak: float = 2.0):
    """The paper's motif on features a = 0, b = 1: neuron 0 reads [2, -1/2] and writes [1/2, out_weak]; neuron 1
    fires with a and writes -inhibition onto b; neurons 2 and 3 are b's own pair."""
    W1 = torch.tensor([[2.0, -0.5], [1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    W2 = torch.tensor([[0.5, 0.0, 0.0, 0.0], [out_weak, -inhibition, 1.0, 1.0]])
    return W1, W2


def test_the_detector_finds_the_papers_motif_only_when_it_is_complete():
    W1, W2 = motif_weights(inhibition=5.0)
    (m,) = find_motifs(W1, W2)
    assert (m["neuron"], m["strong"], m["weak"], m["inhibitor"]) == (0, 0, 1, 1)
    # per unit of x_a > 0, neuron 0 writes 2 * 2 = 4 onto y_b, neuron 1 writes -5: total -1
    assert m["interference"] == pytest.approx(4.0) and m["net"] == pytest.approx(-1.0)
    assert (m["w_strong"], m["w_weak"], m["out_strong"], m["out_weak"]) == pytest.approx((2.0, -0.5, 0.5, 2.0))
    # the inhibitor too weak to make the total negative: the interference stays, no motif
    assert find_motifs(*motif_weights(inhibition=3.0)) == []
    # output weights not reciprocal (b written no more strongly than a): no motif
    assert find_motifs(*motif_weights(inhibition=5.0, out_weak=0.6)) == []
    # by symmetry, the motif on the negative side of a (every weight on a flipped) is found too
    W1n = W1.clone()
    W1n[:, 0] *= -1
    (mn,) = find_motifs(W1n, W2)
    assert mn["w_strong"] == pytest.approx(-2.0) and mn["net"] == pytest.approx(-1.0)
    # the one shown: the largest interference among those ending clearly below zero
    shown = clearest([{"interference": 2.0, "net": -0.01}, {"interference": 1.0, "net": -0.2},
                      {"interference": 0.5, "net": -0.4}])
    assert shown == {"interference": 1.0, "net": -0.2}


def _write(folder: ExperimentFolder, pairs, points, motifs):
    folder.write(PAIRS, pairs)
    folder.write(POINTS, points)
    folder.write(MOTIFS, motifs)
    return {c.id: c.check(folder) for c in CLAIMS}


def _point(s, density, mono, poly, carried, rho=None, mono_primary=None, poly_primary=None, dominant=None,
           motifs=0):
    return {"setting": s, "density": density, "loss": 0.01, "alive": mono + poly, "monosemantic": mono,
            "polysemantic": poly, "poly_share": poly / (mono + poly), "mean_carried": carried, "rho": rho,
            "mono_primary": mono_primary, "poly_primary": poly_primary, "dominant_share": dominant, "motifs": motifs}


PAPER_POINTS = [_point(0, 1.0, 40, 0, 1.0), _point(1, 0.3, 40, 0, 1.0),
                _point(2, 0.1, 30, 10, 1.4, 0.7, 6.0, 17.0, 0.6), _point(3, 0.03, 15, 25, 2.0, 0.3, 5.0, 7.0, 0.5, 3),
                _point(4, 0.01, 0, 40, 4.0, motifs=20), _point(5, 0.003, 0, 40, 5.5), _point(6, 0.001, 0, 40, 5.5)]
PAIR_ROWS = [{"instance": k, "setting": 0, "restart": k, "density": 1.0, "loss": 0.01 * (k + 1), "best": k == 0,
              "pairs": 3 - k, "monosemantic": 6, "polysemantic": 0, "dead": k, "layout": "0:+- 1:+- 2:+-"}
             for k in range(2)]
MOTIF_ROW = {"setting": 3, "density": 0.03, "instance": 3, "neuron": 0, "strong": 4, "weak": 16, "w_strong": 1.2,
             "w_weak": -0.3, "out_strong": 0.4, "out_weak": 1.5, "inhibitor": 25, "w_inhibitor": 1.3,
             "out_inhibitor": -1.1, "interference": 1.8, "net": -0.2}


def test_claims_pass_on_the_papers_picture(tmp_path):
    res = _write(ExperimentFolder(tmp_path), PAIR_ROWS, PAPER_POINTS, [MOTIF_ROW])
    assert all(r.passed for r in res.values()), {k: r.note for k, r in res.items()}
    assert res["S8-1"].measured == 3 and "1 of 2 restarts" in res["S8-1"].note
    assert res["S8-4"].measured == 1 and "[2.00, -0.50]" in res["S8-4"].note  # written as the paper writes it


def test_claims_fail_where_the_picture_breaks(tmp_path):
    broken = [dict(p) for p in PAPER_POINTS]
    broken[1] = _point(1, 0.3, 30, 10, 1.3, 0.2, 5.0, 6.0, 0.5)       # polysemantic while dense
    broken[3] = _point(3, 0.03, 30, 10, 1.5, -0.2, 9.0, 4.0, 0.1)     # the important features polysemantic
    broken[4] = _point(4, 0.01, 35, 5, 1.1, 0.1, 5.0, 8.0, 0.0)       # the share falls back
    pairs = [dict(r, pairs=2, layout="0:+- 1:+- 2:+") for r in PAIR_ROWS]
    res = _write(ExperimentFolder(tmp_path), pairs, broken, [dict(MOTIF_ROW, density=0.001)])
    assert not res["S8-1"].passed and res["S8-1"].measured == 2
    assert not res["S8-2"].passed and res["S8-2"].measured == 2   # dense end and the fall; the sparse end holds
    assert not res["S8-3"].passed
    assert not res["S8-4"].passed and res["S8-4"].measured == 0   # a motif only at the sparse end does not count


def test_the_sweep_is_analysed_from_a_run_folder(tmp_path):
    # two densities of a 2 -> 4 model: the motif at the first, a monosemantic |x| layout at the second
    W1m, W2m = motif_weights(inhibition=5.0)
    W1p = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    W2p = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    cfg = RunConfig.uniform(2, 4, [0.1, 1.0], model="untied-abs", data="signed", recipe=Recipe(steps=1))
    params = {"W1": torch.stack([W1m, W1p]), "W2": torch.stack([W2m, W2p]), "b": torch.zeros(2, 2)}
    path = tmp_path / "computation"
    save_run(path / SWEEP_RUN, cfg, TrainResult(params=params, final_loss=torch.tensor([0.1, 0.2]), log_steps=[],
                                                log_losses=torch.empty(0, 2), seconds=0.0, device="cpu",
                                                engine="eager"),
             extra={"experiment": "computation", "run": SWEEP_RUN, "quick": False})
    folder = ExperimentFolder(path)
    pipeline.analyze(all_experiments()["computation"], folder)  # no n3 run: its table is not written
    assert not folder.has(PAIRS)
    pts = {p["density"]: p for p in folder.read(POINTS)}
    assert pts[1.0]["polysemantic"] == 0 and pts[1.0]["motifs"] == 0 and pts[1.0]["mean_carried"] == 1.0
    assert pts[0.1]["motifs"] == 1 and pts[0.1]["polysemantic"] == 1 and pts[0.1]["monosemantic"] == 3
    cells = [c for c in folder.read(NEURONS) if c["density"] == 1.0]
    # figure order: by primary feature, the larger scale first within one
    assert [c["primary"] for c in sorted(cells, key=lambda c: c["order"])] == [0, 0, 1, 1]
    (motif,) = folder.read(MOTIFS)
    assert motif["density"] == 0.1 and motif["net"] == pytest.approx(-1.0)

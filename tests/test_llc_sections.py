"""The llc, bayes and llc-dynamics sections end to end (quick), their pure parts by hand, LLC-4 without devinterp,
and ``tms llc RUN`` (idempotent, bad values one line with exit 2)."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

from tms.analysis.folder import ExperimentFolder
from tms.cli import main
from tms.sections.llc import bayes, dynamics
from tms.sections.llc.analysis import KGON_TABLE, SENSITIVITY_TABLE
from tms.sections.llc.claims import llc_4


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    from tms.reproduce import reproduce

    out = tmp_path_factory.mktemp("llc")
    reproduce(["llc", "bayes", "llc-dynamics"], out, quick=True)
    return out


def test_quick_run_writes_every_table_figure_and_claim(quick):
    claims = {c["id"]: c for c in json.loads((quick / "claims.json").read_text())["claims"]}
    assert set(claims) == {"LLC-1", "LLC-2", "LLC-3", "LLC-4", "LLC-5", "LLC-6"}
    assert all(c["passed"] is None for c in claims.values())  # quick: measured, not checked
    for exp, figs in (("llc", ("llc_traces", "llc_kgons", "llc_sensitivity")), ("bayes", ("bayes_free_energy",)),
                      ("llc-dynamics", ("llc_dynamics",))):
        for f in figs:
            assert (quick / exp / "figures" / f"{f}.png").is_file(), f
    rows = ExperimentFolder(quick / "llc").read(KGON_TABLE)
    assert [r.kgon for r in rows] == ["6", "5+", "5", "4+", "4"]
    assert rows[0].exact_loss == pytest.approx(0.04819, abs=1e-4)
    assert {r.gamma for r in ExperimentFolder(quick / "llc").read(SENSITIVITY_TABLE)} == {1.0, 10.0, 100.0}
    # every estimate folder is complete; a second analysis reuses them (no new traces)
    sgld = quick / "llc" / "sgld" / "main" / "traces.safetensors"
    before = sgld.stat().st_mtime_ns
    from tms.sections.llc.analysis import analyze_estimates

    analyze_estimates(ExperimentFolder(quick / "llc"))
    assert sgld.stat().st_mtime_ns == before


def test_llc_4_is_not_checked_without_devinterp(quick, monkeypatch, tmp_path):
    """Without devinterp the table has no reference estimate and LLC-4 reports 'not run', never a pass."""
    import shutil

    from tms.sections.llc.analysis import analyze_estimates
    from tms.sections.llc.claims import CLAIMS

    folder = tmp_path / "llc"
    shutil.copytree(quick / "llc", folder)
    shutil.rmtree(folder / "sgld" / "devinterp", ignore_errors=True)
    monkeypatch.setitem(sys.modules, "devinterp", None)  # import devinterp raises ImportError
    ef = ExperimentFolder(folder)
    analyze_estimates(ef)
    assert not any(r.devinterp_ran for r in ef.read(KGON_TABLE))
    m = llc_4(ef)
    assert math.isnan(m.value) and m.note.startswith("not run")
    result = next(c for c in CLAIMS if c.id == "LLC-4").check(ef, "llc", checked=True)
    assert result.passed is None and result.verdict == "NOT CHECKED"


def test_free_energy_switch_by_hand():
    # n ΔL = Δλ ln n: with the exact 5- and 6-gon losses and Δλ = 1.5, n = 445.1
    dl = 0.0687436 - 0.0481924
    n = bayes.switch(dl, 1.5)
    assert n * dl == pytest.approx(1.5 * math.log(n), rel=1e-9)
    assert n == pytest.approx(445.1, abs=0.5)
    assert math.isnan(bayes.switch(dl, -1.0)) and math.isnan(bayes.switch(0.0, 1.0))
    assert bayes.free_energy(100, 0.05, 8.5) == pytest.approx(5 + 8.5 * math.log(100))


def test_kgon_names_of_weights():
    from tms import exact

    for name in ("6", "5+", "5", "4++", "4"):
        k, p = exact.parse_kgon(name)
        assert dynamics.name_of(*exact.kgon(k, positive=p)) == name
    W, b = exact.kgon(5)
    W[:, 5] = torch.tensor([0.3, 0.0], dtype=W.dtype)  # half-grown column: no k-gon
    assert dynamics.name_of(W, b) == ""


def test_plateaus_and_llc_6_on_a_hand_made_trajectory():
    def row(epoch, loss, kgon, llc, exact_loss=None):
        return {"seed": 0, "epoch": epoch, "loss": loss, "exact_loss": exact_loss or loss, "kgon": kgon, "llc": llc}

    rows = [row(0, 0.30, "", 1.0), row(40, 0.0972, "4++", 5.0), row(80, 0.0972, "4++", 5.4),
            row(120, 0.08, "", 6.0), row(121, 0.08, "", 6.1),  # two snapshots one epoch apart: no plateau
            row(160, 0.0618, "5+", 9.0), row(240, 0.0618, "5+", 9.2)]
    plats = dynamics.plateaus(rows)
    assert [(p["kgon"], p["first"], p["last"]) for p in plats] == [("4++", 40, 80), ("5+", 160, 240)]
    assert plats[0]["llc"] == pytest.approx(5.2) and plats[1]["critical_loss"] == pytest.approx(0.0618, abs=1e-4)

    class T:
        def __init__(self, rows):
            self.rows = rows

        def read(self, schema):
            return [dynamics.PLATEAUS.row(**r) for r in self.rows]

    assert dynamics.llc_6(T(plats)).value == 0
    down = [dict(plats[0]), dict(plats[1], llc=4.0)]  # λ̂ falls at the jump
    assert dynamics.llc_6(T(down)).value == 1
    assert dynamics.llc_6(T(plats[:1])).value == 1  # no jump seen


def test_cli_llc_writes_beside_the_run_once_and_refuses_bad_values(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--features", "5", "--hidden", "2", "--densities", "0.1", "--steps", "200",
                 "--out", str(run)]) == 0
    assert main(["llc", str(run), "--chains", "2", "--draws", "30"]) == 0
    out = capsys.readouterr().out
    assert "model 0: llc" in out and str(run / "llc") in out
    files = {p.name for p in (run / "llc").iterdir()}
    assert files == {"llc.json", "traces.safetensors", "estimates.csv", "chains.csv"}
    stamp = (run / "llc" / "traces.safetensors").stat().st_mtime_ns
    assert main(["llc", str(run), "--chains", "2", "--draws", "30"]) == 0
    assert "already complete" in capsys.readouterr().out
    assert (run / "llc" / "traces.safetensors").stat().st_mtime_ns == stamp
    for flags, words in ((["--step-size", "0"], "step_size must be a positive"), (["--gamma", "-1"], "gamma"),
                         (["--draws", "0"], "draws must be an integer >= 1")):
        assert main(["llc", str(run), *flags]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
    assert (run / "llc" / "traces.safetensors").stat().st_mtime_ns == stamp  # nothing half-written


def test_the_notebook_api_is_tms_llc_estimate(tmp_path):
    import subprocess

    code = ("import tms, sys; from tms.runs import save_run; "
            "cfg = tms.RunConfig.uniform(4, 2, [0.2], 1.0, recipe=tms.Recipe(steps=100)); "
            f"p = save_run({str(tmp_path / 'run')!r}, cfg, tms.train(cfg)); "
            "est = tms.llc.estimate(p, tms.llc.SGLD(draws=20, chains=2)); "
            "print(len(est), est[0].llc == est[0].llc, 'llc' in tms.__all__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "True", "True"]


def _trained(tmp_path, cfg):
    import tms
    from tms.runs import load_run, save_run

    return load_run(save_run(str(tmp_path / "run"), cfg, tms.train(cfg)))


def test_the_llc_dataset_is_the_runs_own_sampler(tmp_path):
    """value_max and normalize reach the fixed dataset (tms.data.run_sampler), not only the distribution's draw."""
    import tms
    from tms.llc import run_potential

    scaled = _trained(tmp_path / "a", tms.RunConfig.uniform(4, 2, [0.9], 1.0, recipe=tms.Recipe(steps=2),
                                                            value_max=3.0))
    x = run_potential(scaled, 400, 0, 2)[0].x
    assert 1.5 < float(x.max()) <= 3.0
    unit = _trained(tmp_path / "b", tms.RunConfig.uniform(4, 2, [0.9], 1.0, recipe=tms.Recipe(steps=2),
                                                          value_max=3.0, normalize=True))
    norms = torch.linalg.vector_norm(run_potential(unit, 400, 0, 2)[0].x, dim=-1)
    assert torch.allclose(norms[norms > 0], torch.ones(())) and bool((norms > 0).any())


def test_llc_refuses_a_loss_its_potential_does_not_implement(tmp_path, capsys):
    import tms
    from tms.errors import ConfigError
    from tms.llc import run_potential

    cfg = tms.RunConfig.uniform(4, 2, [0.5], 1.0, data="alt", recipe=tms.Recipe(steps=2, loss="target-only"))
    run = _trained(tmp_path, cfg)
    with pytest.raises(ConfigError) as e:
        run_potential(run, 100, 0, 2)
    assert str(e.value) == ("loss: tms llc's potential is the importance-weighted MSE, allowed loss 'weighted-mse', "
                            "got loss 'target-only'")
    assert main(["llc", str(tmp_path / "run"), "--chains", "2", "--draws", "5"]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "run" / "llc").exists()


def test_cli_llc_refuses_a_negative_seed_and_a_batch_above_the_samples(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--features", "5", "--hidden", "2", "--densities", "0.1", "--steps", "20",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    for flags, words in ((["--seed", "-1"], "seed must be an integer >= 0, got -1"),
                         (["--batch-size", "100", "--samples", "5"],
                          "batch_size must be at most samples (the fixed dataset's n = 5), got batch_size 100")):
        assert main(["llc", str(run), "--draws", "5", *flags]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
    assert not (run / "llc").exists()


def test_cli_llc_says_when_every_chain_escaped_and_exits_1(tmp_path, capsys):
    """An under-trained run (50 steps) is no local minimum: SGLD at the defaults drifts below L_n(w*) in every
    chain; the NaN estimate is still written (a valid measurement) but the exit code is 1 with a warning."""
    run = tmp_path / "run"
    assert main(["train", "--features", "5", "--hidden", "2", "--densities", "0.1", "--steps", "50",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["llc", str(run)]) == 1
    out, err = capsys.readouterr()
    assert "llc nan" in out and "0 chains kept, 4 escaped" in out and (run / "llc" / "estimates.csv").is_file()
    assert err.count("\n") == 1 and "every chain escaped for model(s) 0" in err and "train longer" in err
    assert main(["llc", str(run)]) == 1  # the stored estimate warns again
    assert "every chain escaped" in capsys.readouterr().err


def test_dynamics_sgd_seed_is_the_recipes(tmp_path):
    from dataclasses import replace

    from tms.sections.llc.analysis import dataset

    x = dataset()
    small = replace(dynamics.RECIPE.quick(), epochs=5, snapshots=2)
    a = dynamics._train(tmp_path / "a", small, x)
    again = dynamics._train(tmp_path / "again", replace(small, seed=0), x)
    other = dynamics._train(tmp_path / "other", replace(small, seed=1), x)
    torch.testing.assert_close(a["W"], again["W"])
    assert not torch.allclose(a["W"][0], other["W"][0])  # the initial weights follow the seed
    assert json.loads((tmp_path / "other" / "sgd.json").read_text())["recipe"]["seed"] == 1

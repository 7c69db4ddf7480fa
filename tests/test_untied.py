"""§8's untied family (h = ReLU(W1 x), y' = ReLU(W2 h + b), target |x|) on signed data: shapes, the forward pass
by hand, training with either engine, run folders, the command line."""

from __future__ import annotations

import pytest
import torch

from tms.cli import main
from tms.config import Recipe, RunConfig
from tms.errors import ConfigError
from tms.model import forward, get_family, is_tied
from tms.runs import load_run, save_run
from tms.train import initial_params, train


def test_the_untied_family_by_hand():
    fam = get_family("untied-abs")
    assert not is_tied("untied-abs") and is_tied("hidden-relu")
    assert fam.shapes(2, 6, 3) == {"W1": (2, 6, 3), "W2": (2, 3, 6), "b": (2, 3)}
    W1 = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])  # neuron 0 reads x_0, neuron 1 reads -x_0
    W2 = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])  # y_0 = h_0 + h_1 = |x_0|
    params = {"W1": W1, "W2": W2, "b": torch.zeros(1, 2)}
    x = torch.tensor([[[-0.7, 0.4], [0.5, -0.2]]])
    y = fam.forward(params, x)
    assert torch.allclose(y[0, :, 0], torch.tensor([0.7, 0.5])) and torch.equal(y[0, :, 1], torch.zeros(2))
    # the loss is against |x|: feature 0 exact, feature 1 missed by |x_1|
    loss = fam.loss(params, x, torch.ones(1, 2))
    assert loss.item() == pytest.approx((0.4**2 + 0.2**2) / 4)
    with pytest.raises(ConfigError, match="one of relu, linear, hidden-relu, got 'untied-abs'"):
        forward(W1, torch.zeros(1, 2), x, "untied-abs")


def test_it_trains_on_signed_data_and_stores_as_a_run(tmp_path):
    cfg = RunConfig.uniform(3, 6, [0.3], model="untied-abs", data="signed", restarts=2,
                            recipe=Recipe(steps=600, batch_size=256, lr=3e-3))
    start = get_family("untied-abs").loss(initial_params(cfg), torch.zeros(2, 1, 3), torch.ones(2, 3))
    assert torch.equal(start, torch.zeros(2))  # zero input, zero target, b = 0
    res = train(cfg, device="cpu")
    assert res.engine == "fast" and set(res.params) == {"W1", "W2", "b"}  # auto: the fast engine trains it
    # |x| of signed inputs at density 0.3: predicting 0 costs E[x²] = 0.3/3 = 0.1 per feature; trained well below,
    # by either engine
    assert (res.final_loss < 0.05).all()
    assert (train(cfg, device="cpu", engine="eager").final_loss < 0.05).all()
    save_run(tmp_path / "u", cfg, res)
    run = load_run(tmp_path / "u")
    assert torch.equal(run.params["W2"], res.params["W2"]) and run.config.data == "signed"


def test_the_command_line_trains_and_plots_it(tmp_path, capsys):
    out = tmp_path / "u"
    assert main(["train", "-n", "3", "-m", "6", "--densities", "0.3", "--model", "untied-abs", "--data", "signed",
                 "--steps", "20", "--batch-size", "32", "--out", str(out)]) == 0
    assert load_run(out).config.model == "untied-abs"
    assert main(["plot", str(out)]) == 0  # no W to draw: nothing drawn, nothing broken
    capsys.readouterr()
    assert main(["train", "-n", "4", "-m", "2", "--densities", "0.3", "--data", "signed", "--set", "correlated:0,1",
                 "--out", str(tmp_path / "v")]) == 2
    assert "--set makes the data 'sets'" in capsys.readouterr().err and not (tmp_path / "v").exists()


@pytest.mark.parametrize("args,message", [
    (["-m", "0", "--model", "untied-abs", "--data", "signed"], "hidden must be an integer >= 1, got 0"),
    (["-m", "6", "--model", "untied-sq"], "invalid choice: 'untied-sq'"),
    (["-m", "2", "--model", "relu", "--data", "signed"], "data 'signed' does not suit model 'relu'"),
    (["-m", "2", "--model", "hidden-relu", "--data", "signed"], "does not suit model 'hidden-relu'"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    assert main(["train", "-n", "3", "--densities", "0.3", "--steps", "5", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_a_config_file_with_an_unsupported_target_is_refused(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"n_features": 3, "n_hidden": 2, "model": "relu", "data": "signed", '
                   '"density": [[0.1, 0.1, 0.1]], "importance": [[1, 1, 1]]}')
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"config {cfg}" in err and "use data independent or sets or alt, or model linear or untied-abs" in err
    # linear can produce negative outputs: signed data is a legitimate target for it
    RunConfig.uniform(3, 2, [0.1], model="linear", data="signed")
    with pytest.raises(ConfigError, match="does not suit"):
        RunConfig.uniform(3, 2, [0.1], model="relu", data="signed")

"""SAELens interoperation (tms.sae.saelens): our SAEs exported to SAELens's on-disk format and loaded by
sae_lens.SAE.load_from_disk encode and decode as ours; SAELens's synthetic-data evaluator gives our MCC on a stored
toy model's directions; SAELens-trained SAEs import and score with our metrics. Skipped without the [sae] extra."""

from __future__ import annotations

import json

import pytest
import torch

sae_lens = pytest.importorskip("sae_lens")

from tms.config import Recipe, RunConfig  # noqa: E402
from tms.errors import ConfigError  # noqa: E402
from tms.runs import save_run  # noqa: E402
from tms.sae import SAEConfig, SAETraining, train  # noqa: E402
from tms.sae import metrics as M  # noqa: E402
from tms.sae import saelens  # noqa: E402
from tms.sae.sources import RunSource, independent  # noqa: E402
from tms.train import train as train_model  # noqa: E402

CONFIGS = [SAEConfig("relu", 24, penalty=0.1, lr=3e-3), SAEConfig("topk", 24, k=2, lr=3e-3),
           SAEConfig("batchtopk", 24, k=2, lr=3e-3), SAEConfig("jumprelu", 24, penalty=0.1, lr=3e-3),
           SAEConfig("matryoshka", 24, k=2, prefixes=(6,), lr=3e-3)]
ARCH = {"relu": "standard", "topk": "topk", "batchtopk": "jumprelu", "jumprelu": "jumprelu",
        "matryoshka": "jumprelu"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A stored toy model in superposition (20 features in 6 dimensions at density 0.05) and the five families
    trained briefly on its hidden activations."""
    torch.set_num_threads(1)
    cfg = RunConfig(n_features=20, n_hidden=6, density=[[0.05] * 20], importance=[[1.0] * 20],
                    recipe=Recipe(steps=3000, batch_size=512), seed=0)
    path = save_run(tmp_path_factory.mktemp("run") / "toy", cfg, train_model(cfg))
    source = RunSource(path)
    saes = train(source, CONFIGS, SAETraining(steps=400, batch_size=256, seed=1))
    return source, saes


@pytest.mark.parametrize("i", range(len(CONFIGS)))
def test_export_loads_in_saelens_with_our_encode_and_decode(toy, tmp_path, i):
    source, saes = toy
    ours = saes[i]
    folder = saelens.export(ours, tmp_path / "sae")
    cfg = json.loads((folder / "cfg.json").read_text())
    assert cfg["architecture"] == ARCH[ours.config.family]
    assert (cfg["d_in"], cfg["d_sae"], cfg["apply_b_dec_to_input"]) == (6, 24, True)
    assert cfg["metadata"]["sae_lens_version"].startswith("6.")
    theirs = sae_lens.SAE.load_from_disk(str(folder))
    assert theirs.cfg.architecture() == ARCH[ours.config.family]
    h, _ = source.sample(4000, torch.Generator().manual_seed(7))
    f = ours.encode(h)
    assert 0 < M.l0(f).item() < 24   # a code that is neither empty nor dense, so the equality below means something
    torch.testing.assert_close(theirs.encode(h), f, rtol=0, atol=1e-6)
    torch.testing.assert_close(theirs.decode(f), ours.decode(f), rtol=0, atol=1e-6)
    back = saelens.from_saelens(theirs)
    assert back.config.family == {"batchtopk": "jumprelu", "matryoshka": "jumprelu"}.get(ours.config.family,
                                                                                        ours.config.family)
    torch.testing.assert_close(back.encode(h), f, rtol=0, atol=1e-6)


def test_saelens_synthetic_eval_gives_our_mcc_on_the_toy_models_directions(toy):
    source, saes = toy
    topk = saes[1]
    represented = M.represented(source.W)
    assert represented.shape == source.directions.shape and 6 < len(represented) <= 20   # in superposition
    fd = saelens.feature_dictionary(source.directions)
    torch.testing.assert_close(fd.feature_vectors.detach(), source.directions)
    p = torch.full((len(represented),), 0.05)
    result = saelens.saelens_eval(topk, source.directions, p, samples=20_000, seed=0)
    ours = M.mcc(source.directions, topk.W_dec).item()
    assert 0.3 < ours < 1.0
    assert result["mcc"] == pytest.approx(ours, abs=1e-3)
    assert result["sae_l0"] == pytest.approx(2.0)   # TopK k = 2 fires exactly k latents (the code is never 0)
    assert result["true_l0"] == pytest.approx(float(p.sum()), rel=0.05)   # 20 000 samples: ± 1.5 % (1 sd)
    # the same distribution through our stream (which adds the dropped features' small columns): explained
    # variance within a few hundredths
    h, _ = source.sample(20_000, torch.Generator().manual_seed(3))
    assert result["explained_variance"] == pytest.approx(M.explained_variance(h, topk(h)).item(), abs=0.03)


def test_mcc_equals_saelens_mean_correlation_coefficient():
    from sae_lens.synthetic import mean_correlation_coefficient

    g = torch.Generator().manual_seed(0)
    for n_true, n_latent in ((8, 12), (12, 8), (10, 10)):
        F, D = torch.randn(n_true, 5, generator=g), torch.randn(n_latent, 5, generator=g)
        assert M.mcc(F, D).item() == pytest.approx(mean_correlation_coefficient(D, F), abs=1e-6)


@pytest.mark.parametrize("kind", ["standard", "topk"])
def test_saelens_trained_sae_imports_and_scores_with_our_metrics(tmp_path, kind):
    from sae_lens.synthetic import (ActivationGenerator, FeatureDictionary, eval_sae_on_synthetic_data,
                                    train_toy_sae)

    torch.manual_seed(0)   # SAELens's samplers and initialisers draw from torch's global generator
    fd = FeatureDictionary(16, 8, initializer=None, seed=0)
    gen = ActivationGenerator(16, 0.08)
    if kind == "standard":
        lens = sae_lens.StandardTrainingSAE(sae_lens.StandardTrainingSAEConfig(d_in=8, d_sae=16, l1_coefficient=1.0))
    else:   # SAELens's TopK rescales by the decoder norm by default: the import folds it into the encoder
        lens = sae_lens.TopKTrainingSAE(sae_lens.TopKTrainingSAEConfig(d_in=8, d_sae=16, k=2))
    train_toy_sae(lens, fd, gen, training_samples=100_000, batch_size=1024, lr=3e-3)
    lens.save_inference_model(str(tmp_path / "lens"))
    ours = saelens.import_folder(tmp_path / "lens")
    assert ours.config.family == {"standard": "relu", "topk": "topk"}[kind]
    x = gen.sample(3000)
    h = fd(x).detach()
    inference = sae_lens.SAE.load_from_disk(str(tmp_path / "lens"))
    torch.testing.assert_close(ours.encode(h), inference.encode(h), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours(h), inference.decode(inference.encode(h)), rtol=1e-5, atol=1e-5)
    # the training SAE itself imports the same way (its inference form)
    torch.testing.assert_close(saelens.from_saelens(lens).encode(h), ours.encode(h), rtol=1e-5, atol=1e-5)
    truth = fd.feature_vectors.detach()
    result = eval_sae_on_synthetic_data(inference, fd, gen, num_samples=3000)
    assert M.mcc(truth, ours.W_dec).item() == pytest.approx(result.mcc, abs=1e-5)
    assert M.l0(ours.encode(h)).item() == pytest.approx(result.sae_l0, rel=0.1)


def test_import_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(ConfigError, match="not an SAELens SAE folder"):
        saelens.import_folder(tmp_path)
    unthresholded = train(independent(6, 4, 0.2), [SAEConfig("batchtopk", 6, k=1)], SAETraining(steps=1))[0]
    unthresholded.threshold = None
    with pytest.raises(ConfigError, match="inference threshold"):
        saelens.saelens_cfg(unthresholded) and saelens.saelens_tensors(unthresholded)
    with pytest.raises(ConfigError, match="directions must be"):
        saelens.feature_dictionary(torch.ones(3))

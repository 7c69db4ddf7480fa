"""The SAE core (tms.sae): the fast path's hand-written gradients against autograd on the eager reference, the fast
and eager trainers giving the same updates, the sources' statistics, configs and SAE folders."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from tms.errors import ConfigError, RunFolderError
from tms.sae import SAEConfig, SAETraining, sources, train
from tms.sae import families, fast, kernels
from tms.sae.fast import Bank, gradients
from tms.sae.folder import is_complete, read_saes, write_saes

D_IN, D_SAE, B = 12, 40, 64

CASES = {
    "relu": [SAEConfig("relu", D_SAE, penalty=0.1), SAEConfig("relu", D_SAE, penalty=0.02, seed=3)],
    "relu-tied": [SAEConfig("relu", D_SAE, penalty=0.1, tied=True)],
    "topk": [SAEConfig("topk", D_SAE, k=3), SAEConfig("topk", D_SAE, k=5, seed=1, aux_k=4)],
    "topk-noaux": [SAEConfig("topk", D_SAE, k=3, aux_coef=0.0)],
    "batchtopk": [SAEConfig("batchtopk", D_SAE, k=3), SAEConfig("batchtopk", D_SAE, k=2, seed=2)],
    "jumprelu": [SAEConfig("jumprelu", D_SAE, penalty=0.3, threshold=0.3, bandwidth=0.5),
                 SAEConfig("jumprelu", D_SAE, penalty=0.05, threshold=0.2, bandwidth=0.3, seed=1)],
    "matryoshka": [SAEConfig("matryoshka", D_SAE, k=3, prefixes=(5, 20)),
                   SAEConfig("matryoshka", D_SAE, k=4, prefixes=(5, 20), seed=4)],
}


def _bank(configs, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = []
    for c in configs:
        p = families.init_params(c, D_IN, g)
        p["b_enc"] = 0.1 * torch.randn(D_SAE, generator=g)  # non-zero biases exercise their gradients
        p["b_dec"] = 0.1 * torch.randn(D_IN, generator=g)
        params.append(p)
    return Bank(list(configs), params), params


@pytest.mark.parametrize("case", sorted(CASES) + ["relu-sparse", "relu-tied-sparse", "jumprelu-sparse",
                                                  "topk-torch", "topk-noaux-torch"])
def test_fast_gradients_match_autograd(case, monkeypatch):
    # relu and jumprelu take a dense or a sparse path by the share of active entries: test both; topk takes the
    # compiled kernel where numba is installed (tms.sae.kernels), the torch path without it or with "-torch"
    monkeypatch.setattr(fast, "SPARSE_BELOW", 1.0 if case.endswith("-sparse") else 0.0)
    if case.endswith("-torch"):
        monkeypatch.setenv(kernels.ENV, "0")
    configs = CASES[case.removesuffix("-sparse").removesuffix("-torch")]
    bank, params = _bank(configs)
    g = torch.Generator().manual_seed(1)
    x = torch.relu(torch.randn(B, D_IN, generator=g))
    dead = torch.rand(len(configs), D_SAE, generator=g) < 0.3
    loss, grads, fired, _ = gradients(bank, x, dead)
    if bank.tied:
        grads["W_dec"] = grads["W_dec"] + grads.pop("W_encT")
    for s, c in enumerate(configs):
        p = {n: t.clone().requires_grad_(True) for n, t in params[s].items()}
        ref, f = families.eager_loss(c, p, x, dead[s])
        ref.backward()
        assert loss[s].item() == pytest.approx(ref.item(), rel=1e-5)
        assert torch.equal(fired[s], families.fired(f.detach()))
        want = {"W_dec": p["W_dec"].grad, "b_enc": p["b_enc"].grad, "b_dec": p["b_dec"].grad}
        if not c.tied:
            want["W_encT"] = p["W_enc"].grad.T
        if c.family == "jumprelu":
            want["log_threshold"] = p["log_threshold"].grad
            assert want["log_threshold"].abs().sum() > 0  # the straight-through estimator is exercised
        for name, w in want.items():
            torch.testing.assert_close(grads[name][s], w, rtol=1e-4, atol=1e-6, msg=f"{case} {name}")


def test_auxk_acts_only_on_dead_latents():
    c = SAEConfig("topk", D_SAE, k=2)
    bank, params = _bank([c])
    x = torch.relu(torch.randn(B, D_IN, generator=torch.Generator().manual_seed(2)))
    none = torch.zeros(1, D_SAE, dtype=torch.bool)
    some = none.clone()
    some[0, :10] = True
    loss0, g0, _, _ = gradients(bank, x, none)
    loss1, g1, _, _ = gradients(bank, x, some)
    assert loss1[0] > loss0[0]
    changed = (g1["W_dec"][0] - g0["W_dec"][0]).abs().sum(1) > 0
    assert changed[:10].any() and not changed[10:].any()


def test_fast_and_eager_train_alike():
    src = sources.independent(30, D_IN, 0.08, seed=1)
    configs = [c for cs in CASES.values() for c in cs] + [
        SAEConfig("relu", D_SAE, penalty=0.5, resample_until=1.0, dead_steps=3)]
    training = SAETraining(steps=12, batch_size=B, log_every=4)
    fast = train(src, configs, training)
    eager = train(src, configs, training, engine="eager")
    torch.testing.assert_close(fast.log_loss, eager.log_loss, rtol=1e-4, atol=1e-6)
    for a, b in zip(fast, eager):
        for name in ("W_enc", "W_dec", "b_enc", "b_dec"):
            # Adam divides by sqrt(v): a rounding-size gradient difference on a near-zero gradient moves a
            # parameter by up to ~lr x 1e-2, so the tolerance is a tenth of one step (lr 1e-3)
            torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=1e-4, atol=1e-4)
        assert torch.equal(a.since_fired, b.since_fired)
        assert (a.threshold is None) == (b.threshold is None)
        if a.threshold is not None:
            torch.testing.assert_close(a.threshold, b.threshold)
        torch.testing.assert_close(a.W_dec.norm(dim=1), torch.ones(D_SAE))  # unit-norm decoder rows


def test_same_seed_same_saes_and_training_lowers_loss():
    src = sources.independent(30, D_IN, 0.05, seed=1)
    configs = [SAEConfig("topk", D_SAE, k=2), SAEConfig("relu", D_SAE, penalty=0.05, lr=3e-3)]
    training = SAETraining(steps=150, batch_size=128, log_every=50)
    a, b = train(src, configs, training), train(src, configs, training)
    assert all(torch.equal(x.W_dec, y.W_dec) for x, y in zip(a, b))
    assert (a.log_loss[-1] < 0.7 * a.log_loss[0]).all()


def test_resampling_revives_dead_latents():
    src = sources.independent(30, D_IN, 0.05, seed=1)
    kill = SAEConfig("relu", D_SAE, penalty=0.5, lr=3e-2, dead_steps=10)
    revive = SAEConfig("relu", D_SAE, penalty=0.5, lr=3e-2, dead_steps=10, resample_until=1.0)
    out = train(src, [kill, revive], SAETraining(steps=60, batch_size=128))
    assert out[0].dead.sum() >= 3 and out[0].since_fired.max() > 30
    assert out[1].dead.sum() == 0  # resampled every 10 steps: no latent stays silent for 10


def test_sources_statistics():
    g = torch.Generator().manual_seed(0)
    src = sources.independent(50, 10, 0.04, seed=0)
    h, x = src.sample(20000, g)
    l0 = (x > 0).sum(1).float().mean().item()
    assert abs(l0 - 2.0) < 4 * math.sqrt(50 * 0.04 * 0.96 / 20000)
    torch.testing.assert_close(h, x @ src.directions)
    # hierarchy: the child fires only with its parent, at rate q given it
    hier = sources.hierarchy(torch.eye(4, 8), [0.25, 0.2, 0.2, 0.2], [-1, 0, -1, -1])
    _, x = hier.sample(40000, g)
    parent, child = x[:, 0] > 0, x[:, 1] > 0
    assert not (child & ~parent).any()
    q = (child & parent).sum() / parent.sum()
    assert abs(q - 0.2) < 4 * math.sqrt(0.2 * 0.8 / (0.25 * 40000))
    assert hier.true_l0 == pytest.approx(0.25 + 0.05 + 0.4)
    # Sharkey et al.: copula marginals are the 0.99^i frequencies, ~5 active, and active features correlate
    sh = sources.sharkey(64, 16, mean_active=5.0, seed=0)
    _, x = sh.sample(30000, g)
    freq = (x > 0).float().mean(0)
    p = sh.args["p"]
    assert (freq - p).abs().max() < 5 * math.sqrt(0.25 / 30000)
    assert float(p.sum()) == pytest.approx(5.0, rel=1e-5) and p[0] / p[1] == pytest.approx(1 / 0.99, rel=1e-4)
    a = (x > 0).float()
    cov = (a.T @ a) / len(a) - freq[:, None] * freq[None, :]
    assert cov.fill_diagonal_(0).abs().max() > 0.005  # independent: |cov| ~ p / sqrt(N) ~ 5e-4


def test_run_source(tmp_path):
    from tms.config import Recipe, RunConfig
    from tms.runs import save_run
    from tms.train import train as train_model

    cfg = RunConfig.uniform(8, 3, [0.1], 1.0, recipe=Recipe(steps=200, batch_size=64))
    save_run(tmp_path / "run", cfg, train_model(cfg))
    src = sources.RunSource(tmp_path / "run")
    W = src.W
    assert src.directions.shape == (len(src.represented), 3)
    h, x = src.sample(500, torch.Generator().manual_seed(0))
    assert h.shape == (500, 3) and x.shape == (500, len(src.represented))
    assert src.true_l0 == pytest.approx(0.1 * len(src.represented))
    torch.testing.assert_close(src.directions, W[:, src.represented].T)
    untied = RunConfig.uniform(4, 2, [0.1], 1.0, model="untied-abs", data="signed", recipe=Recipe(steps=5))
    save_run(tmp_path / "abs", untied, train_model(untied))
    with pytest.raises(ConfigError, match="no hidden activations"):
        sources.RunSource(tmp_path / "abs")


def test_train_on_a_result_in_memory_or_a_run_folder(tmp_path):
    # tms.sae.train(result, ...): a result of the Python API (or a selection of it) is a source as its run folder
    # is; the same model gives the same activations, so the same SAEs
    from tms.config import Recipe, RunConfig
    from tms.runs import load_run, save_run
    from tms.train import train as train_model

    cfg = RunConfig.uniform(8, 3, [0.3, 0.05], 1.0, restarts=2, recipe=Recipe(steps=200, batch_size=64))
    result = train_model(cfg)
    save_run(tmp_path / "run", cfg, result)
    configs, training = [SAEConfig("topk", 12, k=1)], SAETraining(steps=10, batch_size=32)
    sparse = result.sel(density=0.05)  # instances 2 and 3: the second setting
    src = sources.RunSource.of(sparse, 1)
    assert src.instance == 3 and src.path is None and src.describe()["digest"].startswith("memory:")
    torch.testing.assert_close(src.density, torch.full((1, 8), 0.05))
    torch.testing.assert_close(src.W, result.params["W"][3])
    mem = train(sparse.best(), configs, training)  # a selection of a fresh result
    best = sparse.best().index[0]
    disk = train(sources.RunSource(tmp_path / "run", best), configs, training)
    assert torch.equal(mem[0].W_dec, disk[0].W_dec) and mem.source["instance"] == best
    assert mem.source["path"] is None
    from tms.sae.evaluate import evaluate  # scored on the same model's fresh activations either way
    assert evaluate(list(mem), sparse.best(), batches=1, batch_size=256) == \
        evaluate(list(disk), tmp_path / "run" if best == 0 else sources.RunSource(tmp_path / "run", best),
                 batches=1, batch_size=256)
    with pytest.raises(ConfigError, match="trained on a result in memory"):
        sources.from_description(mem.source)
    # a whole stored run keeps its folder (its SAEs can be scored again); a path is a run folder
    run = load_run(tmp_path / "run")
    assert sources.RunSource.of(run, 3).describe() == sources.RunSource(tmp_path / "run", 3).describe()
    # so does a selection of it (its SAEs can be scored again too), while its folder still holds these weights
    picked = run.sel(density=0.05).best()
    assert sources.RunSource.of(picked, 0).describe() == sources.RunSource(tmp_path / "run", best).describe()
    assert train(picked, configs, training).source["path"] == str((tmp_path / "run").resolve())
    assert torch.equal(train(str(tmp_path / "run"), configs, training)[0].W_dec,
                       train(result, configs, training)[0].W_dec)  # model 0 either way
    # a snapshot of a stored run is not what its folder holds: the weights in memory
    save_run(tmp_path / "snap", cfg, train_model(cfg, snapshots=[100]))
    early = sources.RunSource.of(load_run(tmp_path / "snap").at_step(100), 3)
    assert early.path is None
    torch.testing.assert_close(early.W, load_run(tmp_path / "snap").at_step(100).params["W"][3])
    retrained = dataclasses.replace(cfg, seed=1)
    save_run(tmp_path / "run", retrained, train_model(retrained))  # the folder trained again
    again = sources.RunSource.of(picked, 0)
    assert again.path is None and again.describe()["digest"].startswith("memory:")
    torch.testing.assert_close(again.W, result.params["W"][best])
    with pytest.raises(ConfigError, match=r"model must be in \[0, 1\]"):
        sources.RunSource.of(sparse, 2)
    with pytest.raises(ConfigError, match="source must be an activation source"):
        train(3, configs, training)
    with pytest.raises(ConfigError, match="results must be a result"):
        sources.RunSource.of("run")


@pytest.mark.parametrize("kwargs, match", [
    (dict(family="topk", d_sae=10, k=11), "k must be at most d_sae"),
    (dict(family="topk", d_sae=10), "k must be given"),
    (dict(family="relu", d_sae=10, penalty=-0.1), "penalty must be >= 0"),
    (dict(family="relu", d_sae=10, k=2), "k is for families"),
    (dict(family="topk", d_sae=10, k=2, penalty=0.1), "penalty is for families"),
    (dict(family="matryoshka", d_sae=10, k=2, prefixes=(5, 3)), "prefixes must increase"),
    (dict(family="nope", d_sae=10), "family must be one of relu, topk"),
    (dict(family="relu", d_sae=0), "d_sae must be an integer >= 1"),
    (dict(family="topk", d_sae=10, k=2, aux_k=11), "aux_k must be at most d_sae \\(10\\), got 11"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SAEConfig(**kwargs)


def test_run_source_draws_the_runs_own_distribution(tmp_path):
    """value_max (and every run field the run's sampler reads) reaches the SAE's activations. The paper's
    distribution is drawn by one uniform per entry (a density above DENSE_ABOVE) or by its active entries (every
    density at most DENSE_ABOVE), any other (here normalised samples) by the run's own sampler; hidden() gives
    sample()'s activations bit for bit from the same generator state."""
    from tms.config import Recipe, RunConfig
    from tms.data import DENSE_ABOVE, run_sampler, sample_features_one_draw, sample_sparse
    from tms.runs import save_run
    from tms.train import train as train_model

    def source(name, density, **kw):
        cfg = RunConfig.uniform(6, 3, [density], 1.0, recipe=Recipe(steps=100, batch_size=64), **kw)
        save_run(tmp_path / name, cfg, train_model(cfg))
        return cfg, sources.RunSource(tmp_path / name)

    def draw(src, n, seed):
        h, x = src.sample(n, torch.Generator().manual_seed(seed))
        assert torch.equal(h, src.hidden(n, torch.Generator().manual_seed(seed)))
        return h, x

    # dense: x = (u / p) [u < p] × value_max from one uniform per entry
    _, src = source("dense", 0.3, value_max=3.0)
    assert src._draw == "dense"
    h, x = draw(src, 4000, 1)
    assert 2.9 < float(x.max()) <= 3.0
    want = sample_features_one_draw(src.density, 4000, torch.Generator().manual_seed(1))[0] * 3.0
    torch.testing.assert_close(x, want[:, src.represented])
    torch.testing.assert_close(h, want @ src.W.T)

    # sparse: the active entries of sample_sparse, h summed over them
    _, src = source("sparse", DENSE_ABOVE / 2, value_max=2.0)
    assert src._draw == "sparse"
    n = 40000
    h, x = draw(src, n, 2)
    batch = sample_sparse(src.density, n, torch.Generator().manual_seed(2), 2.0).dense()[0]
    assert torch.equal(x, batch[:, src.represented])
    torch.testing.assert_close(h, batch @ src.W.T, atol=1e-6, rtol=1e-5)
    p = DENSE_ABOVE / 2  # each represented feature active with p (4 sigma of a Binomial(n, p) count), U[0, 2]
    freq = (x > 0).float().mean(0)
    assert ((freq - p).abs() < 4 * (p * (1 - p) / n) ** 0.5).all()
    on = x[x > 0]
    assert float(on.max()) <= 2.0 and abs(float(on.mean()) - 1.0) < 4 * (4 / 12 / on.numel()) ** 0.5

    # normalised samples: the run's own sampler, its exact draws
    cfg, src = source("norm", 0.3, normalize=True)
    assert src._draw == "run"
    h, x = draw(src, 4000, 3)
    want = run_sampler(cfg)(src.density, 4000, torch.Generator().manual_seed(3))[0][0]
    torch.testing.assert_close(x, want[:, src.represented])
    torch.testing.assert_close(h, want @ src.W.T)


def test_training_reads_hidden_only_where_it_stands_for_sample(tmp_path):
    """Training reads a source's hidden() (RunSource's: the activations alone), but not where a subclass overrides
    only sample() (say, to add noise), nor an attribute named hidden that is not the method; and under a float64
    default dtype the sparse draw still works."""
    from tms.config import Recipe, RunConfig
    from tms.runs import save_run
    from tms.train import train as train_model

    cfg = RunConfig.uniform(8, 3, [0.02], 1.0, recipe=Recipe(steps=50, batch_size=64))
    save_run(tmp_path / "run", cfg, train_model(cfg))
    calls = []

    class Noisy(sources.RunSource):
        def sample(self, batch, generator):
            calls.append(batch)
            h, x = super().sample(batch, generator)
            return h + 0.01, x

    configs, training = [SAEConfig("topk", 8, k=1)], SAETraining(steps=3, batch_size=16)
    plain = train(sources.RunSource(tmp_path / "run"), configs, training)
    noisy = train(Noisy(tmp_path / "run"), configs, training)
    assert calls == [16, 16, 16] and not torch.equal(plain[0].W_dec, noisy[0].W_dec)
    odd = sources.RunSource(tmp_path / "run")
    odd.hidden = 3  # not the method: ignored
    assert torch.equal(train(odd, configs, training)[0].W_dec, plain[0].W_dec)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        src = sources.RunSource(tmp_path / "run")
        h, x = src.sample(100, torch.Generator().manual_seed(0))
        assert h.dtype == torch.float32 and torch.isfinite(h).all() and x.shape == (100, len(src.represented))
    finally:
        torch.set_default_dtype(default)


def test_run_source_describe_changes_when_the_run_is_trained_again(tmp_path):
    """An SAE folder of a run is not complete for the same path once the run holds another model."""
    from tms.config import Recipe, RunConfig
    from tms.runs import save_run
    from tms.train import train as train_model

    cfg = RunConfig.uniform(6, 3, [0.3], 1.0, recipe=Recipe(steps=50, batch_size=64))
    save_run(tmp_path / "run", cfg, train_model(cfg))
    src = sources.RunSource(tmp_path / "run")
    configs, training = [SAEConfig("topk", 6, k=2)], SAETraining(steps=5, batch_size=16)
    write_saes(tmp_path / "saes", train(src, configs, training))
    assert is_complete(tmp_path / "saes", sources.RunSource(tmp_path / "run").describe(), configs, training)
    other = RunConfig.uniform(6, 3, [0.3], 1.0, recipe=Recipe(steps=60, batch_size=64))
    save_run(tmp_path / "run", other, train_model(other))
    again = sources.RunSource(tmp_path / "run")
    assert again.describe()["path"] == src.describe()["path"] and again.describe() != src.describe()
    assert not is_complete(tmp_path / "saes", again.describe(), configs, training)
    with pytest.raises(RunFolderError, match="has changed since these SAEs were trained"):
        sources.from_description(src.describe())


def test_config_round_trip():
    c = SAEConfig("matryoshka", 64, k=4, prefixes=(8, 16), seed=2)
    assert SAEConfig.from_dict(c.to_dict()) == c


def test_folder_round_trip(tmp_path):
    src = sources.independent(20, 8, 0.1, seed=0)
    configs = [SAEConfig(f, 24, k=2) if f in ("topk", "batchtopk") else SAEConfig(f, 24, penalty=0.01)
               for f in ("relu", "topk", "batchtopk", "jumprelu")]
    training = SAETraining(steps=20, batch_size=32, log_every=10)
    trained = train(src, configs, training)
    write_saes(tmp_path / "a", trained)
    write_saes(tmp_path / "b", trained)
    back = read_saes(tmp_path / "a")
    h, _ = src.sample(50, torch.Generator().manual_seed(5))
    for a, b in zip(trained, back):
        torch.testing.assert_close(a(h), b(h))
    assert back.log_steps == trained.log_steps
    assert is_complete(tmp_path / "a", src.describe(), configs, training)
    assert not is_complete(tmp_path / "a", src.describe(), configs[:2], training)
    for f in (tmp_path / "a").rglob("*.safetensors"):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes()


def test_hierarchy_unit_values():
    src = sources.hierarchy(torch.eye(3, 5), [0.5, 0.5, 0.3], [-1, 0, -1], values="one")
    _, x = src.sample(1000, torch.Generator().manual_seed(0))
    assert set(x.unique().tolist()) == {0.0, 1.0}
    assert sources.from_description(src.describe()).spec["values"] == "one"


def test_folder_saes_load_in_saelens(tmp_path):
    sae_lens = pytest.importorskip("sae_lens")
    src = sources.independent(20, 8, 0.1, seed=0)
    configs = [SAEConfig("relu", 24, penalty=0.01), SAEConfig("topk", 24, k=2), SAEConfig("batchtopk", 24, k=2),
               SAEConfig("jumprelu", 24, penalty=0.01), SAEConfig("matryoshka", 24, k=2, prefixes=(6,))]
    trained = train(src, configs, SAETraining(steps=20, batch_size=32))
    write_saes(tmp_path / "f", trained)
    h, _ = src.sample(50, torch.Generator().manual_seed(1))
    for i, ours in enumerate(trained):
        theirs = sae_lens.SAE.load_from_disk(str(tmp_path / "f" / f"sae_{i:03d}"))
        torch.testing.assert_close(theirs.encode(h), ours.encode(h))
        torch.testing.assert_close(theirs.decode(ours.encode(h)), ours.decode(ours.encode(h)))


def test_banks_side_by_side_train_as_one_at_a_time():
    # workers=2 steps the banks in two threads: every bank's numbers are the same as on one thread, bit for bit
    src = sources.independent(30, D_IN, 0.08, seed=2)
    configs = [SAEConfig("relu", D_SAE, penalty=0.1), SAEConfig("topk", 2 * D_SAE, k=3, dead_steps=3),  # AuxK
               SAEConfig("relu", D_SAE, penalty=0.5, resample_until=1.0, dead_steps=3),
               SAEConfig("jumprelu", D_SAE, penalty=0.1), SAEConfig("topk", D_SAE, k=2, seed=4)]
    training = SAETraining(steps=15, batch_size=B, log_every=5)
    one = train(src, configs, training, workers=1)
    two = train(src, configs, training, workers=2)
    assert torch.equal(one.log_loss, two.log_loss)
    for a, b in zip(one, two):
        assert a.config == b.config
        for name in ("W_enc", "W_dec", "b_enc", "b_dec", "since_fired"):
            assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_api_input_errors_are_one_line_config_errors():
    # what a notebook user gets wrong: one ConfigError line naming the field, not a traceback from deep inside
    from tms.sae.evaluate import evaluate

    src = sources.independent(20, 6, 0.1, seed=0)
    ok = SAEConfig("topk", 12, k=2)
    trained = train(src, ok, SAETraining(steps=3, batch_size=16))  # one config, not a list: accepted
    assert len(trained) == 1
    cases = [
        (lambda: train(src, ok, {"steps": 5}), "training must be an SAETraining"),
        (lambda: train(src, {"family": "topk"}, None), "configs must be an SAEConfig or a list"),
        (lambda: SAEConfig("matryoshka", 8, k=1, prefixes=4), "prefixes must be a sequence of integers"),
        (lambda: evaluate([], src), "saes must be one SAE or a non-empty list"),
        (lambda: evaluate(trained, src, batches=0), "batches must be an integer >= 1"),
        (lambda: evaluate(trained, src, batch_size=2.5), "batch_size must be an integer >= 1"),
        (lambda: evaluate(trained, sources.independent(20, 5, 0.1, seed=0)), "width 6, the source gives 5"),
    ]
    for call_, match in cases:
        with pytest.raises(ConfigError, match=match) as e:
            call_()
        assert "\n" not in str(e.value)
    assert evaluate(trained[0], src, batches=1, batch_size=64) == evaluate(trained, src, batches=1, batch_size=64)


def test_tms_sae_is_reachable_from_the_package_root():
    import subprocess
    import sys

    code = "import tms; print(tms.sae.train.__name__, tms.sae.evaluate.evaluate.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["train", "evaluate"]

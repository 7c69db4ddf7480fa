"""The fields added after the paper's recipe (BEYOND.md SCALE, DD, ALT): learning-rate schedules, Liu, Liu & Gore's
γ, frequency-law densities, the value range, finite datasets and the loss registry. Each is checked against a hand
computation, and a config that sets none of them writes and trains exactly as before they existed."""

import importlib
import json
import math

import pytest
import torch

from tms.config import Recipe, RunConfig, power_law_densities
from tms.data import epoch_batches, run_sampler
from tms.engines import ChunkJob, get_engine
from tms.errors import ConfigError
from tms.losses import get_loss, target_only
from tms.model import get_family
from tms.schedule import gamma_decay_, learning_rate

train_module = importlib.import_module("tms.train")


def _paper_config() -> RunConfig:
    return RunConfig.uniform(6, 2, [0.3, 1.0], importance_decay=0.9, restarts=2,
                             recipe=Recipe(steps=150, batch_size=32))


# -- the paper's runs are unchanged ------------------------------------------------------------------------------

def test_a_default_config_writes_the_json_it_wrote_before_the_new_fields():
    d = _paper_config().to_dict()
    assert set(d) == {"n_features", "n_hidden", "density", "importance", "model", "data", "restarts", "recipe", "seed"}
    assert set(d["recipe"]) == {"steps", "batch_size", "lr", "weight_decay", "betas", "eps", "init", "log_every",
                                "eval_batches"}
    assert RunConfig.from_dict(json.loads(json.dumps(d))) == _paper_config()


def test_a_paper_run_trains_the_numbers_it_trained_before_the_new_fields():
    # measured with the code of commit 90e658b (before these fields), eager engine, one thread
    before = [0.04123929888010025, 0.038612592965364456, 0.06080872565507889, 0.06616128981113434]
    w_before = [-0.5345215797424316, -0.34723249077796936, -0.21129725873470306, -0.03238498792052269]
    result = train_module.train(_paper_config(), engine="eager", threads=1)
    assert result.final_loss.tolist() == pytest.approx(before, rel=1e-5, abs=1e-7)
    assert result.params["W"][0].flatten()[:4].tolist() == pytest.approx(w_before, rel=1e-5, abs=1e-7)
    assert result.log_test_losses is None


def test_new_fields_round_trip_and_are_written_only_when_set():
    cfg = RunConfig.uniform(5, 2, [0.2], recipe=Recipe(steps=20, schedule="cosine", warmup_steps=5, lr_floor=0.1,
                                                       gamma=-1.0), value_max=2.0, train_size=7, normalize=True)
    d = cfg.to_dict()
    assert d["value_max"] == 2.0 and d["train_size"] == 7 and d["normalize"] is True
    assert {k: d["recipe"][k] for k in ("schedule", "warmup_steps", "lr_floor", "gamma")} == {
        "schedule": "cosine", "warmup_steps": 5, "lr_floor": 0.1, "gamma": -1.0}
    assert "loss" not in d["recipe"] and "loss_penalty" not in d["recipe"]
    assert RunConfig.from_dict(json.loads(json.dumps(d))) == cfg
    assert cfg.extensions() == ("schedule", "warmup_steps", "lr_floor", "gamma", "value_max", "train_size", "normalize")


@pytest.mark.parametrize("make,match", [
    (lambda: Recipe(steps=10, warmup_steps=10), r"^warmup_steps must be fewer than steps \(10\), got 10$"),
    (lambda: Recipe(schedule="linear"), r"^schedule must be one of constant, cosine, got 'linear'$"),
    (lambda: Recipe(lr_floor=1.5), r"^lr_floor must be in \[0, 1\]"),
    (lambda: Recipe(gamma=-1.0, optimizer="sgd"), "^gamma needs optimizer adamw"),
    (lambda: Recipe(loss="l1"), r"^loss must be one of weighted-mse, target-only, got 'l1'$"),
    (lambda: Recipe(loss_penalty=-1.0), r"^loss_penalty must be in \[0, inf\]"),
    (lambda: Recipe(loss_penalty=0.1), "^loss_penalty needs loss 'target-only'"),
    (lambda: RunConfig.uniform(3, 1, [0.5], train_size=0), "^train_size must be an integer >= 1, got 0$"),
    (lambda: RunConfig.uniform(3, 1, [0.5], value_max=0.0), r"^value_max must be in \(0, 1e\+06\]"),
    (lambda: RunConfig.uniform(3, 1, [0.5], recipe=Recipe(loss="target-only")), "^loss 'target-only' needs data"),
    (lambda: power_law_densities(10, -0.5), r"^alpha must be in \[0, 100\], got -0.5$"),
    (lambda: power_law_densities(10, 0.0, 20.0), r"^expected_active must be in \(0, 10\]"),
    (lambda: power_law_densities(10, 3.0, 2.0), "^expected_active 2 is too many for alpha 3"),
    (lambda: RunConfig.power_law(10, 2, [1.0, -0.5]), r"^power_law must be in \[0, 100\], got -0.5$"),
    (lambda: RunConfig.power_law(10, 2, []), "^power_law must have at least one value$"),
    (lambda: RunConfig.power_law(10, 2, [3.0], 2.0), "^expected_active 2 is too many for power_law 3"),
    (lambda: Recipe(gamma=1.0, weight_decay=0.1),
     "^weight_decay is not used with gamma .*got weight_decay 0.1 with gamma 1$"),
    (lambda: RunConfig.from_dict({**RunConfig.uniform(3, 1, [0.5], recipe=Recipe(gamma=-1.0)).to_dict(),
                                  "recipe": {**Recipe(gamma=-1.0).__dict__, "betas": [0.9, 0.999],
                                             "weight_decay": 0.5}}), "^weight_decay is not used with gamma"),
])
def test_bad_values_are_one_line_errors_naming_the_field(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


# -- schedule, γ, densities ---------------------------------------------------------------------------------------

def test_learning_rate_by_hand():
    r = Recipe(steps=10, lr=2.0, schedule="cosine", warmup_steps=4, lr_floor=0.05)
    # warm-up lr·s/w, then floor + (lr − floor)(1 + cos(π (s − w)/(steps − w)))/2 from s = w
    assert [learning_rate(r, s) for s in (1, 2, 3)] == pytest.approx([0.5, 1.0, 1.5])
    assert learning_rate(r, 4) == pytest.approx(2.0)
    assert learning_rate(r, 7) == pytest.approx(0.1 + 1.9 * 0.5)
    assert learning_rate(r, 10) == pytest.approx(0.1)
    flat = Recipe(steps=10, lr=2.0, warmup_steps=4)
    assert [learning_rate(flat, s) for s in (2, 4, 10)] == pytest.approx([1.0, 2.0, 2.0])
    no_warmup = Recipe(steps=4, lr=1.0, schedule="cosine", lr_floor=0.0)
    assert [learning_rate(no_warmup, s) for s in (1, 2, 4)] == pytest.approx(
        [0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.0], abs=1e-12)


def test_gamma_operator_by_hand():
    # three feature vectors (columns) of norms 5, 1 and 0.5; lr 0.1
    W = torch.tensor([[[3.0, 0.6, 0.3], [4.0, 0.8, 0.4]]])
    strong = gamma_decay_(W.clone(), 0.1, -1.0, 0.0)
    # W_i + lr γ W_i (1 − 1/‖W_i‖): ×(1 − 0.1·0.8), unchanged, ×(1 + 0.1·1)
    assert torch.allclose(strong, torch.tensor([[[2.76, 0.6, 0.33], [3.68, 0.8, 0.44]]]))
    weak = gamma_decay_(W.clone(), 0.1, 0.5, 0.0)
    assert torch.allclose(weak, W * 0.95)


def test_the_engine_applies_gamma_to_W_before_the_adam_step_and_never_to_b():
    cfg = RunConfig.uniform(5, 2, [0.5], recipe=Recipe(steps=3, batch_size=16, lr=0.05, gamma=-0.7, log_every=1,
                                                       schedule="cosine", warmup_steps=1))
    got = train_module.train(cfg, engine="eager", threads=1)
    # by hand: the same batches (the trainer's stream), W decayed by γ's operator at the step's lr, then AdamW
    # without decay; b only Adam
    params = {k: torch.nn.Parameter(v.clone()) for k, v in train_module.initial_params(cfg).items()}
    opt = torch.optim.AdamW(list(params.values()), lr=0.05, weight_decay=0.0)
    g = train_module.make_generator(cfg.seed, 1, 0, torch.device("cpu"))
    density = torch.tensor(cfg.instance_density())
    importance = torch.tensor(cfg.instance_importance())
    for step in range(1, 4):
        x, _ = run_sampler(cfg)(density, 16, g)
        loss = get_family("relu").loss(params, x, importance)
        opt.zero_grad()
        loss.sum().backward()
        lr = learning_rate(cfg.recipe, step)
        opt.param_groups[0]["lr"] = lr
        with torch.no_grad():
            W = params["W"]
            norms = W.norm(dim=1, keepdim=True) + 1e-8
            W.add_(-0.7 * lr * W * (1 - 1 / norms))
        opt.step()
    assert torch.allclose(got.params["W"], params["W"].detach(), atol=1e-6)
    assert torch.allclose(got.params["b"], params["b"].detach(), atol=1e-6)


def test_power_law_densities_sum_to_the_expected_count():
    p = power_law_densities(1000, 1.5)
    assert math.fsum(p) == pytest.approx(1.0, abs=1e-12)
    assert p[0] / p[1] == pytest.approx(2 ** 1.5) and p[9] / p[99] == pytest.approx(10 ** 1.5)
    assert math.fsum(power_law_densities(50, 0.0, 5.0)) == pytest.approx(5.0) and power_law_densities(4, 0.0)[0] == 0.25


def test_value_max_scales_the_values_and_normalize_gives_unit_length():
    density = torch.full((1, 50), 0.3)
    x, t = run_sampler(RunConfig.uniform(50, 2, [0.3], value_max=2.0))(density, 4000, torch.Generator().manual_seed(1))
    active = x[x > 0]
    assert t is None and active.max() <= 2.0 and active.mean().item() == pytest.approx(1.0, abs=0.02)
    y, _ = run_sampler(RunConfig.uniform(50, 2, [0.3], normalize=True))(density, 100, torch.Generator().manual_seed(1))
    norms = y.norm(dim=-1)
    assert torch.allclose(norms[norms > 0], torch.ones(()), atol=1e-6)


def test_scaling_init_is_randn_over_sqrt_m_with_a_normal_bias():
    cfg = RunConfig.uniform(2000, 16, [0.1], recipe=Recipe(init="scaling"))
    p = train_module.initial_params(cfg)
    assert p["W"].std().item() == pytest.approx(0.25, rel=0.02) and p["b"].std().item() == pytest.approx(1.0, rel=0.05)


# -- finite datasets ----------------------------------------------------------------------------------------------

def _finite(**recipe) -> RunConfig:
    return RunConfig.uniform(8, 2, [0.4], restarts=3, train_size=10, normalize=True,
                             recipe=Recipe(**{"steps": 40, "batch_size": 4, "log_every": 10, **recipe}))


def test_an_epoch_visits_every_example_once():
    g = torch.Generator().manual_seed(0)
    batches = epoch_batches(10, 4, g)
    assert [len(b) for b in batches] == [4, 4, 2] and sorted(torch.cat(batches).tolist()) == list(range(10))
    assert epoch_batches(10, 32, g)[0].tolist() == list(range(10))


def test_a_finite_dataset_is_reproducible_and_independent_of_chunking():
    cfg = _finite()
    x, target, test_x, _ = train_module.finite_data(cfg)
    again = train_module.finite_data(cfg)
    assert torch.equal(x, again[0]) and target is None and x.shape == (3, 10, 8)
    assert torch.allclose(x.norm(dim=-1)[x.norm(dim=-1) > 0], torch.ones(()), atol=1e-6)
    assert not any(torch.equal(test_x[0, i], x[0, j]) for i in range(test_x.shape[1]) for j in range(10))
    whole = train_module.train(cfg, engine="eager", threads=1)
    chunked = train_module.train(cfg, engine="eager", threads=1, max_chunk_elements=1)  # one instance per chunk
    assert torch.equal(whole.params["W"][0], chunked.params["W"][0])


def test_training_reads_only_the_T_points_and_logs_the_test_loss_on_fresh_draws():
    cfg = _finite()
    x, _, test_x, _ = train_module.finite_data(cfg)
    seen = []
    family = get_family("relu")

    def refuse(*args):
        raise AssertionError("a finite run drew a fresh batch")

    params = {k: v.clone() for k, v in train_module.initial_params(cfg).items()}
    logged = {}
    job = ChunkJob(params=params, importance=torch.ones(3, 8), density=torch.full((3, 8), 0.4), model="relu",
                   data="independent", recipe=cfg.recipe, generator=torch.Generator().manual_seed(3), sample=refuse,
                   dataset=x, test_x=test_x, on_test=lambda s, v: logged.setdefault(s, v))
    original = family.loss

    def spy(p, batch, importance):
        seen.append(batch.detach().clone())
        return original(p, batch, importance)

    family_module = importlib.import_module("tms.model")
    spied = family_module.Family(family.name, family.shapes, family.init, family.forward, family.target)
    object.__setattr__(spied, "loss", spy)
    old = family_module.FAMILIES["relu"]
    family_module.FAMILIES["relu"] = spied
    try:
        get_engine("eager").train_chunk(job)
    finally:
        family_module.FAMILIES["relu"] = old
    points = {tuple(r.tolist()) for r in x[0]}
    test_batches = [b for b in seen if b.shape == test_x.shape and torch.equal(b, test_x)]
    train_batches = [b for b in seen if not (b.shape == test_x.shape and torch.equal(b, test_x))]
    assert len(test_batches) == 4 and len(train_batches) == 40  # the test batch once per logged step
    assert all(tuple(r.tolist()) in points for b in train_batches for r in b[0])
    assert sorted(logged) == [10, 20, 30, 40]
    with torch.no_grad():
        expected = family.loss(job.params, test_x, torch.ones(3, 8))
    assert torch.allclose(logged[40], expected, atol=1e-6)


def test_a_finite_run_stores_the_test_loss_beside_the_training_loss(tmp_path):
    from tms.runs import load_run, save_run

    cfg = _finite()
    result = train_module.train(cfg, engine="auto", threads=1)
    assert result.engine == "eager" and result.log_test_losses.shape == (4, 3)
    save_run(tmp_path / "run", cfg, result)
    assert (tmp_path / "run" / "train_log.csv").read_text().splitlines()[0] == "step,instance,loss,test_loss"
    run = load_run(tmp_path / "run")
    steps, test = run.test_log()
    assert steps == [10, 20, 30, 40] and torch.allclose(test, result.log_test_losses)
    assert torch.allclose(run.train_log()[1], result.log_losses)


# -- losses and engines -------------------------------------------------------------------------------------------

def test_target_only_loss_by_hand():
    family = get_family("linear")
    # W = 0 so x' = b: the outputs are b whatever x
    params = {"W": torch.zeros(1, 1, 3), "b": torch.tensor([[0.5, -0.2, 0.9]])}
    x = torch.tensor([[[0.3, 0.0, 0.1], [0.0, 0.8, 0.0]]])
    target = torch.tensor([[0, 1]])
    # sample 0: (0.5 − 0.3)² + λ·max(−0.2, 0.9); sample 1: (−0.2 − 0.8)² + λ·max(0.5, 0.9)
    got = target_only(family, params, x, torch.ones(1, 3), target, 0.1)
    assert got.tolist() == pytest.approx([((0.04 + 0.09) + (1.0 + 0.09)) / 2])
    assert get_loss("target-only")(family, params, x, torch.ones(1, 3), target, 0.0).tolist() == pytest.approx([0.52])
    with pytest.raises(ConfigError, match="needs data"):
        target_only(family, params, x, torch.ones(1, 3), None, 0.0)


def test_target_only_trains_on_data_with_targets():
    cfg = RunConfig(n_features=20, n_hidden=2, density=((0.95,) * 20,), importance=((1.0,) * 20,), model="linear",
                    data="alt", recipe=Recipe(steps=50, batch_size=32, lr=5e-2, log_every=10, optimizer="adam", weight_decay=0.0,
                                              loss="target-only", loss_penalty=1e-4))
    result = train_module.train(cfg, threads=1)
    assert result.engine == "eager" and torch.isfinite(result.final_loss).all()
    assert result.log_losses[-1].item() < result.log_losses[0].item()


def test_auto_picks_eager_for_fields_the_fast_engine_does_not_implement():
    assert get_engine("auto", "relu", "independent").name == "fast"
    for field in ("schedule", "gamma", "train_size", "loss", "value_max", "normalize"):
        # the sparse engine trains the scaling runs' fields; every other goes to the eager reference
        expected = "sparse" if field in ("schedule", "gamma", "value_max") else "eager"
        assert get_engine("auto", "relu", "independent", (field,)).name == expected
        assert get_engine("auto", "hidden-relu", "independent", (field,)).name == "eager"
        with pytest.raises(ConfigError, match=f"^engine fast does not implement {field}; use engine eager or auto$"):
            get_engine("fast", "relu", "independent", (field,))


def test_gamma_allows_only_an_unused_weight_decay_and_old_run_configs_still_load():
    """γ replaces the optimizer's decay on W (b undecayed): weight_decay 0 or its default (which every run folder
    trained with γ records) is accepted and changes nothing; the default config is unchanged."""
    assert Recipe().weight_decay == 0.01 and Recipe(gamma=1.0).weight_decay == 0.01
    assert Recipe(gamma=-1.0, weight_decay=0.0).gamma == -1.0
    old = RunConfig.power_law(10, 2, [1.5], recipe=Recipe(gamma=-1.0, steps=5))
    assert RunConfig.from_dict(json.loads(json.dumps(old.to_dict()))) == old

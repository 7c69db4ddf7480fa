"""Executors (tms.executors): the same run folders from the local and the Ray executor (on one Ray node and on a
two-node cluster), idempotent tasks, resuming after an interrupted sweep, a worker killed mid-task retried by Ray,
a failed run failing only its variant, the recipe-sensitivity grid and its heat-map."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tms import executors
from tms.cli import main
from tms.config import Overrides
from tms.errors import ConfigError, TrainingError
from tms.executors import LocalExecutor, RunTask, make_executor, run_task
from tms.registry import get_experiments
from tms.plotting.robustness import heatmaps, pass_shares
from tms.reproduce import reproduce, run_tasks
from tms.robustness import axes_of, parse_grid, parse_variant, run_robustness
from tms.folders import train_folder
from tms.runs import load_run
from tms.train import resolve_device

SWEEP = ["seed=0", "seed=1"]


def numbers(folder: Path) -> dict[str, object]:
    """What a run folder holds that the executor must not change: the tensors, bit for bit, the per-instance
    table, the training log and the config (not the wall-clock fields)."""
    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.suffix == ".safetensors":
            out[rel] = {k: v.numpy().tobytes() for k, v in load_file(path).items()}
        elif path.name in ("instances.csv", "train_log.csv"):
            out[rel] = path.read_text()
        elif path.name == "config.json":
            out[rel] = json.loads(path.read_text())["config"]
    return out


def test_tasks_are_every_run_folder_and_idempotent(tmp_path):
    tasks = run_tasks(["intro", "section2"], tmp_path, quick=True)
    assert [t.label for t in tasks] == ["intro", "section2/linear", "section2/relu"]
    assert all(Path(t.path).is_absolute() for t in tasks)
    first = run_task(tasks[0])
    assert first["status"] == "trained" and first["seconds"] > 0
    again = run_task(tasks[0])
    assert again["status"] == "skipped"  # complete for this config: not trained twice
    # a bad override fails before any task exists
    with pytest.raises(ConfigError, match="grid"):
        run_tasks(["intro"], tmp_path, quick=True, overrides=Overrides(params=(("grid", 3),)))


def test_local_executor_writes_what_reproduce_writes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    claims_a = reproduce(["intro"], a, quick=True, report=False)
    claims_b = reproduce(["intro"], b, quick=True, report=False, executor=LocalExecutor())
    assert numbers(a / "intro") == numbers(b / "intro") and numbers(a / "intro")
    assert [c.measured for c in claims_a] == [c.measured for c in claims_b]


def test_a_rerun_after_an_interrupted_sweep_trains_only_what_is_missing(tmp_path, monkeypatch):
    run_robustness(["intro"], tmp_path, SWEEP, quick=True, executor=LocalExecutor())
    before = numbers(tmp_path)
    # the driver stopped before the last variant's run was written: its folder is missing
    import shutil
    shutil.rmtree(tmp_path / "seed=1" / "intro")
    trained = []
    real = executors.run_task

    def spy(task, *how):
        res = real(task, *how)
        trained.append((task.label, res["status"]))
        return res

    monkeypatch.setattr(executors, "run_task", spy)
    run_robustness(["intro"], tmp_path, SWEEP, quick=True, executor=LocalExecutor())
    assert trained == [("intro", "skipped"), ("intro", "trained")]
    assert numbers(tmp_path) == before  # the same numbers as the uninterrupted sweep


def test_a_failed_run_fails_its_variant_and_the_sweep_goes_on(tmp_path):
    # SGD at lr 10 really diverges (AdamW's normalised steps would not)
    rows = run_robustness(["intro"], tmp_path, ["optimizer=sgd,lr=10", "seed=1"], quick=True, executor=LocalExecutor())
    failed = [r for r in rows if r["variant"] == "optimizer=sgd,lr=10"]
    assert failed and all(r["passed"] is False and "diverged" in r["note"] for r in failed)
    assert all(r["note"] == "" for r in rows if r["variant"] == "seed=1")

    # the divergence is recorded beside the missing folder, for this config, device and engine
    record = json.loads((tmp_path / "optimizer=sgd,lr=10" / "intro.diverged.json").read_text())
    assert record["format"] == "tms-diverged" and record["engine"] == "fast"
    assert record["device"] == resolve_device("auto").type  # where it ran: the CPU here, CUDA where there is one
    assert record["config"]["recipe"]["lr"] == 10 and "diverged" in record["error"]
    assert not (tmp_path / "optimizer=sgd,lr=10" / "intro").exists()


def test_a_recorded_divergence_is_not_trained_again(tmp_path, monkeypatch):
    import tms.folders

    cfg = get_experiments(["intro"])[0].run_configs(True, parse_variant("optimizer=sgd,lr=10").overrides)[""]
    path = tmp_path / "intro"
    with pytest.raises(TrainingError, match="diverged"):
        train_folder(path, cfg, device="cpu")
    calls = []
    real = tms.folders.train
    monkeypatch.setattr(tms.folders, "train", lambda c, **kw: calls.append(c) or real(c, **kw))
    # the same run again: refused at once with the recorded reason, not trained
    with pytest.raises(TrainingError, match=r"diverged.*intro\.diverged\.json; delete it to train again"):
        train_folder(path, cfg, device="cpu")
    assert calls == []
    # another engine, or another config, is not this run: trained (and the lower lr converges; record removed)
    with pytest.raises(TrainingError):
        train_folder(path, cfg, device="cpu", engine="eager")
    assert len(calls) == 1
    ok = dataclasses.replace(cfg, recipe=dataclasses.replace(cfg.recipe, lr=0.001, optimizer="adamw"))
    assert train_folder(path, ok, device="cpu")[0] == "trained"
    assert not (tmp_path / "intro.diverged.json").exists() and load_run(path).config == ok
    # a record that does not parse is no record
    (tmp_path / "intro.diverged.json").write_text("{not json")
    with pytest.raises(TrainingError):
        train_folder(path, cfg, device="cpu")
    assert len(calls) == 3 and json.loads((tmp_path / "intro.diverged.json").read_text())["engine"] == "fast"


def test_the_runtime_is_how_a_sweep_runs():
    from tms.runtime import Runtime, as_runtime

    rt = Runtime()
    assert (rt.device, rt.engine, rt.threads, rt.progress) == ("auto", "auto", None, False)
    assert isinstance(rt.executor, LocalExecutor)
    assert as_runtime(None, device="cpu", executor=None).device == "cpu" and as_runtime(rt) is rt
    for bad, match in [({"engine": "turbo"}, "engine must be one of auto, fast, eager"),
                       ({"threads": 0}, "threads must be an integer >= 1"),
                       ({"executor": "ray"}, "executor must be a tms.executors.Executor")]:
        with pytest.raises(ConfigError, match=match):
            Runtime(**bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rt.device = "cpu"  # type: ignore[misc]


def test_grid_and_heatmap(tmp_path):
    grid = parse_grid(["lr=1e-3,3e-3", "optimizer=adamw,sgd", "seed=0,1"])
    assert len(grid) == 8 and grid[0] == "lr=0.001,optimizer=adamw,seed=0"
    assert grid[-1] == "lr=0.003,optimizer=sgd,seed=1"
    assert axes_of(grid[1]) == {"lr": "0.001", "optimizer": "adamw", "seed": "1"} and axes_of("paper") == {}
    for bad, match in [(["lr"], "key=value"), (["foo=1"], "key among"), (["lr=1,2", "lr=3"], "twice"),
                       (["lr=1e-3,0.001"], "repeats"), (["lr=x"], "lr must be a number")]:
        with pytest.raises(ConfigError, match=match):
            parse_grid(bad)
    # passing shares over two axes, the third (seed) pooled
    rows = [{"variant": v, "experiment": "intro", "claim": "INTRO-1", "passed": ("sgd" not in v or "seed=0" in v)}
            for v in grid] + [{"variant": "paper", "experiment": "intro", "claim": "INTRO-1", "passed": True}]
    xs, ys, claims, cells = pass_shares(rows, "lr", "optimizer")
    assert xs == ["0.001", "0.003"] and ys == ["adamw", "sgd"] and claims == [("intro", "INTRO-1")]
    assert cells[("intro", "INTRO-1", "0.001", "adamw")] == (2, 2)
    assert cells[("intro", "INTRO-1", "0.003", "sgd")] == (1, 2)
    assert heatmaps(rows, "lr", "optimizer") is not None and heatmaps(rows, "lr", "batch") is None


def test_executor_flags_and_ray_missing(tmp_path, capsys, monkeypatch):
    with pytest.raises(ConfigError, match="executor must be one of local, ray"):
        make_executor("dask")
    assert main(["reproduce", "intro", "--quick", "--ray-address", "auto", "--out", str(tmp_path / "r")]) == 2
    assert "ray-address: only with --executor ray" in capsys.readouterr().err
    import builtins
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    assert main(["robustness", "intro", "--quick", "--executor", "ray", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith('pip install "tms-superposition[ray]"') and len(err.splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_cli_grid_writes_the_heatmap_and_the_report_shows_it(tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["reproduce", "intro", "--quick", "--out", str(results), "--no-progress"]) == 0
    out = results / "robustness"
    assert main(["robustness", "intro", "--quick", "--grid", "lr=1e-3,3e-3", "wd=0.01,0", "seed=0", "--out",
                 str(out), "--no-progress"]) == 0
    text = (out / "ROBUSTNESS.md").read_text()
    assert "lr=0.001,wd=0.01,seed=0" in text and "lr=0.003,wd=0,seed=0" in text and "| paper |" not in text
    assert (out / "robustness_heatmap.png").is_file()  # the first two axes that are not seed
    md = (results / "REPORT.md").read_text()
    assert "## How robust are the claims to the recipe" in md and "robustness/robustness_heatmap.png" in md
    html = (results / "report.html").read_text()
    assert 'alt="robustness_heatmap"' in html and 'src="data:image/' in html
    capsys.readouterr()


try:  # the Ray tests need the ray extra (CI installs it); without it they skip, and the rest of the module runs
    import ray
except ImportError:
    ray = None


@pytest.fixture(scope="module")
def ray_executor():
    if ray is None:
        pytest.skip('Ray is not installed (pip install "tms-superposition[ray]")')
    ex = executors.RayExecutor(num_cpus=2)
    yield ex
    ex.close()


@pytest.fixture
def two_node_ray(request):
    """A Ray cluster of two nodes on this machine, one CPU each, and a RayExecutor joined to it by address: the head
    is what ``ray start --head`` starts on a real cluster, the second node what ``ray start --address=HEAD:6379``
    starts on another machine (docs/RAY.md). The nodes take this machine's own address (Ray's default), not
    127.0.0.1: given 127.0.0.1:PORT, ``ray.init`` (Ray 2.60) connects at the machine's address, where a head started
    on 127.0.0.1 does not listen, and it keeps retrying."""
    if ray is None:
        pytest.skip('Ray is not installed (pip install "tms-superposition[ray]")')
    from ray.cluster_utils import Cluster

    if ray.is_initialized():  # the module's one-node Ray, if the tests ran in another order: a driver joins one Ray
        ray.shutdown()
    node = {"num_cpus": 1}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    request.addfinalizer(cluster.shutdown)  # registered first, so it runs last: after the driver has left
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    ex = executors.RayExecutor(address=cluster.address)
    request.addfinalizer(ex.close)
    return ex


def test_ray_on_two_nodes_writes_the_same_folders_as_the_local_executor(tmp_path, two_node_ray, caplog):
    caplog.set_level(logging.INFO, logger="tms.executors")
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    # 6 quick run folders, each task taking the only CPU of a node: the head holds one at a time, so the others
    # are spilled to the second node (Ray's default scheduling; no strategy asked for)
    def sweep(out: Path) -> list[RunTask]:
        return [t for seed in (0, 1) for t in run_tasks(["intro", "section2"], out / f"seed={seed}", quick=True,
                                                        overrides=Overrides(seed=seed))]

    local, remote = tmp_path / "local", tmp_path / "ray"
    assert {r["node"] for r in LocalExecutor().map(sweep(local))} == {None}
    results = two_node_ray.map(sweep(remote))
    assert [r["status"] for r in results] == ["trained"] * 6
    assert {r["node"] for r in results} == nodes  # each node trained at least one folder
    # the driver logged where each task ran
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "tms.executors")
    assert all(f"{r['label']}: trained on node {r['node']}" in logged for r in results)

    def files(folder: Path) -> list[str]:
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    assert files(local) == files(remote) and len(files(local)) == 6 * 4
    assert numbers(local) == numbers(remote)


def test_ray_executor_writes_the_same_folders_as_the_local_one(tmp_path, ray_executor):
    local, remote = tmp_path / "local", tmp_path / "ray"
    rows_local = run_robustness(["intro", "section2"], local, SWEEP, quick=True, executor=LocalExecutor())
    rows_ray = run_robustness(["intro", "section2"], remote, SWEEP, quick=True, executor=ray_executor)
    assert numbers(local) == numbers(remote) and len(numbers(local)) >= 6 * 4
    assert [(r["variant"], r["claim"], r["measured"]) for r in rows_local] == \
           [(r["variant"], r["claim"], r["measured"]) for r in rows_ray]


def test_ray_retries_a_task_whose_worker_died(tmp_path, ray_executor, monkeypatch):
    marker = str(tmp_path / "marker")

    def dies_once(task: RunTask, threads=None):
        """A worker that dies (the whole process, as a killed worker would) on its first attempt at a task."""
        from pathlib import Path

        from tms.executors import run_task

        if not os.path.exists(marker):
            Path(marker).write_text("died once")
            os._exit(1)
        return run_task(task, threads)

    tasks = run_tasks(["intro"], tmp_path / "out", quick=True)
    # the executor's own task options (retries), around a task that kills its worker on the first attempt
    monkeypatch.setattr(ray_executor, "remote", ray.remote(**ray_executor.remote_options)(dies_once))
    (res,) = ray_executor.map(tasks)
    assert Path(marker).read_text() == "died once" and res["status"] == "trained"
    reference = tmp_path / "ref"
    run_task(run_tasks(["intro"], reference, quick=True)[0])
    assert numbers(tmp_path / "out" / "intro") == numbers(reference / "intro")


def test_cli_reproduce_with_the_ray_executor(tmp_path, ray_executor, capsys):
    # Ray is up (the fixture's): the command joins it, trains the run folders as tasks, then analyses as always
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["reproduce", "intro", "--quick", "--out", str(local), "--no-report", "--no-progress"]) == 0
    assert main(["reproduce", "intro", "--quick", "--out", str(remote), "--no-report", "--no-progress",
                 "--executor", "ray"]) == 0
    assert numbers(local / "intro") == numbers(remote / "intro")
    assert (remote / "intro" / "figures" / "intro_vectors.png").is_file() and (remote / "claims.json").is_file()
    assert ray.is_initialized()  # the command did not stop a Ray it did not start
    capsys.readouterr()

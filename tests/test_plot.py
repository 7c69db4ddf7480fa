"""tms.plot: a figure in one call from results, a run folder or a sweep, drawn by the report's figure kinds; it
shows inline in Jupyter (a PNG repr) and one panel keeps its titles and colour-bar label inside the figure."""

import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import tms
import tms.plot
from tms.config import RunConfig
from tms.errors import ConfigError
from tms.runs import save_run
from tms.train import TrainResult


def fake(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    inst = cfg.n_instances
    return TrainResult(params={"W": torch.randn(inst, cfg.n_hidden, cfg.n_features, generator=g) * 0.7,
                               "b": torch.randn(inst, cfg.n_features, generator=g) * 0.1},
                       final_loss=torch.rand(inst, generator=g), log_steps=[1],
                       log_losses=torch.rand(1, inst, generator=g), seconds=0.0, device="cpu", engine="eager",
                       config=cfg)


@pytest.fixture(scope="module")
def grid():
    """3 densities x 2 decays x 2 restarts, as tms.sweep lays them out."""
    rows = [(p, d) for d in (0.9, 0.7) for p in (1.0, 0.3, 0.05)]
    cfg = RunConfig(n_features=5, n_hidden=2, density=[[p] * 5 for p, _ in rows],
                    importance=[[d ** i for i in range(5)] for _, d in rows], restarts=2)
    return fake(cfg)


def fits(fig: Figure) -> bool:
    """Everything drawn lies inside the figure, uncropped (nothing clipped when saved without bbox_inches)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    tight = fig.get_tightbbox(fig.canvas.get_renderer())
    w, h = fig.get_size_inches()
    return tight.x0 >= -0.01 and tight.y0 >= -0.01 and tight.x1 <= w + 0.01 and tight.y1 <= h + 0.01


def test_vectors(grid):
    fig = tms.plot.vectors(grid)  # the lowest-loss restart of each of the 6 settings, and the colour bar
    assert isinstance(fig, Figure) and len(fig.axes) == 6 + 1
    assert len(tms.plot.vectors(grid, best=False).axes) == 12 + 1
    one = tms.plot.vectors(grid.sel(density=0.05, importance_decay=0.9))
    assert len(one.axes) == 2 and fits(one)
    assert one.axes[-1].get_ylabel() == "importance I_i"
    titles = [ax.get_title() for ax in tms.plot.vectors(grid.sel(importance_decay=0.9)).axes[:3]]
    assert [t.splitlines()[0] for t in titles] == ["density 1", "density 0.3", "density 0.05"]  # dense to sparse
    with pytest.raises(ConfigError, match="needs m = 2 hidden dimensions, got m = 3"):
        tms.plot.vectors(fake(RunConfig.uniform(5, 3, [0.1])))


def test_gram(grid):
    assert len(tms.plot.gram(grid).axes) == 3 * 6 + 2  # bars, WᵀW and b per model; two colour bars
    one = tms.plot.gram(grid.sel(density=0.3, importance_decay=0.7))
    assert len(one.axes) == 5 and fits(one)


def test_dimensionality(grid):
    fig = tms.plot.dimensionality(grid)
    assert len(fig.axes) == 1 and fits(fig)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) >= 2  # a D* line per decay (and the fractions)


def test_phase(grid):
    fig = tms.plot.phase(grid, x="density", y="importance_decay")
    assert len(fig.axes) == 2 and fits(fig)  # the map and its colour bar, whose label fits
    assert fig.axes[1].get_ylabel() == "represented features"
    cells = [t.get_text() for t in fig.axes[0].texts]
    assert len(cells) == 6
    expected = {(row["density"], row["importance_decay"]): row["n_represented"] for row in grid.best().summary()}
    assert sorted(cells) == sorted(f"{v:.3g}" for v in expected.values())
    with pytest.raises(ConfigError, match="y='decay' is not a name of these models"):
        tms.plot.phase(grid, y="decay")
    with pytest.raises(ConfigError, match="value='colour' is not a measure"):
        tms.plot.phase(grid, value="colour")


def test_neurons():
    res = fake(RunConfig.uniform(6, 3, [1.0, 0.1], model="hidden-relu", restarts=2))
    assert len(tms.plot.neurons(res).axes) == 2
    one = tms.plot.neurons(res.sel(density=0.1))
    assert len(one.axes) == 1 and fits(one)


def test_a_run_folder_and_a_sweep_plot_too(tmp_path, grid):
    save_run(tmp_path / "run", grid.config, grid)
    assert len(tms.plot.vectors(tmp_path / "run").axes) == 7
    assert len(tms.plot.gram(str(tmp_path / "run")).axes) == 20
    sweep = tms.sweep(n=3, m=2, density=[1.0, 0.1], importance_decay=[1.0, 0.5], restarts=2, steps=5,
                      batch_size=16, eval_batches=1, device="cpu", threads=1)
    assert len(tms.plot.phase(sweep).axes) == 2
    assert len(tms.plot.vectors(sweep).axes) == 5
    with pytest.raises(ConfigError, match="expected results"):
        tms.plot.vectors(42)


def test_figures_show_inline_as_png(grid):
    fig = tms.plot.vectors(grid.sel(density=0.05))
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_jupyter_shows_them_where_a_bare_figure_is_text():
    formatters = pytest.importorskip("IPython.core.formatters")
    display = formatters.DisplayFormatter()  # what a notebook cell's value goes through, pyplot never imported
    assert "image/png" in display.format(tms.plot.phase(fake(RunConfig.uniform(4, 2, [1.0, 0.1], 0.9))))[0]
    assert "image/png" not in display.format(Figure())[0]

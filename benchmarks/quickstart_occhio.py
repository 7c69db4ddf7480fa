"""occhio's quickstart task with occhio 0.2.3: 5 features in 2 dimensions, 10 000 steps.

Train, select, measure, plot with occhio's public API and defaults
(benchmarks/compare_occhio.py counts the lines and times it).
"""

import torch
from occhio.autoencoder import TiedLinearRelu
from occhio.distributions import SparseUniform
from occhio.model_grid import Axis, ModelGrid
from occhio.toy_model import ToyModel
from occhio.visualization import plot_embedding, plot_geometry, plot_phase_change

DENSITIES = [1.0, 0.3, 0.1, 0.05]


def create_model(params):
    generator = torch.Generator().manual_seed(7)
    return ToyModel(
        distribution=SparseUniform(5, p_active=params["Density"], generator=generator),
        ae=TiedLinearRelu(5, 2, generator=generator),
        importances=params.get("Importance", 0.9) ** torch.arange(5),
    )


# train: importance decay x density for the phase diagram, and a density line for
# plot_geometry (it takes a grid of at most one axis; indexing a grid keeps its axes)
grid = ModelGrid(
    create_model, axes=[Axis("Importance", [1.0, 0.9, 0.7]), Axis("Density", DENSITIES)]
)
grid.fit(n_epochs=10_000)
line = ModelGrid(create_model, axes=[Axis("Density", DENSITIES)])
line.fit(n_epochs=10_000)

# select: the model at density 0.05, I_i = 0.9^i (by position)
tm = grid[1, 3]

# metrics: a pentagon has every norm near 1 and every D_i near 2/5
print("norms", tm.feature_norms)
print("D_i", tm.feature_dimensionalities)

# plot: the embedding, the geometry along density, and the phase diagram
plot_embedding(tm).write_html("occhio_embedding.html")
plot_geometry(line).write_html("occhio_geometry.html")
plot_phase_change(grid).write_html("occhio_phase.html")

"""occhio's quickstart task with tms: 5 features in 2 dimensions, 10 000 steps.

Train, select, measure, plot (benchmarks/compare_occhio.py counts the lines and times it).
"""

import tms

# train: density x importance decay (I_i = decay^i), 4 restarts per setting, as one run
grid = tms.sweep(
    n=5,
    m=2,
    density=[1.0, 0.3, 0.1, 0.05],
    importance_decay=[1.0, 0.9, 0.7],
    restarts=4,
    steps=10_000,
)

# select: the lowest-loss restart at density 0.05, I_i = 0.9^i
sparse = grid.sel(density=0.05, importance_decay=0.9).best()

# metrics: a pentagon has every norm near 1 and every D_i near 2/5
print("norms", sparse.norms())
print("D_i", sparse.dimensionality())

# plot: the embedding, D_i against density, and the phase diagram
tms.plot.vectors(sparse).savefig("tms_embedding.png")
tms.plot.dimensionality(grid.sel(importance_decay=0.9)).savefig("tms_geometry.png")
tms.plot.phase(grid).savefig("tms_phase.png")

"""§6 adversarial vulnerability figures: vulnerability against sparsity beside features per dimension 1/D*, and
vulnerability against 1/D* (adversarial_models.csv / adversarial_points.csv, :mod:`tms.sections.adversarial.analysis`)."""

from __future__ import annotations

from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .analysis import MODELS, POINTS
from tms.analysis.folder import ExperimentFolder
from tms.plotting.common import mappable


def vulnerability(exp: ExperimentFolder) -> Figure | None:
    if not exp.has(POINTS):
        return None
    pts = sorted(exp.read(POINTS), key=lambda p: p["inverse_density"])
    models = exp.read(MODELS)
    fig = Figure(figsize=(11.5, 4.4))
    ax = fig.add_subplot(1, 2, 1)
    x = [p["inverse_density"] for p in pts]
    ax.plot(x, [p["vulnerability"] for p in pts], "o-", color="#d62728", label="vulnerability (mean of the models)")
    ax.scatter([m["inverse_density"] for m in models], [m["vulnerability"] for m in models], s=8, color="#d62728",
               alpha=0.35)
    ax.plot(x, [p["features_per_dim"] for p in pts], "s--", color="#1f77b4", ms=4, label="features per dimension 1/D*")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("1 / (1 − S)")
    ax.set_ylabel("relative to a model without superposition")
    ax.legend(fontsize=8)
    ax.set_title("vulnerability and 1/D* across sparsity", fontsize=9)
    ax2 = fig.add_subplot(1, 2, 2)
    norm = LogNorm(min(x), max(x))
    cmap = colormaps["viridis"]
    ax2.scatter([m["features_per_dim"] for m in models], [m["vulnerability"] for m in models],
                c=[cmap(norm(m["inverse_density"])) for m in models], s=18, edgecolors="black", linewidths=0.2)
    lo = min(min(m["features_per_dim"] for m in models), min(m["vulnerability"] for m in models))
    hi = max(max(m["features_per_dim"] for m in models), max(m["vulnerability"] for m in models))
    ax2.plot([lo, hi], [lo, hi], color="0.6", ls=":", lw=0.8, label="vulnerability = 1/D*")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("features per dimension 1/D* = ‖W‖_F² / m")
    ax2.set_ylabel("vulnerability")
    ax2.legend(fontsize=8)
    fig.colorbar(mappable(cmap, norm), ax=ax2).set_label("1 / (1 − S)")
    ax2.set_title("every model", fontsize=9)
    fig.suptitle("Superposition and adversarial vulnerability: the worst analytic per-feature attack on the §4 models "
                 "(n = 400, m = 30)", fontsize=10)
    return fig

"""SAE-3 figures: the L1 penalty sweep against the families at the true L0, and shrinkage (sae_l1.csv)."""

from __future__ import annotations

from matplotlib.figure import Figure

from .analysis import SAES
from tms.analysis.folder import ExperimentFolder
from tms.kinds import SAE_FAMILIES

COLORS = {"topk": "#1f77b4", "batchtopk": "#2ca02c", "jumprelu": "#9467bd", "relu": "#d62728", "matryoshka": "#8c564b"}


def penalty_sweep(exp: ExperimentFolder) -> Figure | None:
    """MMCS and L0 against λ for ReLU + L1 (and JumpReLU), TopK and BatchTopK as lines at their k."""
    if not exp.has(SAES):
        return None
    rows = [r for r in exp.read(SAES) if r["init"] == "random"]
    fig = Figure(figsize=(11.0, 4.0))
    ax, ax2 = fig.subplots(1, 2)
    for family in ("relu", "jumprelu"):
        mine = sorted((r for r in rows if r["family"] == family), key=lambda r: r["penalty"])
        lam = [r["penalty"] for r in mine]
        ax.plot(lam, [r["mmcs"] for r in mine], "o-", color=COLORS[family], label=SAE_FAMILIES.label(family))
        ax2.plot(lam, [r["l0"] for r in mine], "o-", color=COLORS[family], label=SAE_FAMILIES.label(family))
    for family in ("topk", "batchtopk"):
        for r in rows:
            if r["family"] == family:
                ax.axhline(r["mmcs"], color=COLORS[family], ls="--", label=f"{SAE_FAMILIES.label(family)} k = {r['k']}")
    true_l0 = rows[0]["true_l0"]
    ax2.axhline(true_l0, color="0.4", ls=":", label=f"true L0 {true_l0:.2f}")
    for a in (ax, ax2):
        a.set_xscale("log")
        a.set_xlabel("penalty λ (L1 for ReLU, L0 for JumpReLU)")
        a.legend(fontsize=8)
    ax.set_ylabel("MMCS against the represented W_i")
    ax.set_ylim(0.4, 1.02)
    ax2.set_yscale("log")
    ax2.set_ylabel("L0 (active latents per sample)")
    fig.suptitle("SAE-3: ReLU + L1 over its penalty sweep vs the families at the true L0, 400 → 30 at p = 0.01",
                 fontsize=10)
    return fig


def shrinkage(exp: ExperimentFolder) -> Figure | None:
    """Σ‖ĥ‖ / Σ‖h‖ and MMCS per SAE, those started at the true dictionary marked."""
    if not exp.has(SAES):
        return None
    rows = exp.read(SAES)
    fig = Figure(figsize=(11.0, 4.2))
    ax = fig.add_subplot(1, 1, 1)
    labels, x = [], range(len(rows))
    for i, r in enumerate(rows):
        knob = f"k={r['k']}" if r["k"] is not None else f"λ={r['penalty']:g}"
        labels.append(f"{SAE_FAMILIES.label(r['family'])}\n{knob}{' truth' if r['init'] == 'truth' else ''}")
        ax.bar(i - 0.2, r["shrinkage"], 0.4, color=COLORS[r["family"]], hatch="//" if r["init"] == "truth" else None)
        ax.bar(i + 0.2, r["mmcs"], 0.4, color="0.8", edgecolor=COLORS[r["family"]])
    ax.axhline(1.0, color="0.3", lw=0.8)
    ax.set_xticks(list(x), labels, fontsize=6.5)
    ax.set_ylabel("Σ‖ĥ‖ / Σ‖h‖ (coloured) and MMCS (grey)")
    ax.set_title("SAE-3: shrinkage (ratio of sums over fresh samples) and recovery; hatched: started at the truth",
                 fontsize=10)
    return fig

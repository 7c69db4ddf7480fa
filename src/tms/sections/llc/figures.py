"""The LLC figures: every chain's running estimate per k-gon (the traces), the k-gon table as a plot (theory,
ours, devinterp) and the estimate against chain length for each localization γ."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from tms import llc
from tms.analysis.folder import ExperimentFolder
from .analysis import GAMMAS, KGON_TABLE, KGONS, LENGTHS, N, SENSITIVITY_TABLE


def traces(exp: ExperimentFolder) -> Figure | None:
    """Per k-gon, each chain's running λ̂ = nβ (mean of its draws so far − L_n(w*)); escaped chains dashed."""
    folder = exp.path / "sgld" / "main"
    if not (folder / llc.TRACES_FILE).is_file():
        return None
    tr = llc.read_traces(folder).double()
    rows = llc.ESTIMATES.read(folder)
    chains = {(c.model, c.chain): c for c in llc.CHAINS.read(folder)}
    fig = Figure(figsize=(3.0 * len(KGONS), 3.0), layout="constrained")
    axes = fig.subplots(1, len(KGONS), sharey=True)
    for i, (ax, name) in enumerate(zip(axes, KGONS)):
        steps = np.arange(1, tr.shape[2] + 1)
        running = rows[i].nbeta * (np.cumsum(tr[i].numpy(), axis=1) / steps - rows[i].init_loss)
        for c in range(tr.shape[1]):
            kept = chains[(i, c)].kept
            ax.plot(steps, running[c], lw=0.8, ls="-" if kept else "--", alpha=0.8 if kept else 0.5)
        ax.axhline(rows[i].llc, color="k", lw=1.2)
        ax.set_title(f"{name}-gon: λ̂ = {rows[i].llc:.2f}, {rows[i].escaped} escaped", fontsize=9)
        ax.set_xlabel("draw")
    axes[0].set_ylabel("running λ̂ per chain")
    fig.suptitle(f"SGLD chains at the k-gons (c = 6, n = {N}; dashed: escaped below L_n(w*), dropped)", fontsize=10)
    return fig


def kgon_table(exp: ExperimentFolder) -> Figure | None:
    """Theory, ours (long chains and devinterp's settings) and devinterp's estimate per k-gon, ± 1 standard error."""
    if not exp.has(KGON_TABLE):
        return None
    rows = exp.read(KGON_TABLE)
    x = np.arange(len(rows))
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.subplots()
    series = [("ours", "ours_stderr", "ours (long chains)", -0.2), ("matched", "matched_stderr",
              "ours (devinterp's settings)", 0.0), ("devinterp", "devinterp_stderr", "devinterp 1.3.2", 0.2)]
    for key, err, label, dx in series:
        ax.errorbar(x + dx, [r[key] for r in rows], yerr=[r[err] for r in rows], fmt="o", ms=4, capsize=2,
                    label=label)
    ax.scatter(x, [r.theory for r in rows], marker="_", s=400, color="k", label="theory (Chen et al.)", zorder=3)
    ax.set_xticks(x, [f"{r.kgon}-gon" for r in rows])
    ax.set_ylabel("LLC")
    ax.legend(fontsize=8)
    ax.set_title("Local learning coefficient of the k-gon critical points", fontsize=10)
    return fig


def sensitivity(exp: ExperimentFolder) -> Figure | None:
    """λ̂ against the number of draws, one panel per γ, one line per k-gon."""
    if not exp.has(SENSITIVITY_TABLE):
        return None
    rows = exp.read(SENSITIVITY_TABLE)
    fig = Figure(figsize=(3.2 * len(GAMMAS), 3.0), layout="constrained")
    axes = fig.subplots(1, len(GAMMAS), sharey=True)
    for ax, gamma in zip(axes, GAMMAS):
        for name in KGONS:
            pts = sorted((r.draws, r.llc, r.stderr) for r in rows if r.gamma == gamma and r.kgon == name)
            if pts:
                d, v, e = map(np.array, zip(*pts))
                ax.errorbar(d, v, yerr=np.where(np.isfinite(e), e, 0.0), marker="o", ms=3, label=f"{name}-gon")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(LENGTHS, [str(L) for L in LENGTHS], fontsize=7)
        ax.set_title(f"γ = {gamma:g}", fontsize=9)
        ax.set_xlabel("draws")
    axes[0].set_ylabel("λ̂")
    axes[-1].legend(fontsize=7)
    fig.suptitle("The estimate depends on the localization and the chain length", fontsize=10)
    return fig if not all(math.isnan(r.llc) for r in rows) else None

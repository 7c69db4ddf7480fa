"""LLC-5, the Bayesian phase transition (Chen et al. 2023): which k-gon the posterior prefers at sample size n.

By Watanabe's asymptotics the local free energy of the phase around a critical point w* is
F_n ≈ n L(w*) + λ ln n (lower is preferred): with more data the loss term wins and the posterior moves to the
lower-loss, more complex k-gon. The 5-gon → 6-gon switch is where n (L₅ − L₆) = (λ₆ − λ₅) ln n. We evaluate it
with the exact losses and both the theoretical λ and our SGLD estimates (the llc experiment's table).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from scipy.optimize import brentq

from tms.analysis.folder import ExperimentFolder, Tables
from tms.claims.base import Claim, Measurement, failed_checks
from tms.tables import Column, Schema
from .analysis import KGON_TABLE

LOW, HIGH = 400, 900
"""LLC-5: the switch lies between these sample sizes (Chen et al.: 601 by theory, 600-700 by their MCMC)."""
NS = tuple(int(round(10 ** (2 + 1.5 * k / 60))) for k in range(61))
"""Sample sizes from 100 to 3 162, 40 per decade."""
PAIR = ("5", "6")

FREE_ENERGY = Schema("bayes_free_energy.csv", (
    Column("n", "int"), Column("kgon", "str"), Column("source", "str", doc="theory or estimate (the λ used)"),
    Column("loss", doc="exact L(w*)"), Column("llc"), Column("free_energy", doc="n L + λ ln n")),
    doc="The asymptotic free energy of each k-gon's phase against n.")
SWITCH = Schema("bayes_switch.csv", (
    Column("source", "str"), Column("delta_loss", doc="L₅ − L₆"), Column("delta_llc", doc="λ₆ − λ₅"),
    Column("n_switch", doc="where n ΔL = Δλ ln n"), Column("at_low", "str", doc="preferred k-gon at n = 400"),
    Column("at_high", "str", doc="preferred k-gon at n = 900")), doc="The 5-gon → 6-gon switch.")


def free_energy(n: float, loss: float, llc: float) -> float:
    return n * loss + llc * math.log(n)


def switch(delta_loss: float, delta_llc: float) -> float:
    """The n > e where n ΔL = Δλ ln n (the larger root: beyond it the lower-loss phase wins); NaN if none."""
    if delta_loss <= 0 or delta_llc <= 0:
        return math.nan
    f = lambda n: n * delta_loss - delta_llc * math.log(n)  # noqa: E731
    lo = max(math.e, delta_llc / delta_loss)  # f is increasing beyond its minimum at n = Δλ / ΔL
    return brentq(f, lo, 1e9) if f(lo) < 0 else math.nan


def _sources(rows) -> dict[str, dict[str, tuple[float, float]]]:
    by = {r.kgon: r for r in rows}
    theory = {k: (by[k].exact_loss, by[k].theory) for k in PAIR}
    estimate = {k: (by[k].exact_loss, by[k].ours) for k in PAIR}
    return {"theory": theory, "estimate": estimate}


def analyze_bayes(exp: ExperimentFolder) -> None:
    """bayes_free_energy.csv and bayes_switch.csv from the llc experiment's k-gon table (beside this folder)."""
    rows = Tables(exp.path.parent / "llc").read(KGON_TABLE)
    out, switches = [], []
    for source, values in _sources(rows).items():
        for n in NS:
            for k, (loss, lam) in values.items():
                out.append({"n": n, "kgon": k, "source": source, "loss": loss, "llc": lam,
                            "free_energy": free_energy(n, loss, lam)})
        (l5, a5), (l6, a6) = values["5"], values["6"]

        def preferred(n: int) -> str:
            return "6" if free_energy(n, l6, a6) < free_energy(n, l5, a5) else "5"

        switches.append({"source": source, "delta_loss": l5 - l6, "delta_llc": a6 - a5,
                         "n_switch": switch(l5 - l6, a6 - a5), "at_low": preferred(LOW), "at_high": preferred(HIGH)})
    exp.write(FREE_ENERGY, out)
    exp.write(SWITCH, switches)


def llc_5(tables: Tables) -> Measurement:
    rows = {r.source: r for r in tables.read(SWITCH)}
    est, th = rows["estimate"], rows["theory"]
    m = failed_checks([(f"with our λ̂ the posterior prefers the 5-gon at n = {LOW} (it prefers the {est.at_low}-gon)",
                        est.at_low == "5"),
                       (f"and the 6-gon at n = {HIGH} (the {est.at_high}-gon)", est.at_high == "6"),
                       (f"the switch n = {est.n_switch:.0f} lies in [{LOW}, {HIGH}]", LOW <= est.n_switch <= HIGH)])
    note = (m.note + f" (λ̂₆ − λ̂₅ = {est.delta_llc:.2f}, L₅ − L₆ = {est.delta_loss:.5f}; with the theoretical λ "
            f"(Δλ = {th.delta_llc:g}) the switch is at n = {th.n_switch:.0f})")
    return Measurement(m.value, note=note, detail=dict(m.detail, n_switch=est.n_switch, theory_switch=th.n_switch))


CLAIMS = (Claim("LLC-5", "Bayesian phase transition: the posterior prefers the 5-gon at small n and the 6-gon at "
                         "large n, switching between n = 400 and 900 (theory 601).",
                "failed checks of the free energy n L + λ̂ ln n (exact L, our SGLD λ̂) at n = 400 and 900 and of "
                "the switch", "<=", 0, llc_5),)


def figure(exp: ExperimentFolder) -> Figure | None:
    """F₆ − F₅ against n, with theory's λ and with our estimates; below zero the 6-gon is preferred."""
    if not exp.has(FREE_ENERGY):
        return None
    rows = exp.read(FREE_ENERGY)
    fig = Figure(figsize=(5.5, 3.5), layout="constrained")
    ax = fig.subplots()
    for source, style in (("theory", "--"), ("estimate", "-")):
        f = {(r.n, r.kgon): r.free_energy for r in rows if r.source == source}
        ns = np.array(sorted({n for n, _ in f}))
        ax.plot(ns, [f[(n, "6")] - f[(n, "5")] for n in ns], style, label=f"λ: {source}")
    for r in exp.read(SWITCH):
        if math.isfinite(r.n_switch):
            ax.axvline(r.n_switch, color="0.6", lw=0.7)
    ax.axhline(0, color="k", lw=0.8)
    ax.axvspan(LOW, HIGH, color="0.9", zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("sample size n")
    ax.set_ylabel("F(6-gon) − F(5-gon)")
    ax.legend(fontsize=8)
    ax.set_title("The posterior moves from the 5-gon to the 6-gon (F = nL + λ ln n)", fontsize=10)
    return fig

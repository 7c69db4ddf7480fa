"""LLC-6, dynamical transitions (Chen et al. 2023): SGD on a fixed training set of the c = 6, m = 2 model at their
recipe (n = 1 000 samples x = μ e_i, batch 20, lr 0.005), with snapshots; at each snapshot the training loss,
the geometry (how many columns are represented, how many dead columns have a positive bias: a k-gon's name) and
the LLC by SGLD. The loss sits on plateaus at k-gon critical losses; each jump down comes with a jump up in λ̂.

The SGD runs in :func:`tms.llc.descend` (the SGLD's own gradient code, γ = 0, no noise): the package's trainer
draws fresh data every step and has no finite-dataset recipe on this branch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from tms import exact, llc
from tms.analysis.folder import ExperimentFolder, Tables
from tms.claims.base import Claim, Measurement, failed_checks
from tms.files import atomic_folder
from tms.tables import Column, Schema
from .analysis import FEATURES, N, dataset, is_quick, stored


@dataclass(frozen=True)
class Recipe:
    """SGD at Chen et al.'s recipe, shortened (epochs) to fit the budget."""

    seeds: int = 16
    epochs: int = 3000
    batch: int = 20
    lr: float = 0.005
    init_std: float = 0.5
    snapshots: int = 36
    """Snapshots at log-spaced epochs from 5 to ``epochs`` (and at 0)."""
    seed: int = 0
    """The SGD runs' seed: their initial weights and batch order (an explicit generator, never the global RNG)."""
    sgld: llc.SGLD = llc.SGLD(step_size=1e-3, gamma=1.0, draws=300, chains=8, seed=5)

    def quick(self) -> "Recipe":
        return replace(self, seeds=2, epochs=20, snapshots=4, sgld=replace(self.sgld, draws=50, chains=2))

    def epochs_kept(self) -> list[int]:
        return sorted({0, *(int(round(e)) for e in np.geomspace(5, self.epochs, self.snapshots))})


RECIPE = Recipe()
REPRESENTED, DEAD = 0.5, 0.1
"""A column is represented when ‖W_i‖ > 0.5, dead when < 0.1; a snapshot with a column in between is no k-gon."""
ANGLE_TOL = 0.2
"""Radians a neighbour angle of a regular k-gon may miss 2π/k by."""
FLAT = 0.01
"""A plateau: the loss changes by less than 1 % from one snapshot to the next, the geometry's name unchanged."""
MIN_SPAN = 1.5
"""A plateau lasts: its last snapshot's epoch at least 1.5 times its first's (the snapshots are log-spaced, so
two neighbours one epoch apart early in training are no plateau)."""
MATCH = 0.05
"""LLC-6: a plateau's exact (population) loss within 5 % of its k-gon's critical loss."""

TRAJECTORY = Schema("llc_dynamics.csv", (
    Column("seed", "int"), Column("epoch", "int"), Column("loss", doc="training loss L_n"),
    Column("exact_loss", doc="the weights' exact expected loss"), Column("kgon", "str", doc="'' when no k-gon"),
    Column("llc"), Column("stderr"), Column("escaped", "int")), doc="Every snapshot of every SGD run.")
PLATEAUS = Schema("llc_plateaus.csv", (
    Column("seed", "int"), Column("kgon", "str"), Column("first", "int"), Column("last", "int"),
    Column("exact_loss"), Column("critical_loss", doc="the k-gon's critical loss (24's exact.kgon_critical)"),
    Column("llc", doc="mean λ̂ over the plateau's snapshots")), doc="Plateaus along each SGD run.")


def name_of(W: torch.Tensor, b: torch.Tensor) -> str:
    """The k-gon name of one model's weights (``W [2, c]``): k represented columns on a regular polygon (equal
    lengths within 10 %, neighbour angles 2π/k within :data:`ANGLE_TOL`), one '+' per dead column with a positive
    bias; '' when it is no k-gon (a column neither represented nor dead, or an irregular polygon)."""
    norms = W.norm(dim=0)
    if ((norms > DEAD) & (norms < REPRESENTED)).any():
        return ""
    live = norms >= REPRESENTED
    k = int(live.sum())
    if k >= 2:
        angles = torch.sort(torch.atan2(W[1, live], W[0, live])).values
        gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
        lengths = norms[live]
        if (gaps - 2 * math.pi / k).abs().max() > ANGLE_TOL or lengths.max() > 1.1 * lengths.min():
            return ""
    return f"{k}" + "+" * int(((norms <= DEAD) & (b > 0)).sum())


def _train(folder: Path, recipe: Recipe, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The SGD snapshots (``W [snap, seed, 2, c]``, ``b``, ``epoch [snap]``), stored in ``folder`` and reused."""
    from safetensors.torch import load_file, save_file

    meta = {"recipe": {k: v for k, v in recipe.__dict__.items() if k != "sgld"}, "n": N,
            "epochs": recipe.epochs_kept()}
    if (folder / "sgd.json").is_file() and json.loads((folder / "sgd.json").read_text()) == meta:
        return load_file(str(folder / "sgd.safetensors"))
    g = torch.Generator().manual_seed(recipe.seed)
    start = {"W": recipe.init_std * torch.randn(recipe.seeds, 2, FEATURES, generator=g),
             "b": torch.zeros(recipe.seeds, FEATURES)}
    steps_per_epoch = N // recipe.batch
    _, kept = llc.descend(llc.TiedReLU(x), start, recipe.lr, recipe.epochs * steps_per_epoch, g,
                          batch_size=recipe.batch, every=[e * steps_per_epoch for e in recipe.epochs_kept()])
    out = {"W": torch.stack([p["W"] for _, p, _ in kept]), "b": torch.stack([p["b"] for _, p, _ in kept]),
           "epoch": torch.tensor([s // steps_per_epoch for s, _, _ in kept])}
    with atomic_folder(folder) as tmp:
        save_file({k: v.contiguous() for k, v in out.items()}, str(tmp / "sgd.safetensors"))
        (tmp / "sgd.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out


def analyze_dynamics(exp: ExperimentFolder) -> None:
    """llc_dynamics.csv: SGD snapshots with loss, exact loss, k-gon name and λ̂ (SGLD at every snapshot)."""
    quick = is_quick(ExperimentFolder(exp.path.parent / "llc"))
    recipe = RECIPE.quick() if quick else RECIPE
    x = dataset()
    snaps = _train(exp.path / "sgd", recipe, x)
    pot = llc.TiedReLU(x)
    rows = []
    for s, epoch in enumerate(snaps["epoch"].tolist()):
        center = {"W": snaps["W"][s], "b": snaps["b"][s]}
        meta = llc.meta_of(recipe.sgld, n=N, epoch=epoch, sgd=str(recipe))
        est = stored(exp.path / "sgld" / f"epoch-{epoch:05d}", meta, lambda c=center: llc.sample(pot, c, recipe.sgld))
        for seed, e in enumerate(est):
            W, b = center["W"][seed].double(), center["b"][seed].double()
            rows.append({"seed": seed, "epoch": epoch, "loss": e.init_loss,
                         "exact_loss": float(exact.single_feature_loss(W, b)), "kgon": name_of(W, b),
                         "llc": e.llc, "stderr": e.stderr, "escaped": e.escaped})
    exp.write(TRAJECTORY, rows)
    exp.write(PLATEAUS, plateaus(rows))


def _critical(name: str) -> float:
    try:
        return float(exact.kgon_critical(name, c=FEATURES).loss)
    except Exception:  # a name without a k-gon critical point of that shape (e.g. k < 2)
        return math.nan


def plateaus(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Maximal runs of one seed's snapshots whose training loss changes by at most :data:`FLAT` from one snapshot
    to the next and whose geometry keeps one name, lasting :data:`MIN_SPAN`; named after it ('' when no k-gon)."""
    out, cache = [], {}
    for seed in sorted({r["seed"] for r in rows}):
        run = sorted((r for r in rows if r["seed"] == seed), key=lambda r: r["epoch"])
        start = 0
        for i in range(1, len(run) + 1):
            if (i < len(run) and run[i]["kgon"] == run[start]["kgon"]
                    and abs(run[i]["loss"] - run[i - 1]["loss"]) <= FLAT * run[i - 1]["loss"]):
                continue
            part = run[start:i]
            if len(part) >= 2 and part[-1]["epoch"] >= MIN_SPAN * max(part[0]["epoch"], 1):
                name = part[0]["kgon"]
                if name:
                    cache.setdefault(name, _critical(name))
                finite = [r["llc"] for r in part if math.isfinite(r["llc"])]
                out.append({"seed": seed, "kgon": name, "first": part[0]["epoch"], "last": part[-1]["epoch"],
                            "exact_loss": part[-1]["exact_loss"], "critical_loss": cache.get(name, math.nan),
                            "llc": float(np.mean(finite)) if finite else math.nan})
            start = i
    return out


def llc_6(tables: Tables) -> Measurement:
    rows = tables.read(PLATEAUS)
    checks = []
    for r in rows:
        if r.kgon:
            off = abs(r.exact_loss - r.critical_loss) / r.critical_loss
            checks.append((f"seed {r.seed} {r.kgon}-gon plateau (epochs {r.first}-{r.last}): loss {r.exact_loss:.5f} "
                           f"vs {r.critical_loss:.5f}", bool(off <= MATCH)))
    jumps = 0
    for seed in sorted({r.seed for r in rows}):
        mine = sorted((r for r in rows if r.seed == seed), key=lambda r: r.first)
        for a, b in zip(mine, mine[1:]):
            if b.exact_loss < a.exact_loss * (1 - FLAT):
                jumps += 1
                checks.append((f"seed {seed} {a.kgon or 'other'} → {b.kgon or 'other'} (epoch {a.last} → {b.first}): "
                               f"loss {a.exact_loss:.4f} → {b.exact_loss:.4f}, λ̂ {a.llc:.2f} → {b.llc:.2f}",
                               bool(b.llc > a.llc)))
    checks.append((f"{jumps} jumps between plateaus seen (at least 1)", jumps >= 1))
    m = failed_checks(checks)
    other = [r for r in rows if not r.kgon]
    note = m.note + (f" Plateaus that are no regular k-gon (not claimed): {len(other)} of {len(rows)}"
                     + "".join(f"; seed {r.seed} epochs {r.first}-{r.last} at loss {r.exact_loss:.4f}" for r in other)
                     + ".")
    return Measurement(m.value, note=note, detail=dict(m.detail, jumps=jumps, other_plateaus=len(other)))


CLAIMS = (Claim("LLC-6", "Along SGD training at Chen et al.'s recipe, the loss plateaus at k-gon critical losses and "
                         "each jump down in loss comes with a jump up in the LLC estimate.",
                "failed checks: each plateau's exact loss within 5 % of its k-gon's critical loss; each jump "
                "between plateaus raises λ̂; at least one jump", "<=", 0, llc_6),)


def figure(exp: ExperimentFolder) -> Figure | None:
    """Loss and λ̂ along training (log epochs), one line per seed, the k-gon critical losses as horizontal lines
    (the published ones and any other k-gon the runs plateaued at)."""
    if not exp.has(TRAJECTORY):
        return None
    rows = exp.read(TRAJECTORY)
    fig = Figure(figsize=(10.0, 3.8), layout="constrained")
    ax_loss, ax_llc = fig.subplots(1, 2, sharex=True)
    for seed in sorted({r.seed for r in rows}):
        run = sorted((r for r in rows if r.seed == seed), key=lambda r: r.epoch)
        ep = [r.epoch for r in run]
        line, = ax_loss.plot(ep, [r.exact_loss for r in run], lw=1)
        ax_llc.plot(ep, [r.llc for r in run], lw=1, color=line.get_color())
    lines = dict(exact.KGON_LOSSES)
    if exp.has(PLATEAUS):
        lines.update({p.kgon: p.critical_loss for p in exp.read(PLATEAUS) if p.kgon})
    for name, loss in lines.items():
        ax_loss.axhline(loss, color="0.5", lw=0.6, ls="--")
        ax_loss.text(1.0, loss, f" {name}", transform=ax_loss.get_yaxis_transform(), fontsize=7, va="center")
    ax_loss.set_ylim(0.04, 0.14)
    ax_loss.set_ylabel("exact loss of the SGD weights")
    ax_llc.set_ylabel("λ̂ (SGLD at the snapshot)")
    for ax in (ax_loss, ax_llc):
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, max(r.epoch for r in rows))
        ax.set_xlabel("epoch (linear to 10, then log)")
    fig.suptitle(f"SGD on {N} samples (batch {RECIPE.batch}, lr {RECIPE.lr}): plateaus at k-gon losses, λ̂ up at "
                 "each drop", fontsize=10)
    return fig

"""S5-1…S5-3 (PAPER.md §5, learning dynamics), read from dynamics_features.csv, dynamics_summary.csv and
dynamics_regimes.csv (:mod:`tms.sections.dynamics.analysis`)."""

from __future__ import annotations

from .analysis import FEATURES, LAGS, NEAR, PCA_COS, PCA_RISE, REGIMES, SUMMARY
from tms.analysis.folder import Tables
from tms.geometry import FRACTIONS
from tms.claims.base import Claim, Measurement, failed_checks

UNIFORM, SETS = "uniform", "octahedron"
"""Run folders of the experiment (the section's declaration, ``__init__.py``, declares them)."""
MIN_JUMPING = 0.9
"""S5-1: at least 90 % of the represented features make a jump."""
MAX_WIDTH = 0.5
"""S5-1: a jump is sudden when it takes at most half of the training before it: 0.3 decades of steps, where a
smooth change over the training would take its 4 decades (median jump)."""
MAX_WIDTH_P90 = 0.68
"""S5-1: and nine jumps in ten take at most half a decade (1 − 10^−0.5)."""
MIN_CORRELATION = 0.5
"""S5-2: Pearson r between the rise of Σ D_i and the fall of the loss, per snapshot interval."""
MIN_LOSS_SHARE = 0.8
"""S5-2: the share of the loss decrease that happens while features jump."""


def _best_summary(tables: Tables) -> dict:
    return next(s for s in tables.rows(SUMMARY, run=UNIFORM) if s["best"])


def s5_1(tables: Tables) -> Measurement:
    s = _best_summary(tables)
    feats = tables.rows(FEATURES, run=UNIFORM, instance=s["instance"])
    off = sorted(min(abs(f["final_dimensionality"] - float(q)) for q in FRACTIONS) for f in feats)
    median_off = off[len(off) // 2] if off else float("nan")
    width, p90 = s["median_width"], s["p90_width"]
    checks = [
        (f"{s['jumps']} of {s['represented']} represented features jump from the unlearned level to their final "
         f"value (≥ {MIN_JUMPING:.0%})", s["represented"] > 0 and s["jumps"] >= MIN_JUMPING * s["represented"]),
        (f"they end on the discrete values: median distance of the final D_i to the nearest fraction {median_off:.3f} "
         f"≤ {NEAR:g}", median_off <= NEAR),
        (f"the jumps are sudden: a jump takes {width:.2f} of the training before its end (median, ≤ {MAX_WIDTH:g}: "
         f"0.3 decades; 90th percentile {p90:.2f} ≤ {MAX_WIDTH_P90:g}: half a decade), between steps "
         f"{s['first_jump']} and {s['last_jump']}" if width is not None else "a jump to measure",
         width is not None and width <= MAX_WIDTH and p90 <= MAX_WIDTH_P90),
    ]
    return failed_checks(checks)


def s5_2(tables: Tables) -> Measurement:
    s = _best_summary(tables)
    r, share, time_share, peaked = s["correlation"], s["loss_share_in_jumps"], s["time_share_in_jumps"], \
        s["peaked_share"]
    checks = [
        (f"the loss falls when the dimensionalities rise: Pearson r {r:.2f} ≥ {MIN_CORRELATION:g} between the "
         f"rise of Σ D_i and the fall of the loss per snapshot interval (loss lagging {s['lag']} of at most "
         f"{LAGS} intervals; without a lag r {s['correlation_lag0']:.2f})", r is not None and r >= MIN_CORRELATION),
        (f"{share:.0%} of the loss decrease after the first 5 % of training happens between the first jump's start "
         f"and the last jump's end (≥ {MIN_LOSS_SHARE:.0%}), a span of {time_share:.0%} of that training"
         if share is not None else "a loss decrease during the jumps", share is not None and share >= MIN_LOSS_SHARE),
    ]
    m = failed_checks(checks)
    note = m.note + (f" Not checked: jumps overlap in time (the digons form over steps {s['first_jump']}-"
                     f"{s['last_jump']}), so the loss drop of one jump is a local peak of the loss decrease for only "
                     f"{peaked:.0%} of them: the alignment holds for the jumps together." if peaked is not None else "")
    return Measurement(m.value, note=note, detail=m.detail)


def _sequence(rows: list[dict]) -> list[str]:
    names: list[str] = []
    for r in rows:
        if not names or names[-1] != r["regime"]:
            names.append(r["regime"])
    return names


def _pca_then_octahedron(names: list[str]) -> bool:
    return "pca" in names and names[-1] == "octahedron" and names.index("pca") < names.index("octahedron")


def s5_3(tables: Tables) -> Measurement:
    everything = [r for r in tables.read(REGIMES) if r["run"] == SETS]
    models = sorted({r["instance"] for r in everything})
    same = sum(_pca_then_octahedron(_sequence(sorted((r for r in everything if r["instance"] == i),
                                                     key=lambda r: r["step"]))) for i in models)
    rows = sorted((r for r in tables.rows(REGIMES, run=SETS) if r["best"]), key=lambda r: r["step"])
    sequence = []
    for r in rows:
        if not sequence or sequence[-1][0] != r["regime"]:
            sequence.append((r["regime"], r["step"]))
    names = [name for name, _ in sequence]
    peak = max(rows, key=lambda r: r["within_cos"])
    last = rows[-1]
    pca_first = "pca" in names and "octahedron" in names and names.index("pca") < names.index("octahedron")
    text = " → ".join(f"{name} (from step {step})" for name, step in sequence)
    checks = [
        (f"first a PCA-like solution: the members of each set turn towards each other, mean cos from "
         f"{rows[0]['within_cos']:.2f} at the start up to {peak['within_cos']:.2f} at step {peak['step']} (≥ "
         f"{PCA_COS:g} and ≥ {PCA_RISE:g} above the start), before the octahedron forms ({same} of {len(models)} "
         "models pass through this regime into an octahedron)", pca_first),
        (f"it ends in an octahedron: every D_i within {last['max_dim_deviation']:.3f} of ½, "
         f"{last['cross_antipodal']} of 6 features antipodal to a feature of the other set, members of a set "
         f"orthogonal (mean cos {last['within_cos']:.3f})", last["regime"] == "octahedron"),
        (f"distinct regimes in order: {text}", names[-1] == "octahedron" and pca_first),
    ]
    return failed_checks(checks)


CLAIMS = (
    Claim("S5-1", "Feature dimensionalities move in jumps between the discrete values, not smoothly.",
          f"failed checks: ≥ {MIN_JUMPING:.0%} of the represented features jump from the unlearned level to a "
          f"fraction; they end on a fraction; a jump takes ≤ {MAX_WIDTH:g} of the training before it (median; 90th "
          f"percentile ≤ {MAX_WIDTH_P90:g})", "<=", 0, s5_1),
    Claim("S5-2", "Each jump lines up with a sudden drop of the loss.",
          f"failed checks: r ≥ {MIN_CORRELATION:g} between the rise of Σ D_i and the fall of the loss per snapshot "
          f"interval; ≥ {MIN_LOSS_SHARE:.0%} of the loss decrease while features jump", "<=", 0, s5_2),
    Claim("S5-3", "n = 6, m = 3, two sets of 3 correlated features: training passes through distinct regimes (first a "
                  "PCA-like linear solution) and ends in an octahedron whose antipodal pairs join features of "
                  "different sets.",
          "failed checks: a PCA-like regime (set members aligned) before the octahedron; an octahedron at the end with "
          "every antipodal pair across the sets; the regimes in that order", "<=", 0, s5_3),
)

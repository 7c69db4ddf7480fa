"""The results-folder layout and the thresholds every stage shares: the one place their names live.

::

    results/                          (tms reproduce --out, default "results")
      claims.json                     every claim's ClaimResult (CLAIMS_FILE)
      reproduce.json                  what ran, when, how long, on what machine (STATE_FILE)
      report.html, REPORT.md          the findings report (REPORT_HTML, REPORT_MD)
      robustness/                     tms robustness, when run into the results folder (ROBUSTNESS_DIR)
      <experiment>/
        <run>/                        one run folder per config (RUN_FILES, SNAPSHOTS_FILE)
        <run>.diverged.json           instead of <run>/ when its training diverged (DIVERGED_SUFFIX)
        tables/                       derived tables, written once by the analysis stage (TABLES_DIR)
        figures/                      PNG + SVG of every figure (FIGURES_DIR, FIGURE_FORMATS)
        steps/<K>/tables, figures/    the same at training step K, from snapshots (tms plot --step K)

Thresholds that label features (represented, in superposition) are here too, so that the analysis that
writes a label and the texts that explain it can never disagree.
"""

from __future__ import annotations

# -- a run folder -------------------------------------------------------------------------------------------
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
INSTANCES_FILE = "instances.csv"
TRAIN_LOG_FILE = "train_log.csv"
RUN_FILES = (CONFIG_FILE, MODEL_FILE, INSTANCES_FILE, TRAIN_LOG_FILE)
"""Files every complete run folder holds."""
SNAPSHOTS_FILE = "snapshots.safetensors"
"""Parameters at chosen training steps, when the run was trained with snapshots."""
DIVERGED_SUFFIX = ".diverged.json"
"""Beside a run folder that was not written because its training diverged: why, and for which config, device and
engine (so that the same run is refused at once next time instead of trained again)."""

# -- an experiment folder -----------------------------------------------------------------------------------
TABLES_DIR = "tables"
FIGURES_DIR = "figures"
STEPS_DIR = "steps"
"""``tms plot RUN --step K`` writes the tables and figures of the runs as they were at step K to
``steps/<K>/tables`` and ``steps/<K>/figures`` of the experiment (or plain run) folder."""
FIGURE_FORMATS = ("png", "svg")

# -- a results folder ---------------------------------------------------------------------------------------
CLAIMS_FILE = "claims.json"
STATE_FILE = "reproduce.json"
REPORT_HTML = "report.html"
REPORT_MD = "REPORT.md"
ROBUSTNESS_DIR = "robustness"
ROBUSTNESS_CSV = "robustness.csv"
ROBUSTNESS_MD = "ROBUSTNESS.md"
ROBUSTNESS_HEATMAP = "robustness_heatmap"
"""The recipe-sensitivity heat-map in ROBUSTNESS_DIR (PNG and SVG), when ``tms robustness`` had two axes."""
DEFAULT_RESULTS = "results"
DEFAULT_QUICK_RESULTS = "results-quick"

# -- shared thresholds (PAPER.md §0 metrics) ----------------------------------------------------------------
REPRESENTED_NORM = 0.5
"""A feature is *represented* when ‖W_i‖ exceeds half the norm (1) of a fully represented one."""
SUPERPOSED = 0.1
"""A represented feature is *in superposition* when Σ_(j≠i) (Ŵ_i·W_j)² ≥ this: the other features' summed
squared projection on its direction is at least a tenth of what an antipodal partner (1) would give."""

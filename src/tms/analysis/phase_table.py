"""The phase-diagram table, a table kind the report draws as an interactive diagram (one cell per grid point of
relative importance r and density p; PAPER.md §3). A section whose analysis writes it (``tms.sections.phase``)
gets the hoverable diagram in the report without the report importing the section."""

from __future__ import annotations

from ..tables import Column, Schema

PHASE = Schema("phase.csv", (
    Column("model", "str"), Column("relative_importance", "float"), Column("density", "float"),
    Column("label", "str", "majority label of the kept models"), Column("theory_label", "str"),
    Column("extra_norm", "float", "mean over the kept models"), Column("extra_superposition", "float"),
    Column("loss", "float", "lowest loss of the point"), Column("n_not_represented", "int"),
    Column("n_dedicated", "int"), Column("n_superposition", "int"), Column("theory_loss", "float"),
    Column("near_boundary", "bool", "within one grid step of a theoretical boundary"),
    Column("best_label", "str", "label of the lowest-loss model"),
))

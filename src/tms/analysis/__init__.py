"""The analysis stage: from stored runs to derived tables, written once and read by figures, claims and the
report (none of which computes a metric again).

- :mod:`.folder`: an experiment folder as the later stages see it (runs, tables, figures), and the read-only
  :class:`~.folder.Tables` view that claims get;
- :mod:`.models`: tables every experiment of tied models gets (per model, per feature, the WᵀW explorer);
- :mod:`.intro`, :mod:`.section2`, :mod:`.phase`: the measures of one part of the paper.
"""

from .folder import ExperimentFolder, Tables

__all__ = ["ExperimentFolder", "Tables"]

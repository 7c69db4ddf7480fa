"""Figures: the report's, drawn only from stored runs and the tables the analysis wrote (never from a training
session), and a notebook's (:mod:`tms.plot`, from results in memory), with the same drawing functions.

Organised by figure kind, each reusable by any experiment:

- :mod:`.vectors`: for m = 2, every W_i as a vector from the origin (the introduction figure);
- :mod:`.gram`: WᵀW heat-maps with b and ‖W_i‖ bars coloured by superposition (the §2 figure);
- :mod:`.counts`: stacked counts of which configuration each restart reached;
- :mod:`.neurons`: one stacked bar of weights per neuron (§7, §8);
- :mod:`.dimensionality`: every feature's D_i and the models' D* against 1/(1 − S) (§4);
- :mod:`.maps`: a value over two named axes, as coloured cells (a sweep's phase map);
- :mod:`.robustness`: heat-maps of the share of recipe variants under which each claim passes.

A figure that only one section draws lives in that section's ``figures`` module (``tms.sections.<name>``).

Each kind has plain drawing functions (arrays in, a ``matplotlib.figure.Figure`` out) and, where a section draws
it, a function of an :class:`~tms.analysis.folder.ExperimentFolder` that picks the data from its runs and tables,
which experiments name in their declarations (:class:`tms.experiment.FigureSpec`). :func:`save_figure` writes PNG and SVG
atomically. Matplotlib is used through ``Figure`` and the Agg canvas directly (no pyplot), so drawing needs no
display and changes no global state.
"""

from . import counts, dimensionality, gram, maps, neurons, vectors
from .save import save_figure

__all__ = ["counts", "dimensionality", "gram", "maps", "neurons", "save_figure", "vectors"]

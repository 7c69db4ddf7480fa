"""The findings report: ``DIR/report.html`` and ``DIR/REPORT.md``, generated from stored results only.

``write_report(DIR)`` reads the run folders' configs, ``claims.json``, ``reproduce.json`` and the tables and
figures the pipeline wrote under ``DIR``, and writes
- ``report.html``: one self-contained page organised like the paper (Introduction, §2, §3, …), with a summary
  at the top, each experiment's setup, notes, figures and claims, and interactive views: a WᵀW heat-map
  explorer with a selector across sparsity levels, and phase diagrams to hover;
- ``REPORT.md``: the same content as Markdown, figures linked as PNGs, for GitHub.
Nothing is retrained or recomputed; an experiment without a folder is listed as not run.

- :mod:`tms.report.collect`: what the report shows, as plain data;
- :mod:`tms.report.render`: the two documents, from Jinja2 templates (``templates/``) and the page's
  stylesheet and script (``static/``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from ..files import atomic_write_text
from ..layout import REPORT_HTML, REPORT_MD
from .collect import ReportData, collect
from .render import render_html, render_md

log = logging.getLogger(__name__)

HTML_FILE, MD_FILE = REPORT_HTML, REPORT_MD


def write_report(out: Path | str, experiments: Sequence[Any] | None = None) -> list[Path]:
    """Write ``out/report.html`` and ``out/REPORT.md`` atomically; returns their paths.

    ``experiments`` defaults to the experiments that the folder's ``reproduce.json`` declares (never importing a
    section's code: a results folder stays data); tests may pass :class:`~tms.experiment.Experiment` objects.
    """
    out = Path(out)
    data = collect(out, experiments)
    html_path, md_path = out / HTML_FILE, out / MD_FILE
    atomic_write_text(html_path, render_html(data))
    atomic_write_text(md_path, render_md(data))
    log.info("wrote %s and %s (%d claims, %d failed)", html_path, md_path, len(data.claims), len(data.failed))
    return [html_path, md_path]


__all__ = ["HTML_FILE", "MD_FILE", "ReportData", "collect", "render_html", "render_md", "write_report"]

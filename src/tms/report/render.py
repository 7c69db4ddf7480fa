"""The report's two documents from :class:`~.collect.ReportData`, through Jinja2 templates
(``templates/report.html.j2`` with autoescape, ``templates/report.md.j2``) and the page's stylesheet and script
(``static/report.css``, ``static/report.js``), all read as package data (a wheel carries them).

``report.html`` is one self-contained page (figures as data URIs, stylesheet and script inline, no network); its
Content-Security-Policy forbids every fetch but ``data:`` images, so a reference to anything outside the file
would fail loudly in the browser instead of leaking a request.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..claims.matrix import Matrix, markdown_table
from ..kinds import MODELS
from .collect import (
    SVG_INLINE_MAX_BYTES,
    ExperimentData,
    FigureRef,
    ReportData,
    claim_anchor,
    claim_labels,
    fmt_num,
    fmt_seconds,
    recipe_text,
    section_anchor,
    section_title,
    short_text,
    timing_text,
)

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")
ROBUSTNESS_INTRO = (
    "From `tms robustness` (`robustness/` in this folder): the claims again with one change to every run's "
    "recipe or seed per variant, on top of each experiment's own recipe; each cell is the measured value and verdict. "
    "Where the variants form a grid, the heat-map gives per claim the share of variants that pass at each pair of "
    "values of two recipe axes (pooled over the other axes, such as seeds)."
)
DETAIL_MAX_CHARS = 6000


def md_text(v: Any) -> str:
    """Text from the runs or the experiments, on one line, that Markdown shows as written: no accidental
    HTML tag (``<of pairs>``), emphasis (``D*``) or escape."""
    text = " ".join(str(v).split()).replace("\\", "\\\\").replace("*", "\\*")
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text)  # only where it would read as an entity
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)  # only where it would open a tag or comment


def table_cell(v: Any) -> str:
    """Text safe inside a Markdown table cell (already escaped with :func:`md_text` where it is data)."""
    return " ".join(str(v).split()).replace("|", "\\|")


def csv_cell(v: str) -> str:
    """A CSV value as the page prints it: numbers to 4 significant digits, anything else as written."""
    try:
        float(v)
    except ValueError:
        return v
    return v if v.lstrip("-").isdigit() else fmt_num(v)


def detail_text(detail: dict[str, Any]) -> str:
    text = json.dumps(detail, indent=1, default=str)
    return text if len(text) <= DETAIL_MAX_CHARS else text[:DETAIL_MAX_CHARS] + "\n…"


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def figure_src(out: Path, fig: FigureRef) -> str | None:
    """The figure as a data URI: the SVG when it is small enough, else the PNG (None when neither exists)."""
    png = out / fig.png if fig.png else None
    svg = out / fig.svg if fig.svg else None
    if svg is not None and svg.is_file() and (png is None or svg.stat().st_size <= SVG_INLINE_MAX_BYTES):
        return _data_uri(svg, "image/svg+xml")
    if png is not None and png.is_file():
        return _data_uri(png, "image/png")
    return None


def json_for_script(obj: Any) -> str:
    # "</" would end the <script> element early; "<!--" could open a comment state.
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=lambda o: dict(o)).replace("</", "<\\/").replace("<!--", "<\\!--")


@lru_cache(maxsize=None)
def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _environment(markdown: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"), autoescape=not markdown, trim_blocks=markdown,
        lstrip_blocks=markdown, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    env.globals.update(
        fmt_num=fmt_num, fmt_seconds=fmt_seconds, recipe_text=recipe_text, model_label=MODELS.label,
        claim_anchor=claim_anchor, section_anchor=section_anchor, section_title=section_title,
        short_text=short_text, timing_text=timing_text, claim_labels=claim_labels, zip=zip, cell=csv_cell,
        detail_text=detail_text,
    )
    env.filters.update(md=md_text, table=table_cell)
    return env


def _context(data: ReportData) -> dict[str, Any]:
    env = data.environment
    device = ", ".join(data.devices) or "n/a"
    if env.get("cuda"):
        device += f" ({env['cuda']})"
    other = ExperimentData(name="other", title="Claims of experiments this package no longer defines",
                           section="other", summary="", notes=[], status="finished", claims=data.other_claims)
    return {"data": data, "device": device, "other": other, "robustness_intro": ROBUSTNESS_INTRO,
            "matrix": Matrix.of(data.robustness) if data.robustness else None}


def render_html(data: ReportData) -> str:
    explorers = {x["id"]: x for e in data.experiments for x in e.explorers}
    phases = {p["id"]: p for e in data.experiments for p in e.phases}
    scatters = {x["id"]: x for e in data.experiments for x in e.scatters}
    return _environment(False).get_template("report.html.j2").render(
        **_context(data), csp=Markup(CSP), css=Markup(_static("report.css")), js=Markup(_static("report.js")),
        payload=Markup(json_for_script({"explorers": explorers, "phases": phases, "scatters": scatters})),
        embedded=lambda e: [(f, src) for f in e.figures if (src := figure_src(data.out, f))],
        heatmap_src=figure_src(data.out, data.robustness_heatmap) if data.robustness_heatmap else None,
    )


def render_md(data: ReportData) -> str:
    ctx = _context(data)
    text = _environment(True).get_template("report.md.j2").render(
        **ctx, robustness_table=markdown_table(ctx["matrix"]) if ctx["matrix"] else "")
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"

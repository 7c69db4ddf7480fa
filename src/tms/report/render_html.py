"""report.html: one self-contained page (figures as data URIs, stylesheet and script inline, no network).

A Content-Security-Policy in the page forbids every fetch but ``data:`` images, so a reference to anything
outside the file would fail loudly in the browser instead of leaking a request.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any

from ..robustness import Matrix
from .assets import CSS, JS
from .collect import (
    SVG_INLINE_MAX_BYTES,
    ExperimentData,
    FigureRef,
    ReportData,
    TableRef,
    activation_label,
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
from .render_md import ROBUSTNESS_INTRO

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")


def _e(v: Any) -> str:
    return escape(str(v), quote=True)


def _badge(claim: dict[str, Any] | None) -> str:
    if claim is None:
        return '<span class="badge none">NOT CHECKED</span>'
    return '<span class="badge pass">PASS</span>' if claim.get("passed") else '<span class="badge fail">FAIL</span>'


def _status_badge(e: ExperimentData) -> str:
    cls = {"finished": "pass", "partial": "fail", "not run": "none"}[e.status]
    out = f'<span class="badge {cls}">{_e(e.status.upper())}</span>'
    if e.quick and e.status != "not run":
        out += ' <span class="badge quick">QUICK</span>'
    return out


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _figure(out: Path, fig: FigureRef) -> str:
    png = out / fig.png if fig.png else None
    svg = out / fig.svg if fig.svg else None
    if svg is not None and svg.is_file() and (png is None or svg.stat().st_size <= SVG_INLINE_MAX_BYTES):
        src = _data_uri(svg, "image/svg+xml")
    elif png is not None and png.is_file():
        src = _data_uri(png, "image/png")
    else:
        return ""
    links = " · ".join(f'<a href="{_e(p)}">{kind}</a>' for kind, p in (("PNG", fig.png), ("SVG", fig.svg)) if p)
    return (f'<figure class="fig"><img src="{src}" alt="{_e(fig.stem)}" loading="eager">'
            f'<figcaption><span>{_e(fig.stem)}</span><span>{links}</span></figcaption></figure>')


def _note_cell(c: dict[str, Any]) -> str:
    detail = c.get("detail")
    detail_html = ""
    if detail:
        text = json.dumps(detail, indent=1, default=str)
        if len(text) > 6000:
            text = text[:6000] + "\n…"
        detail_html = f"<details><summary>detail</summary><pre>{_e(text)}</pre></details>"
    return _e(c.get("note", "")) + detail_html


def _claim_rows(e: ExperimentData) -> str:
    """One row per claim, its note (often long) in a row of its own below."""
    rows = []
    for c in e.claims:
        verdict = "pass" if c.get("passed") else "fail"
        rows.append(
            f'<tr class="{verdict} main" id="{claim_anchor(c.get("experiment") or e.name, c["id"])}">'
            f'<td><b>{_e(c["id"])}</b></td>'
            f'<td>{_e(c.get("statement", ""))}</td>'
            f'<td class="num"><b>{_e(fmt_num(c.get("measured")))}</b></td>'
            f'<td class="num">{_e(c.get("threshold", ""))}</td><td>{_badge(c)}</td></tr>'
            f'<tr class="{verdict} sub"><td></td><td colspan="4"><span class="measure">Measured: '
            f'{_e(c.get("measure", ""))}</span><span class="note">{_note_cell(c)}</span></td></tr>'
        )
    why = ("the experiment has not been run" if e.status == "not run"
           else f"claims.json holds no result for it; <code>tms reproduce {_e(e.name)}</code> checks it")
    for cid, statement, threshold in e.unchecked:
        rows.append(f'<tr class="none main" id="{claim_anchor(e.name, cid)}"><td><b>{_e(cid)}</b></td>'
                    f'<td>{_e(statement)}</td>'
                    f'<td class="num">n/a</td><td class="num">{_e(threshold)}</td><td>{_badge(None)}</td></tr>'
                    f'<tr class="none sub"><td></td><td colspan="4"><span class="note">Not checked: {why}.</span>'
                    "</td></tr>")
    if not rows:
        return ""
    return ('<table class="claims"><thead><tr><th>Claim</th><th>The paper says</th><th>Measured</th>'
            '<th>Threshold</th><th>Verdict</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def _table(out: Path, t: TableRef) -> str:
    link = f'<a href="{_e(t.rel)}"><code>{_e(t.rel)}</code></a>'
    if not t.rows:
        return f"<p>Table {link}: {t.n_rows} rows (open the CSV).</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f'<td class="num">{_e(_cell(v))}</td>' for v in row) + "</tr>" for row in t.rows)
    return (f"<details class=\"csv\"><summary>Table {_e(Path(t.rel).name)} ({t.n_rows} rows)</summary>"
            f'<div class="scroll"><table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            f"</div><p>{link}</p></details>")


def _cell(v: str) -> str:
    """A CSV value as the page prints it: numbers to 4 significant digits, anything else as written."""
    try:
        float(v)
    except ValueError:
        return v
    return v if v.lstrip("-").isdigit() else fmt_num(v)


def _setup(e: ExperimentData) -> str:
    if not e.runs:
        return ""
    recipes = {tuple(sorted(r.recipe.items())) for r in e.runs}
    common = len(recipes) == 1
    head = ["Run folder", "Model", "n → m", "Importance", "Density p", "Models trained", "Seed"]
    if not common:
        head.append("Recipe")
    head.append("Training")
    rows = []
    for r in e.runs:
        cells = [
            f"<code>{_e(r.rel)}</code>", _e(activation_label(r.activation)),
            f'<span class="nowrap">{r.n_features} → {r.n_hidden}</span>',
            _e(r.importance), _e(r.density),
            f"{r.n_instances} ({r.n_settings} setting{'s' if r.n_settings != 1 else ''} × {r.restarts} restart"
            f"{'s' if r.restarts != 1 else ''})",
            str(r.seed),
        ]
        if not common:
            cells.append(_e(recipe_text(r.recipe)))
        cells.append(_e(f"{fmt_seconds(r.seconds)}, {r.engine} engine, {r.device}"
                        + (f", {r.torch_threads} threads" if r.torch_threads else "")))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    html = ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")
    if common:
        html = f"<p><b>Recipe:</b> {_e(recipe_text(e.runs[0].recipe))}.</p>" + html
    return html


def _experiment(out: Path, e: ExperimentData) -> str:
    cls = "experiment notrun" if e.status == "not run" else "experiment"
    parts = [f'<article class="{cls}" id="{e.anchor}">',
             f"<h3>{_e(e.title)} <code>{_e(e.name)}</code> {_status_badge(e)}</h3>",
             f"<p>{_e(e.summary)}</p>"]
    if e.status == "not run":
        parts.append(f'<p class="banner">Not run: <code>{_e(e.name)}/</code> holds no stored runs. '
                     f"<code>tms reproduce {_e(e.name)}</code> trains it.</p>")
    elif e.status == "partial":
        parts.append('<p class="banner bad">Runs are stored but the experiment never finished (no figures or claims '
                     'from a completed <code>tms reproduce</code>); what is shown may be incomplete.</p>')
    if e.quick and e.status != "not run":
        parts.append('<p class="banner">Quick mode: short, smaller runs. Its claims are a smoke test of the pipeline, '
                     "not a check of the paper.</p>")
    for problem in e.problems:
        parts.append(f'<p class="banner bad">{_e(problem)}</p>')
    if e.runs:
        timing = timing_text(e)
        parts.append("<h4>Setup</h4>" + (f"<p>{_e(timing)}.</p>" if timing else "") + _setup(e))
    if e.notes:
        parts.append("<h4>Notes</h4><ul class=\"notes\">" + "".join(f"<li>{_e(n)}</li>" for n in e.notes) + "</ul>")
    if e.explorers:
        parts.append("<h4>Explore W\u1D40W across sparsity</h4>")
        for x in e.explorers:
            parts.append(f'<div class="widget" data-explorer="{_e(x["id"])}"></div>')
    if e.phases:
        parts.append("<h4>Explore the phase diagrams</h4>")
        ids = " ".join(p["id"] for p in e.phases)
        parts.append(f'<div class="widget" data-phases="{_e(ids)}"></div>')
    figs = [f for f in (_figure(out, fig) for fig in e.figures) if f]
    if figs:
        parts.append('<h4>Figures</h4><div class="figs">' + "".join(figs) + "</div>")
    if e.tables:
        parts.append("<h4>Tables</h4>" + "".join(_table(out, t) for t in e.tables))
    table = _claim_rows(e)
    if table:
        parts.append("<h4>Claims</h4>" + table)
    parts.append("</article>")
    return "\n".join(parts)


def _summary(data: ReportData) -> str:
    claims = data.claims
    n_pass = sum(1 for c in claims if c.get("passed"))
    failed = data.failed
    ran = [e for e in data.experiments if e.status != "not run"]
    ok = claims and not failed
    parts = ['<section id="summary"><h2>Summary</h2>']
    if data.any_quick:
        parts.append('<p class="banner">Some experiments ran in quick mode (short, smaller runs): their claims are a '
                     'smoke test of the pipeline, not a check of the paper.</p>')
    for problem in data.problems:
        parts.append(f'<p class="banner bad">{_e(problem)}</p>')
    env = data.environment
    device = ", ".join(data.devices) or "n/a"
    if env.get("cuda"):
        device += f" ({env['cuda']})"
    parts.append('<div class="cards">')
    unchecked = f"; {data.n_unchecked} not checked" if data.n_unchecked else ""
    parts.append(f'<div class="card"><div class="big {"ok" if ok else "bad"}">{n_pass} / {len(claims)}</div>'
                 f'<div class="what">claims passed{unchecked}</div></div>')
    labels = claim_labels(failed, claims)
    fail_text = ", ".join(f'<a href="#{claim_anchor(c.get("experiment", ""), c["id"])}">{_e(label)}</a>'
                          for c, label in zip(failed, labels)) or "none"
    parts.append(f'<div class="card"><div class="big {"bad" if failed else "ok"}">{len(failed)}</div>'
                 f'<div class="what">failed: {fail_text}</div></div>')
    parts.append(f'<div class="card"><div class="big">{len(ran)} / {len(data.experiments)}</div>'
                 f'<div class="what">experiments run</div></div>')
    if data.last_wall_seconds is not None:
        wall, what = data.last_wall_seconds, "wall time of the last <code>tms reproduce</code>"
    else:
        wall, what = data.wall_seconds_sum, "wall time, summed over experiments"
    parts.append(f'<div class="card"><div class="big">{_e(fmt_seconds(wall))}</div><div class="what">{what}; '
                 f"training of all stored runs {_e(fmt_seconds(data.train_seconds_sum))}</div></div>")
    parts.append("</div>")
    if failed:
        items = "".join(f'<li><a href="#{claim_anchor(c.get("experiment", ""), c["id"])}"><b>{_e(c["id"])}</b></a> '
                        f'({_e(c.get("experiment", ""))}): '
                        f'measured {_e(fmt_num(c.get("measured")))}, needs {_e(c.get("threshold", ""))}. '
                        f'{_e(short_text(c.get("note", "")))}</li>' for c in failed)
        parts.append(f"<h4>Failed claims</h4><ul class=\"notes\">{items}</ul>")
    # experiments at a glance
    rows = []
    for e in data.experiments:
        claims_text = f"{e.n_passed} / {len(e.claims)}" if e.claims else "—"
        if e.unchecked:
            claims_text += f" ({len(e.unchecked)} not checked)"
        rows.append(f'<tr><td><a href="#{e.anchor}">{_e(e.name)}</a></td><td>{_e(section_title(e.section))}</td>'
                    f"<td>{_status_badge(e)}</td><td class=\"num\">{_e(claims_text)}</td>"
                    f'<td class="num">{_e(fmt_seconds(e.train_seconds))}</td>'
                    f'<td class="num">{_e(fmt_seconds(e.wall_seconds))}</td></tr>')
    parts.append("<h4>Experiments</h4><table><thead><tr><th>Experiment</th><th>Section</th><th>Status</th>"
                 "<th>Claims passed</th><th>Training</th><th>Wall time</th></tr></thead><tbody>"
                 + "".join(rows) + "</tbody></table>")
    env_rows = [
        ("tms version", env.get("tms_version", "n/a")),
        ("torch version", env.get("torch_version", "n/a")),
        ("Python", env.get("python_version", "n/a")),
        ("device", device),
        ("engine", ", ".join(data.engines) or "n/a"),
        ("CPU count", env.get("cpu_count", "n/a")),
        ("torch threads", env.get("torch_threads", "n/a")),
        ("platform", env.get("platform", "n/a")),
    ]
    parts.append("<h4>Environment</h4><table class=\"kv\"><tbody>"
                 + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in env_rows) + "</tbody></table>")
    parts.append("</section>")
    return "\n".join(parts)


def _robustness(rows: list[dict[str, Any]]) -> str:
    mx = Matrix.of(rows)
    head = "".join(f"<th>{_e(v)}</th>" for v in mx.variants)
    body = []
    for exp, cid, row in mx.rows():
        cells = ["<td>–</td>" if r is None else f'<td class="num">{_e(fmt_num(r["measured"]))} {_badge(r)}</td>'
                 for r in row]
        body.append(f'<tr><td><a href="#{claim_anchor(exp, cid)}"><b>{_e(cid)}</b></a> ({_e(exp)})</td>'
                    + "".join(cells) + "</tr>")
    body.append("<tr><td>passed</td>" + "".join('<td class="num">{}/{}</td>'.format(*mx.passed(v))
                                                 for v in mx.variants) + "</tr>")
    errors = "".join(f"<li>{_e(v)}: no claims measured: {_e(note)}</li>" for v, note in mx.errors.items())
    return ('<section id="sec-robustness"><h2>Robustness to the recipe</h2>'
            f"<p>{_e(ROBUSTNESS_INTRO.replace('`', ''))}</p>"
            f'<div class="scroll"><table class="data"><thead><tr><th>Claim</th>{head}</tr></thead><tbody>'
            + "".join(body) + "</tbody></table></div>"
            + (f'<ul class="notes">{errors}</ul>' if errors else "") + "</section>")


def _toc(data: ReportData) -> str:
    items = []
    for section, exps in data.sections():
        sub = "".join(f'<li><a href="#{e.anchor}">{_e(e.title)}</a> {_status_badge(e)}</li>' for e in exps)
        items.append(f'<li><a href="#{section_anchor(section)}">{_e(section_title(section))}</a><ul>{sub}</ul></li>')
    if data.other_claims:
        items.append('<li><a href="#sec-other">Other claims</a></li>')
    if data.robustness:
        items.append('<li><a href="#sec-robustness">Robustness to the recipe</a></li>')
    return '<ul class="toc">' + "".join(items) + "</ul>"


def _json_for_script(obj: Any) -> str:
    # "</" would end the <script> element early; "<!--" could open a comment state.
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def render_html(data: ReportData) -> str:
    out = data.out
    explorers = {x["id"]: x for e in data.experiments for x in e.explorers}
    phases = {p["id"]: p for e in data.experiments for p in e.phases}
    body = [
        "<header><h1>Toy Models of Superposition — findings report</h1>",
        f'<p class="sub">Generated {_e(data.generated)} by <code>tms report</code> (tms {_e(data.tms_version)}) '
        "from the "
        f"run folders and <code>claims.json</code> in <code>{_e(out.name or str(out))}/</code>. Nothing was retrained; "
        "every number is read from the stored runs. Static copies of the figures (PNG, SVG) lie beside this file; "
        "the same content as Markdown is <a href=\"REPORT.md\">REPORT.md</a>.</p></header>",
        _toc(data),
        _summary(data),
    ]
    for section, exps in data.sections():
        body.append(f'<section id="{section_anchor(section)}"><h2>{_e(section_title(section))}</h2>')
        body.extend(_experiment(out, e) for e in exps)
        body.append("</section>")
    if data.other_claims:
        other = ExperimentData(name="other", title="Claims of experiments this package no longer defines",
                               section="other", summary="", notes=[], status="finished", claims=data.other_claims)
        body.append('<section id="sec-other"><h2>Other claims</h2>' + _claim_rows(other) + "</section>")
    if data.robustness:
        body.append(_robustness(data.robustness))
    body.append("<footer>Elhage et al., <i>Toy Models of Superposition</i> (Anthropic, 2022; arXiv 2209.10652). "
                "Claim ids follow PAPER.md. Hover the interactive plots for values; click a figure to enlarge it."
                "</footer>")
    payload = _json_for_script({"explorers": explorers, "phases": phases})
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<link rel="icon" href="data:,">'
        "<title>Toy Models of Superposition — findings report</title>"
        f"<style>{CSS}</style></head><body><main>\n" + "\n".join(body) + "\n</main>"
        '<div id="tooltip" role="tooltip" hidden></div>'
        '<div id="lightbox" hidden><img alt=""></div>'
        f'<script type="application/json" id="tms-data">{payload}</script>'
        f"<script>{JS}</script></body></html>\n"
    )

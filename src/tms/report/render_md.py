"""REPORT.md: the report's content as GitHub-readable Markdown, figures linked as PNGs by relative path."""

from __future__ import annotations

import re
from typing import Any

from ..robustness import Matrix, markdown_table
from .collect import (
    ExperimentData,
    ReportData,
    activation_label,
    claim_labels,
    fmt_num,
    fmt_seconds,
    recipe_text,
    section_title,
    short_text,
    timing_text,
)


def _md(v: Any) -> str:
    """Text from the runs or the experiments, on one line, that Markdown shows as written: no accidental
    HTML tag (``<of pairs>``), emphasis (``D*``) or escape."""
    text = " ".join(str(v).split()).replace("\\", "\\\\").replace("*", "\\*")
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text)  # only where it would read as an entity
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)  # only where it would open a tag or comment


def _cell(v: Any) -> str:
    """Text safe inside a Markdown table cell (already escaped with :func:`_md` where it is data)."""
    return " ".join(str(v).split()).replace("|", "\\|")


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(claim: dict[str, Any] | None) -> str:
    if claim is None:
        return "NOT CHECKED"
    return "**PASS**" if claim.get("passed") else "**FAIL**"


def _claims(e: ExperimentData) -> str:
    rows = [[f"**{_md(c['id'])}**", _md(c.get("statement", "")),
             f"**{fmt_num(c.get('measured'))}** ({_md(c.get('measure', ''))})",
             _md(c.get("threshold", "")), _verdict(c), _md(c.get("note", ""))] for c in e.claims]
    why = ("the experiment has not been run" if e.status == "not run"
           else f"claims.json holds no result for it; `tms reproduce {e.name}` checks it")
    rows += [[f"**{_md(cid)}**", _md(st), "n/a", _md(threshold), _verdict(None), f"not checked: {why}"]
             for cid, st, threshold in e.unchecked]
    if not rows:
        return ""
    return _table(["Claim", "The paper says", "Measured", "Threshold", "Verdict", "Note"], rows)


def _experiment(e: ExperimentData) -> list[str]:
    status = e.status.upper() + (" (quick mode)" if e.quick and e.status != "not run" else "")
    out = [f"### {_md(e.title)} (`{e.name}`): {status}", "", _md(e.summary), ""]
    if e.status == "not run":
        out += [f"> **Not run**: `{e.name}/` holds no stored runs; `tms reproduce {e.name}` trains it.", ""]
    elif e.status == "partial":
        out += ["> **Incomplete**: runs are stored but the experiment never finished; what is shown may be "
                "incomplete.", ""]
    if e.quick and e.status != "not run":
        out += ["> Quick mode: short, smaller runs. Its claims are a smoke test of the pipeline, not a check of "
                "the paper.", ""]
    for problem in e.problems:  # one quote each: consecutive quote lines would merge into one paragraph
        out += [f"> **Problem:** {_md(problem)}", ""]
    if e.runs:
        out += ["#### Setup", ""]
        timing = timing_text(e)
        if timing:
            out += [timing + ".", ""]
        recipes = {tuple(sorted(r.recipe.items())) for r in e.runs}
        common = len(recipes) == 1
        if common:
            out += [f"Recipe: {recipe_text(e.runs[0].recipe)}.", ""]
        head = ["Run folder", "Model", "n → m", "Importance", "Density p", "Models trained", "Seed"]
        head += [] if common else ["Recipe"]
        head.append("Training")
        rows = []
        for r in e.runs:
            row = [f"`{r.rel}`", activation_label(r.activation), f"{r.n_features} → {r.n_hidden}", _md(r.importance),
                   _md(r.density), f"{r.n_instances} ({r.n_settings} settings × {r.restarts} restarts)", r.seed]
            if not common:
                row.append(recipe_text(r.recipe))
            row.append(f"{fmt_seconds(r.seconds)}, {r.engine} engine, {r.device}"
                       + (f", {r.torch_threads} threads" if r.torch_threads else ""))
            rows.append(row)
        out += [_table(head, rows), ""]
    if e.notes:
        out += ["#### Notes", ""] + [f"- {_md(n)}" for n in e.notes] + [""]
    figs = [f for f in e.figures if f.png or f.svg]
    if figs:
        out += ["#### Figures", ""]
        for f in figs:
            link = f.png or f.svg
            other = f" ([SVG]({f.svg}))" if f.png and f.svg else ""
            out += [f"![{f.stem}]({link})", f"*{f.stem}*{other}", ""]
    if e.tables:
        links = [f"[{t.rel.rsplit('/', 1)[-1]}]({t.rel}) ({t.n_rows} rows)" for t in e.tables]
        out += ["Tables: " + ", ".join(links), ""]
    if e.explorers or e.phases:
        out += ["*Interactive versions (hover for values, a selector across sparsity) are in "
                "[report.html](report.html).*", ""]
    table = _claims(e)
    if table:
        out += ["#### Claims", "", table, ""]
    return out


ROBUSTNESS_INTRO = (
    "From `tms robustness` (`robustness/` in this folder): the claims again with one change to every run's "
    "recipe or seed per column, on top of each experiment's own recipe; each cell is the measured value and verdict."
)


def render_md(data: ReportData) -> str:
    claims = data.claims
    n_pass = sum(1 for c in claims if c.get("passed"))
    failed = data.failed
    env = data.environment
    device = ", ".join(data.devices) or "n/a"
    if env.get("cuda"):
        device += f" ({env['cuda']})"
    ran = [e for e in data.experiments if e.status != "not run"]
    out = [
        "# Toy Models of Superposition — findings report",
        "",
        f"Generated {data.generated} by `tms report` (tms {data.tms_version}) from the run folders and "
        "`claims.json` in this folder. Nothing was retrained; every number is read from the stored runs. "
        "The interactive version is [report.html](report.html).",
        "",
        "## Summary",
        "",
    ]
    if data.any_quick:
        out += ["> Some experiments ran in quick mode (short, smaller runs): their claims are a smoke test of the "
                "pipeline, not a check of the paper.", ""]
    for problem in data.problems:
        out += [f"> **Problem:** {_md(problem)}", ""]
    unchecked = f"; {data.n_unchecked} not checked" if data.n_unchecked else ""
    if data.last_wall_seconds is not None:
        wall_line = f"- Wall time of the last `tms reproduce`: {fmt_seconds(data.last_wall_seconds)}"
    else:
        wall_line = f"- Wall time, summed over experiments: {fmt_seconds(data.wall_seconds_sum)}"
    wall_line += f"; training of all stored runs: {fmt_seconds(data.train_seconds_sum)}."
    out += [
        f"- **Claims: {n_pass} of {len(claims)} passed**{unchecked}.",
        f"- **Failed:** {', '.join(_md(x) for x in claim_labels(failed, claims)) if failed else 'none'}.",
        f"- Experiments run: {len(ran)} of {len(data.experiments)}.",
        wall_line,
        f"- Environment: tms {env.get('tms_version', 'n/a')}, torch {env.get('torch_version', 'n/a')}, "
        f"Python {env.get('python_version', 'n/a')}, device {device}, engine {', '.join(data.engines) or 'n/a'}, "
        f"{env.get('cpu_count', 'n/a')} CPUs ({env.get('torch_threads', 'n/a')} torch threads), "
        f"{env.get('platform', 'n/a')}.",
        "",
    ]
    if failed:
        out += ["### Failed claims", ""]
        out += [f"- **{_md(c['id'])}** ({_md(c.get('experiment', ''))}): measured {fmt_num(c.get('measured'))}, "
                f"needs {_md(c.get('threshold', ''))}. {_md(short_text(c.get('note', '')))}" for c in failed]
        out.append("")
    rows = []
    for e in data.experiments:
        claims_text = f"{e.n_passed} / {len(e.claims)}" if e.claims else "—"
        if e.unchecked:
            claims_text += f" ({len(e.unchecked)} not checked)"
        status = e.status + (" (quick)" if e.quick and e.status != "not run" else "")
        rows.append([f"`{e.name}`", _md(section_title(e.section)), status, claims_text, fmt_seconds(e.train_seconds),
                     fmt_seconds(e.wall_seconds)])
    out += [_table(["Experiment", "Section", "Status", "Claims passed", "Training", "Wall time"], rows), ""]
    for section, exps in data.sections():
        out += [f"## {_md(section_title(section))}", ""]
        for e in exps:
            out += _experiment(e)
    if data.other_claims:
        other = ExperimentData(name="other", title="", section="", summary="", notes=[], status="finished",
                               claims=data.other_claims)
        out += ["## Other claims", "", _claims(other), ""]
    if data.robustness:
        out += ["## Robustness to the recipe", "", ROBUSTNESS_INTRO, "", markdown_table(Matrix.of(data.robustness)),
                ""]
    return "\n".join(out).rstrip() + "\n"

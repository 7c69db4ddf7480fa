"""Sections are found one way for everyone: the paper's through the tms.sections entry points, anyone's through an
entry point or a path; tms new-section writes one that reproduces; a bad outside section is one line, exit 2, and
leaves the other sections' results as they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tms.cli import build_parser, main
from tms.registry import ENTRY_POINT_GROUP, discover, load_path
from tms.scaffold import new_section

PAPER = ["intro", "section2", "section2-large", "phase-2-1", "phase-3-2", "geometry", "nonuniform", "correlated",
         "dynamics", "adversarial", "privileged", "computation"]


def test_the_paper_sections_come_through_the_entry_points_in_paper_order():
    reg = discover()
    assert [n for n in reg.experiments if reg.experiments[n].suite == "paper"] == PAPER
    assert all(reg.origins[n].kind == "entry point" and reg.origins[n].builtin for n in PAPER)
    assert reg.origins["phase-3-2"].section == "phase"
    assert [e.name for e in reg.select(["phase"])] == ["phase-2-1", "phase-3-2"]  # a section's name selects it all
    assert [e.name for e in reg.select(["adversarial"])] == ["geometry", "adversarial"]  # what it uses comes first


def test_new_section_from_a_folder_trains_checks_and_reports(tmp_path, capsys):
    assert main(["new-section", "demo", "--dir", str(tmp_path)]) == 0
    section = tmp_path / "demo"
    assert sorted(p.name for p in section.iterdir()) == ["__init__.py", "analysis.py", "claims.py", "figures.py",
                                                          "notes.md", "test_demo.py"]
    capsys.readouterr()
    assert main(["reproduce", "--list", str(section)]) == 0
    listed = capsys.readouterr().out
    assert "demo" in listed and f"path {section.resolve()}" in listed and "mine" in listed
    out = tmp_path / "results"
    assert main(["reproduce", str(section), "--out", str(out), "--no-progress", "--restarts", "3"]) == 0
    claims = json.loads((out / "claims.json").read_text())["claims"]
    assert [(c["experiment"], c["id"], c["passed"]) for c in claims] == [("demo", "DEMO-1", True)]
    assert claims[0]["measured"] >= 1  # more features represented than the 3 dimensions at density 0.01
    assert (out / "demo" / "figures" / "demo_represented.png").is_file()
    config = json.loads((out / "demo" / "config.json").read_text())["config"]
    assert config["restarts"] == 3  # the declared parameter became a flag
    md = (out / "REPORT.md").read_text()
    assert "DEMO-1" in md and "mine" in md
    assert main(["new-section", "demo", "--dir", str(tmp_path)]) == 2  # refuses to overwrite
    assert "exists already" in capsys.readouterr().err


def test_new_section_refuses_a_name_that_is_not_a_package_name(tmp_path, capsys):
    assert main(["new-section", "My-Section", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "name:" in err and not list(tmp_path.iterdir())


def test_a_section_registered_through_an_entry_point(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    new_section("epsec", site, suite="outside")
    dist = site / "epsec-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: epsec\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nepsec = epsec\n")
    monkeypatch.syspath_prepend(str(site))
    reg = discover()
    assert reg.origins["epsec"].where == "epsec 0.1" and not reg.origins["epsec"].builtin
    assert "epsec" not in [e.name for e in reg.select(None)]  # the default suite is the paper's
    assert [e.name for e in reg.select(None, "outside")] == ["epsec"]
    assert main(["reproduce", "--list"]) == 0
    assert "from entry point epsec of epsec 0.1" in capsys.readouterr().out
    out = tmp_path / "r"
    assert main(["reproduce", "--suite", "outside", "--quick", "--out", str(out), "--no-progress"]) == 0
    assert [c["id"] for c in json.loads((out / "claims.json").read_text())["claims"]] == ["EPSEC-1"]


def _one_line_exit_2(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bad_outside_sections_are_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import a_module_that_does_not_exist\n")
    err = _one_line_exit_2(capsys, ["reproduce", str(broken), "--out", str(tmp_path / "r")])
    assert "section broken" in err and "ModuleNotFoundError" in err
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    assert "declares no EXPERIMENTS" in _one_line_exit_2(capsys, ["reproduce", str(empty)])
    lacking = tmp_path / "lacking.py"
    lacking.write_text("from tms.experiment import Experiment\n"
                       "EXPERIMENTS = [Experiment(name='lacking', title='', section='s', summary='x', "
                       "configs=lambda quick: {})]\n")
    assert "lacks title" in _one_line_exit_2(capsys, ["reproduce", str(lacking)])
    taken = tmp_path / "taken.py"
    taken.write_text("from tms.experiment import Experiment\n"
                     "EXPERIMENTS = [Experiment(name='intro', title='t', section='s', summary='x', "
                     "configs=lambda quick: {})]\n")
    assert "'intro' is taken by section intro" in _one_line_exit_2(capsys, ["reproduce", str(taken)])
    assert "does not exist" in _one_line_exit_2(capsys, ["reproduce", str(tmp_path / "nowhere.py")])
    assert not (tmp_path / "r").exists()  # nothing written before the sections load


def test_a_claim_that_raises_fails_its_section_only(tmp_path, capsys):
    good, bad = new_section("alpha", tmp_path), new_section("beta", tmp_path)
    claims_py = bad / "claims.py"
    claims_py.write_text(claims_py.read_text().replace("    rows = {r[\"density\"]", "    raise ValueError(\"no such "
                                                       "column\")\n    rows = {r[\"density\"]"))
    out = tmp_path / "r"
    err = _one_line_exit_2(capsys, ["reproduce", str(good), str(bad), "--quick", "--out", str(out), "--no-progress"])
    assert "section beta" in err and "its claim BETA-1 raised ValueError: no such column" in err
    stored = json.loads((out / "claims.json").read_text())["claims"]
    assert [c["experiment"] for c in stored] == ["alpha"]  # the good section's results were merged
    assert (out / "report.html").is_file()


def test_load_path_reads_a_single_file_section(tmp_path):
    one = tmp_path / "single.py"
    one.write_text("from tms.config import RunConfig\nfrom tms.experiment import Experiment\n"
                   "EXPERIMENTS = [Experiment(name='single', title='t', section='s', summary='x', suite='mine', "
                   "configs=lambda quick: {'': RunConfig.uniform(3, 2, [1.0], 1.0)})]\n")
    (exp,) = load_path(one)
    assert exp.name == "single" and exp.configs(True)[""].n_features == 3


@pytest.mark.parametrize("flag", ["--grid", "--models", "--fits", "--restarts"])
def test_reproduce_flags_come_from_the_declared_parameters(flag, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = capsys.readouterr().out
    assert flag in text
    assert "(default 20)" in text and "(default 32)" in text


def test_a_parameter_flag_is_dashed_and_its_own_spelling_works_too():
    parser = build_parser({"scaling_grid": "scaling: the grid"})
    for flag in ("--scaling-grid", "--scaling_grid"):
        assert parser.parse_args(["reproduce", flag, "2"]).scaling_grid == 2


def test_the_scaffold_is_package_data():
    from importlib import resources

    from tms.scaffold import FILES

    folder = resources.files("tms.scaffold").joinpath("template")
    assert all(folder.joinpath(name).is_file() for name in FILES)
    assert Path(str(folder)).is_dir()


def test_two_folders_of_the_same_name_are_two_sections_and_edits_are_seen(tmp_path):
    one, two = new_section("twin", tmp_path / "v1"), new_section("twin", tmp_path / "v2")
    claims = two / "claims.py"
    claims.write_text(claims.read_text().replace('"${upper}-1"'.replace("${upper}", "TWIN"), '"TWIN-2"'))
    assert [c.id for c in load_path(one)[0].claims] == ["TWIN-1"]
    assert [c.id for c in load_path(two)[0].claims] == ["TWIN-2"]
    import os
    import time
    claims.write_text(claims.read_text().replace('"TWIN-2"', '"TWIN-3"'))
    os.utime(claims, (time.time() + 5, time.time() + 5))  # a later edit, as a notebook user would make it
    assert [c.id for c in load_path(two)[0].claims] == ["TWIN-3"]


def test_an_installed_section_named_by_path_is_the_installed_one():
    import tms.sections.intro as intro

    reg, chosen = __import__("tms.registry").registry.choose([str(Path(intro.__file__).parent)])
    assert [e.name for e in chosen] == ["intro"] and reg.origins["intro"].kind == "entry point"


@pytest.mark.parametrize("param, why", [("Param('seed', 3)", "other than tms reproduce's own options"),
                                        ("Param('grid-size', 3)", "must be a Python identifier"),
                                        ("Param('k', 0)", "default to an integer >= 1"),
                                        ("('k', 3)", "params must be a tuple of tms.experiment.Param")])
def test_a_bad_parameter_is_one_line(tmp_path, capsys, param, why):
    bad = tmp_path / "badparam.py"
    bad.write_text("from tms.config import RunConfig\nfrom tms.experiment import Experiment, Param\n"
                   "EXPERIMENTS = [Experiment(name='badparam', title='t', section='s', summary='x', "
                   f"configs=lambda quick, **kw: {{}}, params=({param},))]\n")
    assert why in _one_line_exit_2(capsys, ["reproduce", str(bad), "--quick", "--out", str(tmp_path / "r")])


def test_new_section_refuses_module_and_section_names(tmp_path, capsys):
    assert "installed Python module" in _one_line_exit_2(capsys, ["new-section", "torch", "--dir", str(tmp_path)])
    assert "taken by an installed section" in _one_line_exit_2(capsys, ["new-section", "intro", "--dir",
                                                                        str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_rows_refuse_a_misspelt_get_and_travel_to_other_processes(tmp_path):
    import pickle

    from tms.tables import Column, Schema

    s = Schema("t.csv", (Column("a", "int"), Column("b", "float")))
    s.write(tmp_path, [{"a": 1, "b": 0.5}])
    (row,) = s.read(tmp_path)
    with pytest.raises(KeyError, match="t.csv has no column 'c'"):
        row.get("c")
    assert pickle.loads(pickle.dumps(row)) == row == {"a": 1, "b": 0.5}
    with pytest.raises(ValueError, match="column name must be a Python identifier"):
        Column("loss per feature")


RUNLESS = '''
from matplotlib.figure import Figure
from tms.experiment import Experiment, FigureSpec

def analyze(exp):
    exp.tables_dir.mkdir(parents=True, exist_ok=True)
    (exp.tables_dir / "made.csv").write_text("quick\\n%s\\n" % exp.quick)

def draw(exp):
    fig = Figure()
    fig.add_subplot(1, 1, 1).set_title((exp.tables_dir / "made.csv").read_text())
    return fig

EXPERIMENTS = [Experiment(name="runless", title="t", section="s", summary="x", suite="mine",
                          configs=lambda quick: {}, analyses=(analyze,), figures=(FigureSpec("made", draw),))]
'''


def test_an_outside_section_without_runs_is_redrawn_from_its_results(tmp_path, capsys):
    # tms plot finds an experiment that trains no run folder by its folder, also when its section was loaded by
    # path (reproduce.json records where), and analyses it as it ran (quick)
    section = tmp_path / "runless.py"
    section.write_text(RUNLESS)
    out = tmp_path / "results"
    assert main(["reproduce", str(section), "--out", str(out), "--quick", "--no-progress", "--no-report"]) == 0
    png = out / "runless" / "figures" / "made.png"
    assert png.is_file() and (out / "runless" / "tables" / "made.csv").read_text() == "quick\nTrue\n"
    for target in (out, out / "runless"):
        png.unlink()
        capsys.readouterr()
        assert main(["plot", str(target)]) == 0
        assert png.is_file() and str(png) in capsys.readouterr().out
        assert (out / "runless" / "tables" / "made.csv").read_text() == "quick\nTrue\n"

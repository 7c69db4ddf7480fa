"""tms is published as one distribution (tms._version.DISTRIBUTION; ``import tms`` and the ``tms`` command keep
their name): pyproject names it and reads its version from one place, an old install under the former name beside
it does not load the paper's sections twice, and (marker ``package``, in CI) ``python -m build`` makes a wheel and
an sdist that carry every file the package reads, and the wheel, installed in a clean virtual environment,
reproduces and scaffolds a section."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import tomllib

from tms._version import DISTRIBUTION, __version__
from tms.registry import ENTRY_POINT_GROUP, discover
from tms.scaffold import new_section

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_names_the_distribution_and_reads_the_version_from_one_place():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["name"] == DISTRIBUTION != "tms"  # `tms` on the package index is another project
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tms._version.__version__"}
    assert project["project"]["scripts"] == {"tms": "tms.cli:main"}
    assert f"## [{__version__}]" in (ROOT / "CHANGELOG.md").read_text()  # the version has its changelog entry


def _dist(site: Path, name: str, version: str, entry: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry} = {entry}\n")


@pytest.mark.parametrize("first", ["old", "new"])
def test_the_same_entry_point_from_an_old_install_under_the_former_name_loads_once(tmp_path, monkeypatch, first):
    # `pip install tms-superposition` beside an install from before the rename (distribution `tms`): both declare
    # the same entry points; each loads once, as tms's own (builtin), whichever comes first on the path.
    name = f"renamed_{first}"  # a module imported once stays imported: one name per case
    new_section(name, tmp_path / "code", suite="outside")
    _dist(tmp_path / "new", DISTRIBUTION, "9.0", name)
    _dist(tmp_path / "old", "tms", "0.2.0", name)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    for site in sorted(["old", "new"], key=lambda s: s == first):  # `first` is prepended last: first on the path
        monkeypatch.syspath_prepend(str(tmp_path / site))
    reg = discover()
    assert name not in reg.broken
    assert reg.origins[name].where == f"{DISTRIBUTION} 9.0" and reg.origins[name].builtin


# --- the wheel and the sdist, built and the wheel installed where nothing else of tms is (marker `package`) ---

#: What a build needs from a checkout: pyproject and MANIFEST.in decide what of it goes into the sdist.
BUILD_INPUTS = ["pyproject.toml", "MANIFEST.in", "README.md", "CHANGELOG.md", "mkdocs.yml", "src", "docs", "tests",
                "benchmarks", "examples"]


def _package_data() -> list[str]:
    """Every file the package reads at run time (not a module), relative to src/: tms/report/templates/..."""
    src = ROOT / "src"
    return sorted(p.relative_to(src).as_posix() for p in (src / "tms").rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts)


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _build(tmp_path: Path) -> tuple[Path, Path]:
    """``python -m build`` on a copy of the checkout (a build writes an egg-info beside the sources): the sdist,
    then the wheel built from the sdist, as the package index would get them."""
    pytest.importorskip("build", reason='python -m build is in the dev extra: pip install -e ".[dev]"')
    copy = tmp_path / "checkout"
    copy.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, copy / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, copy / name)
    dist = tmp_path / "dist"
    # --no-isolation: the build backend (setuptools, build-system.requires) is taken from this environment
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(copy)])
    (sdist,), (wheel,) = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
    return sdist, wheel


@pytest.mark.package
def test_the_wheel_installs_in_a_clean_environment_and_reproduces(tmp_path):
    started = time.perf_counter()
    sdist, wheel = _build(tmp_path)
    stem = f"{DISTRIBUTION.replace('-', '_')}-{__version__}"
    assert wheel.name == f"{stem}-py3-none-any.whl" and sdist.name == f"{stem}.tar.gz"

    # Both carry every file the package reads: the report's templates and static files, the sections' notes and
    # the scaffold's templates (named here too, so that an empty source tree cannot pass).
    data = _package_data()
    for must in ("tms/report/templates/report.html.j2", "tms/report/templates/report.md.j2",
                 "tms/report/static/report.css", "tms/report/static/report.js", "tms/sections/intro/notes.md",
                 "tms/scaffold/template/__init__.py.tmpl", "tms/scaffold/template/notes.md.tmpl"):
        assert must in data
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"{stem}.dist-info/METADATA").decode()
        entry_points = z.read(f"{stem}.dist-info/entry_points.txt").decode()
    assert not [f for f in data if f not in names], "the wheel lacks package data"
    assert f"Name: {DISTRIBUTION}\n" in meta and f"Version: {__version__}\n" in meta
    assert "[tms.sections]" in entry_points and "intro = tms.sections.intro" in entry_points
    assert "tms = tms.cli:main" in entry_points
    with tarfile.open(sdist) as t:
        members = set(t.getnames())
    assert not [f for f in data if f"{stem}/src/{f}" not in members], "the sdist lacks package data"
    assert {f"{stem}/CHANGELOG.md", f"{stem}/MANIFEST.in", f"{stem}/mkdocs.yml", f"{stem}/tests/conftest.py",
            f"{stem}/docs/ARCHITECTURE.md", f"{stem}/examples/quickstart.ipynb"} <= members
    built = time.perf_counter()

    # A virtual environment without this environment's packages, and so without tms: torch at this environment's
    # version first (the CPU build pip has on disk, README), then the wheel and its dependencies.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python, tms_cmd = venv / "bin" / "python", venv / "bin" / "tms"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    torch_pin = f"torch=={importlib.metadata.version('torch').split('+')[0]}"
    _run([str(python), "-m", "pip", "install", "-q", torch_pin, str(wheel)], env=env)
    installed = time.perf_counter()

    work = tmp_path / "work"  # no src/ here: only the installed wheel can be imported
    work.mkdir()
    where = _run([str(python), "-c", "import importlib.metadata as m, tms; "
                  f"print(tms.__file__); print(m.version({DISTRIBUTION!r}))"], cwd=work, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(venv) and where[1] == __version__
    # every builtin section imports with the declared dependencies alone (scipy was once missing from them)
    listing = _run([str(tms_cmd), "reproduce", "--list", "--suite", "all"], cwd=work, env=env).stdout
    assert "BROKEN" not in listing and "sae-recovery" in listing and "nonuniform" in listing

    _run([str(tms_cmd), "reproduce", "intro", "--quick", "--no-progress"], cwd=work, env=env)
    out = work / "results-quick"
    claims = json.loads((out / "claims.json").read_text())["claims"]
    assert [c["id"] for c in claims] == ["INTRO-1", "INTRO-2", "INTRO-3"]
    state = json.loads((out / "reproduce.json").read_text())
    assert state["experiments"]["intro"]["origin"]["builtin"]  # tms's own, by the distribution's name
    notes = state["experiments"]["intro"]["declaration"]["notes"]
    assert any("intro_configurations.csv" in n for n in notes)  # its notes.md, read from the wheel
    assert "INTRO-1" in (out / "report.html").read_text() and "INTRO-1" in (out / "REPORT.md").read_text()

    # The scaffold's templates, from the wheel: a new section, trained and checked.
    _run([str(tms_cmd), "new-section", "demo", "--dir", "D"], cwd=work, env=env)
    assert sorted(p.name for p in (work / "D" / "demo").iterdir()) == [
        "__init__.py", "analysis.py", "claims.py", "figures.py", "notes.md", "test_demo.py"]
    _run([str(tms_cmd), "reproduce", "D/demo", "--quick", "--no-progress"], cwd=work, env=env)
    claims = json.loads((out / "claims.json").read_text())["claims"]
    assert "DEMO-1" in [c["id"] for c in claims]

    # The README's quickstart (the notebook's code), from the wheel.
    from test_readme import python_api_blocks

    (work / "quickstart.py").write_text(python_api_blocks()[0] + "\nprint(sparse.dimensionality().flatten().tolist())\n")
    dims = _run([str(python), "quickstart.py"], cwd=work, env=env).stdout.strip().splitlines()[-1]
    assert all(abs(d - 0.4) < 0.05 for d in json.loads(dims))  # the pentagon: D_i = 2/5
    print(f"built {built - started:.1f} s, installed {installed - built:.1f} s, "
          f"ran {time.perf_counter() - installed:.1f} s")

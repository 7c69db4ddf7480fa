"""tms is published as one distribution (tms._version.DISTRIBUTION; ``import tms`` and the ``tms`` command keep
their name): pyproject names it and reads its version from one place, and an old install under the former name
beside it does not load the paper's sections twice."""

from __future__ import annotations

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

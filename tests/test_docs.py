"""The documentation site (mkdocs.yml: the guides in docs/ and an API reference from the docstrings) builds with
``mkdocs build --strict``: a broken link, a missing page or a docstring the API reference cannot render fails.
Needs the docs extra (pip install -e ".[docs]"; CI installs it); skipped without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The modules the API reference documents, one page each (docs/api/<name>.md).
API = ["tms", "config", "runs", "train", "metrics", "experiment", "registry", "tables", "runtime", "reproduce"]


def test_the_docs_site_builds_strictly(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason='the docs site needs the docs extra: pip install -e ".[docs]"')
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("ARCHITECTURE", "SECTIONS", "RAY", "changelog"):
        assert (site / page / "index.html").is_file()
    assert "Keep a Changelog" in (site / "changelog" / "index.html").read_text()  # the root's CHANGELOG.md
    for name in API:
        html = (site / "api" / name / "index.html").read_text()
        module = "tms" if name == "tms" else f"tms.{name}"
        assert f'id="{module}"' in html, f"the API page of {module} documents no module"
    # the docstrings' roles (:func:`discover`) became links where their target is on the site (docs/_ext)
    assert 'href="#tms.registry.discover"' in (site / "api" / "registry" / "index.html").read_text()
    assert ":func:" not in (site / "api" / "registry" / "index.html").read_text()

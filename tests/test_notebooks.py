"""The notebooks of examples/: committed without outputs, the quickstart's code the README's, and each one run top
to bottom on the CPU (nbclient, a kernel of this interpreter that imports the same tms as these tests) without an
error. Running them needs nbclient, nbformat and ipykernel (the test extra); without them those tests skip."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

import tms

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOKS = ["quickstart.ipynb", "paper_tour.ipynb", "write_your_own_section.ipynb"]
README = ROOT / "README.md"
KERNEL = "tms-notebook-test"


def _load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def _code(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_examples_are_the_three_notebooks():
    assert sorted(p.name for p in EXAMPLES.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_committed_notebook_is_stripped(name):
    """No outputs, execution counts or run metadata: what a run leaves is not committed (strip it, e.g. with
    ``jupyter nbconvert --clear-output --inplace``)."""
    nb = _load(name)
    assert nb["nbformat"] == 4
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    for k, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{name}: code cell {k} has outputs"
            assert cell["execution_count"] is None, f"{name}: code cell {k} has an execution count"
        assert "execution" not in cell.get("metadata", {}), f"{name}: cell {k} has execution metadata"


def _readme_quickstart() -> str:
    """The first Python block of the README's "Python API" section: the quickstart."""
    section = README.read_text(encoding="utf-8").split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("\n```", 1)[0]


def test_the_quickstart_is_the_readmes_code():
    """The README's block is the source: the notebook's code cells, in order, are its lines (split into cells
    anywhere; blank lines aside)."""
    def lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if line.strip()]

    readme, notebook = lines(_readme_quickstart()), lines("\n".join(_code(_load("quickstart.ipynb"))))
    assert any(line.startswith("tms.plot.vectors(sparse)") for line in readme)
    assert notebook == readme, ("examples/quickstart.ipynb's code cells differ from the README's Python API "
                                "quickstart block: copy the block's lines into the cells")


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernelspec of this interpreter (in a temporary prefix, found through JUPYTER_PATH), whose kernels import
    the tms these tests import (its folder first on PYTHONPATH) and write their temporary folders under
    ``tmp_path``; returns the kernel's name and its working directory."""
    pytest.importorskip("nbformat", reason='running the notebooks needs nbformat (pip install -e ".[test]")')
    pytest.importorskip("nbclient", reason='running the notebooks needs nbclient (pip install -e ".[test]")')
    kernelspec = pytest.importorskip("ipykernel.kernelspec",
                                     reason='running the notebooks needs ipykernel (pip install -e ".[test]")')
    prefix = tmp_path / "jupyter"
    kernelspec.install(kernel_name=KERNEL, prefix=str(prefix))
    spec = json.loads((prefix / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))  # the kernels' connection files
    package_dir = str(Path(tms.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([package_dir, *filter(None, [os.environ.get("PYTHONPATH")])]))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the notebooks' tempfile.mkdtemp()
    work = tmp_path / "work"
    work.mkdir()
    return KERNEL, work


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_runs(name, kernel):
    import nbformat
    from nbclient import NotebookClient

    kernel_name, work = kernel
    nb = nbformat.read(EXAMPLES / name, as_version=4)
    # one more cell: which tms the kernel imported
    nb.cells.append(nbformat.v4.new_code_cell("import tms as _tms\nprint(_tms.__file__)"))
    started = time.perf_counter()
    NotebookClient(nb, kernel_name=kernel_name, timeout=300, resources={"metadata": {"path": str(work)}}).execute()
    seconds = time.perf_counter() - started
    print(f"{name}: {seconds:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    imported = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert Path(imported).resolve() == Path(tms.__file__).resolve()
    # every figure a cell shows comes back as a PNG
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)

"""The README's Python API runs as written: every code block of its section, in order, in one namespace (a block
marked ``<!-- not run by the tests ... -->`` is left out)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SKIP = "<!-- not run by the tests"


def python_api_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = []
    for match in re.finditer(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", section, re.S):
        if not match.group("before").startswith(SKIP):
            blocks.append(match.group("code"))
    return blocks


def test_the_python_api_section_runs(tmp_path, monkeypatch):
    blocks = python_api_blocks()
    assert len(blocks) == 2 and "tms.plot.vectors(sparse)" in blocks[0]
    monkeypatch.chdir(tmp_path)  # the blocks write runs/ where they run
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(README), "exec"), namespace)
    sparse = namespace["sparse"]
    assert sparse.n_instances == 1 and sparse.axes["density"] == [0.03]
    # what the comments say: five features represented, on a pentagon (D_i = 2/5)
    assert bool((sparse.norms() > 0.5).all()) and float((sparse.dimensionality() - 0.4).abs().max()) < 0.1
    assert (tmp_path / "runs" / "grid" / "model.safetensors").is_file()

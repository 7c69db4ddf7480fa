"""The README's comparison with occhio counts what the scripts hold: benchmarks/compare_occhio.py's line and statement
counts of the two quickstart scripts are the README's, and each script uses only its own package. Nothing trains
here (the timings are the benchmark's, benchmarks/RESULTS.md)."""

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _compare():
    spec = importlib.util.spec_from_file_location("compare_occhio", BENCH / "compare_occhio.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_row(name: str) -> list[str]:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Compared with occhio\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith(f"| {name} |"))
    return [cell.strip() for cell in row.strip("|").split("|")[1:]]


def test_line_counts_are_the_readmes():
    compare = _compare()
    lines = [compare.code_lines(compare.SCRIPTS[side]) for side in ("tms", "occhio")]
    cells = _readme_row("lines of code (black's defaults; not blank, comment or docstring): setup + train + select + "
                        "metrics + plot")
    for counts, cell in zip(lines, cells):
        total, parts = re.fullmatch(r"\**(\d+)\**\s+\(([\d +]+)\)", cell).groups()
        assert int(total) == sum(counts.values())
        assert [int(p) for p in parts.split("+")] == [counts[k] for k in ("setup", *compare.STEPS)]
    statements = [compare.statements(compare.SCRIPTS[side]) for side in ("tms", "occhio")]
    assert [int(c.strip("*")) for c in _readme_row("statements")] == statements


def test_each_script_uses_only_its_own_package():
    compare = _compare()
    for side, other in (("tms", "occhio"), ("occhio", "tms")):
        tree = ast.parse(compare.SCRIPTS[side].read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert side in imported and other not in imported


def test_the_counter_skips_blank_lines_comments_and_the_docstring(tmp_path):
    compare = _compare()
    script = tmp_path / "s.py"
    script.write_text('"""Doc\n\nstring."""\n\nimport os  # setup\n\n# train: a step\nx = (\n    1,\n)\n'
                      '# plot: another\n\nprint(x)\n')
    assert compare.code_lines(script) == {"setup": 1, "train": 3, "select": 0, "metrics": 0, "plot": 1}
    assert compare.statements(script) == 3

"""The package keeps its shape (STYLE.md): layers import only downward, no import cycle, a section imports the library
and the sections it names in ``uses`` and nothing else, section declarations are declarations, claims and figures
read tables instead of computing metrics, reading results never imports a section, and a wheel carries every file
the package reads."""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

import tomllib

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "tms"

#: Bottom to top: a module may import from its own layer and the layers below it.
LAYERS = [
    ("_version", "errors", "layout", "files", "tables", "text", "stats", "kinds", "segments"),
    ("config",),
    ("data",),
    ("model", "metrics", "theory", "exact", "geometry", "attack", "losses", "schedule", "fits"),
    ("results",),
    ("engines",),
    ("train",),
    ("runs",),
    ("folders",),
    ("sae",),
    ("analysis", "llc"),
    ("claims", "plotting"),
    ("experiment",),
    ("sections",),
    ("registry", "scaffold"),
    ("report",),
    ("executors", "runtime"),
    ("pipeline", "reproduce", "robustness"),
    ("sweeps", "plot"),
    ("cli", "__root__"),
]
#: The library a section may import: every layer up to the declaration of an experiment.
LIBRARY_TOP = "experiment"


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(SRC).with_suffix("").parts): p for p in PKG.rglob("*.py")}


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every tms module ``name`` imports (at module level or inside functions), as module names."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                for cand in (full, f"{full}.__init__", base, f"{base}.__init__"):
                    if cand in known:
                        out.add(cand)
                        break
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
    return {m.removesuffix(".__init__") for m in out} - {name.removesuffix(".__init__")}


def graph() -> dict[str, set[str]]:
    """Every module of the package, the root ``tms`` included, with the tms modules it imports."""
    known = modules()
    return {name.removesuffix(".__init__"): imports(name, path, known) for name, path in known.items()}


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__root__"
    return next(k for k, names in enumerate(LAYERS) if top in names)


def test_every_module_has_a_layer():
    for module in graph():
        layer(module)  # StopIteration names a module that no layer holds


def test_layers_import_only_downward():
    wrong = [f"{m} ({LAYERS[layer(m)][0]}…) imports {d} ({LAYERS[layer(d)][0]}…)"
             for m, deps in graph().items() for d in deps if layer(d) > layer(m)]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def test_no_module_imports_the_package_root():
    # tms/__init__.py imports config, runs and train, so a module that takes a name from the package root (as
    # ``from . import __version__`` did) imports through it: a loop that graph() cannot show, since it drops the
    # root. Submodules imported by name (``from .. import geometry``) are not the root.
    known = modules()
    wrong = []
    for name, path in known.items():
        if name == "tms.__init__":
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                wrong += [f"{name} imports the package root" for a in node.names if a.name == "tms"]
            elif isinstance(node, ast.ImportFrom):
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                if base == "tms":
                    wrong += [f"{name} imports {a.name} from the package root" for a in node.names
                              if f"tms.{a.name}" not in known and f"tms.{a.name}.__init__" not in known]
    assert not wrong, "\n".join(wrong)


def test_claims_figures_and_the_report_read_tables_not_metrics():
    # A claim reads the tables the analysis wrote (never the weights); a figure and the report never compute
    # a metric that a table holds.
    g = graph()
    for module, deps in g.items():
        top = module.split(".")[1] if "." in module else ""
        if top in ("claims", "plotting", "report"):
            assert "tms.metrics" not in deps, f"{module} computes metrics"
        if top == "claims":
            assert not {"tms.runs", "tms.train", "tms.plotting"} & deps, f"{module} reads runs or draws"


def test_a_section_imports_the_library_and_the_sections_it_uses():
    from tms.registry import discover

    reg = discover()
    # sections by their package's name (an entry point's name may differ: sae-l1 is tms.sections.sae_l1)
    package = {name: Path(origin.module_dir).stem for name, origin in reg.origins.items()}
    uses: dict[str, set[str]] = {}
    for name, exp in reg.experiments.items():
        section = package[name]
        uses.setdefault(section, {section}).update(package[u] for u in exp.uses)
    library = layer(f"tms.{LIBRARY_TOP}")
    wrong = []
    for module, deps in graph().items():
        if not module.startswith("tms.sections."):
            continue
        section = module.split(".")[2]
        for d in deps:
            if d.startswith("tms.sections."):
                if d.split(".")[2] not in uses.get(section, {section}):
                    wrong.append(f"{module} imports {d}, a section it does not name in uses")
            elif d != "tms.sections" and layer(d) > library:
                wrong.append(f"{module} imports {d}, which is not the library")
    assert not wrong, "\n".join(wrong)


def test_reading_results_never_imports_a_section():
    # A results folder stays data: the report and the run folders' readers never import a section's code.
    g = graph()
    for module, deps in g.items():
        if module.startswith(("tms.report", "tms.runs", "tms.analysis")):
            bad = {d for d in deps if d.startswith(("tms.sections", "tms.registry", "tms.experiment"))}
            assert not bad, f"{module} imports {bad}"


def test_section_declarations_are_declarations():
    for path in (PKG / "sections").glob("*/__init__.py"):
        tree = ast.parse(path.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
        where = path.parent.name
        assert not {"matplotlib", "torch", "csv"} & names, f"{where} draws, trains or writes tables itself"
        loops = [n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While))]
        assert not loops, f"{where} holds a loop (line {loops[0].lineno}): it belongs in its analysis or figures"
        code = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert len(code) <= 150, f"{where} has {len(code)} lines: a declaration should read as a page or two"


def test_a_wheel_carries_every_file_the_package_reads():
    patterns = tomllib.loads((SRC.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in PKG.rglob("*"):
        if path.is_dir() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        package = ".".join(path.parent.relative_to(SRC).parts)
        owners = [(pkg, pat) for pkg, pats in patterns.items() for pat in pats
                  if ".".join(path.relative_to(SRC).parts).startswith(pkg + ".")
                  and fnmatch(path.relative_to(SRC / pkg.replace(".", "/")).as_posix(), pat)]
        assert owners, f"{path.relative_to(SRC)} (package {package}) is not package data: a wheel would lack it"

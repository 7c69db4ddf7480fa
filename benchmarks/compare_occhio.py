"""tms side by side with occhio (0.2.3) on occhio's quickstart task: 5 features in 2 dimensions, a density x
importance-decay grid trained for 10 000 steps, the model at density 0.05 (I_i = 0.9^i) selected, its feature norms
and dimensionalities D_i printed, and three figures drawn (the embedding, D_i along density, the phase diagram).

The two scripts are ``benchmarks/quickstart_tms.py`` and ``benchmarks/quickstart_occhio.py``, formatted alike
(black, default settings). This prints, for each:

- **lines**: non-blank lines that are not comments and not the module docstring, per step (``setup``: imports and
  helpers before the first step; then ``train``, ``select``, ``metrics``, ``plot``, marked in the scripts by a comment
  starting with the step's name), and the number of statements (a count no formatter changes);
- **time**: wall seconds of the whole script as a fresh process (imports, training, metrics, writing the figures),
  ``--runs`` times, the two alternating, and the median; both under the same thread settings (``--threads``: the
  OMP_NUM_THREADS and MKL_NUM_THREADS of the child processes, which torch reads);
- **numbers**: the selected model's ‖W_i‖ and D_i as each script printed them, and whether they agree with a
  pentagon (every D_i within 0.05 of 2/5).

occhio runs only when ``--occhio-python`` (default: this interpreter) can import it; otherwise a message says how to
get it without touching this environment::

    python -m venv --system-site-packages /tmp/occhio-venv && /tmp/occhio-venv/bin/pip install occhio==0.2.3
    python benchmarks/compare_occhio.py --occhio-python /tmp/occhio-venv/bin/python     # about 10 minutes

Run from the repository root (the tms side runs with ``src/`` first on its path).
"""

from __future__ import annotations

import argparse
import ast
import datetime
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tokenize
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
SCRIPTS = {"tms": HERE / "quickstart_tms.py", "occhio": HERE / "quickstart_occhio.py"}
STEPS = ("train", "select", "metrics", "plot")
#: The pentagon: five features sharing two dimensions, D_i = 2/5 each.
PENTAGON, TOLERANCE = 0.4, 0.05


def code_lines(path: Path) -> dict[str, int]:
    """Per step, the lines holding code (not blank, not only a comment, not the module docstring)."""
    text = path.read_text()
    tree = ast.parse(text)
    docstring: set[int] = set()
    if ast.get_docstring(tree) is not None:
        node = tree.body[0]
        docstring = set(range(node.lineno, node.end_lineno + 1))
    code: set[int] = set()
    markers: dict[int, str] = {}
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            word = tok.string.lstrip("# ").split(":")[0].strip()
            if word in STEPS:
                markers[tok.start[0]] = word
        elif tok.type not in skip:
            code.update(range(tok.start[0], tok.end[0] + 1))
    counts = dict.fromkeys(("setup", *STEPS), 0)
    step = "setup"
    for line in range(1, len(text.splitlines()) + 1):
        step = markers.get(line, step)
        if line in code and line not in docstring:
            counts[step] += 1
    return counts


def statements(path: Path) -> int:
    """Statements in the script, its module docstring left out."""
    tree = ast.parse(path.read_text())
    n = sum(isinstance(node, ast.stmt) for node in ast.walk(tree))
    return n - (ast.get_docstring(tree) is not None)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def importable(python: str, module: str) -> str | None:
    """The module's version when ``python`` imports it, else None."""
    probe = f"import importlib.metadata as m, {module}; print(m.version({module!r}))"
    if module == "tms":
        probe = "import tms; print(tms.__version__)"
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, env=child_env(1))
    return done.stdout.strip() if done.returncode == 0 else None


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    return env


def numbers(stdout: str, name: str) -> list[float]:
    """The values printed on the line starting with ``name``."""
    for line in stdout.splitlines():
        if line.startswith(name + " "):
            return [float(x) for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", line)]
    raise ValueError(f"no line starting with {name!r} in the output")


def run(python: str, script: Path, threads: int) -> tuple[float, str]:
    """Wall seconds of ``python script`` in a fresh folder (the figures go there), and its stdout."""
    with tempfile.TemporaryDirectory(prefix="quickstart-") as folder:
        start = time.perf_counter()
        done = subprocess.run([python, str(script)], cwd=folder, env=child_env(threads), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{script.name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each script (default 3); the median is shown")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of both scripts (default 1)")
    parser.add_argument("--occhio-python", default=sys.executable,
                        help="a Python that imports occhio (default: this one)")
    parser.add_argument("--lines-only", action="store_true", help="count lines, run nothing")
    args = parser.parse_args()

    sides = {"tms": sys.executable}
    versions = {"tms": importable(sys.executable, "tms")}
    occhio = None if args.lines_only else importable(args.occhio_python, "occhio")
    if occhio is not None:
        sides["occhio"], versions["occhio"] = args.occhio_python, occhio
    elif not args.lines_only:
        print(f"occhio is not importable from {args.occhio_python}: only the tms side runs. To compare, install it "
              "apart from this environment and point --occhio-python at it:\n"
              "    python -m venv --system-site-packages /tmp/occhio-venv && "
              "/tmp/occhio-venv/bin/pip install occhio==0.2.3\n"
              "    python benchmarks/compare_occhio.py --occhio-python /tmp/occhio-venv/bin/python\n")

    print(f"# tms and occhio on occhio's quickstart task, {datetime.date.today()}: {machine()}; "
          f"{args.threads} torch thread(s) each; load before {load()}\n")
    lines = {name: code_lines(path) for name, path in SCRIPTS.items()}
    print("| script | " + " | ".join(("setup", *STEPS)) + " | lines | statements |")
    print("|---|" + "---:|" * (len(STEPS) + 3))
    for name, path in SCRIPTS.items():
        print(f"| {path.name} | " + " | ".join(str(lines[name][k]) for k in ("setup", *STEPS))
              + f" | {sum(lines[name].values())} | {statements(path)} |")
    if args.lines_only:
        return

    times: dict[str, list[float]] = {name: [] for name in sides}
    outputs: dict[str, str] = {}
    for r in range(args.runs):
        for name, python in sides.items():  # alternating, so that both see the same load
            seconds, outputs[name] = run(python, SCRIPTS[name], args.threads)
            times[name].append(seconds)
            print(f"  run {r + 1}/{args.runs}: {name} {seconds:.1f} s (load {load()})", flush=True)

    print(f"\n| script | version | wall s, median of {args.runs} (all runs) | ‖W_i‖ of the selected model | D_i | "
          f"pentagon (every D_i within {TOLERANCE} of 2/5) |")
    print("|---|---|---:|---|---|---|")
    for name in sides:
        norms, dims = numbers(outputs[name], "norms"), numbers(outputs[name], "D_i")
        pentagon = len(dims) == 5 and all(abs(d - PENTAGON) <= TOLERANCE for d in dims)
        runs = ", ".join(f"{t:.1f}" for t in times[name])
        print(f"| {SCRIPTS[name].name} | {versions[name]} | {statistics.median(times[name]):.1f} ({runs}) | "
              f"{min(norms):.3f}…{max(norms):.3f} | {min(dims):.3f}…{max(dims):.3f} | "
              f"{'yes' if pentagon else 'no'} |")


if __name__ == "__main__":
    main()

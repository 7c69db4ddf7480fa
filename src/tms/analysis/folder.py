"""An experiment folder as the stages above training see it: its runs, its derived tables, its figures.

:class:`ExperimentFolder` gives the analysis stage the stored runs and a place to write tables; figures read
runs (to draw weights) and tables. :class:`Tables` is what claims get: the tables and the runs' configs, never
the weights, so a claim can only read what the analysis wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from ..config import RunConfig
from ..errors import RunFolderError
from ..layout import CONFIG_FILE, FIGURES_DIR, STEPS_DIR, TABLES_DIR
from ..runs import Run, iter_runs, load_run, read_config
from ..tables import Row, Schema

class Tables:
    """Read-only access to an experiment's derived tables and its runs' configs (cached)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._rows: dict[str, list[Row]] = {}
        self._configs: dict[str, RunConfig] = {}

    @property
    def tables_dir(self) -> Path:
        return self.path / TABLES_DIR

    def read(self, schema: Schema) -> list[Row]:
        """Every row of a table, typed and frozen (RunFolderError if the analysis has not written it or it is
        malformed)."""
        if schema.file not in self._rows:
            self._rows[schema.file] = schema.read(self.tables_dir)
        return self._rows[schema.file]

    def rows(self, schema: Schema, **where: Any) -> list[Row]:
        """The rows whose columns equal the given values (KeyError for a column the table does not have)."""
        schema.check_columns(where)
        return [r for r in self.read(schema) if all(getattr(r, k) == v for k, v in where.items())]

    def has(self, schema: Schema) -> bool:
        return (self.tables_dir / schema.file).is_file()

    def run_dir(self, sub: str) -> Path:
        return self.path / sub if sub else self.path

    def has_run(self, sub: str) -> bool:
        return (self.run_dir(sub) / CONFIG_FILE).is_file()

    def config(self, sub: str) -> RunConfig:
        """A run's config (its config.json only)."""
        if sub not in self._configs:
            self._configs[sub] = read_config(self.run_dir(sub))
        return self._configs[sub]


class ExperimentFolder(Tables):
    """An experiment's folder: its run folders, ``tables/`` and ``figures/`` (:mod:`tms.layout`).

    With ``step``, the folder as it was after that many training steps: every run is read from its snapshot at
    that step (:meth:`tms.runs.Run.at_step`) and the tables and figures go to ``steps/<step>/tables`` and
    ``steps/<step>/figures`` inside it, beside the final ones. ``quick`` and ``params`` tell an analysis that does
    work of its own (trains SAEs, runs SGLD chains) which version to do: the pipeline passes the reproduction's.
    """

    def __init__(self, path: Path | str, step: int | None = None, *, quick: bool = False,
                 params: Mapping[str, int] | None = None):
        super().__init__(path)
        self.step = step
        # a quick reproduction: an analysis that trains something itself (SAEs, SGLD chains) trains its quick version
        self.quick = quick
        # the experiment's parameters (tms.experiment.Param) after the command's overrides
        self.params = dict(params or {})
        self._runs: dict[str, Run] = {}

    @property
    def output_dir(self) -> Path:
        return self.path if self.step is None else self.path / STEPS_DIR / str(self.step)

    @property
    def tables_dir(self) -> Path:
        return self.output_dir / TABLES_DIR

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / FIGURES_DIR

    def run_names(self) -> list[str]:
        """Every stored run, by its folder relative to the experiment ('' for the experiment folder itself)."""
        if not self.path.is_dir():
            return []
        names = []
        for p in iter_runs(self.path):
            rel = p.relative_to(self.path).as_posix()
            names.append("" if rel == "." else rel)
        return names

    def run(self, sub: str) -> Run:
        """A stored run, loaded (weights included)."""
        if sub not in self._runs:
            if not self.has_run(sub):
                raise RunFolderError(f"run folder {self.run_dir(sub)}: does not exist")
            run = load_run(self.run_dir(sub))
            self._runs[sub] = run if self.step is None else run.at_step(self.step)
        return self._runs[sub]

    def write(self, schema: Schema, rows: Iterable[Mapping[str, Any]]) -> Path:
        rows = list(rows)
        path = schema.write(self.tables_dir, rows)
        self._rows.pop(schema.file, None)
        return path

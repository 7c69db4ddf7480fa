"""Activation sources: where the SAEs' training data comes from, with its ground truth (BEYOND.md SAE, Data).

A source is any object with

- ``d_in``: the activations' width;
- ``directions``: ``[n_true, d_in]`` the ground-truth feature directions (not normalised; metrics normalise);
- ``sample(batch, generator) -> (h [batch, d_in], active [batch, n_true])``: fresh activations and the values of
  the true features that made them (0 where a feature is off), drawn from an explicit ``torch.Generator``;
- ``describe() -> dict``: JSON that :func:`from_description` turns back into the same source (stored in an SAE
  folder so that ``tms sae-eval`` draws fresh activations from it);
- optionally ``hidden(batch, generator) -> h``: the activations alone, the same numbers as ``sample(...)[0]`` from
  the same generator state; training calls it where a source has it and so skips building ``active``.

Members: :class:`RunSource` (a stored run of the package: h = W x, the represented columns as truth; ReLU(W x) for
hidden-relu) and :class:`SyntheticSource` (given directions and a named feature sampler: ``independent``,
``hierarchy``, ``sharkey``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from ..data import DENSE_ABOVE, run_sampler, sample_features_one_draw, sample_sparse
from ..errors import ConfigError, RunFolderError
from ..layout import CONFIG_FILE, MODEL_FILE, REPRESENTED_NORM
from ..model import is_tied
from ..results import Results
from ..runs import Run, load_run

#: Model families whose hidden activations a source can draw (tied: h = W x; hidden-relu: ReLU(W x)).
HIDDEN = ("relu", "linear", "hidden-relu")


class ActivationSource(Protocol):
    d_in: int
    directions: Tensor

    def sample(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class RunSource:
    """The hidden activations of one model of a stored run, drawn fresh from the run's own data distribution.

    The draws are :func:`tms.data.run_sampler`'s, the run's own sampler: its distribution (``bind_run`` where it has
    one), ``value_max`` and ``normalize``, at the instance's density. For the paper's distribution (data
    ``independent``, not normalised) they are the same distribution drawn faster: where the features' mean density
    is at most :data:`tms.data.DENSE_ABOVE`, by the active entries (:func:`tms.data.sample_sparse`, which draws any
    more frequent feature densely; h = Σ x_i W_i over them, summed in a fixed order), else by one uniform per entry
    (:func:`tms.data.sample_features_one_draw`), not the random numbers of the run's training. A run trained on a
    finite set (``train_size``) is still sampled fresh from its distribution, not from that set: the SAE's task is to
    recover the features the model represents, and fresh draws show it every feature pattern the distribution
    makes, as BEYOND.md's "fresh hidden activations" asks (the training set is not stored with the run either).

    Ground truth: the represented features' columns W_i (‖W_i‖ > :data:`tms.layout.REPRESENTED_NORM`), as
    directions of h = W x; for hidden-relu (h = ReLU(W x)) a feature alone at value v gives v ReLU(W_i), so
    ReLU(W_i) is its direction there."""

    path: Path | None
    """The run folder (None for a result in memory: :meth:`of`)."""
    instance: int = 0
    d_in: int = field(init=False)
    directions: Tensor = field(init=False)
    represented: Tensor = field(init=False)
    """Indices of the represented features, ``[n_true]``: column j of ``active`` is feature represented[j]."""

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        run = load_run(self.path)
        if isinstance(self.instance, bool) or not isinstance(self.instance, int) \
                or not 0 <= self.instance < run.config.n_instances:
            raise ConfigError(f"instance must be in [0, {run.config.n_instances - 1}], got {self.instance!r}")
        _check_model(run.config, f"run folder {self.path}")
        self._setup(run.config, run.params["W"][self.instance], f"instance {self.instance} of {self.path}",
                    run_digest(self.path))

    @classmethod
    def of(cls, results: Any, model: int = 0) -> "RunSource":
        """Model number ``model`` of a result of the Python API (``tms.train``, ``tms.load_run``, ``tms.sweep`` of
        one run, any selection of them: ``.sel(...)``, ``.best()``). A stored run (``tms.load_run``) and its
        selections keep their run folder, as ``RunSource(folder, instance)``. A result in memory has none: its
        description (stored in an SAE folder) holds a digest of its config and weights, not a path, so ``tms
        sae-eval`` cannot draw from it again: save the run (``tms.save_run``) and use its folder for that."""
        if not isinstance(results, Results):
            raise ConfigError(f"results must be a result of the Python API (tms.Results), got "
                              f"{type(results).__name__}")
        n = results.n_instances
        if isinstance(model, bool) or not isinstance(model, int) or not 0 <= model < n:
            raise ConfigError(f"model must be in [0, {n - 1}] (the result holds {n}), got {model!r}")
        config = results.config  # a ConfigError for a selection from several runs
        W = results.params["W"][model]
        folder = results.path if isinstance(results, Run) else results._blocks()[0].folder
        if folder is not None:  # a stored run or a selection of it: its folder, so that its SAEs can be scored
            try:                # again, if the folder still holds this config and these weights (not a snapshot)
                source = cls(folder, results.index[model])
            except (RunFolderError, ConfigError):  # gone or changed since: the weights in memory, as below
                source = None
            if source is not None and source._config == config and torch.equal(source.W, W.detach().float()):
                return source
        if config is None:
            raise ConfigError("results has no config (trained without one): SAEs need the run's data distribution")
        _check_model(config, "this result")
        source = cls.__new__(cls)
        source.path = None
        source.instance = results.index[model]
        h = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()
                           + W.detach().float().contiguous().numpy().tobytes())
        source._setup(config, W, f"model {model} (instance {source.instance}) of this result",
                      "memory:" + h.hexdigest())
        return source

    def _setup(self, config: Any, W: Tensor, where: str, digest: str) -> None:
        self._config = config
        self.model = config.model
        self.W = W.detach().float().clone()  # [hidden, feat]
        setting = self.instance // config.restarts
        self.density = torch.tensor(config.density[setting], dtype=torch.float32)[None]
        self._sampler = run_sampler(config)
        self._value_max = float(config.value_max)
        self._draw = "run"  # the run's own sampler, for any distribution
        if config.data == "independent" and not config.normalize:
            self._draw = "sparse" if float(self.density.mean()) <= DENSE_ABOVE else "dense"
        self.digest = digest
        norms = self.W.norm(dim=0)
        self.represented = torch.nonzero(norms > REPRESENTED_NORM).flatten()
        if len(self.represented) == 0:
            raise ConfigError(f"{where} represents no feature (no ‖W_i‖ > "
                              f"{REPRESENTED_NORM}): nothing for an SAE to recover")
        cols = self.W[:, self.represented].T
        self.directions = torch.relu(cols) if self.model == "hidden-relu" else cols
        self.d_in = self.W.shape[0]
        self._WT = self.W.T.contiguous()  # [feat, hidden]: row i is W_i
        column = torch.full((self.W.shape[1],), -1, dtype=torch.long)
        column[self.represented] = torch.arange(len(self.represented))
        self._column = column  # feature -> its column of ``active`` (−1: not represented)

    def sample(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return self._sample(batch, generator, True)  # type: ignore[return-value]

    def hidden(self, batch: int, generator: torch.Generator) -> Tensor:
        """``sample(batch, generator)[0]`` without building the features' values (what training reads)."""
        return self._sample(batch, generator, False)[0]

    def _sample(self, batch: int, generator: torch.Generator, values: bool) -> tuple[Tensor, Tensor | None]:
        active = None
        if self._draw == "sparse":
            sb = sample_sparse(self.density, batch, generator, self._value_max)
            h = torch.zeros(batch, self.d_in, dtype=self._WT.dtype).index_add_(
                0, sb.row, sb.value[:, None].to(self._WT.dtype) * self._WT[sb.feat])
            if values:
                col = self._column[sb.feat]
                keep = col >= 0
                active = torch.zeros(batch, len(self.represented), dtype=sb.value.dtype)
                active[sb.row[keep], col[keep]] = sb.value[keep]
        else:
            if self._draw == "dense":
                x = sample_features_one_draw(self.density, batch, generator)[0] * self._value_max
            else:
                x = self._sampler(self.density, batch, generator)[0][0]  # (x [1, batch, feat], target)[0]
            h = x @ self.W.T
            if values:
                active = x[:, self.represented]
        if self.model == "hidden-relu":
            h = torch.relu(h)
        return h, active

    @property
    def true_l0(self) -> float:
        """Expected number of active represented features per sample (Σ p_i over them)."""
        return float(self.density[0, self.represented].sum())

    def describe(self) -> dict[str, Any]:
        """The run's path and instance, and :func:`run_digest` of its files: a folder of SAEs trained on the run
        before it was trained again (another config or other weights) is then not complete for it. A result in
        memory (:meth:`of`) has no path: its digest is of its config and weights."""
        return {"kind": "run", "path": None if self.path is None else str(self.path.resolve()),
                "instance": self.instance, "digest": self.digest}


def _check_model(config: Any, where: str) -> None:
    if config.model not in HIDDEN or not is_tied(config.model):
        raise ConfigError(f"{where} has model {config.model!r}, which has no hidden activations h = W x; SAEs "
                          f"train on models {', '.join(HIDDEN)}")


def run_digest(path: Path) -> str:
    """sha256 of a run folder's config.json and model.safetensors bytes (what the activations depend on)."""
    h = hashlib.sha256()
    for name in (CONFIG_FILE, MODEL_FILE):
        try:
            data = (path / name).read_bytes()
        except OSError as e:
            raise RunFolderError(f"{path / name} cannot be read: {e.strerror or e}") from None
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


# -- synthetic feature samplers: (batch, generator) -> values [batch, n] ------------------------------------------
def independent_features(p: Tensor, batch: int, generator: torch.Generator) -> Tensor:
    """Feature i active with probability p_i, independently; active values U[0, 1)."""
    active = torch.rand(batch, len(p), generator=generator) < p
    return torch.rand(batch, len(p), generator=generator) * active


def hierarchy_features(p: Tensor, parents: Tensor, batch: int, generator: torch.Generator, values: str = "uniform"
                       ) -> Tensor:
    """Features whose ``parents[i] >= 0`` fire only when that parent fires: p_i is then the child's probability
    *given* its parent (so its marginal is p_i p_parent); features with ``parents[i] = -1`` are independent.
    Parents must precede their children. Active values U[0, 1) (``values='uniform'``) or 1 (``'one'``, Chanin et
    al.'s toy)."""
    u = torch.rand(batch, len(p), generator=generator) < p
    active = u.clone()
    for i in torch.nonzero(parents >= 0).flatten().tolist():
        active[:, i] = u[:, i] & active[:, int(parents[i])]
    if values == "one":
        return active.float()
    return torch.rand(batch, len(p), generator=generator) * active


def sharkey_probabilities(n: int, mean_active: float = 5.0, decay: float = 0.99) -> Tensor:
    """Sharkey et al. (2022): feature i's frequency ∝ decay^i, scaled so that on average ``mean_active`` fire."""
    raw = decay ** torch.arange(n, dtype=torch.float64)
    return (raw * mean_active / raw.sum()).clamp(max=1.0).float()


def random_correlation(n: int, generator: torch.Generator) -> Tensor:
    """A random correlation matrix (a Wishart draw A Aᵀ / n, A [n, n] standard normal, scaled to unit diagonal)."""
    A = torch.randn(n, n, generator=generator, dtype=torch.float64)
    S = A @ A.T / n
    d = S.diagonal().rsqrt()
    return (S * d[:, None] * d[None, :]).float()


def copula_features(p: Tensor, chol: Tensor, batch: int, generator: torch.Generator) -> Tensor:
    """Correlated activity through a Gaussian copula (Sharkey et al. 2022): z ~ N(0, C) with C = chol cholᵀ, feature
    i active when z_i > Φ⁻¹(1 − p_i), so each marginal is exactly p_i; active values U[0, 1)."""
    z = torch.randn(batch, len(p), generator=generator) @ chol.T
    cut = math.sqrt(2.0) * torch.erfinv(1.0 - 2.0 * p)  # Φ⁻¹(1 − p)
    active = z > cut
    return torch.rand(batch, len(p), generator=generator) * active


@dataclass
class SyntheticSource:
    """h = Σ_i x_i d_i for given directions ``[n, d_in]`` and a named feature sampler with its arguments.

    ``kind``: 'independent' (args: p), 'hierarchy' (p, parents), 'sharkey' (p, chol: the Cholesky factor of the
    copula's correlation). Build them with :func:`independent`, :func:`hierarchy`, :func:`sharkey`."""

    directions: Tensor
    kind: str
    args: dict[str, Tensor]
    spec: dict[str, Any] = field(default_factory=dict)
    """How it was built (JSON), for :meth:`describe`."""

    def __post_init__(self) -> None:
        self.directions = self.directions.float()
        self.d_in = self.directions.shape[1]

    def features(self, batch: int, generator: torch.Generator) -> Tensor:
        if self.kind == "independent":
            return independent_features(self.args["p"], batch, generator)
        if self.kind == "hierarchy":
            return hierarchy_features(self.args["p"], self.args["parents"], batch, generator,
                                      self.spec.get("values", "uniform"))
        if self.kind == "sharkey":
            return copula_features(self.args["p"], self.args["chol"], batch, generator)
        raise ConfigError(f"synthetic source kind must be independent, hierarchy or sharkey, got {self.kind!r}")

    def sample(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        x = self.features(batch, generator)
        return x @ self.directions, x

    @property
    def true_l0(self) -> float:
        p = self.args["p"]
        if self.kind == "hierarchy":
            parents = self.args["parents"]
            marg = p.clone()
            for i in torch.nonzero(parents >= 0).flatten().tolist():
                marg[i] = marg[i] * marg[int(parents[i])]
            return float(marg.sum())
        return float(p.sum())

    def describe(self) -> dict[str, Any]:
        return dict(self.spec)


def random_directions(n: int, d: int, generator: torch.Generator, orthonormal: bool = False) -> Tensor:
    """``[n, d]`` random unit directions (orthonormal rows when ``orthonormal``, which needs n <= d)."""
    A = torch.randn(max(n, d) if orthonormal else n, d, generator=generator, dtype=torch.float64)
    if orthonormal:
        if n > d:
            raise ConfigError(f"orthonormal directions need n <= d, got n = {n}, d = {d}")
        q, _ = torch.linalg.qr(A[:d].T)
        return q.T[:n].float().contiguous()
    return (A / A.norm(dim=1, keepdim=True)).float()


def independent(n: int, d: int, p: float, seed: int = 0, orthonormal: bool = False) -> SyntheticSource:
    """n random unit directions in d dimensions, each feature active with probability p independently."""
    _check_p("p", p)
    g = torch.Generator().manual_seed(seed)
    spec = {"kind": "independent", "n": n, "d": d, "p": p, "seed": seed, "orthonormal": orthonormal}
    return SyntheticSource(random_directions(n, d, g, orthonormal), "independent",
                           {"p": torch.full((n,), float(p))}, spec)


def hierarchy(directions: Tensor, p: list[float], parents: list[int], spec: dict[str, Any] | None = None,
              values: str = "uniform") -> SyntheticSource:
    """Given directions ``[n, d]``; p_i (a child's given its parent), parents[i] (−1: none; must precede i);
    active values U[0, 1) (``values='uniform'``) or exactly 1 (``'one'``)."""
    if values not in ("uniform", "one"):
        raise ConfigError(f"values must be uniform or one, got {values!r}")
    n = directions.shape[0]
    if len(p) != n or len(parents) != n:
        raise ConfigError(f"p and parents must have one entry per direction ({n}), got {len(p)} and {len(parents)}")
    for i, q in enumerate(p):
        _check_p(f"p[{i}]", q)
    for i, par in enumerate(parents):
        if not -1 <= par < i:
            raise ConfigError(f"parents[{i}] must be -1 or an earlier feature (0..{i - 1}), got {par}")
    spec = spec or {"kind": "hierarchy", "directions": directions.tolist(), "p": list(p), "parents": list(parents),
                    "values": values}
    return SyntheticSource(directions, "hierarchy", {"p": torch.tensor(p, dtype=torch.float32),
                                                     "parents": torch.tensor(parents)}, spec)


def sharkey(n: int = 512, d: int = 256, mean_active: float = 5.0, decay: float = 0.99, seed: int = 0
            ) -> SyntheticSource:
    """Sharkey, Braun & Millidge (2022): n random unit directions in d dimensions, frequencies ∝ decay^i (on
    average ``mean_active`` per sample), correlated through a Gaussian copula with a random correlation matrix,
    magnitudes U(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    directions = random_directions(n, d, g)
    chol = torch.linalg.cholesky(random_correlation(n, g).double() + 1e-6 * torch.eye(n, dtype=torch.float64))
    spec = {"kind": "sharkey", "n": n, "d": d, "mean_active": mean_active, "decay": decay, "seed": seed}
    return SyntheticSource(directions, "sharkey", {"p": sharkey_probabilities(n, mean_active, decay),
                                                   "chol": chol.float()}, spec)


def _check_p(name: str, p: Any) -> None:
    if not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
        raise ConfigError(f"{name} must be a probability in [0, 1], got {p!r}")


def as_source(source: Any) -> ActivationSource:
    """What :func:`tms.sae.train` trains on: an activation source as it is; a run folder's path (its first
    model: :class:`RunSource` picks another); a result in memory (``tms.train``, ``tms.load_run``, a selection:
    its first model, :meth:`RunSource.of` for another)."""
    if isinstance(source, (str, Path)):
        return RunSource(Path(source))
    if isinstance(source, Results):
        return RunSource.of(source)
    if not all(hasattr(source, a) for a in ("d_in", "directions", "sample", "describe")):
        raise ConfigError(f"source must be an activation source, a run folder or a result (tms.Results), got "
                          f"{type(source).__name__}")
    return source


def from_description(d: dict[str, Any]) -> ActivationSource:
    """The source :meth:`describe` described."""
    kind = d.get("kind")
    if kind == "run":
        if d.get("path") is None:
            raise ConfigError("these SAEs were trained on a result in memory, not a run folder, so its activations "
                              "cannot be drawn again: save the run (tms.save_run) and train on its folder")
        source = RunSource(Path(d["path"]), int(d["instance"]))
        if "digest" in d and d["digest"] != source.digest:
            raise RunFolderError(f"run folder {source.path} has changed since these SAEs were trained on it "
                                 f"(its config.json or model.safetensors differ); train them again")
        return source
    if kind == "independent":
        return independent(d["n"], d["d"], d["p"], d["seed"], d.get("orthonormal", False))
    if kind == "sharkey":
        return sharkey(d["n"], d["d"], d["mean_active"], d["decay"], d["seed"])
    if kind == "hierarchy":
        return hierarchy(torch.tensor(d["directions"]), d["p"], d["parents"], d, d.get("values", "uniform"))
    raise ConfigError(f"source kind must be run, independent, hierarchy or sharkey, got {kind!r}")

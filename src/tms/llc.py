"""The local learning coefficient (LLC) by SGLD, batched over chains and models (Lau et al. 2023; Chen, Lau,
Mendel, Wei & Murfet 2023 for the toy model of superposition).

The estimator: sample the tempered, localised posterior around a point w* with stochastic-gradient Langevin
dynamics and take

    λ̂ = nβ (E_chain[L_n(w)] − L_n(w*)),      nβ = n / ln n by default,

where L_n is the mean loss on a fixed dataset of n samples. One SGLD step is devinterp 1.3.2's
(``devinterp/optim/sgld.py``), so that the same hyper-parameters mean the same thing:

    w ← w − ε/2 · (nβ ∇L_batch(w) + γ (w − w*)) + √ε · ξ,      ξ ~ N(0, 1),

with L_batch the *mean* loss over the batch (full batch by default, as Chen et al.), ε the step size and γ the
localization strength. A draw is the batch loss evaluated at the weights *before* the step that uses it (as
devinterp's sampler records it), after ``burn_in`` steps; so with no burn-in the first draw is L_n(w*).

The loss of the tied toy model is the paper's (Chen et al.): mean over samples of Σ_i I_i (x_i − x'_i)² summed
over features, which is n_features times the mean-over-features loss the trainer reports.

Two implementations: the fast path (hand-written gradients of the tied ReLU model and of linear regression,
every chain of every model as one batch of tensors) and the eager reference (the same steps with autograd);
tests check one against the other and both against devinterp (:func:`reference_estimate`). Diagnostics of
every estimate: the traces, the chains that escaped below L_n(w*) (more than 5 % of draws below it: dropped and
counted, as Chen et al.), the drift between the halves of the chains (stationarity) and the effective sample
size. :func:`descend` is plain SGD on the same fixed dataset with the same gradient code (γ = 0, no noise).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor

from .engines import threads
from .errors import ConfigError, RunFolderError
from .files import atomic_folder, atomic_write
from .tables import Column, Schema

Params = dict[str, Tensor]
"""Parameters by name, each with a leading chain (or model) axis."""

ESCAPE_SHARE = 0.05
"""Chen et al.: a chain with more than 5 % of its draws below L_n(w*) has left the basin; it is dropped."""


# --------------------------------------------------------------------------------------------- hyper-parameters
@dataclass(frozen=True)
class SGLD:
    """The sampler's hyper-parameters (devinterp 1.3.2's names in brackets)."""

    step_size: float = 1e-3
    """ε [lr]: the drift is ε/2 times the gradient, the noise √ε N(0, 1)."""
    gamma: float = 1.0
    """γ [localization]: the force γ (w − w*) pulling back to w*."""
    nbeta: float | None = None
    """nβ [nbeta]: the inverse temperature times n; None is n / ln n for the dataset's n."""
    draws: int = 500
    """[num_draws] draws per chain, one per step after the burn-in."""
    burn_in: int = 0
    """[num_burnin_steps] steps before the first draw."""
    chains: int = 4
    """[num_chains] independent chains per model."""
    batch_size: int | None = None
    """None: full batch (Chen et al.). Otherwise batches cycle through a fresh permutation each epoch, the same
    batches for every chain."""
    seed: int = 0

    def check(self) -> "SGLD":
        """Itself, or a ConfigError naming the first bad field and what is allowed."""
        if not (math.isfinite(self.step_size) and self.step_size > 0):
            raise ConfigError(f"step_size must be a positive number, got {self.step_size}")
        if not (math.isfinite(self.gamma) and self.gamma >= 0):
            raise ConfigError(f"gamma (localization) must be a number >= 0, got {self.gamma}")
        if self.nbeta is not None and not (math.isfinite(self.nbeta) and self.nbeta > 0):
            raise ConfigError(f"nbeta must be a positive number (or unset for n / ln n), got {self.nbeta}")
        for name, least in (("draws", 1), ("chains", 1), ("burn_in", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < least:
                raise ConfigError(f"{name} must be an integer >= {least}, got {value}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ConfigError(f"batch_size must be a positive integer (or unset for the full batch), got {self.batch_size}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed}")
        return self

    def check_dataset(self, n: int) -> "SGLD":
        """Itself, or a ConfigError when a batch would hold more samples than the fixed dataset's ``n``."""
        if self.batch_size is not None and self.batch_size > n:
            raise ConfigError(f"batch_size must be at most samples (the fixed dataset's n = {n}), got batch_size "
                              f"{self.batch_size}")
        return self

    def resolved_nbeta(self, n: int) -> float:
        """nβ: the given value, or n / ln n (Watanabe's WBIC temperature, devinterp's default)."""
        if self.nbeta is not None:
            return float(self.nbeta)
        if n < 2:
            raise ConfigError(f"the dataset needs at least 2 samples for nbeta = n / ln n, got {n}")
        return n / math.log(n)


# ------------------------------------------------------------------------------------------------- potentials
class Potential(Protocol):
    """A loss on a fixed dataset: ``loss(params, idx)`` ``[chains]`` (the mean over the samples ``idx``, all
    when None) and ``loss_and_grad(params, idx)`` with hand-written gradients."""

    n: int

    def loss(self, params: Params, idx: Tensor | None = None) -> Tensor: ...

    def loss_and_grad(self, params: Params, idx: Tensor | None = None) -> tuple[Tensor, Params]: ...


@dataclass
class TiedReLU:
    """The tied toy model x' = ReLU(WᵀW x + b) on a fixed dataset, loss mean over samples of Σ_i I_i (x_i − x'_i)²
    (Chen et al.'s loss). Params ``W [chains, hidden, feat]``, ``b [chains, feat]``; the dataset ``x`` is
    ``[n, feat]`` shared by every chain or ``[chains, n, feat]``; ``importance`` ``[feat]`` or ``[chains, feat]``
    (default 1)."""

    x: Tensor
    importance: Tensor | None = None

    @property
    def n(self) -> int:
        return self.x.shape[-2]

    def _forward(self, params: Params, idx: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x = self.x if idx is None else self.x[..., idx, :]
        data = "bf" if x.ndim == 2 else "cbf"
        h = torch.einsum(f"{data},chf->cbh", x, params["W"])
        z = torch.einsum("cbh,chf->cbf", h, params["W"]) + params["b"][:, None, :]
        return x, h, z, torch.relu(z) - x

    def _weight(self) -> Tensor | float:
        imp = self.importance
        return 1.0 if imp is None else (imp[None, None, :] if imp.ndim == 1 else imp[:, None, :])

    def loss(self, params: Params, idx: Tensor | None = None) -> Tensor:
        _, _, _, r = self._forward(params, idx)
        return (self._weight() * r * r).sum(-1).mean(-1)

    def loss_and_grad(self, params: Params, idx: Tensor | None = None) -> tuple[Tensor, Params]:
        x, h, z, r = self._forward(params, idx)
        wr = self._weight() * r
        loss = (wr * r).sum(-1).mean(-1)
        # d loss / d z = 2 I r / batch where z > 0 (ReLU'); z enters through b, W's decoder use and its encoder use
        gz = torch.where(z > 0, wr, torch.zeros((), dtype=r.dtype)) * (2.0 / x.shape[-2])
        back = torch.einsum("cbf,chf->cbh", gz, params["W"])  # d loss / d h
        data = "bf" if x.ndim == 2 else "cbf"
        gW = torch.einsum("cbh,cbf->chf", h, gz) + torch.einsum(f"cbh,{data}->chf", back, x)
        return loss, {"W": gW, "b": gz.sum(1)}


@dataclass
class LinearRegression:
    """A regular model: y ≈ X w with ``X [n, d]``, ``y [n]``, loss mean over samples of (y − X w)²; params
    ``w [chains, d]``. Its learning coefficient is d / 2 at the minimum (every direction is quadratic)."""

    X: Tensor
    y: Tensor

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def _residual(self, params: Params, idx: Tensor | None) -> tuple[Tensor, Tensor]:
        X, y = (self.X, self.y) if idx is None else (self.X[idx], self.y[idx])
        return X, torch.einsum("bd,cd->cb", X, params["w"]) - y[None, :]

    def loss(self, params: Params, idx: Tensor | None = None) -> Tensor:
        return self._residual(params, idx)[1].pow(2).mean(-1)

    def loss_and_grad(self, params: Params, idx: Tensor | None = None) -> tuple[Tensor, Params]:
        X, r = self._residual(params, idx)
        return r.pow(2).mean(-1), {"w": torch.einsum("cb,bd->cd", r, X) * (2.0 / X.shape[0])}

    def minimum(self) -> Params:
        """The least-squares solution (the empirical minimiser, where the LLC is d / 2), ``w [1, d]``."""
        return {"w": torch.linalg.lstsq(self.X, self.y[:, None]).solution.T.contiguous()}


def autograd_loss_and_grad(potential: Potential, params: Params, idx: Tensor | None = None) -> tuple[Tensor, Params]:
    """The eager reference: the potential's loss and its gradient by autograd (each chain's loss depends on its
    own parameters only, so the gradient of the sum is every chain's gradient)."""
    with torch.enable_grad():
        leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        loss = potential.loss(leaves, idx)
        grads = torch.autograd.grad(loss.sum(), list(leaves.values()))
    return loss.detach(), {k: g for k, g in zip(leaves, grads)}


# ---------------------------------------------------------------------------------------------------- data
def one_hot_data(n: int, features: int, generator: torch.Generator) -> Tensor:
    """Chen et al.'s high-sparsity limit: each sample x = μ e_i, i uniform over the features, μ ~ U[0, 1]
    ``[n, features]``."""
    if n < 1 or features < 1:
        raise ConfigError(f"n and features must be positive, got {n} and {features}")
    which = torch.randint(features, (n,), generator=generator)
    mu = torch.rand(n, generator=generator)
    x = torch.zeros(n, features)
    x[torch.arange(n), which] = mu
    return x


# ------------------------------------------------------------------------------------------------- sampling
def _batches(n: int, batch: int | None, generator: torch.Generator):
    """Index tensors, one per step: None (full batch) forever, or consecutive slices of a fresh permutation per
    epoch, the tail shorter than a batch dropped (devinterp cycles the user's DataLoader as it is: in a fixed
    order unless it shuffles, with a short last batch unless it drops it; the full batch, the default here and
    Chen et al.'s, is the same in both)."""
    if batch is None or batch >= n:
        while True:
            yield None
    while True:
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n - batch + 1, batch):
            yield perm[start:start + batch]


def replicate(params: Params, chains: int) -> Params:
    """Each model's parameters repeated for its chains: ``[models, ...]`` → ``[models * chains, ...]`` (chain c of
    model m at m * chains + c)."""
    return {k: v.repeat_interleave(chains, dim=0).contiguous() for k, v in params.items()}


def sgld_traces(potential: Potential, center: Params, config: SGLD, generator: torch.Generator,
                eager: bool = False) -> Tensor:
    """Run the chains and return their loss traces ``[chains, draws]`` (the batch loss before each step after
    the burn-in). ``center`` is w* per chain (``[chains, ...]``, from :func:`replicate`); ``eager`` takes the
    gradients by autograd (the reference) instead of the hand-written ones."""
    config.check().check_dataset(potential.n)
    nbeta, eps, gamma = config.resolved_nbeta(potential.n), config.step_size, config.gamma
    grad_of = (lambda p, i: autograd_loss_and_grad(potential, p, i)) if eager else potential.loss_and_grad
    w = {k: v.clone() for k, v in center.items()}
    chains = next(iter(w.values())).shape[0]
    traces = torch.empty(chains, config.draws)
    batches = _batches(potential.n, config.batch_size, generator)
    sqrt_eps = math.sqrt(eps)
    for step in range(config.burn_in + config.draws):
        loss, grads = grad_of(w, next(batches))
        if step >= config.burn_in:
            traces[:, step - config.burn_in] = loss
        for k, v in w.items():
            drift = grads[k] * nbeta
            if gamma:
                drift = drift + gamma * (v - center[k])
            noise = torch.randn(v.shape, generator=generator)
            w[k] = v - (0.5 * eps) * drift + sqrt_eps * noise
    return traces


def descend(potential: Potential, params: Params, lr: float, steps: int, generator: torch.Generator,
            batch_size: int | None = None, every: int | Sequence[int] = 0
            ) -> tuple[Params, list[tuple[int, Params, Tensor]]]:
    """Plain SGD on the fixed dataset with the SGLD's gradient code (γ = 0, no noise): ``w ← w − lr ∇L_batch``.
    Returns the final parameters and, every ``every`` steps (and at 0 and the end) or at the listed steps (and
    the end), (step, parameters, full-data loss ``[chains]``)."""
    if not (lr > 0 and steps >= 0):
        raise ConfigError(f"lr must be positive and steps >= 0, got {lr} and {steps}")
    # small tensors: one intra-op thread (a worker thread's own setting; the caller's is left alone)
    return threads.call(lambda _: _descend(potential, params, lr, steps, generator, batch_size, every), 1)


def _descend(potential: Potential, params: Params, lr: float, steps: int, generator: torch.Generator,
             batch_size: int | None, every: int | Sequence[int]) -> tuple[Params, list[tuple[int, Params, Tensor]]]:
    w = {k: v.clone() for k, v in params.items()}
    batches = _batches(potential.n, batch_size, generator)
    kept = []
    listed = set(every) if not isinstance(every, int) else set()
    for step in range(steps + 1):
        if step == steps or step in listed or (isinstance(every, int) and every and step % every == 0):
            kept.append((step, {k: v.clone() for k, v in w.items()}, potential.loss(w)))
        if step == steps:
            break
        _, grads = potential.loss_and_grad(w, next(batches))
        w = {k: v - lr * grads[k] for k, v in w.items()}
    return w, kept


# ---------------------------------------------------------------------------------------------- diagnostics
def effective_sample_size(trace: np.ndarray) -> float:
    """Effective sample size of one chain's trace (Geyer's initial monotone sequence: the autocorrelations summed
    in pairs while a pair stays positive and no larger than the one before, ESS = N / (1 + 2 Σ ρ_k)). A constant trace has ESS N."""
    x = np.asarray(trace, dtype=np.float64)
    n = x.size
    x = x - x.mean()
    var = float(np.dot(x, x)) / n
    if n < 4 or var == 0.0:
        return float(n)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, size)
    rho = np.fft.irfft(f * np.conj(f), size)[:n] / (var * n)
    total, last = 0.0, math.inf
    for k in range(0, n - 1, 2):
        pair = min(rho[k] + rho[k + 1], last)  # Geyer's initial monotone sequence: the pairs may only fall
        if pair <= 0:
            break
        total, last = total + pair, pair
    # Σ_{k≥0} pairs counts ρ_0 = 1 once: τ = −1 + 2 Σ pairs
    tau = max(-1.0 + 2.0 * total, 1.0 / n)
    return float(n / tau)


def chain_llc(traces: Tensor, init_loss: Tensor, nbeta: float) -> Tensor:
    """Per chain λ̂ = nβ (mean of its draws − L_n(w*)); ``traces [chains, draws]``, ``init_loss [chains]``."""
    return nbeta * (traces.double().mean(-1) - init_loss.double())


def escaped(traces: Tensor, init_loss: Tensor, share: float = ESCAPE_SHARE) -> Tensor:
    """Chains with more than ``share`` of their draws below L_n(w*) (Chen et al.'s rule) ``[chains]`` bool."""
    return (traces < init_loss[:, None]).double().mean(-1) > share


@dataclass(frozen=True)
class Estimate:
    """One model's LLC estimate and its diagnostics."""

    llc: float
    """λ̂ over the kept chains (NaN when every chain escaped)."""
    std: float
    """Standard deviation of the kept chains' λ̂ (chain noise; the estimate's standard error is std / √kept)."""
    init_loss: float
    nbeta: float
    chain_llc: tuple[float, ...]
    kept: tuple[bool, ...]
    escaped: int
    first_half: float
    second_half: float
    ess: tuple[float, ...]

    @property
    def drift(self) -> float:
        """Second half's λ̂ minus the first half's: a stationary chain has none beyond its noise."""
        return self.second_half - self.first_half

    @property
    def stderr(self) -> float:
        kept = sum(self.kept)
        return self.std / math.sqrt(kept) if kept > 1 else math.nan


def _mean_std(values: Tensor) -> tuple[float, float]:
    if values.numel() == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std()) if values.numel() > 1 else 0.0


def summarize(traces: Tensor, init_loss: float, nbeta: float, share: float = ESCAPE_SHARE) -> Estimate:
    """The estimate and its diagnostics from one model's traces ``[chains, draws]``."""
    init = torch.full((traces.shape[0],), float(init_loss), dtype=traces.dtype)
    per_chain = chain_llc(traces, init, nbeta)
    keep = ~escaped(traces, init, share)
    llc, std = _mean_std(per_chain[keep])
    half = traces.shape[1] // 2
    first = chain_llc(traces[keep, :half], init[keep], nbeta) if half else per_chain[keep]
    second = chain_llc(traces[keep, half:], init[keep], nbeta)
    return Estimate(llc=llc, std=std, init_loss=float(init_loss), nbeta=float(nbeta),
                    chain_llc=tuple(float(v) for v in per_chain), kept=tuple(bool(k) for k in keep),
                    escaped=int((~keep).sum()), first_half=_mean_std(first)[0], second_half=_mean_std(second)[0],
                    ess=tuple(effective_sample_size(t.numpy()) for t in traces))


@dataclass(frozen=True)
class Estimates:
    """The estimates of several models sampled together: one :class:`Estimate` each, and the traces
    ``[models, chains, draws]``."""

    config: SGLD
    estimates: tuple[Estimate, ...]
    traces: Tensor
    n: int

    def __getitem__(self, i: int) -> Estimate:
        return self.estimates[i]

    def __len__(self) -> int:
        return len(self.estimates)


def sample(potential: Potential, center: Params, config: SGLD = SGLD(), eager: bool = False) -> Estimates:
    """LLC estimates at each model's w* (``center``: parameters ``[models, ...]``), all models' chains in one
    batch; ``potential`` is per chain (its importance, if any, ``[models * chains, feat]``)."""
    config.check()
    generator = torch.Generator().manual_seed(config.seed)
    models = next(iter(center.values())).shape[0]
    chained = replicate(center, config.chains)
    init = potential.loss(chained)[:: config.chains]  # each model's L_n(w*), on the full data
    # small tensors: one intra-op thread (a worker thread's own setting; the caller's is left alone)
    traces = threads.call(lambda _: sgld_traces(potential, chained, config, generator, eager), 1)
    traces = traces.reshape(models, config.chains, config.draws)
    nbeta = config.resolved_nbeta(potential.n)
    return Estimates(config=config, n=potential.n, traces=traces,
                     estimates=tuple(summarize(traces[m], float(init[m]), nbeta) for m in range(models)))


# ----------------------------------------------------------------------------------------------- the reference
def reference_estimate(W: Tensor, b: Tensor, x: Tensor, config: SGLD) -> dict[str, Any]:
    """devinterp 1.3.2's estimate (``estimate_learning_coeff_with_summary``) for one tied ReLU model
    ``W [hidden, feat]``, ``b [feat]`` on the dataset ``x [n, feat]`` with the same hyper-parameters: SGLD,
    L_n(w*) on the full data, a plain DataLoader (full batch unless ``config.batch_size``), one core. Returns
    {"llc", "std", "chain_llc", "traces" [chains, draws]}. The global torch RNG, which devinterp seeds per
    chain, is restored afterwards. ImportError without the ``llc`` extra."""
    import warnings

    from devinterp.optim.sgld import SGLD as DevSGLD
    from devinterp.slt.sampler import estimate_learning_coeff_with_summary
    from torch.utils.data import DataLoader, TensorDataset

    from .model import ToyModel

    class Single(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = ToyModel(W[None].clone(), b[None].clone())

        def forward(self, batch: Tensor) -> Tensor:
            return self.inner(batch[None])[0]

    def evaluate(model: torch.nn.Module, data: Any) -> Tensor:
        batch = data[0]
        return (model(batch) - batch).pow(2).sum(-1).mean()

    model = Single()
    loader = DataLoader(TensorDataset(x), batch_size=config.batch_size or x.shape[0], shuffle=False)
    with torch.no_grad():
        init = float(evaluate(model, (x,)))

    def run(_: Any) -> dict[str, Any]:
        with warnings.catch_warnings(), torch.random.fork_rng():
            warnings.simplefilter("ignore")
            return estimate_learning_coeff_with_summary(
                model, loader, evaluate=evaluate, sampling_method=DevSGLD,
                optimizer_kwargs={"lr": config.step_size, "localization": config.gamma,
                                  "nbeta": config.resolved_nbeta(x.shape[0])},
                num_draws=config.draws, num_chains=config.chains, num_burnin_steps=config.burn_in,
                init_loss=init, seed=config.seed, cores=1, verbose=False)

    out = threads.call(run, 1)  # one intra-op thread, as ours: small tensors (the caller's setting is kept)
    chains = [float(out[f"llc-chain/{i}"]) for i in range(config.chains)]
    return {"llc": float(out["llc/mean"]), "std": float(out["llc/std"]), "chain_llc": chains,
            "traces": torch.as_tensor(np.asarray(out["loss/trace"]), dtype=torch.float32), "init_loss": init}


# ------------------------------------------------------------------------------------------------ storage
ESTIMATES = Schema("estimates.csv", (
    Column("model", "int", "the model's index (a run's instance)"), Column("llc"), Column("std"), Column("stderr"),
    Column("init_loss", doc="L_n(w*)"), Column("nbeta"), Column("kept", "int"), Column("escaped", "int"),
    Column("first_half"), Column("second_half"), Column("drift"), Column("ess", doc="mean over chains")),
    doc="One LLC estimate per model, with its diagnostics.")
CHAINS = Schema("chains.csv", (
    Column("model", "int"), Column("chain", "int"), Column("llc"), Column("kept", "bool"), Column("ess"),
    Column("below", doc="share of draws below L_n(w*)")), doc="Every chain's λ̂ and diagnostics.")
CONFIG_FILE, TRACES_FILE = "llc.json", "traces.safetensors"


def estimate_rows(est: Estimates) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of estimates.csv and chains.csv."""
    rows, chains = [], []
    for m, e in enumerate(est.estimates):
        rows.append({"model": m, "llc": e.llc, "std": e.std, "stderr": e.stderr, "init_loss": e.init_loss,
                     "nbeta": e.nbeta, "kept": sum(e.kept), "escaped": e.escaped, "first_half": e.first_half,
                     "second_half": e.second_half, "drift": e.drift, "ess": float(np.mean(e.ess))})
        below = (est.traces[m] < e.init_loss).double().mean(-1)
        chains += [{"model": m, "chain": c, "llc": e.chain_llc[c], "kept": e.kept[c], "ess": e.ess[c],
                    "below": float(below[c])} for c in range(len(e.kept))]
    return rows, chains


def write_estimates(folder: Path | str, est: Estimates, meta: dict[str, Any]) -> Path:
    """The estimates as a folder, written atomically: ``llc.json`` (``meta``: what was estimated, and the
    sampler's hyper-parameters), ``traces.safetensors`` (``traces [models, chains, draws]``, ``init_loss
    [models]``), ``estimates.csv`` and ``chains.csv``."""
    from safetensors.torch import save_file

    rows, chains = estimate_rows(est)
    tensors = {"traces": est.traces.float().contiguous(),
               "init_loss": torch.tensor([e.init_loss for e in est.estimates], dtype=torch.float64)}
    with atomic_folder(folder) as tmp:
        ESTIMATES.write(tmp, rows)
        CHAINS.write(tmp, chains)
        atomic_write(tmp / TRACES_FILE, lambda path: save_file(tensors, str(path)))
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(folder)


def meta_of(config: SGLD, **what: Any) -> dict[str, Any]:
    """What an estimate folder records: the sampler's hyper-parameters and what was estimated (JSON values)."""
    return {"sgld": asdict(config), **what}


def is_complete(folder: Path | str, meta: dict[str, Any]) -> bool:
    """Whether ``folder`` holds estimates made with exactly ``meta``."""
    folder = Path(folder)
    try:
        stored = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stored == json.loads(json.dumps(meta)) and all(
        (folder / f).is_file() for f in (TRACES_FILE, ESTIMATES.file, CHAINS.file))


def read_traces(folder: Path | str) -> Tensor:
    """The stored traces ``[models, chains, draws]``; RunFolderError when the folder holds none."""
    from safetensors.torch import load_file

    try:
        return load_file(str(Path(folder) / TRACES_FILE))["traces"]
    except (OSError, KeyError, Exception) as e:  # safetensors raises its own error type for a corrupt file
        raise RunFolderError(f"{folder}: no LLC traces ({e.__class__.__name__})") from None


# ------------------------------------------------------------------------------------------- runs (CLI, API)
LLC_FOLDER = "llc"
"""Where ``tms llc RUN`` writes the estimates: a folder beside the run's files."""


def run_potential(results: Any, n: int, data_seed: int, chains: int) -> tuple[TiedReLU, Params]:
    """Each model's fixed dataset of ``n`` samples from its own data distribution (the run's sampler,
    :func:`tms.data.run_sampler`: its densities, feature sets, ``value_max``, ``normalize``), drawn with
    ``data_seed``, replicated for its chains, and its parameters ``[models, ...]``. A family other than the tied
    ReLU model, or a training loss other than the weighted MSE (the only potential implemented here), is a
    ConfigError."""
    from .data import run_sampler

    configs = {block.config for block in results._blocks()}
    for cfg in configs:
        if cfg.model != "relu":
            raise ConfigError(f"tms llc estimates the tied ReLU model (model 'relu'), got model {cfg.model!r}")
    if len(configs) != 1:
        raise ConfigError("estimate the models of one run at a time")
    (cfg,) = configs
    if n < 2:
        raise ConfigError(f"n (samples in the fixed dataset) must be an integer >= 2, got {n}")
    if cfg.recipe.loss != "weighted-mse":
        raise ConfigError(f"loss: tms llc's potential is the importance-weighted MSE, allowed loss 'weighted-mse', "
                          f"got loss {cfg.recipe.loss!r}")
    x, _ = run_sampler(cfg)(results.density.float(), n, torch.Generator().manual_seed(data_seed))
    potential = TiedReLU(x.repeat_interleave(chains, 0), results.importance.float().repeat_interleave(chains, 0))
    return potential, {"W": results.W.float(), "b": results.b.float()}


def estimate(run: Any, config: SGLD = SGLD(), n: int = 1000, data_seed: int = 0) -> Estimates:
    """The LLC of every model of a run (a run folder's path, a loaded run, a training result or a selection):
    SGLD at its weights on ``n`` samples of its own data, all models' chains in one batch (the notebook API of
    ``tms llc``)."""
    config.check().check_dataset(n)
    if isinstance(run, (str, Path)):
        from .runs import load_run

        run = load_run(run)
    potential, center = run_potential(run, n, data_seed, config.chains)
    return sample(potential, center, config)


def estimate_run_folder(path: Path | str, config: SGLD = SGLD(), n: int = 1000, data_seed: int = 0,
                        force: bool = False) -> tuple[Path, bool]:
    """``tms llc RUN``: the estimates of a run folder's models written to ``RUN/llc/`` (idempotent: a folder
    made with the same hyper-parameters is left as it is unless ``force``). Returns (folder, whether it was
    written now)."""
    from .runs import check_run, load_run

    config.check().check_dataset(n)
    path = Path(path)
    check_run(path)
    out = path / LLC_FOLDER
    meta = meta_of(config, n=n, data_seed=data_seed, loss="mean over samples of the sum over features of "
                   "I_i (x_i - x'_i)^2", estimator="nbeta * (mean draw loss - L_n(w*)) over the kept chains")
    if not force and is_complete(out, meta):
        return out, False
    return write_estimates(out, estimate(load_run(path), config, n, data_seed), meta), True

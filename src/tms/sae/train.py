"""Training many SAEs on one activation stream: :func:`train`, and what it gives (:class:`TrainedSAEs`, :class:`SAE`).

Every step draws one batch from the source (its own generator, seeded by :attr:`SAETraining.seed`) and every SAE
takes one Adam step on it. SAEs of the same family and shape train as one :class:`tms.sae.fast.Bank` (engine
'fast') or one at a time through autograd and torch.optim.Adam (engine 'eager', the reference). Both apply the same
decoder-norm constraint (the gradient's component along each unit decoder row removed, the rows renormalised after
the step), dead-latent tracking and, for relu with ``resample_until``, resampling (:func:`resample`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor

from ..engines.threads import Workers, call
from ..errors import ConfigError
from ..results import Results
from . import families
from .config import SAEConfig, SAETraining
from .fast import BETAS, EPS, Bank
from .sources import ActivationSource, as_source

log = logging.getLogger(__name__)
ENGINES = ("fast", "eager")


@dataclass
class SAE:
    """One trained SAE in SAELens's layout: ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``, ``b_enc [d_sae]``,
    ``b_dec [d_in]``; ``threshold [d_sae]``: jumprelu's θ, or the batch families' inference threshold on every
    latent (None for relu and topk); ``since_fired [d_sae]``: steps since each latent last fired in training."""

    config: SAEConfig
    W_enc: Tensor
    W_dec: Tensor
    b_enc: Tensor
    b_dec: Tensor
    threshold: Tensor | None = None
    since_fired: Tensor | None = None

    @classmethod
    def of(cls, config: SAEConfig, params: dict[str, Tensor], batch_threshold: float | None,
           since_fired: Tensor) -> "SAE":
        """From training's parameters (:func:`tms.sae.families.init_params`' names)."""
        thr = None
        if "log_threshold" in params:
            thr = params["log_threshold"].exp()
        elif batch_threshold is not None:
            thr = torch.full((config.d_sae,), batch_threshold)
        return cls(config, families.encoder(params).detach().clone(), params["W_dec"].detach().clone(),
                   params["b_enc"].detach().clone(), params["b_dec"].detach().clone(), thr, since_fired)

    @property
    def params(self) -> dict[str, Tensor]:
        """The parameters as :mod:`tms.sae.families` names them."""
        p = {"W_enc": self.W_enc, "W_dec": self.W_dec, "b_enc": self.b_enc, "b_dec": self.b_dec}
        if self.config.family == "jumprelu":
            p["log_threshold"] = self.threshold.log()
        return p

    @property
    def batch_threshold(self) -> float | None:
        """The batch families' one inference threshold (None for the others or before any step)."""
        if self.config.family in ("batchtopk", "matryoshka") and self.threshold is not None:
            return float(self.threshold[0])
        return None

    @property
    def dead(self) -> Tensor:
        """Latents that did not fire in the last ``dead_steps`` training steps ``[d_sae]`` (bool)."""
        if self.since_fired is None:
            return torch.zeros(self.config.d_sae, dtype=torch.bool)
        return self.since_fired >= self.config.dead_steps

    @torch.no_grad()
    def encode(self, h: Tensor) -> Tensor:
        """Latents ``[batch, d_sae]`` of activations ``h [batch, d_in]`` (inference rules: the batch families keep
        what exceeds their threshold; with no threshold yet, nothing)."""
        thr = self.threshold
        if self.config.family in ("batchtopk", "matryoshka") and thr is None:
            thr = torch.tensor(float("inf"))
        return families.encode(self.config, self.params, h.float(), thr)

    @torch.no_grad()
    def decode(self, f: Tensor) -> Tensor:
        return f @ self.W_dec + self.b_dec

    def __call__(self, h: Tensor) -> Tensor:
        return self.decode(self.encode(h))


@dataclass
class TrainedSAEs(Sequence[SAE]):
    """The SAEs of one training call, in the order of their configs, with the stream that trained them."""

    saes: list[SAE]
    training: SAETraining
    source: dict[str, Any]
    log_steps: list[int] = field(default_factory=list)
    log_loss: Tensor = field(default_factory=lambda: torch.zeros(0, 0))
    """``[len(log_steps), n_saes]`` each SAE's training loss at those steps."""

    def __getitem__(self, i):  # type: ignore[override]
        return self.saes[i]

    def __len__(self) -> int:
        return len(self.saes)

    def __iter__(self) -> Iterator[SAE]:
        return iter(self.saes)

    @property
    def configs(self) -> list[SAEConfig]:
        return [s.config for s in self.saes]


def _check(source: ActivationSource, configs: Sequence[SAEConfig], engine: str) -> list[SAEConfig]:
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if isinstance(configs, (str, bytes, dict)) or not hasattr(configs, "__iter__"):
        raise ConfigError(f"configs must be an SAEConfig or a list of them, got {type(configs).__name__}")
    configs = list(configs)
    if not configs:
        raise ConfigError("configs must hold at least one SAEConfig")
    for i, c in enumerate(configs):
        if not isinstance(c, SAEConfig):
            raise ConfigError(f"configs[{i}] must be an SAEConfig, got {type(c).__name__}")
    return configs


def _init(source: ActivationSource, cfg: SAEConfig) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(cfg.seed)
    return families.init_params(cfg, source.d_in, g, source.directions)


def _resample_generator(cfg: SAEConfig) -> torch.Generator:
    return torch.Generator().manual_seed(1_000_003 * (cfg.seed + 1))


def _due(cfg: SAEConfig, step: int, steps: int) -> bool:
    """Whether relu resamples after ``step`` (1-based): every dead_steps steps in the first resample_until."""
    return (cfg.family == "relu" and cfg.resample_until > 0 and step % cfg.dead_steps == 0
            and step <= cfg.resample_until * steps)


@torch.no_grad()
def resample(x: Tensor, x_hat: Tensor, W_encT: Tensor | None, W_dec: Tensor, b_enc: Tensor, b_dec: Tensor,
             moments: list[Tensor], dead: Tensor, generator: torch.Generator) -> int:
    """Resample one SAE's dead latents in place (Bricken et al. 2023): each gets the normalised input x − b_dec of
    a sample drawn with probability ∝ its squared reconstruction error squared as decoder row, that row times 0.2
    × the mean live encoder row norm as encoder row, b_enc 0, and its Adam moments zeroed. ``moments``: the
    Adam state tensors of W_encT, W_dec and b_enc (rows are latents). A tied SAE (``W_encT`` None) gets the
    decoder row only. Returns how many were resampled."""
    idx = torch.nonzero(dead).flatten()
    if len(idx) == 0:
        return 0
    err = ((x - x_hat) ** 2).sum(1)
    weights = err ** 2
    if not bool((weights > 0).any()):
        return 0
    pick = torch.multinomial(weights, len(idx), replacement=True, generator=generator)
    rows = x[pick] - b_dec
    rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    W_dec[idx] = rows
    if W_encT is not None:
        live = ~dead
        scale = W_encT[live].norm(dim=1).mean() if bool(live.any()) else torch.tensor(1.0)
        W_encT[idx] = rows * families.RESAMPLE_ENCODER_SCALE * scale
    b_enc[idx] = 0.0
    for m in moments:
        m[idx] = 0.0
    return len(idx)


class _Eager:
    """One SAE through autograd and torch.optim.Adam: the reference loop."""

    def __init__(self, cfg: SAEConfig, params: dict[str, Tensor]):
        self.cfg = cfg
        self.p = {n: t.clone().requires_grad_(True) for n, t in params.items()}
        self.opt = torch.optim.Adam(list(self.p.values()), lr=cfg.lr, betas=BETAS, eps=EPS)
        self.state = families.State(torch.zeros(cfg.d_sae, dtype=torch.long))
        self.gen = _resample_generator(cfg)

    def step(self, x: Tensor) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss, f = families.eager_loss(self.cfg, self.p, x, self.state.dead(self.cfg))
        loss.backward()
        with torch.no_grad():
            W, g = self.p["W_dec"], self.p["W_dec"].grad
            g -= (g * W).sum(1, keepdim=True) * W
        self.opt.step()
        with torch.no_grad():
            self.p["W_dec"] /= self.p["W_dec"].norm(dim=1, keepdim=True)
            f = f.detach()
            self.state.since_fired = torch.where(families.fired(f), 0, self.state.since_fired + 1)
            if self.cfg.family in ("batchtopk", "matryoshka"):
                self.state.threshold = families.update_threshold(self.state.threshold, families.kept_minimum(f))
        return float(loss.detach())

    def resample(self, x: Tensor) -> int:
        with torch.no_grad():
            p = self.p
            pre = (x - p["b_dec"]) @ families.encoder(p) + p["b_enc"]
            x_hat = families.activate(self.cfg, p, pre) @ p["W_dec"] + p["b_dec"]
            st = self.opt.state
            moments = [st[p[n]][k].T if n == "W_enc" else st[p[n]][k]
                       for n in ("W_enc", "W_dec", "b_enc") if n in p for k in ("exp_avg", "exp_avg_sq") if p[n] in st]
            n = resample(x, x_hat, p["W_enc"].T if "W_enc" in p else None, p["W_dec"], p["b_enc"], p["b_dec"], moments,
                         self.state.dead(self.cfg), self.gen)
            self.state.since_fired[self.state.dead(self.cfg)] = 0
        return n

    def result(self) -> SAE:
        thr = self.state.threshold
        batch = float(thr) if self.cfg.family in ("batchtopk", "matryoshka") and not torch.isnan(thr) else None
        return SAE.of(self.cfg, self.p, batch, self.state.since_fired.clone())


def _bank_resample(bank: Bank, s: int, x: Tensor, gen: torch.Generator) -> int:
    p = bank.p
    with torch.no_grad():
        xc = x - p["b_dec"][s]
        pre = xc @ bank.W_encT[s].T + p["b_enc"][s]
        x_hat = torch.relu(pre) @ p["W_dec"][s] + p["b_dec"][s]
        moments = [st[n][s] for n in ("W_encT", "W_dec", "b_enc") if n in p for st in (bank.m, bank.v)]
        dead = bank.dead[s]
        W_encT = None if bank.tied else p["W_encT"][s]
        n = resample(x, x_hat, W_encT, p["W_dec"][s], p["b_enc"][s], p["b_dec"][s], moments, dead, gen)
        bank.since_fired[s][dead] = 0
    return n


def _banks(source: ActivationSource, configs: list[SAEConfig]) -> list[tuple[list[int], Bank]]:
    keys: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        keys.setdefault(c.bank_key(), []).append(i)
    return [(idx, Bank([configs[i] for i in idx], [_init(source, configs[i]) for i in idx])) for idx in keys.values()]


def train(source: ActivationSource | Results | str | Path, configs: Sequence[SAEConfig],
          training: SAETraining | None = None,
          engine: str = "fast", progress: bool = False, threads: int = 1, workers: int | None = None
          ) -> TrainedSAEs:
    """Train one SAE per config on fresh activations from ``source`` (one shared batch per step): an activation
    source (:mod:`tms.sae.sources`), a run folder's path or a result in memory (``tms.train``, ``tms.load_run``, a
    selection; its first model, :meth:`~tms.sae.sources.RunSource.of` picks another).

    ``engine``: 'fast' (banks of SAEs with hand-written gradients, :mod:`tms.sae.fast`) or 'eager' (autograd and
    torch.optim.Adam per SAE, the reference); both give the same updates up to float rounding. It runs in worker
    threads whose torch ops use ``threads`` intra-op threads each (the caller's setting is left alone): at these
    sizes one thread is fastest, and on a shared machine more threads spin at OpenMP barriers. With the fast
    engine, ``workers`` threads (at most one per bank; default: the calling thread's torch thread count,
    ``torch.get_num_threads()``, torch's default being one per physical core) take the banks' steps side by side,
    each step on the same batch; every bank's numbers are the same whichever thread takes it. An interruption (Ctrl-C)
    stops training at the end of the current step."""
    training = SAETraining() if training is None else training
    if not isinstance(training, SAETraining):
        raise ConfigError(f"training must be an SAETraining (or None for the defaults), got {type(training).__name__}")
    source = as_source(source)
    configs = _check(source, [configs] if isinstance(configs, SAEConfig) else configs, engine)
    for name, value in (("threads", threads), ("workers", workers)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    if threads is None:
        raise ConfigError("threads must be an integer >= 1, got None")
    workers = workers if workers is not None else torch.get_num_threads()
    return call(lambda outer: _train(source, configs, training, engine, progress, workers, threads, outer), threads)


def _train(source: ActivationSource, configs: list[SAEConfig], training: SAETraining, engine: str,
           progress: bool, workers: int = 1, threads: int = 1, outer: Workers | None = None) -> TrainedSAEs:
    gen = torch.Generator().manual_seed(training.seed)
    steps, log_steps, log_rows = training.steps, [], []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc=f"{len(configs)} SAEs", unit="step")
    if engine == "eager":
        units = [_Eager(c, _init(source, c)) for c in configs]
    else:
        banks = _banks(source, configs)
        gens = {i: _resample_generator(c) for i, c in enumerate(configs)}
        # the largest banks first, so that side by side the workers finish a step together
        banks.sort(key=lambda ib: -len(ib[0]) * ib[1].d_sae)
    side_by_side = engine != "eager" and min(workers, len(banks)) > 1
    pool = Workers(min(workers, len(banks)), threads, "tms-sae") if side_by_side else None
    try:
        with pool if pool is not None else contextlib.nullcontext():
            _steps(source, configs, training, engine, bar, gen, units if engine == "eager" else banks,
                   gens if engine != "eager" else None, pool, log_steps, log_rows, outer)
    finally:
        if bar is not None:
            bar.close()
    if engine == "eager":
        saes = [u.result() for u in units]
    else:
        saes = [None] * len(configs)
        for idx, bank in banks:
            for s, i in enumerate(idx):
                thr = float(bank.threshold[s])
                batch = thr if configs[i].family in ("batchtopk", "matryoshka") and thr == thr else None
                saes[i] = SAE.of(configs[i], bank.export(s), batch, bank.since_fired[s].clone())
    return TrainedSAEs(saes, training, source.describe(), log_steps, torch.stack(log_rows))


def _hidden(source: Any) -> Any:
    """``source.hidden`` where it stands for ``sample(...)[0]``: a method of the class that defines ``sample`` (a
    subclass that overrides only ``sample``, say to add noise, is sampled through it); else None."""
    owner = [next((k for k in type(source).__mro__ if name in vars(k)), None) for name in ("hidden", "sample")]
    hidden = getattr(source, "hidden", None)
    return hidden if owner[0] is not None and owner[0] is owner[1] and callable(hidden) else None


def _steps(source: ActivationSource, configs: list[SAEConfig], training: SAETraining, engine: str, bar: Any,
           gen: torch.Generator, units: list, gens: dict | None, pool: Workers | None, log_steps: list,
           log_rows: list, outer: Workers | None = None) -> None:
    steps = training.steps

    def bank_step(idx: list[int], bank: Bank, x: Tensor, step: int) -> Tensor:
        loss = bank.step(x)
        for s, i in enumerate(idx):
            if _due(configs[i], step, steps):
                _bank_resample(bank, s, x, gens[i])
        return loss

    hidden = _hidden(source)  # the activations without the features' values, where the source has that
    for step in range(1, steps + 1):
        if outer is not None:
            outer.check()  # the caller was interrupted: stop here (Workers.Stopped)
        x = hidden(training.batch_size, gen) if hidden is not None else source.sample(training.batch_size, gen)[0]
        x = x.float()
        loss = torch.zeros(len(configs))
        if engine == "eager":
            for i, u in enumerate(units):
                loss[i] = u.step(x)
                if _due(u.cfg, step, steps):
                    u.resample(x)
        elif pool is None:
            for idx, bank in units:
                loss[idx] = bank_step(idx, bank, x, step)
        else:
            losses = pool.run([lambda idx=idx, bank=bank: bank_step(idx, bank, x, step) for idx, bank in units])
            for (idx, _), bank_loss in zip(units, losses):
                loss[idx] = bank_loss
        if step % training.log_every == 0 or step == steps or step == 1:
            log_steps.append(step)
            log_rows.append(loss)
        if bar is not None:
            bar.update(1)

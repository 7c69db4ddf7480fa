"""What defines one sparse autoencoder: :class:`SAEConfig`, validated on construction, round-tripped to JSON.

Many SAEs train at once on one activation stream (:func:`tms.sae.train`); each has its own config. What the
stream is (steps, batch size, the data seed) belongs to the training call, not to one SAE (:class:`SAETraining`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..kinds import SAE_FAMILIES

#: Families whose latents are chosen by rank (they take ``k``).
RANKED = ("topk", "batchtopk", "matryoshka")
#: Families with a penalty coefficient (L1 for relu, L0 for jumprelu).
PENALISED = ("relu", "jumprelu")
#: Families with a threshold used at inference (learned for jumprelu, estimated during training for the batch
#: families: Bussmann et al. 2024).
THRESHOLDED = ("batchtopk", "matryoshka", "jumprelu")
#: How an SAE's dictionary starts: random unit rows (encoder = decoder transposed, Gao et al. 2024), or the
#: source's true directions (BEYOND.md SAE-3: is the true dictionary an optimum of the loss?).
INITS = ("random", "truth")


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _float(name: str, value: Any, lo: float, hi: float = math.inf, lo_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v > hi or (v <= lo if lo_open else v < lo):
        raise ConfigError(f"{name} must be {'>' if lo_open else '>='} {lo:g}"
                          f"{'' if hi == math.inf else f' and <= {hi:g}'}, got {value!r}")
    return v


@dataclass(frozen=True)
class SAEConfig:
    """One SAE: its family (:data:`tms.kinds.SAE_FAMILIES`), size and training hyper-parameters.

    Every family encodes ``pre = (x − b_dec) W_enc + b_enc`` and decodes ``x̂ = f W_dec + b_dec`` with unit-norm
    decoder rows (kept so after every step, the gradient's component along each row removed first); the
    families differ in ``f`` and the loss (:mod:`tms.sae.families`)."""

    family: str = "topk"
    d_sae: int = 400
    """Latents (dictionary size)."""
    k: int | None = None
    """Active latents per sample for topk, batchtopk and matryoshka (required there, refused elsewhere)."""
    penalty: float = 0.0
    """Sparsity coefficient: λ of λ Σ_j f_j for relu (L1, decoder rows unit norm), of λ Σ_j H(pre_j − θ_j) for
    jumprelu (L0). Refused (must stay 0) for the ranked families."""
    threshold: float = 0.01
    """jumprelu: the initial threshold θ of every latent."""
    bandwidth: float = 0.01
    """jumprelu: ε of the straight-through estimator's rectangle kernel (Rajamanoharan et al. 2024)."""
    prefixes: tuple[int, ...] = ()
    """matryoshka: the nested dictionary sizes, increasing, each < d_sae (d_sae itself is always the last)."""
    aux_k: int | None = None
    """Ranked families: dead latents used by the AuxK loss (default d_in / 2, Gao et al. 2024); 0 turns it off."""
    aux_coef: float = 1 / 32
    """Ranked families: the AuxK loss's coefficient α (Gao et al. 2024)."""
    dead_steps: int = 200
    """A latent that has not fired for this many steps is dead (AuxK, resampling, the dead-latent count)."""
    resample_until: float = 0.0
    """relu: resample dead latents every ``dead_steps`` steps during this fraction of training (0: never;
    Bricken et al. 2023 resample in the first half)."""
    lr: float = 1e-3
    """Adam's learning rate, constant (betas 0.9, 0.999; eps 1e-8)."""
    init: str = "random"
    """'random' or 'truth' (:data:`INITS`)."""
    tied: bool = False
    """Encoder tied to the decoder (W_enc = W_decᵀ, one parameter; Chanin et al. 2024's remedy for absorption)."""
    seed: int = 0
    """Seeds this SAE's initialisation (the activation stream is seeded by the training call)."""

    def __post_init__(self) -> None:
        family = SAE_FAMILIES.check(self.family)
        _int("d_sae", self.d_sae, 1)
        if family in RANKED:
            if self.k is None:
                raise ConfigError(f"k must be given for family {family}")
            _int("k", self.k, 1)
            if self.k > self.d_sae:
                raise ConfigError(f"k must be at most d_sae ({self.d_sae}), got {self.k}")
        elif self.k is not None:
            raise ConfigError(f"k is for families {', '.join(RANKED)}, not {family}")
        object.__setattr__(self, "penalty", _float("penalty", self.penalty, 0.0))
        if family not in PENALISED and self.penalty:
            raise ConfigError(f"penalty is for families {', '.join(PENALISED)}, not {family} (use k)")
        object.__setattr__(self, "threshold", _float("threshold", self.threshold, 0.0, lo_open=True))
        object.__setattr__(self, "bandwidth", _float("bandwidth", self.bandwidth, 0.0, lo_open=True))
        if isinstance(self.prefixes, (str, bytes)) or not hasattr(self.prefixes, "__iter__"):
            raise ConfigError(f"prefixes must be a sequence of integers (e.g. (5, 20)), got {self.prefixes!r}")
        prefixes = tuple(self.prefixes)
        if family == "matryoshka":
            for p in prefixes:
                _int("prefixes", p, 1)
            if list(prefixes) != sorted(set(prefixes)) or (prefixes and prefixes[-1] >= self.d_sae):
                raise ConfigError(f"prefixes must increase and stay below d_sae ({self.d_sae}), got {list(prefixes)}")
        elif prefixes:
            raise ConfigError(f"prefixes are for family matryoshka, not {family}")
        object.__setattr__(self, "prefixes", prefixes)
        if self.aux_k is not None:
            _int("aux_k", self.aux_k, 0)
            if self.aux_k > self.d_sae:
                raise ConfigError(f"aux_k must be at most d_sae ({self.d_sae}), got {self.aux_k}")
        object.__setattr__(self, "aux_coef", _float("aux_coef", self.aux_coef, 0.0))
        _int("dead_steps", self.dead_steps, 1)
        object.__setattr__(self, "resample_until", _float("resample_until", self.resample_until, 0.0, 1.0))
        object.__setattr__(self, "lr", _float("lr", self.lr, 0.0, 10.0, lo_open=True))
        if self.init not in INITS:
            raise ConfigError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        _int("seed", self.seed, 0)
        if not isinstance(self.tied, bool):
            raise ConfigError(f"tied must be true or false, got {self.tied!r}")

    @property
    def groups(self) -> tuple[int, ...]:
        """The dictionary's nested sizes: matryoshka's prefixes and d_sae; (d_sae,) for the others."""
        return (*self.prefixes, self.d_sae)

    def bank_key(self) -> tuple[Any, ...]:
        """SAEs with the same key train as one batch of tensors (same family, shapes and nesting)."""
        return (self.family, self.d_sae, self.prefixes, self.tied)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["prefixes"] = list(self.prefixes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SAEConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"an SAE config must be an object, got {d!r}")
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown SAE config field(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        if "prefixes" in d:
            d["prefixes"] = tuple(d["prefixes"])
        return cls(**d)

    def label(self) -> str:
        """A short name: family and its sparsity setting, size, seed (``topk k=4 d=400 s0``)."""
        knob = f"k={self.k}" if self.family in RANKED else f"λ={self.penalty:g}"
        return f"{self.family}{' tied' if self.tied else ''} {knob} d={self.d_sae} s{self.seed}"


@dataclass(frozen=True)
class SAETraining:
    """The activation stream every SAE of one training call shares."""

    steps: int = 4000
    batch_size: int = 1024
    seed: int = 0
    """Seeds the activation stream (each SAE's own init is seeded by its config)."""
    log_every: int = 100

    def __post_init__(self) -> None:
        _int("steps", self.steps, 1)
        _int("batch_size", self.batch_size, 1)
        _int("seed", self.seed, 0)
        _int("log_every", self.log_every, 1)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SAETraining":
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown SAE training field(s): {', '.join(sorted(unknown))}")
        return cls(**d)

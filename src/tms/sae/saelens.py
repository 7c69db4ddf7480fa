"""Interoperation with SAELens (6.x; the optional ``[sae]`` extra, imported only inside the functions that need it).

- :func:`saelens_files` gives any SAE of ours as SAELens's on-disk format, ``cfg.json`` + ``sae_weights.safetensors``
  (no SAELens needed to write it); :func:`export` writes that folder atomically, and
  ``sae_lens.SAE.load_from_disk(folder)`` (:func:`load`) gives an SAE whose ``encode`` and ``decode`` are ours.
  Each family becomes the inference architecture SAELens itself saves it as: relu → ``standard``, topk →
  ``topk``, jumprelu → ``jumprelu``, and batchtopk and matryoshka → ``jumprelu`` with every latent's threshold the
  global one they use at inference (as SAELens's BatchTopK and Matryoshka training SAEs save themselves).
- :func:`from_saelens` turns an SAELens SAE (loaded, or a training SAE such as one from
  ``sae_lens.synthetic.train_toy_sae``) into one of ours, so that our metrics score it; :func:`import_folder`
  reads an SAELens folder.
- :func:`feature_dictionary` and :func:`activation_generator` build ``sae_lens.synthetic`` objects from our ground
  truth (a stored toy model's represented directions), so ``sae_lens.synthetic.eval_sae_on_synthetic_data``
  scores our SAEs on the geometry a trained network learned (:func:`saelens_eval`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import ConfigError
from .config import SAEConfig

#: Our family → the SAELens inference architecture it is saved as.
ARCHITECTURE = {"relu": "standard", "topk": "topk", "jumprelu": "jumprelu", "batchtopk": "jumprelu",
                "matryoshka": "jumprelu"}
#: An SAELens inference architecture → the family of ours that encodes the same way (jumprelu: a per-latent
#: threshold; our batch families use one threshold for all latents, a special case).
FAMILY = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu"}
#: SAELens's on-disk file names (sae_lens.constants).
CFG_FILE, WEIGHTS_FILE = "cfg.json", "sae_weights.safetensors"
#: The SAELens version whose format we write: ≥ 6 (an older or missing version makes SAELens convert the config
#: from its pre-6.0 layout).
SAELENS_FORMAT = "6.54.12"


def saelens_cfg(sae: Any) -> dict[str, Any]:
    """The ``cfg.json`` of one SAE of ours (a :class:`tms.sae.SAE`) in SAELens's format."""
    family = sae.config.family
    d_sae, d_in = sae.W_dec.shape
    cfg: dict[str, Any] = {
        "architecture": ARCHITECTURE[family], "d_in": int(d_in), "d_sae": int(d_sae),
        "dtype": str(sae.W_dec.dtype).removeprefix("torch."), "device": "cpu",
        # our encoders subtract b_dec from the input first, as SAELens does when this is true
        "apply_b_dec_to_input": True, "normalize_activations": "none", "reshape_activations": "none",
        "metadata": {"sae_lens_version": SAELENS_FORMAT, "sae_lens_training_version": None,
                     "training_architecture": family, "tms_config": sae.config.to_dict()},
    }
    if family == "topk":
        # our decoder rows are unit norm already: no rescaling by their norm at inference
        cfg.update(k=int(sae.config.k), rescale_acts_by_decoder_norm=False)
    return cfg


def saelens_tensors(sae: Any) -> dict[str, Tensor]:
    """The ``sae_weights.safetensors`` tensors of one SAE of ours: ``W_enc [d_in, d_sae]``, ``W_dec [d_sae, d_in]``,
    ``b_enc``, ``b_dec``, and ``threshold [d_sae]`` for the jumprelu architecture."""
    out = {name: getattr(sae, name).detach().contiguous().clone() for name in ("W_enc", "W_dec", "b_enc", "b_dec")}
    if ARCHITECTURE[sae.config.family] == "jumprelu":
        threshold = sae.threshold
        if threshold is None or not bool(torch.isfinite(torch.as_tensor(threshold)).all()):
            raise ConfigError(f"a {sae.config.family} SAE needs a finite inference threshold to export, "
                              f"got {threshold!r} (train it first)")
        out["threshold"] = torch.as_tensor(threshold, dtype=out["W_dec"].dtype).expand(out["b_enc"].shape).clone()
    return out


def saelens_files(sae: Any) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """``(cfg, tensors)``: what SAELens's folder for this SAE holds (:func:`saelens_cfg`, :func:`saelens_tensors`)."""
    return saelens_cfg(sae), saelens_tensors(sae)


def export(sae: Any, folder: str | Path) -> Path:
    """Write ``folder/cfg.json`` and ``folder/sae_weights.safetensors`` atomically (a folder that is there is
    replaced whole); ``sae_lens.SAE.load_from_disk(folder)`` loads it."""
    from safetensors.torch import save_file

    from ..files import atomic_folder

    cfg, tensors = saelens_files(sae)
    folder = Path(folder)
    with atomic_folder(folder) as tmp:
        save_file(tensors, str(Path(tmp) / WEIGHTS_FILE))
        (Path(tmp) / CFG_FILE).write_text(json.dumps(cfg, indent=1, sort_keys=True) + "\n")
    return folder


def load(folder: str | Path) -> Any:
    """``sae_lens.SAE.load_from_disk(folder)`` (needs the ``[sae]`` extra)."""
    from sae_lens import SAE as LensSAE

    return LensSAE.load_from_disk(str(folder))


def _inference(lens_sae: Any) -> Any:
    """An SAELens training SAE as its inference SAE (as ``save_inference_model`` would save it); an inference SAE
    as it is."""
    from sae_lens import SAE as LensSAE
    from sae_lens.saes.sae import TrainingSAE

    if not isinstance(lens_sae, TrainingSAE):
        return lens_sae
    state = {k: v.detach().clone() for k, v in lens_sae.state_dict().items()}
    lens_sae.process_state_dict_for_saving_inference(state)
    out = LensSAE.from_dict(lens_sae.cfg.get_inference_sae_cfg_dict())
    out.load_state_dict(state)
    return out


def _their_tensors(lens_sae: Any) -> tuple[str, dict[str, Tensor]]:
    """An SAELens inference SAE's architecture and weights in our encoding: the input minus b_dec times W_enc plus
    b_enc, decoded without rescaling."""
    cfg = lens_sae.cfg
    arch = cfg.architecture()
    if arch not in FAMILY:
        raise ConfigError(f"SAELens architecture must be one of {', '.join(FAMILY)} to import, got {arch!r}")
    if cfg.normalize_activations != "none" or cfg.reshape_activations != "none":
        raise ConfigError("an SAELens SAE must have normalize_activations and reshape_activations 'none' to import, "
                          f"got {cfg.normalize_activations!r} and {cfg.reshape_activations!r}")
    t = {n: getattr(lens_sae, n).detach().float().clone() for n in ("W_enc", "W_dec", "b_enc", "b_dec")}
    if not cfg.apply_b_dec_to_input:
        # x W_enc + b_enc = (x − b_dec) W_enc + (b_enc + b_dec W_enc)
        t["b_enc"] = t["b_enc"] + t["b_dec"] @ t["W_enc"]
    if getattr(cfg, "rescale_acts_by_decoder_norm", False):
        # topk on pre·‖W_dec_j‖, decoded with W_dec_j / ‖W_dec_j‖: the same code with the norm folded in
        norm = t["W_dec"].norm(dim=1)
        t["W_enc"], t["b_enc"], t["W_dec"] = t["W_enc"] * norm, t["b_enc"] * norm, t["W_dec"] / norm[:, None]
    if arch == "jumprelu":
        t["threshold"] = lens_sae.threshold.detach().float().clone()
    return arch, t


def from_saelens(lens_sae: Any, **config: Any) -> Any:
    """One of our SAEs (:class:`tms.sae.SAE`) that encodes and decodes as the SAELens SAE ``lens_sae`` does
    (an inference SAE, or a training SAE taken in its inference form). ``config`` adds fields of our
    :class:`~tms.sae.SAEConfig` (lr, penalty, … which SAELens's inference config does not keep)."""
    from .train import SAE

    arch, t = _their_tensors(_inference(lens_sae))
    family = FAMILY[arch]
    fields: dict[str, Any] = {"family": family, "d_sae": int(t["W_dec"].shape[0]), **config}
    if family == "topk":
        fields["k"] = int(lens_sae.cfg.k)
    if family == "jumprelu":
        theta = t["threshold"]
        if not bool((theta > 0).all()):
            raise ConfigError("an SAELens jumprelu SAE must have positive thresholds to import "
                              f"(ours are exp(log θ)), got a minimum of {float(theta.min()):g}")
        t["threshold"] = theta
        fields.setdefault("threshold", float(theta.mean()))
    return SAE(SAEConfig(**fields), t["W_enc"], t["W_dec"], t["b_enc"], t["b_dec"], t.get("threshold"))


def import_folder(folder: str | Path, **config: Any) -> Any:
    """One of our SAEs from an SAELens SAE folder (``cfg.json`` + ``sae_weights.safetensors``)."""
    folder = Path(folder)
    if not (folder / CFG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise ConfigError(f"{folder} is not an SAELens SAE folder: it needs {CFG_FILE} and {WEIGHTS_FILE}")
    return from_saelens(load(folder), **config)


def feature_dictionary(directions: Tensor) -> Any:
    """A ``sae_lens.synthetic.FeatureDictionary`` whose ``feature_vectors`` are our ground-truth ``directions
    [n, d_in]`` (a stored toy model's represented columns W_iᵀ, not normalised: h = Σ x_i W_i), without bias."""
    from sae_lens.synthetic import FeatureDictionary

    if directions.ndim != 2 or directions.shape[0] == 0:
        raise ConfigError(f"directions must be [n_features, d_in] with n_features >= 1, got {tuple(directions.shape)}")
    n, d = directions.shape
    fd = FeatureDictionary(n, d, bias=False, initializer=None)
    with torch.no_grad():
        fd.feature_vectors.data = directions.detach().float().clone()
    return fd


def _uniform_magnitudes(acts: Tensor) -> Tensor:
    """Active features at a value U(0, 1) (the toy models' data, PAPER.md §2), in place of SAELens's constant 1;
    drawn from torch's global generator, which the caller seeds (SAELens's sampler has no generator argument)."""
    return torch.where(acts > 0, torch.rand_like(acts), acts)


def activation_generator(probabilities: Tensor) -> Any:
    """A ``sae_lens.synthetic.ActivationGenerator``: feature i active with probability ``probabilities[i]``,
    independently, at a magnitude U(0, 1) (the toy models' data distribution)."""
    from sae_lens.synthetic import ActivationGenerator

    p = torch.as_tensor(probabilities, dtype=torch.float32)
    if p.ndim != 1 or not bool(((p >= 0) & (p <= 1)).all()):
        raise ConfigError("probabilities must be a vector of values in [0, 1]")
    return ActivationGenerator(len(p), p, modify_activations=_uniform_magnitudes)


def saelens_eval(sae: Any, directions: Tensor, probabilities: Tensor, samples: int = 20_000, seed: int = 0
                 ) -> dict[str, Any]:
    """``sae_lens.synthetic.eval_sae_on_synthetic_data`` on one SAE of ours (exported and loaded by SAELens, so it
    is SAELens's encode and decode that run) against ``directions`` and features drawn at ``probabilities``;
    its result as a dict (true_l0, sae_l0, dead_latents, shrinkage, explained_variance, mcc, uniqueness,
    classification). SAELens's sampler draws from torch's global generator: seeded here inside ``fork_rng``."""
    import tempfile

    from sae_lens.synthetic import eval_sae_on_synthetic_data

    if samples < 1:
        raise ConfigError(f"samples must be >= 1, got {samples}")
    with tempfile.TemporaryDirectory() as tmp:
        lens_sae = load(export(sae, Path(tmp) / "sae"))
    with torch.random.fork_rng(devices=[]):   # the caller's global generator is left as it was
        torch.manual_seed(seed)
        result = eval_sae_on_synthetic_data(lens_sae, feature_dictionary(directions),
                                            activation_generator(probabilities), num_samples=samples)
    out = result.to_dict()
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in out.items()}

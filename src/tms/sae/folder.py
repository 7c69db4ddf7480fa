"""An SAE folder: the SAEs of one training call on disk, each in SAELens's format, with our metadata beside them.

::

    <folder>/
      saes.json            format, versions, the training (steps, batch, seed), the source's description, each SAE's
                           config, inference threshold and dead-latent count; written last (its presence = complete)
      train_log.csv        step, sae, loss
      sae_000/cfg.json                 SAELens 6.x: d_in, d_sae, dtype, device, apply_b_dec_to_input,
                                       normalize_activations, reshape_activations, metadata, architecture (+ k)
      sae_000/sae_weights.safetensors  W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc, b_dec (+ threshold)
      sae_000/tms_state.safetensors    since_fired [d_sae] (steps since each latent last fired)

Each SAE's files are :func:`tms.sae.saelens.saelens_files`' (the format lives there): relu → "standard"; topk →
"topk" (k, no decoder-norm rescaling); jumprelu → "jumprelu" (its θ); batchtopk and matryoshka → "jumprelu" with
their learned batch threshold as every latent's θ, which is how they encode at inference (as SAELens converts its
own BatchTopK SAEs). ``sae_lens.SAE.load_from_disk(sae_000)`` loads
each (tests/test_sae_saelens.py). Written atomically (:func:`tms.files.atomic_folder`, which replaces the whole
folder, so :func:`check_output` first refuses a folder holding anything but SAEs unless forced); :func:`is_complete`
says whether a folder holds exactly a given training, so a rerun skips it; :func:`read_saes` checks every tensor's
shape against ``saes.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..errors import ConfigError, RunFolderError
from ..files import atomic_folder
from ..tables import Column, Schema
from .config import SAEConfig, SAETraining
from .saelens import CFG_FILE, WEIGHTS_FILE, saelens_files
from .train import SAE, TrainedSAEs

FORMAT, FORMAT_VERSION = "tms-saes", 1
META_FILE = "saes.json"
LOG = Schema("train_log.csv", (Column("step", "int"), Column("sae", "int"), Column("loss", "float")))
def sae_dir(i: int) -> str:
    return f"sae_{i:03d}"


def meta(trained: TrainedSAEs) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "tms_version": __version__,
            "training": trained.training.to_dict(), "source": trained.source,
            "saes": [{"dir": sae_dir(i), "config": s.config.to_dict(),
                      "batch_threshold": s.batch_threshold, "dead": int(s.dead.sum())} for i, s in enumerate(trained)]}


def write_saes(path: Path | str, trained: TrainedSAEs) -> Path:
    """Write the folder atomically; same SAEs, same bytes (but ``tms_version``)."""
    from safetensors.torch import save_file

    path = Path(path)
    with atomic_folder(path) as tmp:
        for i, s in enumerate(trained):
            sub = tmp / sae_dir(i)
            sub.mkdir()
            cfg, tensors = saelens_files(s)
            (sub / CFG_FILE).write_text(json.dumps(cfg) + "\n", encoding="utf-8")
            save_file({n: t.float().contiguous() for n, t in tensors.items()}, str(sub / WEIGHTS_FILE))
            save_file({"since_fired": s.since_fired.long().contiguous()}, str(sub / "tms_state.safetensors"))
        LOG.write(tmp, ({"step": st, "sae": i, "loss": float(v)} for k, st in enumerate(trained.log_steps)
                        for i, v in enumerate(trained.log_loss[k].tolist())))
        (tmp / META_FILE).write_text(json.dumps(meta(trained), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_meta(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        m = json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path} is not an SAE folder: {META_FILE} is missing") from None
    except (OSError, ValueError) as e:
        raise RunFolderError(f"{path}/{META_FILE} cannot be read: {e}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise RunFolderError(f"{path} is not an SAE folder ({META_FILE} is not tms's)")
    return m


def read_saes(path: Path | str) -> TrainedSAEs:
    """The SAEs of a folder written by :func:`write_saes`; RunFolderError (one line, naming the file) when a file is
    missing, corrupt, or its tensors' shapes disagree with ``saes.json``'s configs."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    m = read_meta(path)
    saes = []
    try:
        for entry in m["saes"]:
            cfg = SAEConfig.from_dict(entry["config"])
            sub = path / entry["dir"]
            d_in = json.loads((sub / CFG_FILE).read_text(encoding="utf-8"))["d_in"]
            w = _load(load_file, sub / WEIGHTS_FILE)
            since = _load(load_file, sub / "tms_state.safetensors")["since_fired"]
            thr = w.get("threshold") if cfg.family != "relu" and cfg.family != "topk" else None
            if thr is not None and cfg.family != "jumprelu" and entry.get("batch_threshold") is None:
                thr = None
            _check_shapes(sub, cfg, int(d_in), w, since, thr)
            saes.append(SAE(cfg, w["W_enc"], w["W_dec"], w["b_enc"], w["b_dec"], thr, since))
        training = SAETraining.from_dict(m["training"])
        rows = LOG.read(path)
    except (OSError, KeyError, ValueError, TypeError, SafetensorError) as e:
        raise RunFolderError(f"SAE folder {path} is incomplete or corrupt: {e}") from None
    steps = sorted({r["step"] for r in rows})
    loss = torch.full((len(steps), len(saes)), math.nan)
    at = {s: k for k, s in enumerate(steps)}
    for r in rows:
        loss[at[r["step"]], r["sae"]] = r["loss"]
    return TrainedSAEs(saes, training, m["source"], steps, loss)


def _load(load_file: Any, file: Path) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors; RunFolderError naming the file when it is missing or not safetensors."""
    from safetensors import SafetensorError

    try:
        return load_file(str(file))
    except (OSError, SafetensorError) as e:
        raise RunFolderError(f"{file} cannot be read as safetensors: {e}") from None


def _check_shapes(sub: Path, cfg: SAEConfig, d_in: int, w: dict[str, torch.Tensor], since: torch.Tensor,
                  thr: torch.Tensor | None) -> None:
    """RunFolderError naming the file when a tensor's shape is not what ``saes.json``'s config and ``cfg.json``'s
    d_in say (a folder edited by hand, or weights of another training copied in)."""
    d_sae = cfg.d_sae
    want = {"W_enc": (d_in, d_sae), "W_dec": (d_sae, d_in), "b_enc": (d_sae,), "b_dec": (d_in,)}
    if cfg.family not in ("relu", "topk"):
        want["threshold"] = (d_sae,)  # jumprelu's θ, the batch families' threshold on every latent
    for name, shape in want.items():
        if name not in w:
            raise RunFolderError(f"{sub / WEIGHTS_FILE} has no tensor {name} (a {cfg.family} SAE needs it)")
        if tuple(w[name].shape) != shape:
            raise RunFolderError(f"{sub / WEIGHTS_FILE}: {name} has shape {list(w[name].shape)}, but {META_FILE} "
                                 f"says d_sae = {d_sae} and {CFG_FILE} d_in = {d_in}, so {list(shape)}")
    if tuple(since.shape) != (d_sae,):
        raise RunFolderError(f"{sub / 'tms_state.safetensors'}: since_fired has shape {list(since.shape)}, but "
                             f"{META_FILE} says d_sae = {d_sae}")


def check_output(path: Path | str, force: bool = False) -> None:
    """Refuse to write SAEs into ``path`` when it holds files that are not an SAE folder (writing replaces the whole
    folder): ConfigError unless ``force``. A missing or empty folder, or one with ``saes.json``, may be written."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_dir():
        raise ConfigError(f"out {path} exists and is not a folder")
    if force or not any(path.iterdir()):
        return
    try:
        read_meta(path)  # an SAE folder (of this training or another): replacing it loses only SAEs
    except RunFolderError:
        raise ConfigError(f"out {path} already holds files that are not a tms SAE folder (no tms {META_FILE}); "
                          f"pass --force to replace it or choose another --out") from None


def is_complete(path: Path | str, source: dict[str, Any], configs: list[SAEConfig], training: SAETraining) -> bool:
    """Whether ``path`` holds exactly these SAEs trained on this source and stream (then a rerun skips it)."""
    try:
        m = read_meta(path)
    except RunFolderError:
        return False
    return (m.get("source") == source and m.get("training") == training.to_dict()
            and [e.get("config") for e in m.get("saes", [])] == [c.to_dict() for c in configs]
            and all((Path(path) / e["dir"] / "sae_weights.safetensors").is_file() for e in m["saes"]))


def train_folder(path: Path | str, source: Any, configs: list[SAEConfig], training: SAETraining,
                 engine: str = "fast", progress: bool = False, force: bool = False) -> TrainedSAEs:
    """Train the SAEs into ``path`` unless it already holds them; the SAEs either way. ConfigError, before any
    training, when ``path`` holds files that are not an SAE folder (:func:`check_output`), unless ``force``."""
    from .sources import as_source
    from .train import train

    from ..folders import refuse_training

    source = as_source(source)
    check_output(path, force)
    if is_complete(path, source.describe(), configs, training):
        return read_saes(path)
    refuse_training(path)  # tms plot: never trains, never replaces stored SAEs
    trained = train(source, configs, training, engine=engine, progress=progress)
    write_saes(path, trained)
    return trained

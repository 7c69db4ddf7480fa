"""``tms sae`` and ``tms sae-eval``: SAEs on a stored run from the command line (the CLI only wires them in).

``tms sae RUN_FOLDER --family topk --k 4`` trains one SAE per combination of the listed values (families × their
sparsity knob × dictionary sizes × seeds) on fresh hidden activations of one model of the run, writes them as an
SAE folder (:mod:`tms.sae.folder`) and prints how well each recovered the model's features; ``tms sae-eval
SAE_FOLDER`` scores a stored SAE folder again on fresh samples and writes ``sae_eval.csv`` beside it.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from ..kinds import SAE_FAMILIES
from .config import RANKED, SAEConfig, SAETraining

SHOWN = ("sae", "family", "d_sae", "k", "penalty", "seed", "mmcs", "mcc", "recovered", "l0", "true_l0", "dead",
         "explained_variance", "shrinkage")


def _list(kind: Callable[[str], Any], name: str) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(part) for part in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be comma-separated {kind.__name__}s, got {text!r}") from None
    return parse


def add_parsers(sub, positive_int: Callable[[str], Callable[[str], int]]) -> None:
    s = sub.add_parser("sae", help="train sparse autoencoders on a stored run's hidden activations (BEYOND.md SAE)")
    s.add_argument("run", type=Path, metavar="RUN_FOLDER")
    s.add_argument("--family", type=_list(str, "family"), default=["topk"],
                   help="SAE families, comma-separated: " + SAE_FAMILIES.help(default="topk"))
    s.add_argument("--k", type=_list(int, "k"), default=None,
                   help="active latents for topk, batchtopk, matryoshka (comma-separated; default: the true L0)")
    s.add_argument("--penalty", type=_list(float, "penalty"), default=[0.1],
                   help="sparsity coefficients for relu (L1) and jumprelu (L0), comma-separated (default 0.1)")
    s.add_argument("--d-sae", type=_list(int, "d-sae"), default=None,
                   help="dictionary sizes, comma-separated (default: the model's feature count)")
    s.add_argument("--seeds", type=positive_int("seeds"), default=1, help="SAEs per setting (default 1)")
    s.add_argument("--instance", type=positive_int("instance", 0), default=0,
                   help="which model of the run (default 0)")
    s.add_argument("--steps", type=positive_int("steps"), default=4000)
    s.add_argument("--batch-size", type=positive_int("batch-size"), default=1024)
    s.add_argument("--lr", type=float, default=3e-3)
    s.add_argument("--seed", type=positive_int("seed", 0), default=0, help="seeds the activation stream")
    s.add_argument("--engine", choices=("fast", "eager"), default="fast")
    s.add_argument("--out", type=Path, default=None, help="SAE folder to write (default: RUN_FOLDER_sae)")
    s.add_argument("--force", action="store_true",
                   help="replace --out even when it holds files that are not an SAE folder (they are deleted)")
    s.add_argument("--progress", action="store_true", help="show a progress bar")
    s.add_argument("-v", "--verbose", action="store_true")
    e = sub.add_parser("sae-eval", help="score a stored SAE folder against its source's true features")
    e.add_argument("folder", type=Path, metavar="SAE_FOLDER")
    e.add_argument("--batches", type=positive_int("batches"), default=8, help="fresh batches of 4096 (default 8)")
    e.add_argument("-v", "--verbose", action="store_true")


def configs_from(args: argparse.Namespace, n_true: int, true_l0: float) -> list[SAEConfig]:
    """One config per family × its knob values × dictionary size × seed."""
    for f in args.family:
        SAE_FAMILIES.check(f)
    ks = args.k if args.k is not None else [max(1, round(true_l0))]
    sizes = args.d_sae if args.d_sae is not None else [n_true]
    out = []
    for family, d_sae, seed in itertools.product(args.family, sizes, range(args.seeds)):
        knobs = [dict(k=k) for k in ks] if family in RANKED else [dict(penalty=p) for p in args.penalty]
        for knob in knobs:
            extra = {"prefixes": tuple(sorted({max(1, d_sae // 8), max(1, d_sae // 2)} - {d_sae}))} \
                if family == "matryoshka" else {}
            out.append(SAEConfig(family, d_sae, lr=args.lr, seed=seed, **knob, **extra))
    return out


def _print(rows: list[dict[str, Any]]) -> None:
    def cell(v: Any) -> str:
        return "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
    table = [list(SHOWN)] + [[cell(r[c]) for c in SHOWN] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(SHOWN))]
    for row in table:
        sys.stdout.write("  ".join(v.rjust(w) for v, w in zip(row, widths)) + "\n")


def cmd_sae(args: argparse.Namespace) -> int:
    from .evaluate import EVAL, evaluate
    from .folder import check_output, train_folder
    from .sources import RunSource

    source = RunSource(args.run, args.instance)
    # --penalty has a default, so it is checked whichever families are asked for
    if any(p < 0 for p in args.penalty):
        raise ConfigError(f"penalty must be >= 0, got {min(args.penalty)}")
    configs = configs_from(args, len(source.directions), source.true_l0)
    training = SAETraining(steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    out = args.out or args.run.with_name(args.run.name + "_sae")
    check_output(out, args.force)  # before training: writing replaces the whole folder
    trained = train_folder(out, source, configs, training, engine=args.engine, progress=args.progress,
                           force=args.force)
    rows = evaluate(trained, source)
    EVAL.write(out, rows)
    _print(rows)
    sys.stdout.write(f"{len(configs)} SAEs in {out}\n")
    return 0


def cmd_sae_eval(args: argparse.Namespace) -> int:
    from .evaluate import EVAL, evaluate
    from .folder import read_saes
    from .sources import from_description

    trained = read_saes(args.folder)
    source = from_description(trained.source)
    rows = evaluate(trained, source, batches=args.batches)
    EVAL.write(args.folder, rows)
    _print(rows)
    return 0

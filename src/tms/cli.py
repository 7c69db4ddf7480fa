"""The ``tms`` command: a thin shell over the library.

Every user error (bad flag, out-of-range value, unknown experiment, missing or corrupt run folder or config
file) ends with one line on stderr naming what is wrong and what is allowed, and exit code 2; an output that
cannot be written (no space, no permission) ends the same way with exit code 3; an interruption with 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ._version import __version__
from .config import Overrides, Recipe, RunConfig
from .errors import ConfigError, RunFolderError, TMSError
from .kinds import AUTO_ENGINE, CORRELATIONS, DATA, ENGINES, INITS, LOSSES, MODELS, OPTIMIZERS, SCHEDULES
from .layout import (
    CLAIMS_FILE,
    DEFAULT_QUICK_RESULTS,
    DEFAULT_RESULTS,
    REPORT_HTML,
    ROBUSTNESS_MD,
)

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger("tms")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2, and options are spelt out in full
    (no abbreviations: the sections' parameter flags are found before parsing, by reading the options as written)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _positive_int(name: str, lowest: int = 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {lowest}, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {lowest}, got {value}")
        return value

    return parse


def _number(name: str):
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None

    return parse


def _densities(text: str) -> list[float]:
    """One --densities value: a number, or numbers joined by commas ("1,0.1")."""
    out = []
    for part in text.split(","):
        try:
            out.append(float(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"density must be a number, got {part!r}") from None
    return out


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda (default: auto)")
    p.add_argument("--engine", default=AUTO_ENGINE, choices=list(ENGINES),
                   help="training engine: " + ENGINES.help(default=AUTO_ENGINE))
    p.add_argument("--threads", type=_positive_int("threads"), default=None,
                   help="CPU threads to train with (default: torch's setting); the numbers do not depend on it")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show a progress bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO) to stderr")


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="who trains the run folders: local (default, this process) or ray "
                        "(pip install \"tms-superposition[ray]\")")
    p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="with --executor ray: 'auto' or host:port of a running cluster (default: start Ray here)")
    p.add_argument("--cpus-per-task", type=_positive_int("cpus-per-task"), default=1,
                   help="with --executor ray: CPUs (and torch threads) per run folder (default 1)")


def _runtime(args: argparse.Namespace) -> Runtime:
    """The :class:`~tms.runtime.Runtime` the flags ask for: device, engine, threads, progress and executor (the
    local one unless --executor ray; a Ray started here is stopped by ``runtime.executor.close()``)."""
    from .executors import make_executor
    from .runtime import Runtime

    executor = make_executor(args.executor, ray_address=args.ray_address, cpus_per_task=args.cpus_per_task)
    return Runtime(device=args.device, engine=args.engine, threads=args.threads, progress=_progress(args),
                   executor=executor)


def section_params(experiments) -> dict[str, str]:
    """The ``tms reproduce`` flag of every parameter the sections declare (:class:`tms.experiment.Param`), with a
    help text joining what each experiment that takes it says."""
    out: dict[str, list[str]] = {}
    for exp in experiments:
        for p in exp.params:
            out.setdefault(p.name, [])
            text = f"{p.help or exp.name} (default {p.default})"
            if text not in out[p.name]:
                out[p.name].append(text)
    return {name: "; ".join(texts) for name, texts in out.items()}


def _add_train(sub) -> None:
    """``tms train``: one run folder from flags or a config file."""
    t = sub.add_parser("train", help="train toy models from flags or a config file into a run folder")
    t.add_argument("--config", type=Path, default=None, metavar="FILE.json",
                   help="a RunConfig as JSON (a run folder's config.json will do); flags below that are given "
                        "replace its seed and recipe fields")
    t.add_argument("--features", "-n", type=_positive_int("features"), default=None, help="n: number of features")
    t.add_argument("--hidden", "-m", type=_positive_int("hidden"), default=None, help="m: hidden dimensions")
    t.add_argument("--densities", type=_densities, nargs="+", default=None, metavar="P",
                   help="feature density p = 1 - S in (0, 1], one setting per value ('1 0.1' or '1,0.1')")
    t.add_argument("--importance-decay", type=_number("importance-decay"), default=None,
                   help="I_i = decay**i (default 1: all features equally important)")
    t.add_argument("--model", choices=list(MODELS), default=None,
                   help="model family: " + MODELS.help(default=RunConfig.model))
    t.add_argument("--activation", dest="model", choices=list(MODELS), help=argparse.SUPPRESS)
    t.add_argument("--restarts", type=_positive_int("restarts"), default=None, help="models trained per density (default 1)")
    # data 'sets' is chosen by giving --set, which names the sets too
    plain = [d for d in DATA if d != "sets"]
    t.add_argument("--data", choices=plain, default=None,
                   help="data distribution (--set for feature sets): " + DATA.help(default=RunConfig.data, names=plain))
    t.add_argument("--set", dest="sets", action="append", default=None, metavar="KIND:i,j,...",
                   help="a feature set drawn together, for example correlated:0,1; repeat for more; the other "
                        "features stay independent. KIND: " + CORRELATIONS.help())
    t.add_argument("--steps", type=_positive_int("steps"), default=None, help=f"default {Recipe.steps}")
    t.add_argument("--batch-size", type=_positive_int("batch-size"), default=None, help=f"default {Recipe.batch_size}")
    t.add_argument("--lr", type=_number("lr"), default=None, help=f"default {Recipe.lr}")
    t.add_argument("--weight-decay", type=_number("weight-decay"), default=None, help=f"default {Recipe.weight_decay}")
    t.add_argument("--init", choices=list(INITS), default=None, help=INITS.help(default=Recipe.init))
    t.add_argument("--optimizer", choices=list(OPTIMIZERS), default=None,
                   help=OPTIMIZERS.help(default=Recipe.optimizer))
    t.add_argument("--momentum", type=_number("momentum"), default=None,
                   help=f"SGD's momentum (default {Recipe.momentum})")
    t.add_argument("--schedule", choices=list(SCHEDULES), default=None,
                   help="learning-rate schedule: " + SCHEDULES.help(default=Recipe.schedule))
    t.add_argument("--warmup-steps", type=_positive_int("warmup-steps", 0), default=None,
                   help="steps of linear warm-up, fewer than --steps (default 0)")
    t.add_argument("--lr-floor", type=_number("lr-floor"), default=None,
                   help=f"the cosine schedule's last lr as a share of --lr (default {Recipe.lr_floor})")
    t.add_argument("--gamma", type=_number("gamma"), default=None,
                   help="Liu, Liu & Gore 2025's decay of W, may be negative (< 0 pulls each feature's norm towards 1: "
                        "strong superposition); replaces --weight-decay (which must then be left out), b is not "
                        "decayed (default: none, AdamW's own decay)")
    t.add_argument("--loss", choices=list(LOSSES), default=None, help=LOSSES.help(default=Recipe.loss))
    t.add_argument("--loss-penalty", type=_number("loss-penalty"), default=None,
                   help="λ of the target-only loss (default 0)")
    t.add_argument("--power-law", type=_number("power-law"), nargs="+", default=None, metavar="ALPHA",
                   help="instead of --densities: p_i ∝ i^-ALPHA summing to --expected-active (Liu, Liu & Gore "
                        "2025's α; their code's a is α - 1), one setting per value")
    t.add_argument("--expected-active", type=_number("expected-active"), default=None,
                   help="with --power-law: the expected number of active features per sample (default 1)")
    t.add_argument("--value-max", type=_number("value-max"), default=None,
                   help="active values U[0, VALUE_MAX] instead of U[0, 1] (default 1)")
    t.add_argument("--train-size", type=_positive_int("train-size"), default=None, metavar="T",
                   help="train on T fixed examples (full batch when --batch-size >= T, else in epochs); test loss on "
                        "fresh draws (default: fresh batches every step)")
    t.add_argument("--normalize", action="store_true", default=None, help="scale every example to unit length")
    t.add_argument("--log-every", type=_positive_int("log-every"), default=None, help=f"default {Recipe.log_every}")
    t.add_argument("--seed", type=_positive_int("seed", 0), default=None, help="default 0")
    t.add_argument("--snapshots", default=None, metavar="log|STEPS",
                   help="keep W and b at these steps: 'log' (log-spaced) or steps joined by commas, in [0, steps]")
    t.add_argument("--out", type=Path, required=True, help="run folder to write")
    t.add_argument("--force", action="store_true", help="replace an existing run folder trained from another config")
    _add_run_options(t)


def _add_reproduce(sub, params: dict[str, str] | None) -> None:
    """``tms reproduce``: a suite or the named sections; ``params``: the sections' parameter flags."""
    r = sub.add_parser("reproduce", help="reproduce a suite of sections (the paper's by default), check its claims, "
                                         "write the report")
    r.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                   help="experiments or sections to run, by name or by path (a section's folder or .py file, not "
                        "installed); default: every experiment of the suite")
    r.add_argument("--suite", default=None, metavar="NAME",
                   help="the suite to run when no experiment is named: paper (default), beyond, an outside suite, or all")
    r.add_argument("--out", type=Path, default=None, help="results folder (default: results, or results-quick with --quick)")
    r.add_argument("--quick", action="store_true", help="short, smaller runs: a smoke test of the pipeline, not the claims")
    r.add_argument("--list", action="store_true", help="list the experiments, their sections and where each comes from")
    r.add_argument("--no-report", action="store_true", help="skip writing the report")
    for name, (default_help) in (params or {}).items():
        # a parameter's flag is dashed like every other option (--scaling-grid); its own spelling works too
        flags = dict.fromkeys((f"--{name.replace('_', '-')}", f"--{name}"))
        r.add_argument(*flags, dest=name, type=_positive_int(name), default=None, help=default_help)
    r.add_argument("--seed", type=_positive_int("seed", 0), default=None,
                   help="base seed of every run instead of 0 (runs keep their offsets): the claims on other draws")
    _add_executor_options(r)
    _add_run_options(r)


def _add_robustness(sub) -> None:
    """``tms robustness``: the claims under recipe variants."""
    rb = sub.add_parser("robustness", help="the claims again under other recipes and seeds, side by side")
    rb.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                    help="experiments to run (default: intro section2)")
    rb.add_argument("--variant", dest="variants", action="append", metavar="SPEC", default=None,
                    help="'paper' or key=value[,key=value] with keys lr, batch, steps, wd, init, optimizer, momentum, "
                         "seed; repeat for more (default: paper, lr=0.0003, lr=0.003, batch=256, init=per_model, "
                         "seed=1, seed=2)")
    rb.add_argument("--grid", nargs="+", metavar="KEY=V1,V2", default=None,
                    help="variants as the product of axes, e.g. --grid lr=3e-4,1e-3,3e-3 optimizer=adamw,sgd "
                         "seed=0,1,2 (added to any --variant)")
    rb.add_argument("--heatmap", default=None, metavar="X,Y",
                    help="two grid keys, e.g. lr,optimizer: a heat-map per claim of the share of variants passing "
                         "(default: the first two grid axes that are not seed)")
    rb.add_argument("--out", type=Path, default=None,
                    help="folder (default: results/robustness, which the report of results/ then shows)")
    rb.add_argument("--quick", action="store_true", help="short, smaller runs: a smoke test of the pipeline")
    _add_executor_options(rb)
    _add_run_options(rb)


def build_parser(params: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The parser; ``params``: the sections' parameters as ``tms reproduce`` flags (:func:`section_params`)."""
    parser = _Parser(prog="tms", description="Toy Models of Superposition, reproduced and checked.")
    parser.add_argument("--version", action="version", version=f"tms {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    _add_train(sub)
    _add_reproduce(sub, params)
    _add_robustness(sub)

    p = sub.add_parser("plot", help="redraw the figures of a run, an experiment or a results folder (no training)")
    p.add_argument("path", type=Path, metavar="RUN")
    p.add_argument("--step", type=_positive_int("step", 0), default=None, metavar="K",
                   help="draw the runs as they were at training step K, from their snapshots (into steps/K/)")
    p.add_argument("-v", "--verbose", action="store_true")

    ns = sub.add_parser("new-section", help="write a working outside section to start from (docs/SECTIONS.md)")
    ns.add_argument("name", metavar="NAME", help="the section's name: lower-case letters, digits and '_'")
    ns.add_argument("--dir", type=Path, default=Path("."), help="folder to write NAME/ into (default: here)")
    ns.add_argument("--suite", default="mine", help="the suite it belongs to (default: mine)")

    from .sae.command import add_parsers as add_sae_parsers

    add_sae_parsers(sub, _positive_int)
    _add_llc(sub)

    rep = sub.add_parser("report", help="build report.html and REPORT.md from stored runs (no training)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results)")
    rep.add_argument("-v", "--verbose", action="store_true")
    return parser


def _add_llc(sub) -> None:
    from .llc import SGLD

    d = SGLD()
    q = sub.add_parser("llc", help="estimate the local learning coefficient of a run's models by SGLD "
                                   "(devinterp's sampler; written to RUN/llc/)",
                       description="Estimate the LLC of a run's models by SGLD; the estimates go to RUN/llc/. Exit "
                                   "code 1 (with a warning on stderr, the folder still written) when every chain of "
                                   "some model escaped below L_n(w*): its estimate is NaN, the weights are no local "
                                   "minimum (train longer or raise --gamma).")
    q.add_argument("path", type=Path, metavar="RUN")
    q.add_argument("--chains", type=int, default=d.chains, help=f"chains per model (default {d.chains})")
    q.add_argument("--draws", type=int, default=d.draws, help=f"draws per chain (default {d.draws})")
    q.add_argument("--burn-in", type=int, default=d.burn_in, help=f"steps before the first draw (default {d.burn_in})")
    q.add_argument("--step-size", type=float, default=d.step_size, help=f"SGLD step size ε (default {d.step_size:g})")
    q.add_argument("--gamma", type=float, default=d.gamma, help=f"localization γ (default {d.gamma:g})")
    q.add_argument("--nbeta", type=float, default=None, help="inverse temperature nβ (default n / ln n)")
    q.add_argument("--batch-size", type=_positive_int("batch-size"), default=None,
                   help="SGLD batch, at most --samples (default: the full dataset)")
    q.add_argument("--samples", type=_positive_int("samples", 2), default=1000,
                   help="n, the fixed dataset's size (default 1000)")
    q.add_argument("--seed", type=_positive_int("seed", 0), default=0,
                   help="the chains' seed; the dataset's too (default 0)")
    q.add_argument("--force", action="store_true", help="estimate again even when RUN/llc/ holds these settings")
    q.add_argument("-v", "--verbose", action="store_true")


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else args.progress


_RUN_FLAGS = ("value_max", "train_size", "normalize")
_SHAPE_FLAGS = ("features", "hidden", "densities", "importance_decay", "model", "restarts", "sets", "data",
                "power_law", "expected_active") + _RUN_FLAGS
_RECIPE_FLAGS = {"steps": "steps", "batch_size": "batch_size", "lr": "lr", "weight_decay": "weight_decay",
                 "init": "init", "log_every": "log_every", "optimizer": "optimizer", "momentum": "momentum",
                 "schedule": "schedule", "warmup_steps": "warmup_steps", "lr_floor": "lr_floor", "gamma": "gamma",
                 "loss": "loss", "loss_penalty": "loss_penalty"}


def _config(args: argparse.Namespace) -> RunConfig:
    """The RunConfig of ``tms train``: from --config (with the seed and recipe flags given on top), or flags."""
    recipe = {field: getattr(args, flag) for flag, field in _RECIPE_FLAGS.items() if getattr(args, flag) is not None}
    if recipe.get("gamma") is not None and recipe.get("weight_decay", 0.0) != 0.0:
        # the config allows its default with gamma (old run folders record it); a value typed here is a mistake
        raise ConfigError(f"weight_decay is not used with gamma (γ replaces the decay of W, b is not decayed): drop "
                          f"--weight-decay, got weight_decay {recipe['weight_decay']:g} with gamma {recipe['gamma']:g}")
    if args.config is not None:
        given = [f"--{f.replace('_', '-')}" for f in _SHAPE_FLAGS if getattr(args, f) is not None]
        if given:
            raise ConfigError(f"config: {', '.join(given)} cannot be combined with --config (the file defines them)")
        config = read_config_file(args.config)
        return Overrides(recipe=tuple(recipe.items())).apply(
            config if args.seed is None else dataclasses.replace(config, seed=args.seed))
    missing = [f"--{f}" for f in ("features", "hidden") if getattr(args, f) is None]
    if args.densities is None and args.power_law is None:
        missing.append("--densities or --power-law")
    if missing:
        raise ConfigError(f"train needs {', '.join(missing)} (or --config FILE.json)")
    if args.sets and args.data is not None:
        raise ConfigError(f"data: --set makes the data 'sets'; it cannot be combined with --data {args.data}")
    common = dict(model=args.model or "relu", data="sets" if args.sets else args.data or "independent",
                  feature_sets=tuple(args.sets or ()), restarts=args.restarts or 1, recipe=Recipe(**recipe),
                  seed=args.seed or 0, **{f: getattr(args, f) for f in _RUN_FLAGS if getattr(args, f) is not None})
    if args.power_law is not None:
        if args.densities is not None or args.importance_decay is not None:
            raise ConfigError("power-law: --power-law sets the densities (importance 1); it cannot be combined with "
                              "--densities or --importance-decay")
        return RunConfig.power_law(args.features, args.hidden, args.power_law,
                                   1.0 if args.expected_active is None else args.expected_active, **common)
    if args.expected_active is not None:
        raise ConfigError("expected-active needs --power-law")
    return RunConfig.uniform(
        args.features, args.hidden, [p for group in args.densities for p in group],
        1.0 if args.importance_decay is None else args.importance_decay, **common)


def read_config_file(path: Path) -> RunConfig:
    """A RunConfig from JSON: a bare config, or a run folder's config.json (which holds one under "config")."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"config {path} is not a JSON file ({e.__class__.__name__})") from None
    if isinstance(data, dict) and data.get("format") == "tms-run":
        data = data.get("config")
    try:
        return RunConfig.from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"config {path}: {e}") from None


def _snapshots(text: str | None) -> str | list[int] | None:
    if text is None or text == "log":
        return text
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise ConfigError(f"snapshots must be 'log' or integer steps joined by commas, got {text!r}") from None


def cmd_train(args: argparse.Namespace) -> int:
    from .folders import reevaluate
    from .runs import prepare_output, save_run
    from .train import snapshot_steps, train

    config = _config(args)
    snapshots = _snapshots(args.snapshots)
    snapshot_steps(snapshots, config.recipe.steps)  # bad steps fail before anything is written
    out: Path = args.out
    state = prepare_output(out, config, force=args.force)
    if state == "complete" and snapshots is None:
        sys.stderr.write(f"tms: {out} already holds a run of this config; nothing to train\n")
        return 0
    if state == "evaluate" and snapshots is None:
        reevaluate(out, config, args.device)
        sys.stderr.write(f"tms: {out} holds a run of this config; evaluated it again with {config.recipe.eval_batches} "
                         "batches\n")
        return 0
    result = train(config, device=args.device, engine=args.engine, threads=args.threads, snapshots=snapshots,
                   progress=_progress(args))
    save_run(out, config, result, extra={"command": "train"})
    sys.stderr.write(
        f"tms: trained {config.n_instances} model(s) in {result.seconds:.1f}s ({result.engine} engine, {result.device}); "
        f"final loss {result.final_loss.min():.5g}..{result.final_loss.max():.5g}; wrote {out}\n"
    )
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .claims import format_claims_table
    from .reproduce import reproduce, select

    reg, chosen = select(args.experiments, args.suite)  # fail fast on unknown names and broken sections
    if args.list:
        shown = chosen if args.experiments or args.suite else list(reg.experiments.values())
        for exp in shown:
            sys.stdout.write(f"{exp.name:<16} {exp.suite:<7} {exp.section:<13} {exp.title}\n"
                             f"{'':<16} from {reg.origins[exp.name]}\n")
        for name, cause in reg.broken.items():
            sys.stdout.write(f"{name:<16} BROKEN  {cause}\n")
        return 0
    out = args.out or Path(DEFAULT_QUICK_RESULTS if args.quick else DEFAULT_RESULTS)
    params = tuple((k, v) for k in section_params(reg.experiments.values())
                   if (v := getattr(args, k, None)) is not None)
    runtime = _runtime(args)
    try:
        claims = reproduce(args.experiments, out, quick=args.quick, overrides=Overrides(seed=args.seed, params=params),
                           report=not args.no_report, suite=args.suite, runtime=runtime)
    finally:
        runtime.executor.close()
    sys.stdout.write(format_claims_table(claims) + "\n")
    if not args.no_report:
        sys.stdout.write(f"report: {out / REPORT_HTML}\n")
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    from .registry import get_experiments
    from .robustness import DEFAULT_DIR, DEFAULT_VARIANTS, KEYS, parse_grid, parse_variant, run_robustness

    get_experiments(args.experiments or None)  # fail fast on unknown names and bad variants, before any work
    grid = parse_grid(args.grid) if args.grid else []
    specs = (args.variants or ([] if grid else list(DEFAULT_VARIANTS))) + grid
    for spec in specs:
        parse_variant(spec)
    heatmap = None
    if args.heatmap is not None:
        heatmap = tuple(k.strip() for k in args.heatmap.split(","))
        if len(heatmap) != 2 or any(k not in KEYS for k in heatmap):
            raise ConfigError(f"heatmap: two keys joined by ',' among {', '.join(KEYS)}, got {args.heatmap!r}")
    elif args.grid:
        keys = [a.partition("=")[0].strip() for a in args.grid if a.partition("=")[0].strip() != "seed"]
        heatmap = tuple(keys[:2]) if len(keys) >= 2 else None

    def done(v, seconds):
        sys.stderr.write(f"tms: variant {v.name} done in {seconds:.0f}s\n")

    out = args.out or DEFAULT_DIR
    runtime = _runtime(args)
    try:
        run_robustness(args.experiments or None, out, specs, quick=args.quick, on_variant=done, heatmap=heatmap,
                       runtime=runtime)
    finally:
        runtime.executor.close()
    sys.stdout.write((out / ROBUSTNESS_MD).read_text(encoding="utf-8"))
    if out.name == DEFAULT_DIR.name and (out.parent / CLAIMS_FILE).is_file():
        from .report import write_report

        write_report(out.parent)  # the results folder's report shows the table
        sys.stdout.write(f"report: {out.parent / REPORT_HTML}\n")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .pipeline import redraw

    paths = redraw(args.path, step=args.step)
    for p in paths:
        sys.stdout.write(f"{p}\n")
    return 0


def cmd_new_section(args: argparse.Namespace) -> int:
    from .scaffold import new_section

    path = new_section(args.name, args.dir, suite=args.suite)
    shown = path.as_posix() if len(path.parts) > 1 else f"./{path.as_posix()}"
    sys.stdout.write(f"{shown}\nrun it: tms reproduce {shown}\ntest it: python -m pytest {shown}\n")
    return 0


def cmd_llc(args: argparse.Namespace) -> int:
    from .llc import ESTIMATES, SGLD, estimate_run_folder

    config = SGLD(step_size=args.step_size, gamma=args.gamma, nbeta=args.nbeta, draws=args.draws,
                  burn_in=args.burn_in, chains=args.chains, batch_size=args.batch_size, seed=args.seed).check()
    folder, wrote = estimate_run_folder(args.path, config, n=args.samples, data_seed=args.seed, force=args.force)
    for row in ESTIMATES.read(folder):
        sys.stdout.write(f"model {row.model}: llc {row.llc:.3f} ± {row.stderr:.3f} ({row.kept} chains kept, "
                         f"{row.escaped} escaped; halves {row.first_half:.3f} → {row.second_half:.3f}; ESS "
                         f"{row.ess:.0f})\n")
    sys.stdout.write(f"{folder}{'' if wrote else ' (already complete)'}\n")
    lost = [row.model for row in ESTIMATES.read(folder) if row.kept == 0]
    if lost:
        sys.stderr.write(f"tms llc: every chain escaped for model(s) {', '.join(map(str, lost))} (llc NaN): the "
                         f"weights are not a local minimum; train longer or raise --gamma\n")
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if not args.out.is_dir():
        raise RunFolderError(f"results folder {args.out} does not exist; run `tms reproduce --out {args.out}` first")
    from .report import write_report

    for p in write_report(args.out):
        sys.stdout.write(f"{p}\n")
    return 0


def _interrupt_on_sigterm(signum, frame) -> None:  # noqa: ARG001
    # `kill` gets the same clean stop as Ctrl-C: temporary folders are removed, finished runs stay.
    raise KeyboardInterrupt


def _reproduce_params(argv: Sequence[str]) -> dict[str, str] | None:
    """For ``tms reproduce``: the flags of the parameters that the installed sections, and those named by path on
    the command line, declare (None for the other commands, which do not load sections)."""
    words, skip = [], False
    for a in argv:  # the positional words: every option but these few takes a value
        if skip:
            skip = False
        elif a.startswith("-"):
            skip = "=" not in a and a not in _NO_VALUE
        else:
            words.append(a)
    if not words or words[0] != "reproduce":
        return None
    from .registry import discover, looks_like_path

    return section_params(discover([a for a in words[1:] if looks_like_path(a)]).experiments.values())


_NO_VALUE = {"-h", "--help", "--version", "--quick", "--list", "--no-report", "--progress", "--no-progress", "-v",
             "--verbose", "--force"}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        parser = build_parser(_reproduce_params(argv))
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        logging.basicConfig(
            level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        from .sae.command import cmd_sae, cmd_sae_eval

        handler = {"train": cmd_train, "reproduce": cmd_reproduce, "robustness": cmd_robustness, "plot": cmd_plot,
                   "report": cmd_report, "new-section": cmd_new_section, "sae": cmd_sae, "sae-eval": cmd_sae_eval,
                   "llc": cmd_llc}
        return handler[args.command](args)
    except _UsageError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    except TMSError as e:
        sys.stderr.write(f"tms: error: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("tms: interrupted; finished runs are kept, run the same command again to resume\n")
        return 130
    except BrokenPipeError:  # the reader went away (`tms reproduce --list | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

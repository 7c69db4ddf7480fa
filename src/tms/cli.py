"""The ``tms`` command: a thin shell over the library.

Every user error (bad flag, out-of-range value, unknown experiment, missing or corrupt run folder) ends with
one line on stderr naming what is wrong and what is allowed, and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import ACTIVATIONS, ENGINES, INITS, Recipe, RunConfig
from .errors import ConfigError, RunFolderError, TMSError

log = logging.getLogger("tms")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

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


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda (default: auto)")
    p.add_argument("--engine", default="auto", choices=ENGINES, help="training engine (default: auto = fast)")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show a progress bar")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO) to stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tms", description="Toy Models of Superposition, reproduced and checked.")
    parser.add_argument("--version", action="version", version=f"tms {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train toy models from flags into a run folder")
    t.add_argument("--features", "-n", type=_positive_int("features"), required=True, help="n: number of features")
    t.add_argument("--hidden", "-m", type=_positive_int("hidden"), required=True, help="m: hidden dimensions")
    t.add_argument("--densities", type=_number("density"), nargs="+", required=True, metavar="P",
                   help="feature density p = 1 - S in (0, 1], one setting per value")
    t.add_argument("--importance-decay", type=_number("importance-decay"), default=1.0,
                   help="I_i = decay**i (default 1: all features equally important)")
    t.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    t.add_argument("--restarts", type=_positive_int("restarts"), default=1, help="models trained per density (default 1)")
    t.add_argument("--steps", type=_positive_int("steps"), default=Recipe.steps)
    t.add_argument("--batch-size", type=_positive_int("batch-size"), default=Recipe.batch_size)
    t.add_argument("--lr", type=_number("lr"), default=Recipe.lr)
    t.add_argument("--weight-decay", type=_number("weight-decay"), default=Recipe.weight_decay)
    t.add_argument("--init", choices=INITS, default=Recipe.init, help="paper: Xavier over the instance batch; per_model")
    t.add_argument("--log-every", type=_positive_int("log-every"), default=Recipe.log_every)
    t.add_argument("--seed", type=_positive_int("seed", 0), default=0)
    t.add_argument("--out", type=Path, required=True, help="run folder to write")
    t.add_argument("--force", action="store_true", help="replace an existing run folder trained from another config")
    _add_run_options(t)

    r = sub.add_parser("reproduce", help="reproduce the paper's experiments, check its claims, write the report")
    r.add_argument("experiments", nargs="*", metavar="EXPERIMENT", help="experiments to run (default: all)")
    r.add_argument("--out", type=Path, default=None, help="results folder (default: results, or results-quick with --quick)")
    r.add_argument("--quick", action="store_true", help="short, smaller runs: a smoke test of the pipeline, not the claims")
    r.add_argument("--list", action="store_true", help="list the experiments and exit")
    r.add_argument("--no-report", action="store_true", help="skip writing the report")
    r.add_argument("--grid", type=_positive_int("grid"), default=None,
                   help="§3 phase diagrams: points per axis (default 20)")
    r.add_argument("--models", type=_positive_int("models"), default=None,
                   help="§3 phase diagrams: models trained per grid point (default 10)")
    r.add_argument("--seed", type=_positive_int("seed", 0), default=None,
                   help="seed every run with this instead of its default (0): the claims on other random draws")
    _add_run_options(r)

    rb = sub.add_parser("robustness", help="the claims again under other recipes and seeds, side by side")
    rb.add_argument("experiments", nargs="*", metavar="EXPERIMENT",
                    help="experiments to run (default: intro section2)")
    rb.add_argument("--variant", dest="variants", action="append", metavar="SPEC", default=None,
                    help="'paper' or key=value[,key=value] with keys lr, batch, steps, wd, init, seed; repeat for "
                         "more (default: paper, lr=0.0003, lr=0.003, batch=256, init=per_model, seed=1, seed=2)")
    rb.add_argument("--out", type=Path, default=None,
                    help="folder (default: results/robustness, which the report of results/ then shows)")
    rb.add_argument("--quick", action="store_true", help="short, smaller runs: a smoke test of the pipeline")
    _add_run_options(rb)

    p = sub.add_parser("plot", help="redraw the figures of a run, an experiment or a results folder (no training)")
    p.add_argument("path", type=Path, metavar="RUN")
    p.add_argument("-v", "--verbose", action="store_true")

    rep = sub.add_parser("report", help="build report.html and REPORT.md from stored runs (no training)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results)")
    rep.add_argument("-v", "--verbose", action="store_true")
    return parser


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else args.progress


def cmd_train(args: argparse.Namespace) -> int:
    from .runs import is_complete_run, read_meta, save_run
    from .train import train

    recipe = Recipe(steps=args.steps, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                    init=args.init, log_every=args.log_every)
    config = RunConfig.uniform(args.features, args.hidden, args.densities, args.importance_decay,
                               activation=args.activation, restarts=args.restarts, recipe=recipe, seed=args.seed)
    out: Path = args.out
    if out.exists():
        if is_complete_run(out, config):
            log.warning("%s already holds this run; nothing to do", out)
            sys.stderr.write(f"tms: {out} already holds a run of this config; nothing to train\n")
            return 0
        if not out.is_dir():
            raise ConfigError(f"out {out} exists and is not a folder")
        if any(out.iterdir()) and not args.force:
            try:
                read_meta(out)
                what = "a run of another config"
            except RunFolderError:
                what = "files that are not a tms run"
            raise ConfigError(f"out {out} already holds {what}; pass --force to replace it or choose another --out")
    result = train(config, device=args.device, engine=args.engine, progress=_progress(args))
    save_run(out, config, result, extra={"command": "train"})
    sys.stderr.write(
        f"tms: trained {config.n_instances} model(s) in {result.seconds:.1f}s ({result.engine} engine, {result.device}); "
        f"final loss {result.final_loss.min():.5g}..{result.final_loss.max():.5g}; wrote {out}\n"
    )
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .experiments import all_experiments, get_experiments
    from .reproduce import format_claims_table, reproduce

    if args.list:
        for exp in all_experiments().values():
            sys.stdout.write(f"{exp.name:<16} {exp.title}\n")
        return 0
    get_experiments(args.experiments)  # fail fast on unknown names, before any work
    out = args.out or Path("results-quick" if args.quick else "results")
    replacements = None
    if args.grid is not None or args.models is not None:
        from .experiments import phase

        replacements = phase.make_phase_experiments(grid=args.grid or phase.GRID, models=args.models or phase.MODELS)
    claims = reproduce(args.experiments, out, quick=args.quick, device=args.device, engine=args.engine,
                       progress=_progress(args), report=not args.no_report, replacements=replacements,
                       seed=args.seed)
    sys.stdout.write(format_claims_table(claims) + "\n")
    if not args.no_report:
        sys.stdout.write(f"report: {out / 'report.html'}\n")
    return 0


def cmd_robustness(args: argparse.Namespace) -> int:
    from .experiments import get_experiments
    from .reproduce import CLAIMS_FILE
    from .robustness import DEFAULT_DIR, DEFAULT_VARIANTS, MD_FILE, parse_variant, run_robustness

    get_experiments(args.experiments or None)  # fail fast on unknown names and bad variants, before any work
    for spec in args.variants or DEFAULT_VARIANTS:
        parse_variant(spec)

    def done(v, seconds):
        sys.stderr.write(f"tms: variant {v.name} done in {seconds:.0f}s\n")

    out = args.out or DEFAULT_DIR
    run_robustness(args.experiments or None, out, args.variants, quick=args.quick, device=args.device,
                   engine=args.engine, progress=_progress(args), on_variant=done)
    sys.stdout.write((out / MD_FILE).read_text(encoding="utf-8"))
    if out.name == DEFAULT_DIR.name and (out.parent / CLAIMS_FILE).is_file():
        from .report import write_report

        write_report(out.parent)  # the results folder's report shows the table
        sys.stdout.write(f"report: {out.parent / 'report.html'}\n")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .plotting import redraw

    paths = redraw(args.path)
    for p in paths:
        sys.stdout.write(f"{p}\n")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        logging.basicConfig(
            level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
            format="%(levelname)s %(name)s: %(message)s",
        )
        handler = {"train": cmd_train, "reproduce": cmd_reproduce, "robustness": cmd_robustness, "plot": cmd_plot,
                   "report": cmd_report}
        return handler[args.command](args)
    except _UsageError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    except TMSError as e:
        sys.stderr.write(f"tms: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("tms: interrupted; finished runs are kept, run the same command again to resume\n")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

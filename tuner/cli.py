"""``tuner`` / ``python -m tuner``: a thin argparse layer over plain functions.

``main(argv) -> int``: user errors (bad experiment file, unknown names, an existing results
directory) print one line on stderr and return 2, before Ray starts; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main", "build_parser"]

EPILOG = """examples:
  tuner launch examples/digits_mlp.yaml
  tuner launch examples/digits_mlp.yaml --set searcher=random --set budget.max=9 --name quick
  tuner launch examples/digits_mlp.yaml --dry-run
  tuner launch results/digits_mlp/manifest.json      # rerun a recorded run, new name
  tuner launch examples/digits_mlp.yaml --address auto --storage s3://bucket/tuner
  tuner plan --scheduler hyperband --min 1 --max 81 --eta 3
  tuner methods
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuner", description="Hyperparameter optimisation for PyTorch on Ray Tune.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    launch = sub.add_parser(
        "launch", help="run an experiment file on a local Ray or a Ray cluster",
        description="Run EXPERIMENT.yaml: sample configs with the searcher, stop poor trials "
                    "with the scheduler, then write trials.csv, best.json (with the test-set "
                    "score of the winner), report.md and curves.png to <storage>/<name>/.")
    launch.add_argument("experiment", help="experiment YAML file (see examples/), or a run's "
                        "manifest.json to rerun it under a new name")
    launch.add_argument("--address", help="join a running Ray cluster (e.g. auto, "
                        "127.0.0.1:6379); default: start a local Ray on 127.0.0.1")
    launch.add_argument("--storage", help="results directory or URI (default: ./results)")
    launch.add_argument("--name", help="experiment name (default: the file's 'name' or stem)")
    launch.add_argument("--num-samples", type=int, help="number of trials")
    launch.add_argument("--seed", type=int, help="seed of searcher, scheduler and trials")
    launch.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a field by dotted path, e.g. "
                        "--set searcher=random --set budget.max=9 (repeatable)")
    launch.add_argument("--dry-run", action="store_true",
                        help="validate everything and print the plan; start nothing")
    launch.add_argument("--resume", action="store_true",
                        help="continue an interrupted experiment of that name (a larger "
                             "--num-samples adds trials; other changes are refused)")
    launch.add_argument("--quiet", action="store_true",
                        help="print nothing but errors (the result files are written as usual)")
    launch.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    plan = sub.add_parser(
        "plan", help="print the budget ladder: ASHA rungs or HyperBand brackets",
        description="Print the rungs (ASHA) or every bracket (HyperBand) with the number of "
                    "configs and the resource per rung, and the total budget.")
    plan.add_argument("experiment", nargs="?", help="experiment YAML file")
    plan.add_argument("--scheduler", help="asha, hyperband, … (overrides the file)")
    plan.add_argument("--min", type=int, help="minimum resource (epochs)")
    plan.add_argument("--max", type=int, help="maximum resource (epochs)")
    plan.add_argument("--eta", type=int, help="reduction factor")
    plan.add_argument("--num-samples", type=int, help="trials (for ASHA's expected counts)")
    plan.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE", help="override a field of the file")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    sub.add_parser("methods", help="list the named methods, searchers and schedulers",
                   description="List every named method (searcher + scheduler composition).")
    from tuner.followup import confirm, refine  # their subcommands live with their code

    refine.add_parser(sub)
    confirm.add_parser(sub)
    from tuner.view import dashboard  # tuner dashboard NAME: optuna-dashboard over the run's journal

    dashboard.add_parser(sub)
    return parser


def _launch(args: argparse.Namespace) -> int:
    exp = _load(args)
    if args.dry_run:
        from tuner.compose import methods
        from tuner.launch.preflight import check_results_dir
        from tuner.launch.runner import plan_text

        check_results_dir(exp, args.resume)
        # building the searcher checks warm-start points and searcher options for real
        methods.build_searcher(exp.searcher, exp.space, exp.budget, metric=exp.search_metric,
                               mode=exp.search_mode, seed=exp.seed,
                               points_to_evaluate=exp.points_to_evaluate or None,
                               **exp.searcher_options)
        print(plan_text(exp, args.address))
        print("\ndry run: everything validated; nothing started")
        return 0
    from tuner.launch.runner import run

    outcome = run(exp, address=args.address, resume=args.resume, quiet=args.quiet,
                  argv=["tuner", *sys.argv[1:]] if sys.argv else None)
    if outcome.interrupted:
        print("tuner: interrupted; continue with: " + resume_command(sys.argv[1:]),
              file=sys.stderr)
        return 130
    return 0 if outcome.best is not None or outcome.finished_before else 1


def resume_command(argv: list[str]) -> str:
    """The launch the user typed, with ``--resume``: the same file, ``--storage``, ``--name``,
    ``--address`` and ``--set`` values (a resume with other settings is refused, and without
    ``--storage`` it would look in ./results), minus ``--quiet``/``--dry-run``."""
    import shlex

    words = [w for w in argv if w not in ("--resume", "--quiet", "--dry-run")]
    return shlex.join(["tuner", *words, "--resume"])


def _load(args: argparse.Namespace):
    """The experiment of a YAML file, or of a run's manifest.json (a rerun, new name)."""
    from tuner.experiment.config import load_experiment
    from tuner.launch.rerun import rerun_experiment

    cli = dict(name=args.name, storage=args.storage, num_samples=args.num_samples,
               seed=args.seed)
    if not str(args.experiment).endswith(".json"):
        return load_experiment(args.experiment, args.overrides, **cli)
    if args.resume:
        from tuner.errors import ConfigError

        raise ConfigError("--resume: give the experiment file, not a manifest (a manifest "
                          "starts a rerun under a new name)")
    return rerun_experiment(args.experiment, args.overrides, cli)


def _plan(args: argparse.Namespace) -> int:
    from tuner.budget import BudgetLadder
    from tuner.experiment.config import ConfigError, load_experiment
    from tuner.schedulers.plan import format_plan, plan

    if args.experiment:
        exp = load_experiment(args.experiment, args.overrides)
        ladder, scheduler, n = exp.budget, exp.scheduler, exp.num_samples
        fields = {"min": ladder.min, "max": ladder.max, "eta": ladder.eta,
                  "data_fraction": ladder.data_fraction}
        # the file's scheduler options, as the run builds it (brackets, grace_period, …)
        options, space = dict(exp.scheduler_options), exp.space
    else:
        if args.scheduler is None:
            raise ConfigError("plan: give an experiment file or --scheduler (with --min, "
                              "--max, --eta)")
        scheduler, n, fields, options, space = args.scheduler, None, {}, {}, None
    for key in ("min", "max", "eta"):
        if getattr(args, key) is not None:
            fields[key] = getattr(args, key)
    if args.scheduler and args.scheduler != scheduler:
        options = {}  # the file's options belong to the file's scheduler
    scheduler = args.scheduler or scheduler
    n = args.num_samples or n
    ladder = BudgetLadder(**fields)
    out = plan(ladder, scheduler, num_samples=n, space=space, **options)
    if args.experiment and exp.resources.data_parallel:  # the gang and how many fit
        from tuner.launch.data_parallel import describe_gang

        out["gang"] = describe_gang(exp)
    print(json.dumps(out, indent=2) if args.json else format_plan(out)
          + (f"\ngang: {out['gang']}" if "gang" in out else ""))
    return 0


def _methods() -> int:
    from tuner.compose import methods

    print(methods.describe())
    return 0


def _stacks_on_sigusr2() -> None:
    """``kill -USR2 <pid>`` prints every thread's stack to stderr (Python's ``faulthandler``):
    what a user, or the fault soak, needs to see where a run that seems stuck waits. (Not
    SIGUSR1: Ray Tune takes that one to stop a run, ``ray/tune/tune.py``.)"""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR2") and sys.stderr is not None:
        try:
            faulthandler.register(signal.SIGUSR2, all_threads=True)
        except (ValueError, RuntimeError, OSError, AttributeError):  # no usable stderr (a
            pass  # notebook, pytest's capture): nothing to print the stacks to


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _stacks_on_sigusr2()
    if args.command == "launch" and not args.address:
        from tuner.launch.ray_session import local_only_env

        local_only_env()  # before anything imports ray
    if args.command is None:
        parser.print_help()
        return 2
    from search_spaces import SpaceError
    from tuner.budget import BudgetError
    from tuner.experiment.config import ConfigError

    try:
        if args.command == "launch":
            return _launch(args)
        if args.command == "plan":
            return _plan(args)
        if args.command in ("refine", "confirm", "dashboard"):
            return args.handler(args)
        return _methods()
    except (ConfigError, SpaceError, BudgetError) as exc:
        if args.debug:
            raise
        print(f"tuner: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tuner: interrupted; continue with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

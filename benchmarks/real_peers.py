"""Real training that separates methods: harder offline tasks than digits, our methods next to
full-fidelity Optuna TPE and Ray Tune's own HyperOpt + ASHA, every run training for real.

    nice -n 5 python -m benchmarks.real_peers --tasks mnist1d-cnn --seeds 5 \
        --num-samples 32 --max-epochs 4 --out-root benchmarks/results
    nice -n 5 python -m benchmarks.real_peers --tasks mnist1d-transformer --seeds 5 \
        --num-samples 24 --max-epochs 3 --out-root benchmarks/results

Tasks and spaces: ``benchmarks/tasks/*.yaml`` (the examples' spaces cut to what trains in
about a second per epoch on one core). Budget: every method gets the same cap,
``num_samples`` trials × ``max_epochs`` epochs (the task file's ladder: 1, 2, 4 epochs with
eta 2 for the CNN, 1, 3 with eta 3 for the Transformer); full-fidelity methods spend all of it,
multi-fidelity ones spend what their scheduler lets run — the ``epochs`` column is what each
actually trained. Many short trials rather than few long ones: on 2 shared cores the cap is
~130 epochs per CNN run, and with 16 trials every searcher here would still be in its random
start (10 trials for both TPEs, ~15 particles for PSO, 20 for Ray's HyperOptSearch).

Methods. Through our runner (``tuner.run``, as ``tuner launch`` runs them): ``asha-pso`` (the
default), ``random``, ``asha-hyperopt-tpe`` and ``optuna-tpe`` — the last is full-fidelity Optuna
TPE driven by ask/tell: ``tuner.searchers.optuna_tpe`` asks a seeded
``TPESampler(multivariate=True, group=True, constant_liar=True)`` study (its seed drawn from the
run's seed) for each config, the
trial trains to ``max_epochs`` under FIFO, and its final value is told back. We use that
shipped searcher rather than a benchmark-only wrapper so the number measured is the one a
user gets, and rather than Ray's ``OptunaSearch`` for the reasons in ``tuner.searchers._optuna``.
``ray-hyperopt-asha`` is a plain ``ray.tune.Tuner`` over the same Trainable class and the same
space written with ``tune.loguniform``/``tune.choice``, ``HyperOptSearch`` and
``ASHAScheduler`` with their defaults apart from the seed and the ladder — what a Ray user
writes — plus ``reuse_actors=True``: Ray's default (False) starts a fresh actor per trial,
~25 s each on this loaded 2-core machine, which would make the peer's wall time about actor
start-up (``benchmarks.overhead`` measures that separately); the flag changes neither the
configs tried nor their training (our Trainable's ``reset_config`` rebuilds and reseeds).

Reported per method: test accuracy of the chosen model (mean ± 95 % t-interval over seeds),
its validation accuracy, epochs spent, wall seconds, mean rank of test accuracy within a seed,
and the chosen model's test accuracy once 25 / 50 / 100 % of the epoch cap had been spent.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.output import write_runs
from benchmarks.stats import interval95

ROOT = Path(__file__).resolve().parents[1]
TASKS = {
    "mnist1d-cnn": ROOT / "benchmarks" / "tasks" / "mnist1d_cnn.yaml",
    "mnist1d-transformer": ROOT / "benchmarks" / "tasks" / "mnist1d_transformer.yaml",
}
OURS = ("asha-checked-pso", "asha-pso", "random", "asha-hyperopt-tpe", "optuna-tpe")
RAY_PEER = "ray-hyperopt-asha"
METHODS = (*OURS, RAY_PEER)
FRACTIONS = (0.25, 0.5, 1.0)


def ray_param_space(space) -> dict:
    """Our ``SearchSpace`` as a Ray user writes it: the domains the simulated Ray peers get
    (``benchmarks.peers.ray_space``: ``tune.loguniform``, ``tune.randint`` with Ray's
    exclusive upper bound, …) plus the fixed values the Trainable reads from its config.
    Conditional spaces are refused: Ray's dict has no parents."""
    from benchmarks.peers import ray_space
    from search_spaces import Fixed

    if space.is_conditional:
        raise ValueError("ray_param_space: conditional spaces have no plain Ray equivalent")
    fixed = {name: dom.value for name, dom in space.items() if isinstance(dom, Fixed)}
    return {**fixed, **ray_space(space)}


def run_ours(task: Path, method: str, seed: int, num_samples: int, max_epochs: int,
             storage: str) -> tuple[str, dict]:
    """One ``tuner.run`` of ``method``; returns its folder and the chosen model's scores
    (the runner's own pick and its own test evaluation, as ``tuner launch`` reports them)."""
    import tuner

    out = tuner.run(task, set=[f"method={method}", f"budget.max={max_epochs}"],
                    name=f"{task.stem}-{method}-s{seed}", storage=storage,
                    num_samples=num_samples, seed=seed, quiet=True)
    return out.path, {"val_accuracy": out.best.last if out.best else float("nan"),
                      "test_accuracy": out.test.get("test_accuracy", float("nan"))}


def run_ray(task: Path, seed: int, num_samples: int, max_epochs: int,
            storage: str) -> tuple[str, dict]:
    """Ray Tune's HyperOptSearch + ASHAScheduler on a plain ``tune.Tuner``, as a Ray user
    wires it (plus ``reuse_actors``, see the module docstring); the chosen model is
    ``get_best_result(scope="last")``, scored on the test split."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.hyperopt import HyperOptSearch

    from trainables.evaluate import evaluate_checkpoint
    from trainables.registry import get_trainable
    from tuner.experiment.config import load_experiment

    exp = load_experiment(task, [f"budget.max={max_epochs}"], seed=seed,
                          num_samples=num_samples)
    trainable = get_trainable(exp.trainable)
    name = f"{task.stem}-{RAY_PEER}-s{seed}"
    grid = tune.Tuner(
        tune.with_resources(trainable, {"cpu": exp.resources.cpus}),
        param_space={**exp.trial_config(), **ray_param_space(exp.space)},
        tune_config=tune.TuneConfig(
            metric=exp.metric, mode=exp.mode, num_samples=num_samples,
            search_alg=HyperOptSearch(random_state_seed=seed),
            scheduler=ASHAScheduler(max_t=max_epochs, grace_period=exp.budget.min,
                                    reduction_factor=exp.budget.eta),
            reuse_actors=True),
        run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0,
                                  stop={"training_iteration": max_epochs}),
    ).fit()
    best = grid.get_best_result(exp.metric, exp.mode, scope="last")
    test = evaluate_checkpoint(trainable, best.config, best.checkpoint.path, split="test")
    return str(Path(storage) / name), {"val_accuracy": best.metrics[exp.metric],
                                       "test_accuracy": test["test_accuracy"]}


def trial_logs(run_dir: str | Path, metric: str = "val_accuracy") -> list[dict]:
    """Every trial of a finished run, read from Ray's own files (the same for both paths):
    ``params.json`` (its config), ``result.json`` (one line per epoch) and its last
    checkpoint folder (None when the trial kept none)."""
    trials = []
    for d in sorted(p for p in Path(run_dir).iterdir() if (p / "result.json").is_file()):
        rows = [json.loads(line) for line in (d / "result.json").read_text().splitlines()
                if line.strip()]
        ckpts = sorted(d.glob("checkpoint_*"))
        trials.append({"config": json.loads((d / "params.json").read_text()),
                       "rows": [(r["timestamp"], r["training_iteration"], r[metric])
                                for r in rows if metric in r],
                       "checkpoint": str(ckpts[-1]) if ckpts else None})
    return trials


def incumbents(trials: list[dict], max_epochs: int, budget: int,
               fractions=FRACTIONS, mode: str = "max") -> list[int | None]:
    """Index of the chosen trial once ``fraction × budget`` epochs had been spent, per fraction.

    Epochs are counted across trials in wall-clock order (Ray's ``timestamp``, 1 s resolution;
    ties by epoch number). The choice is the runner's rule at full fidelity: the best final
    value among trials that had trained ``max_epochs`` by then (None while none had).
    """
    events = sorted((ts, ep, i) for i, t in enumerate(trials) for ts, ep, _ in t["rows"])
    done_at = {i: k + 1 for k, (_, ep, i) in enumerate(events) if ep >= max_epochs}
    sign = 1 if mode == "max" else -1
    picks = []
    for frac in fractions:
        pool = [i for i, k in done_at.items() if k <= frac * budget]
        picks.append(max(pool, key=lambda i: (sign * trials[i]["rows"][-1][2], -i))
                     if pool else None)
    return picks


def curve(run_dir: str, trainable, max_epochs: int, budget: int) -> list[float]:
    """Test accuracy of the chosen trial at each of ``FRACTIONS`` of the budget (nan before
    any trial finished); each chosen checkpoint is scored once."""
    from trainables.evaluate import evaluate_checkpoint

    trials = trial_logs(run_dir)
    scores: dict[int, float] = {}
    out = []
    for i in incumbents(trials, max_epochs, budget):
        if i is not None and i not in scores:
            t = trials[i]
            scores[i] = evaluate_checkpoint(trainable, t["config"], t["checkpoint"],
                                            split="test")["test_accuracy"]
        out.append(scores[i] if i is not None else float("nan"))
    return out


def one_run(task: str, method: str, seed: int, num_samples: int, max_epochs: int,
            storage: str) -> dict:
    """Train ``method`` on ``task`` for one seed and return its row of ``runs.csv``."""
    from trainables.registry import get_trainable
    from tuner.experiment.config import load_experiment

    t0 = time.time()
    if method == RAY_PEER:
        path, chosen = run_ray(TASKS[task], seed, num_samples, max_epochs, storage)
    else:
        path, chosen = run_ours(TASKS[task], method, seed, num_samples, max_epochs, storage)
    wall = round(time.time() - t0, 1)
    trials = trial_logs(path)
    trainable = get_trainable(load_experiment(TASKS[task]).trainable)
    at = curve(path, trainable, max_epochs, num_samples * max_epochs)
    return {"task": task, "method": method, "seed": seed, **chosen,
            "epochs": sum(len(t["rows"]) for t in trials),
            "full_trials": sum(1 for t in trials if len(t["rows"]) >= max_epochs),
            "trials": len(trials), "wall_seconds": wall,
            **{f"test_at_{round(f * 100)}": a for f, a in zip(FRACTIONS, at)}}


def _ci(values) -> str:
    """``mean ± half-width``; nan entries (no trial had finished yet) are left out."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "—"
    mean, half = interval95(finite)
    return f"{mean:.4f} ± {half:.4f}"


def table(rows: list[dict]) -> str:
    """One task's table: per method, means over seeds, ranks of test accuracy within a seed
    (1 = best, ties share), and the test accuracy reached at 25/50/100 % of the epoch cap."""
    import pandas as pd

    df = pd.DataFrame(rows)
    df["rank"] = df.groupby("seed")["test_accuracy"].rank(ascending=False)
    lines = ["| method | test accuracy (95 % CI) | val. accuracy | epochs spent | wall s | "
             "mean rank | test @25 % | test @50 % | test @100 % | seeds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    order = df.groupby("method")["rank"].mean().sort_values().index
    for name in order:
        g = df[df.method == name]
        at = [f"{_ci(g[c])} ({g[c].notna().sum()})" for c in
              ("test_at_25", "test_at_50", "test_at_100")]
        lines.append(f"| {name} | {_ci(g.test_accuracy)} | {g.val_accuracy.mean():.4f} | "
                     f"{g.epochs.mean():.0f} | {g.wall_seconds.mean():.0f} | "
                     f"{g['rank'].mean():.2f} | {' | '.join(at)} | {len(g)} |")
    return "\n".join(lines) + "\n\n" + paired(df)


def paired(df, ref: str | None = None) -> str:
    """Test accuracy of ``ref`` (the default method, or ``asha-pso`` in runs that predate it)
    minus each method's, paired by seed: the seeds share the data split and initial weights,
    so the paired interval is the fair one."""
    from tuner.compose.methods import DEFAULT_METHOD

    wide = df.pivot(index="seed", columns="method", values="test_accuracy").dropna()
    ref = ref or (DEFAULT_METHOD if DEFAULT_METHOD in wide else "asha-pso")
    if ref not in wide:
        return ""
    lines = [f"| paired by seed | {ref} − method (95 % CI) | seeds {ref} wins |", "|---|---|---|"]
    for name in (m for m in wide.columns if m != ref):
        diff = wide[ref] - wide[name]
        mean, half = interval95(diff)
        lines.append(f"| {name} | {mean:+.4f} ± {half:.4f} | {int((diff > 0).sum())} of "
                     f"{len(diff)} |")
    return "\n".join(lines) + "\n"


def readme(task: str, command: str, md: str, num_samples: int, max_epochs: int) -> str:
    """The results folder's README: the exact command, what the budget was, the table."""
    return (f"# real-{task}\n\nCommand (from the repository root):\n\n    {command}\n\n"
            f"Budget: {num_samples} trials × {max_epochs} epochs = {num_samples * max_epochs} "
            "epochs cap per run, the same for every method (ladder and space: the task file "
            f"{TASKS[task].relative_to(ROOT)}). "
            "`test @X %` = test accuracy of the model the run would have chosen once X % of "
            "that cap had been spent, mean ± 95 % t-interval over the seeds where a trial had "
            "finished by then (their count in brackets). Rank = rank of the chosen model's test "
            f"accuracy among the methods within a seed.\n\n{md}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--num-samples", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=4)
    parser.add_argument("--out-root", default="benchmarks/results")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite table.md and README.md from each task's runs.csv")
    args = parser.parse_args(argv)
    if args.render:
        return render(args)
    command = ("nice -n 5 python -m benchmarks.real_peers " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()))
    _start_ray()
    rows: dict[str, list[dict]] = {t: [] for t in args.tasks.split(",")}
    storage = tempfile.mkdtemp(prefix="tuner-real-peers-")
    try:
        for task in rows:  # task-major: a cut-short run leaves whole tasks behind
            for seed in range(args.seeds):
                for method in args.methods.split(","):
                    rows[task].append(one_run(task, method, seed, args.num_samples,
                                              args.max_epochs, storage))
                    print(rows[task][-1], flush=True)
                    _write(args, task, rows[task], command)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return 0


def render(args) -> int:
    """Rebuild each task's table from its ``runs.csv``, keeping the command its README names."""
    import csv

    for task in args.tasks.split(","):
        out = Path(args.out_root) / f"real-{task}"
        with (out / "runs.csv").open() as f:
            rows = [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(f)]
        command = next(line.strip() for line in (out / "README.md").read_text().splitlines()
                       if "benchmarks.real_peers" in line)
        words = command.split()
        budget = argparse.Namespace(out_root=args.out_root,
                                    num_samples=int(words[words.index("--num-samples") + 1]),
                                    max_epochs=int(words[words.index("--max-epochs") + 1]))
        _write(budget, task, rows, command)
    return 0


def _number(text: str):
    """A ``runs.csv`` cell back to the int / float / str it was written from."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _write(args, task: str, rows: list[dict], command: str) -> None:
    """Rewrite ``real-<task>/`` after every run, so an interrupted benchmark keeps its data."""
    md = table(rows)
    out = write_runs(Path(args.out_root) / f"real-{task}", rows, md)
    (out / "README.md").write_text(readme(task, command, md, args.num_samples,
                                          args.max_epochs))


def _start_ray() -> None:
    """One local Ray for every run (both paths share it; the runner reuses a live session)."""
    import os

    from tuner.launch.ray_session import local_only_env

    local_only_env()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)


if __name__ == "__main__":
    raise SystemExit(main())

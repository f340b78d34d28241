"""Framework overhead on a trivial trainable: Ray Tune defaults vs ``tuner launch`` vs Optuna.

    python -m benchmarks.overhead --out benchmarks/results/overhead

40 trials × ≤ 10 reports of ``benchmarks.trivial`` (no work per report), on 2 CPUs, each
variant in a fresh subprocess, run one after the other:

* ``ray-defaults`` — ``tune.Tuner(trivial_fn, param_space=U(−5,5)², TuneConfig(num_samples=40,
  metric, mode))``: random search, FIFO, no actor reuse — what the Ray docs start with;
* ``tuner-launch`` — ``python -m tuner launch`` on a generated experiment file for
  ``benchmarks.trivial:Trivial`` with our defaults (default method, budget 1..10, η=3);
* ``optuna`` — ``study.optimize`` in-process, ``TPESampler`` + ``HyperbandPruner(1, 10, 3)``.

Reported per variant: wall seconds of the whole process and of the tuning call alone, trials,
reports (counted by the trainable), seconds per trial and per report, and the ratio to Optuna.
Run it on an otherwise idle machine: 2 shared cores make every number noisy (notes §8).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

__all__ = ["main"]

N_TRIALS, N_REPORTS = 40, 10

_RAY = """
import json, os, sys, time
t_import = time.time()
import ray
from ray import tune
from benchmarks.trivial import trivial_fn
t0 = time.time()
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
t1 = time.time()
tuner = tune.Tuner(trivial_fn,
    param_space={"x": tune.uniform(-5, 5), "y": tune.uniform(-5, 5), "max_epochs": 10},
    tune_config=tune.TuneConfig(num_samples=40, metric="loss", mode="min"),
    run_config=tune.RunConfig(storage_path=sys.argv[1], verbose=0))
grid = tuner.fit()
t2 = time.time()
best = grid.get_best_result().metrics["loss"]
ray.shutdown()
print(json.dumps({"init_s": t1 - t0, "tune_s": t2 - t1, "trials": len(grid), "best": best}))
"""

_OPTUNA = """
import json, os, time
import optuna
from benchmarks.trivial import count_report, loss
optuna.logging.set_verbosity(optuna.logging.WARNING)
def objective(trial):
    x, y = trial.suggest_float("x", -5, 5), trial.suggest_float("y", -5, 5)
    for epoch in range(1, 11):
        count_report()
        v = loss(x, y, epoch)
        trial.report(v, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return v
t1 = time.time()
study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0),
    pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=10, reduction_factor=3))
study.optimize(objective, n_trials=40)
t2 = time.time()
print(json.dumps({"init_s": 0.0, "tune_s": t2 - t1, "trials": len(study.trials),
                  "best": study.best_value}))
"""

_EXPERIMENT = """
name: overhead
description: trivial trainable, framework overhead
trainable: benchmarks.trivial:Trivial
space:
  x: {type: float, low: -5, high: 5}
  y: {type: float, low: -5, high: 5}
budget: {min: 1, max: 10, eta: 3}
metric: loss
mode: min
num_samples: 40
resources: {cpus: 1, gpus: 0}
seed: 0
"""


def _run(variant: str, workdir: Path, repo: Path) -> dict:
    counter = workdir / f"{variant}.count"
    counter.write_text("")
    env = {**os.environ, "TRIVIAL_COUNTER": str(counter), "PYTHONPATH": str(repo),
           "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    storage = workdir / f"{variant}-results"
    if variant == "ray-defaults":
        cmd = [sys.executable, "-c", _RAY, str(storage)]
    elif variant == "optuna":
        cmd = [sys.executable, "-c", _OPTUNA]
    else:
        exp = workdir / "overhead.yaml"
        exp.write_text(textwrap.dedent(_EXPERIMENT))
        cmd = [sys.executable, "-m", "tuner", "launch", str(exp), "--storage", str(storage)]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    reports = len(counter.read_text())
    if variant == "tuner-launch":
        # "results: … in 12.3 s" — the runner's own wall time, ray.init included
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("results:")][-1]
        tune_s = float(line.rsplit(" in ", 1)[1].split()[0])
        info = {"init_s": float("nan"), "tune_s": tune_s, "trials": N_TRIALS, "best": None}
    else:
        info = json.loads(proc.stdout.strip().splitlines()[-1])
    info.update(variant=variant, process_s=wall, reports=reports)
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead")
    p.add_argument("--variants", default="optuna,tuner-launch,ray-defaults")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="overhead_") as tmp:
        for r in range(args.repeats):
            for v in args.variants.split(","):
                info = _run(v, Path(tmp), repo)
                info["repeat"] = r
                rows.append(info)
                print(json.dumps(info), flush=True)
    base = [r["tune_s"] for r in rows if r["variant"] == "optuna"]
    base_s = sum(base) / len(base) if base else float("nan")
    lines = [("| variant | process wall s | tuning wall s | trials | reports | s / trial | "
             "ms / report | × Optuna (tuning) |"), "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['process_s']:.1f} | {r['tune_s']:.2f} | "
                     f"{r['trials']} | {r['reports']} | {r['tune_s'] / r['trials']:.3f} | "
                     f"{1e3 * r['tune_s'] / max(1, r['reports']):.1f} | "
                     f"{r['tune_s'] / base_s:,.0f}× |")
    table = "\n".join(lines)
    command = "python -m benchmarks.overhead " + " ".join(argv if argv is not None
                                                           else sys.argv[1:])
    (out / "README.md").write_text(
        f"# overhead\n\nCommand:\n\n    {command}\n\n{N_TRIALS} trials × ≤ {N_REPORTS} reports "
        f"of benchmarks.trivial on {os.cpu_count()} CPUs; 'tuning wall' is Tuner.fit() for Ray, "
        f"the runner's reported time (ray.init included) for tuner launch, study.optimize for "
        f"Optuna.\n\n{table}\n")
    (out / "runs.json").write_text(json.dumps(rows, indent=1))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

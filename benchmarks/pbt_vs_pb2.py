"""PBT against PB2 on a real task with a small population, through ``tuner.launch.runner.run``.

    nice -n 10 python -m benchmarks.pbt_vs_pb2 --seeds 4 --population 6 --max-epochs 16 \
        --out benchmarks/results/pb2

PB2's claim (Parker-Holder et al., NeurIPS 2020) is that a GP bandit explores better than
PBT's random perturbations when the population is small. Each seed runs both schedulers on the
same task with the same initial population (same seed → the random searcher draws the same
configs): a digits MLP trained by plain SGD whose learning rate, momentum and weight decay are
searched over wide ranges (most initial draws are poor, so the explore step matters), a
perturbation every ``--interval`` epochs, every trial to ``--max-epochs``. Reported per seed
and scheduler: the best trial's final validation accuracy, its test accuracy (held-out split),
the population's mean final validation accuracy, exploits, wall seconds; then means with 95%
t-intervals and the paired PB2 − PBT difference (same seed, same initial population).
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.output import write_runs

from benchmarks.stats import interval95

SPACE = {
    "lr": {"type": "float", "low": 1.0e-4, "high": 1.0, "log": True},
    "momentum": {"type": "float", "low": 0.0, "high": 0.99},
    "weight_decay": {"type": "float", "low": 1.0e-6, "high": 1.0e-1, "log": True},
}


def experiment(scheduler: str, seed: int, population: int, max_epochs: int, interval: int,
               storage: str):
    from tuner.experiment.config import parse_experiment

    return parse_experiment({
        "name": f"{scheduler}-s{seed}", "trainable": "mlp",
        "config": {"dataset": "digits", "optimizer": "sgd", "hidden": 32, "depth": 1,
                   "batch_size": 64},
        "space": SPACE, "searcher": "random",
        "scheduler": {"name": scheduler, "perturbation_interval": interval},
        "budget": {"min": 1, "max": max_epochs, "eta": 2},
        "metric": "val_accuracy", "mode": "max", "num_samples": population, "seed": seed,
        "storage": storage,
    })


def run_all(seeds: int, population: int, max_epochs: int, interval: int) -> list[dict]:
    from tuner.launch.ray_session import init_ray
    from tuner.launch.runner import run

    init_ray(None)
    storage = tempfile.mkdtemp(prefix="tuner-pb2-")
    rows = []
    try:
        for seed in range(seeds):
            for scheduler in ("pbt", "pb2"):
                exp = experiment(scheduler, seed, population, max_epochs, interval, storage)
                t0 = time.time()
                out = run(exp, write=lambda line: None, quiet=True)
                report = (Path(exp.path) / "report.md").read_text()
                section = report.split(" lineage\n", 1)[1] if " lineage\n" in report else ""
                exploits = sum(1 for line in section.splitlines()
                               if line.startswith("| ") and line.split("|")[1].strip().isdigit())
                finals = [r.last for r in out.records if r.epochs >= max_epochs]
                rows.append({
                    "scheduler": scheduler, "seed": seed,
                    "best_val_accuracy": out.best.last if out.best else math.nan,
                    "test_accuracy": out.test.get("test_accuracy", math.nan),
                    "mean_final_val_accuracy": float(np.mean(finals)) if finals else math.nan,
                    "exploits": exploits, "wall_seconds": round(time.time() - t0, 1),
                })
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
    return rows




def table(rows: list[dict]) -> str:
    keys = ("best_val_accuracy", "test_accuracy", "mean_final_val_accuracy")
    lines = [("| scheduler | best val. accuracy | its test accuracy | population mean val. "
              "accuracy | exploits | wall s |"), "|---|---|---|---|---|---|"]
    by = {s: [r for r in rows if r["scheduler"] == s] for s in ("pbt", "pb2")}
    for name, rs in by.items():
        cells = [_pm(*interval95([float(r[k]) for r in rs])) for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells)
                     + f" | {np.mean([float(r['exploits']) for r in rs]):.1f}"
                     + f" | {np.mean([float(r['wall_seconds']) for r in rs]):.0f} |")
    pairs = {int(r["seed"]): {} for r in rows}
    for r in rows:
        pairs[int(r["seed"])][r["scheduler"]] = r
    lines += ["", "Paired PB2 − PBT (same seed, same initial population):", "",
              "| measure | mean difference ± 95% | PB2 better in |", "|---|---|---|"]
    for k in keys:
        diffs = [float(p["pb2"][k]) - float(p["pbt"][k]) for p in pairs.values()
                 if "pb2" in p and "pbt" in p]
        wins = sum(d > 0 for d in diffs)
        lines.append(f"| {k} | {_pm(*interval95(diffs))} | {wins}/{len(diffs)} seeds |")
    return "\n".join(lines) + "\n"


def _pm(mean: float, half: float) -> str:
    return f"{mean:.4f} ± {half:.4f}" if math.isfinite(half) else f"{mean:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--max-epochs", type=int, default=16)
    parser.add_argument("--interval", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    rows = run_all(args.seeds, args.population, args.max_epochs, args.interval)
    text = table(rows)
    write_runs(args.out, rows, text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What each driver callback of ``tuner launch`` costs per trial, measured without Ray's loop.

    python -m benchmarks.callback_cost --trials 80 --repeats 3

Ray Tune runs every callback on its driver's one thread, between an actor's result and the
next request to that actor, so with short trials their time adds straight to the per-trial
cost (``benchmarks/overhead.py``). This feeds each callback the events the driver would — per
trial ``on_trial_start``, 10 × (``on_trial_result``, ``on_step_end``), ``on_trial_complete`` —
on stand-in trials (only the attributes the callbacks read), in one temporary folder, and
prints milliseconds per trial: wall, and CPU of the whole process (``time.process_time``, so
the threads a callback starts count too). Ray's own CSV/JSON loggers run in both ``tuner
launch`` and a plain ``tune.Tuner``; Ray's TensorBoard logger only in the plain one (ours
replaces it). Medians over ``--repeats``, after one warm-up pass.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

__all__ = ["CALLBACKS", "main", "measure"]

N_REPORTS = 10


class _Trial:
    """What the callbacks read of a Ray ``Trial``."""

    def __init__(self, trial_id: str, config: dict, path: str):
        self.trial_id, self.config, self.evaluated_params = trial_id, config, config
        self.local_path, self.status, self.last_result = path, "RUNNING", {}
        self.remote_experiment_path, self.checkpoint = None, None
        self.init_local_path()  # Ray's driver creates it when the trial starts

    def init_local_path(self) -> None:
        os.makedirs(self.local_path, exist_ok=True)


def _experiment(root: str):
    from tuner.experiment.config import parse_experiment

    return parse_experiment({
        "name": "callback_cost", "trainable": "benchmarks.trivial:Trivial",
        "space": {"x": {"type": "float", "low": -5, "high": 5},
                  "y": {"type": "float", "low": -5, "high": 5}},
        "searcher": "random", "scheduler": "fifo", "budget": {"min": 1, "max": N_REPORTS},
        "metric": "loss", "mode": "min", "num_samples": 10, "seed": 0, "storage": root})


def _factories(folder: str, lines: list[str]) -> dict[str, Callable[[], object]]:
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

    from tuner.launch.checkpointing import CheckpointPolicy, TensorBoardCallback
    from tuner.view.mirror_callback import MirrorCallback
    from tuner.view.progress import ProgressCallback

    return {
        "progress": lambda: ProgressCallback(10, "loss", N_REPORTS, write=lines.append),
        "mirror": lambda: MirrorCallback.for_experiment(_experiment(folder)),
        "checkpoint-policy": lambda: CheckpointPolicy(1, 10.0),
        "tensorboard": TensorBoardCallback,
        "ray-tensorboard": TBXLoggerCallback,
        "ray-csv": CSVLoggerCallback,
        "ray-json": JsonLoggerCallback,
    }


CALLBACKS = {
    "progress": "progress line (ours, tuner/view/progress.py)",
    "mirror": "Optuna journal mirror (ours, tuner/view/mirror_callback.py)",
    "checkpoint-policy": "checkpoint policy (ours, tuner/launch/checkpointing.py)",
    "tensorboard": "TensorBoard files (ours, tuner/launch/checkpointing.py)",
    "ray-tensorboard": "TensorBoard files (Ray's; a plain Tuner only)",
    "ray-csv": "progress.csv (Ray's; both)",
    "ray-json": "result.json (Ray's; both)",
}


def _result(trial_id: str, epoch: int) -> dict:
    return {"loss": 1.0 / epoch, "val_loss": 1.0 / epoch, "epoch": epoch,
            "training_iteration": epoch, "time_total_s": 0.01 * epoch,
            "time_this_iter_s": 0.01, "time_since_restore": 0.01 * epoch,
            "iterations_since_restore": epoch, "timestamp": int(time.time()), "pid": 1,
            "hostname": "host", "node_ip": "127.0.0.1", "trial_id": trial_id,
            "done": epoch == N_REPORTS, "config": {}}


def _drive(callback, trials: int, folder: str) -> tuple[float, float]:
    """Wall and CPU seconds for ``trials`` trials' events."""
    seen: list = []
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(trials):
        trial = _Trial(f"{os.path.basename(folder)}_{i:05d}", {"x": 0.1 * i, "y": 1.0},
                       os.path.join(folder, f"trial_{i}"))
        callback.on_trial_start(iteration=i, trials=seen, trial=trial)
        for epoch in range(1, N_REPORTS + 1):
            result = _result(trial.trial_id, epoch)
            callback.on_trial_result(iteration=i, trials=seen, trial=trial, result=result)
            trial.last_result = result
            callback.on_step_end(iteration=i, trials=seen)
        trial.status = "TERMINATED"
        callback.on_trial_complete(iteration=i, trials=seen, trial=trial)
    callback.on_experiment_end(trials=seen)
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(names: list[str], trials: int, repeats: int, keep: str | None = None
            ) -> list[dict]:
    """Median ms per trial (wall, CPU) of each named callback (keys of ``CALLBACKS``), and
    the lines the progress callback printed in its last pass. ``keep``: a folder to leave
    every pass's output in (``<name>_<pass>``), to see that each callback did its work."""
    with tempfile.TemporaryDirectory(prefix="callback_cost_") as scratch:
        return [_measure_one(name, trials, repeats, keep or scratch) for name in names]


def _measure_one(name: str, trials: int, repeats: int, root: str) -> dict:
    runs = []
    for r in range(repeats + 1):  # the first pass warms imports and caches up
        folder, lines = os.path.join(root, f"{name}_{r}"), []
        callback = _factories(folder, lines)[name]()
        callback.setup()
        runs.append(_drive(callback, trials, folder))
    return {"callback": name,
            "wall_ms": 1e3 * statistics.median(w for w, _ in runs[1:]) / trials,
            "cpu_ms": 1e3 * statistics.median(c for _, c in runs[1:]) / trials,
            "printed": len(lines)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.callback_cost")
    p.add_argument("--trials", type=int, default=80)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--callbacks", default=",".join(CALLBACKS),
                   help=f"comma-separated, of: {', '.join(CALLBACKS)}")
    args = p.parse_args(argv)
    names = args.callbacks.split(",")
    unknown = [n for n in names if n not in CALLBACKS]
    if unknown:
        p.error(f"unknown callback(s) {', '.join(unknown)}; one of {', '.join(CALLBACKS)}")
    rows = measure(names, args.trials, args.repeats)
    print(f"| callback | wall ms / trial ({N_REPORTS} results) | CPU ms / trial |\n|---|---|---|")
    for r in rows:
        print(f"| {CALLBACKS[r['callback']]} | {r['wall_ms']:.2f} | {r['cpu_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

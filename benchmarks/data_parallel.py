"""One data-parallel trial under Ray, against the same trial as one process.

    python -m benchmarks.data_parallel --out benchmarks/results/gpu/data-parallel   # GPU box
    python -m benchmarks.data_parallel --device cpu --workers 2 --epochs 3 --out /tmp/x

One fixed trial — the digits MLP (hidden 256 × 2, Adam, lr 3e-3, no dropout, global batch
`--batch-size` 128), `searcher: random`, `scheduler: fifo`, `num_samples: 1`, `--epochs`
epochs — runs through `tuner.run` (the `tuner launch` path) twice on one local Ray started
here first:

* **data-parallel** — `resources: {workers: W, cpus_per_worker: C, gpus_per_worker: G}`: the
  trial is a Ray Train `TorchTrainer` gang (`trainables.distributed`): each global batch is
  sharded over the W workers, DDP averages the gradients, the metrics are averaged over the
  workers;
* **one-process** — `resources: {cpus: C, gpus: G}`: the same trial in one Tune actor.

Both draw the same shuffled order from the same seed and take one optimizer step per global
batch, so their curves should agree up to floating point (a gradient averaged over shards
instead of over the whole batch; the last, odd-sized batch's shards weigh equally) — the
largest per-epoch |Δ train_loss| and |Δ val_accuracy| are reported. Also: seconds per epoch
(the trainers' own `epoch_seconds`; the gang's is the workers' mean), the wall of each
`tuner.run` call (the gang's includes Ray Train's start: a controller, W worker actors, the
process group), the part of the first step that is not training (≈ that start), final
val accuracy, memory per worker (the trainables' `peak_memory_mb` — torch's allocator peak
on CUDA, the process's peak RSS on CPU — which for the gang is the mean over its workers;
on CUDA also the largest per-process use `nvidia-smi` showed), and the process group's
backend: NCCL when every worker holds whole GPUs, gloo on CPUs and on shared GPUs.

On one GPU, two half-GPU workers are not expected to be faster than one process: the step
checks that a data-parallel trial runs on a GPU under Ray and what it costs. `--device cpu`
asks for CPUs only (`gpus_per_worker` 0); its figures are labelled CPU figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.gpu_ray import GpuMemorySampler, describe, device_config, trial_reports

LR = 3e-3


def experiment(name: str, storage: str, args: argparse.Namespace,
               resources: dict) -> dict[str, Any]:
    """The fixed trial as a dict `tuner.run` takes; only `resources` differs."""
    return {
        "name": name, "trainable": "mlp", "storage": storage,
        "config": {"dataset": "digits", "hidden": 256, "depth": 2,
                   "batch_size": args.batch_size, "optimizer": "adam",
                   "weight_decay": 0.0, "dropout": 0.0, "device": args.device_config},
        "space": {"lr": {"type": "fixed", "value": LR}},  # nothing searched: one fixed trial
        "searcher": "random", "scheduler": "fifo",
        "budget": {"min": 1, "max": args.epochs, "eta": 3},
        "metric": "val_accuracy", "mode": "max", "num_samples": 1, "seed": 0,
        "resources": resources,
    }


def variants(args: argparse.Namespace) -> list[tuple[str, dict]]:
    """(label, resources): the gang first (the point of the step), then one process."""
    gpus = args.gpus_per_worker if args.device == "cuda" else 0.0
    gang = {"workers": args.workers, "cpus_per_worker": args.cpus_per_worker,
            "gpus_per_worker": gpus}
    return [("data-parallel", gang), ("one-process", {"cpus": args.cpus_per_worker,
                                                      "gpus": gpus})]


def backend(resources: dict) -> str:
    """The gang's process group, as `trainables.distributed.GangSpec` picks it."""
    if "workers" not in resources:
        return "-"
    from trainables.distributed import GangSpec

    return GangSpec(resources["workers"], resources["cpus_per_worker"],
                    resources["gpus_per_worker"]).backend


def run_variant(label: str, resources: dict, args: argparse.Namespace, storage: str,
                driver_pid: int) -> dict[str, Any]:
    """One `tuner.run` of the trial; its wall, per-epoch curve, memory."""
    import tuner

    sampler = GpuMemorySampler(exclude=driver_pid) if args.device == "cuda" else None
    if sampler:
        sampler.start()
    start = time.perf_counter()
    results = tuner.run(experiment(label, storage, args, resources), quiet=True)
    wall = time.perf_counter() - start
    memory = sampler.stop() if sampler else {}
    reports = list(trial_reports(results.path).values())
    rows = sorted(reports[0], key=lambda r: r.get("training_iteration", 0)) if reports else []
    epoch_s = [float(r["epoch_seconds"]) for r in rows]
    iter_s = [float(r.get("time_this_iter_s", math.nan)) for r in rows]
    workers = int(resources.get("workers", 1))
    return {
        "variant": label, "resources": resources, "workers": workers,
        "backend": backend(resources),
        "status": str(results.trials.status.iloc[0]) if len(results.trials) else "missing",
        "epochs": len(rows), "wall_s": wall,
        # the winner scored on the test split in one process, from the (rank 0) checkpoint
        "test_accuracy": (results.test or {}).get("test_accuracy", math.nan),
        "epoch_s": sum(epoch_s) / len(epoch_s) if epoch_s else math.nan,
        # Tune's first step: the trial actor's start, (gang: Train's controller, the workers,
        # the process group, the data on every worker) and the first epoch
        "first_step_s": iter_s[0] if iter_s else math.nan,
        "start_s": iter_s[0] - epoch_s[0] if rows else math.nan,
        # later steps: an epoch plus the report's way to Tune (gang: averaged, acknowledged)
        "later_step_s": (sum(iter_s[1:]) / (len(iter_s) - 1)) if len(iter_s) > 1 else math.nan,
        # the wall outside the trial's steps: the trial actor's start and stop (gang: the
        # Train run's end), result files, the winner's test score
        "outside_steps_s": wall - sum(iter_s),
        "reported_workers": int(rows[-1].get("workers", 1)) if rows else 0,
        "train_loss": [float(r["train_loss"]) for r in rows],
        "val_accuracy": [float(r["val_accuracy"]) for r in rows],
        "final_val_accuracy": float(rows[-1]["val_accuracy"]) if rows else math.nan,
        "samples_per_s": (sum(float(r["samples_per_s"]) for r in rows) / len(rows)
                          if rows else math.nan),
        # the gang's report is the mean over its workers (trainables.distributed)
        "peak_memory_mib_per_worker": max((float(r.get("peak_memory_mb", math.nan))
                                           for r in rows), default=math.nan),
        **memory,
    }


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Largest per-epoch |Δ| of train_loss and val_accuracy, gang against one process."""
    by = {r["variant"]: r for r in rows}
    if "data-parallel" not in by or "one-process" not in by:
        return {}
    a, b = by["data-parallel"], by["one-process"]
    n = min(len(a["train_loss"]), len(b["train_loss"]))
    dl = [abs(x - y) for x, y in zip(a["train_loss"][:n], b["train_loss"][:n])]
    da = [abs(x - y) for x, y in zip(a["val_accuracy"][:n], b["val_accuracy"][:n])]
    return {"epochs_compared": n,
            "max_abs_diff_train_loss": max(dl, default=math.nan),
            "max_abs_diff_val_accuracy": max(da, default=math.nan),
            "epoch_s_ratio": a["epoch_s"] / b["epoch_s"],
            "wall_s_ratio": a["wall_s"] / b["wall_s"]}


def start_ray(device: str) -> float:
    """A local Ray (one already up in this process is reused) with this machine's CPUs and
    GPUs: the gang needs workers × cpus_per_worker CPUs (preflight checks that)."""
    import ray

    from tuner.launch.ray_session import RAY_ENV, local_only_env

    if ray.is_initialized():
        return 0.0
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    local_only_env()
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    return time.perf_counter() - start


def train_poll_s() -> float:
    """How often Ray Train's controller polls the workers (and so collects their reports)."""
    try:
        from ray.train.v2._internal.constants import DEFAULT_HEALTH_CHECK_INTERVAL_S as default
    except ImportError:  # a private module: Ray 2.60's value
        default = 2.0
    return float(os.environ.get("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", default))


def table(rows: list[dict[str, Any]], device: str) -> str:
    mem = "MiB/worker (allocator peak)" if device == "cuda" else "MiB/worker (peak RSS)"
    smi = device == "cuda"
    head = (f"| variant | resources | backend | epochs | s/epoch | 1st step s | start s "
            f"| later step s | outside steps s | wall s | final val acc | {mem} |"
            + (" MiB/process (nvidia-smi) |" if smi else ""))
    lines = [head, "|" + "---|" * (12 + smi)]
    for r in rows:
        res = ", ".join(f"{k} {v:g}" for k, v in r["resources"].items())
        lines.append(
            f"| {r['variant']} | {res} | {r['backend']} | {r['epochs']} | {r['epoch_s']:.3f} | "
            f"{r['first_step_s']:.2f} | {r['start_s']:.2f} | {r['later_step_s']:.3f} | "
            f"{r['outside_steps_s']:.1f} | {r['wall_s']:.1f} | {r['final_val_accuracy']:.4f} | "
            f"{r['peak_memory_mib_per_worker']:.0f} |"
            + (f" {r.get('smi_process_max_mib', math.nan):.0f} |" if smi else ""))
    return "\n".join(lines)


def report(rows: list[dict[str, Any]], diff: dict[str, Any], info: dict[str, Any],
           args: argparse.Namespace) -> str:
    title = ("GPU figures" if args.device == "cuda" else
             "CPU figures (--device cpu: workers on CPUs, not GPU figures)")
    lines = [
        f"# A data-parallel trial under Ray: {title}", "",
        f"Digits MLP 256×2, Adam lr {LR:g}, global batch {args.batch_size}, {args.epochs} "
        f"epochs, random search, FIFO, one trial per variant; "
        f"{json.dumps(info['cluster'])}; Ray start {info['ray_start_s']:.1f} s (not in the "
        f"walls); {info.get('gpu', 'no GPU')}, torch {info['torch']}, Ray {info['ray']}.", "",
        table(rows, args.device), "",
        "s/epoch: the trainers' own `epoch_seconds` (the gang's: mean over its workers). "
        "1st step: Tune's first step — for the gang Ray Train's start (its controller, the "
        "worker actors, the process group, the data on each worker) and epoch 1; one "
        "process's actor starts before its first step, so its start is under outside "
        "steps. Start = 1st step − epoch 1. Later step: an epoch and its report's way to "
        "Tune — for the gang at least Ray Train's controller poll "
        f"(`RAY_TRAIN_HEALTH_CHECK_INTERVAL_S`, here {info['train_poll_s']:g} s), which "
        "collects the workers' reports. Outside steps: the wall less the steps (the trial's "
        "start and stop — the gang's Train run ending —, result files, the winner's test "
        "score). Wall: the whole `tuner.run` call. Memory per worker: the trainables' "
        "`peak_memory_mb`, for the gang the mean over its workers"
        + (" (torch's allocator peak, the CUDA context not included; nvidia-smi's largest "
           "per-process use includes it)." if args.device == "cuda" else
           " (on CPU: each process's peak resident set size)."),
    ]
    if diff:
        lines += ["",
                  f"Same global batches, so the curves should agree: largest per-epoch "
                  f"|Δ train_loss| {diff['max_abs_diff_train_loss']:.2e}, |Δ val_accuracy| "
                  f"{diff['max_abs_diff_val_accuracy']:.2e} over {diff['epochs_compared']} "
                  f"epochs. The gang's s/epoch is {diff['epoch_s_ratio']:.2f}× one "
                  f"process's, its wall {diff['wall_s_ratio']:.2f}×."]
    gang = next((r for r in rows if r["variant"] == "data-parallel"), None)
    if gang and args.device == "cuda" and gang["resources"]["gpus_per_worker"] < 1:
        lines += ["", f"{gang['workers']} workers share one GPU (gloo: NCCL refuses two ranks "
                  "on one device): not expected to be faster than one process on that GPU — "
                  "this checks that a data-parallel trial runs on a GPU under Ray, and what "
                  "it costs."]
    elif gang and args.device == "cpu":
        lines += ["", f"{gang['workers']} workers on 1 CPU each against one process on 1 CPU, "
                  "for the smoke test; a model this small gains little from sharding, and the "
                  "gang pays Ray Train's start."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data_parallel",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--workers", type=int, default=2, help="workers of the gang")
    parser.add_argument("--gpus-per-worker", type=float, default=0.5,
                        help="GPUs per worker on --device cuda (ignored on cpu)")
    parser.add_argument("--cpus-per-worker", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    parser.add_argument("--out", default=None, help="folder for results.json and results.md")
    args = parser.parse_args(argv)
    args.device_config = device_config(parser, args.device)
    ray_start = start_ray(args.device)
    info = {**describe(args.device), "ray_start_s": ray_start, "epochs": args.epochs,
            "batch_size": args.batch_size, "lr": LR, "train_poll_s": train_poll_s()}
    rows: list[dict[str, Any]] = []
    text = ""
    with tempfile.TemporaryDirectory(prefix="data_parallel-") as storage:
        for label, resources in variants(args):
            rows.append(run_variant(label, resources, args, storage, os.getpid()))
            r = rows[-1]
            print(f"{label}: {r['status']}, {r['epochs']} epochs, {r['epoch_s']:.3f} s/epoch, "
                  f"wall {r['wall_s']:.1f} s, val acc {r['final_val_accuracy']:.4f}",
                  flush=True)
            diff = compare(rows)
            text = report(rows, diff, info, args)  # after each: a cut-short run keeps these
            if args.out:
                os.makedirs(args.out, exist_ok=True)
                Path(args.out, "results.json").write_text(
                    json.dumps({**info, "rows": rows, "comparison": diff}, indent=1))
                Path(args.out, "results.md").write_text(text + "\n")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Throughput of the built-in trainables on this machine (CPU or one GPU), without Ray.

    python -m trainables.bench                      # every workload, AMP off/on on CUDA
    python -m trainables.bench --share 1 2 4        # + k processes sharing one GPU
    python -m trainables.bench --json out.json --epochs 6 --batch-size 64

Part 1 times one trial per (model, dataset, amp): median epoch seconds over epochs 2..N
(epoch 1 pays for CUDA/cuDNN warm-up), samples/s, peak memory, final val accuracy.
Part 2 runs k trial processes at once on one GPU, as Ray does with `gpu: 1/k` per trial
(fractional GPUs are bookkeeping only: each trial is its own process and CUDA context),
and reports the aggregate samples/s after a shared warm-up epoch.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import time
from typing import Any

import torch

WORKLOADS = [
    ("mlp", "digits", {}),
    ("cnn", "digits", {}),
    ("resnet", "digits", {}),
    ("mlp", "mnist1d", {}),
    ("cnn", "mnist1d", {}),
    ("resnet", "mnist1d", {}),
    ("transformer", "mnist1d", {}),
]
SHARED_WORKLOAD = ("resnet", "mnist1d", {})


def _run(model: str, dataset: str, extra: dict[str, Any], device: str, amp: bool, batch_size: int):
    from trainables.models import build_model
    from trainables.run import TrainingRun

    config = {"dataset": dataset, "device": device, "amp": amp, "batch_size": batch_size, **extra}
    return TrainingRun(
        config, lambda cfg, data: build_model(model, cfg, data.input_shape, data.num_classes)
    )


def time_one(
    model: str, dataset: str, extra: dict, device: str, amp: bool, epochs: int, batch_size: int
) -> dict:
    run = _run(model, dataset, extra, device, amp, batch_size)
    metrics = [run.train_one_epoch() for _ in range(epochs)]
    steady = metrics[1:] or metrics
    seconds = statistics.median(m["epoch_seconds"] for m in steady)
    return {
        "model": model,
        "dataset": dataset,
        "device": str(run.device),
        "amp": bool(run.amp_dtype),
        "batch_size": batch_size,
        "epoch_s": seconds,
        "samples_per_s": statistics.median(m["samples_per_s"] for m in steady),
        "first_epoch_s": metrics[0]["epoch_seconds"],
        "peak_memory_mb": metrics[-1]["peak_memory_mb"],
        "val_accuracy": metrics[-1]["val_accuracy"],
    }


def _share_worker(args: tuple) -> None:
    model, dataset, extra, device, amp, epochs, batch_size, barrier, queue = args
    torch.set_num_threads(1)
    run = _run(model, dataset, extra, device, amp, batch_size)
    run.train_one_epoch()  # warm-up outside the timed window
    barrier.wait()
    start, samples = time.perf_counter(), 0
    for _ in range(epochs):
        m = run.train_one_epoch()
        samples += m["samples_per_s"] * m["epoch_seconds"]
    queue.put((time.perf_counter() - start, samples, m["peak_memory_mb"]))


def time_shared(k: int, device: str, amp: bool, epochs: int, batch_size: int) -> dict:
    model, dataset, extra = SHARED_WORKLOAD
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(k), ctx.Queue()
    procs = [
        ctx.Process(
            target=_share_worker,
            args=((model, dataset, extra, device, amp, epochs, batch_size, barrier, queue),),
        )
        for _ in range(k)
    ]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = max(r[0] for r in results)
    return {
        "trials": k,
        "model": model,
        "dataset": dataset,
        "amp": amp,
        "batch_size": batch_size,
        "epoch_s_per_trial": statistics.mean(r[0] / epochs for r in results),
        "aggregate_samples_per_s": sum(r[1] for r in results) / wall,
        "peak_memory_mb_per_trial": max(r[2] for r in results),
    }


def _table(rows: list[dict], cols: list[str]) -> str:
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


SINGLE_COLUMNS = [
    "model",
    "dataset",
    "device",
    "amp",
    "epoch_s",
    "samples_per_s",
    "first_epoch_s",
    "peak_memory_mb",
    "val_accuracy",
]
SHARED_COLUMNS = [
    "trials",
    "model",
    "dataset",
    "amp",
    "epoch_s_per_trial",
    "aggregate_samples_per_s",
    "peak_memory_mb_per_trial",
]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: device, epochs, batch size, CPU threads, GPU sharing, JSON path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (Ray gives 1 per CPU)"
    )
    parser.add_argument(
        "--share", type=int, nargs="*", default=[], help="trial counts sharing one GPU"
    )
    parser.add_argument("--json", help="write all rows here")
    return parser.parse_args(argv)


def _amps(cuda: bool) -> list[bool]:
    """AMP off, and on too where there is a GPU (mixed precision only pays there)."""
    return [False, True] if cuda else [False]


def _time_single(args: argparse.Namespace, cuda: bool) -> list[dict]:
    """Part 1: one trial per (workload, amp), each row printed as it comes, then the table."""
    single = []
    for model, dataset, extra in WORKLOADS:
        for amp in _amps(cuda):
            single.append(
                time_one(model, dataset, extra, args.device, amp, args.epochs, args.batch_size)
            )
            print(single[-1], flush=True)
    print(_table(single, SINGLE_COLUMNS))
    return single


def _time_sharing(args: argparse.Namespace, cuda: bool) -> list[dict]:
    """Part 2: k trial processes on one GPU per ``--share`` k, printed as for part 1."""
    shared = []
    for k in args.share:
        for amp in _amps(cuda):
            shared.append(time_shared(k, args.device, amp, args.epochs, args.batch_size))
            print(shared[-1], flush=True)
    if shared:
        print(_table(shared, SHARED_COLUMNS))
    return shared


def main(argv: list[str] | None = None) -> int:
    """Parse, time part 1 and part 2, and write every row to ``--json`` if asked."""
    args = _parse_args(argv)
    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available() and args.device != "cpu"
    print(
        f"torch {torch.__version__}, device {torch.cuda.get_device_name(0) if cuda else 'cpu'}",
        flush=True,
    )
    single = _time_single(args, cuda)
    shared = _time_sharing(args, cuda)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"single": single, "shared": shared, "torch": torch.__version__}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

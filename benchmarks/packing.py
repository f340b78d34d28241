"""Trial packing throughput: k members in one fused model vs k separate trials, same cores.

    nice -n 10 python -m benchmarks.packing --out benchmarks/results/packing
    python -m benchmarks.packing --device cuda --ks 1,8,16,64 --out benchmarks/results/packing-gpu
    python -m benchmarks.packing --hpo --out benchmarks/results/packing   # + whole HPO runs

For each model (MLP, CNN), dataset (digits, mnist1d) and k in `--ks`, k configs of one shape
that differ in lr, weight decay and seed are trained for `--epochs` epochs:

* **separate** — k `TrainingRun`s one after another in this process on `--threads` threads:
  the work of k trials on the same cores, without Ray's per-trial costs (so it flatters
  the unpacked side);
* **packed** — one `PackedRun` with the k members on the same threads.

Both first train one untimed epoch (warm-up); the variants alternate per cell, so a busy
machine slows both alike. Reported: seconds per epoch of all k, samples/s (k × training
samples / second), trials per hour (a trial = `--epochs` epochs, the throughput of a worker
that only runs such trials), the speed-up, and on CUDA the peak memory. Two side costs of
the design are measured on the digits MLP at k = 16: per-member data order (inputs gathered
`[k, batch, …]`) vs one shared order (`[batch, …]`, no gather), and a free row left in the
pack (every step gathers the live rows) vs a compacted pack.

`--hpo` also runs the same experiment (digits MLP, shape fixed, lr / weight decay / dropout
searched, ASHA) through `tuner launch` on a local Ray with and without
`packing: {members: 16}` and reports both wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

MODELS = {
    "mlp": {"hidden": 128, "depth": 2},
    "cnn": {"channels": 16, "depth": 2},
}


def _configs(model: str, dataset: str, k: int, device: str) -> list[dict[str, Any]]:
    base = {"dataset": dataset, "batch_size": 64, "device": device, **MODELS[model]}
    return [{**base, "lr": 1e-3 * (1 + i % 7), "weight_decay": 1e-5 * (i % 3), "seed": i}
            for i in range(k)]


class _Shell:
    """`make_run` / `build_model` of a model trainable without importing Ray (a bare GPU
    box has only torch), the two things `PackedRun` needs."""

    def __init__(self, model: str) -> None:
        self.model = model

    def build_model(self, config, data):
        from trainables.models import build_model

        return build_model(self.model, config, data.input_shape, data.num_classes)

    def make_run(self, config, assigned_gpus=None):
        from trainables.run import TrainingRun

        return TrainingRun(config, self.build_model, assigned_gpus=assigned_gpus)


def _trainable(model: str) -> _Shell:
    return _Shell(model)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_separate(model: str, configs: list[dict], epochs: int) -> float:
    """Seconds for `epochs` epochs of every config, one run after another."""
    cls = _trainable(model)
    runs = [cls.make_run(c) for c in configs]
    for run in runs:
        run.train_one_epoch()
    _sync(configs[0]["device"])
    start = time.perf_counter()
    for run in runs:
        for _ in range(epochs):
            run.train_one_epoch()
    _sync(configs[0]["device"])
    return time.perf_counter() - start


def _pack(model: str, configs: list[dict]):
    from trainables.packing import PackedRun

    pack = PackedRun(_trainable(model))
    for i, config in enumerate(configs):
        pack.add(i, config)
    return pack


def time_packed(model: str, configs: list[dict], epochs: int) -> tuple[float, float]:
    """(seconds for `epochs` epochs of the pack, peak CUDA memory in MiB or NaN)."""
    device = configs[0]["device"]
    pack = _pack(model, configs)
    pack.train_one_epoch()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    start = time.perf_counter()
    for _ in range(epochs):
        pack.train_one_epoch()
    _sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else float("nan")
    return seconds, peak


def throughput_cell(model: str, dataset: str, k: int, args) -> dict[str, Any]:
    configs = _configs(model, dataset, k, args.device)
    n_train = len(_trainable(model).make_run(configs[0]).data.y_train)
    sep, packed, peak = [], [], float("nan")
    for _ in range(args.repeats):
        sep.append(time_separate(model, configs, args.epochs))
        seconds, peak = time_packed(model, configs, args.epochs)
        packed.append(seconds)
    t_sep, t_pack = statistics.median(sep), statistics.median(packed)
    samples = k * n_train * args.epochs
    return {
        "model": model, "dataset": dataset, "k": k, "epochs": args.epochs,
        "separate_s": t_sep, "packed_s": t_pack,
        "separate_samples_per_s": samples / t_sep, "packed_samples_per_s": samples / t_pack,
        "separate_trials_per_hour": k * 3600 / t_sep, "packed_trials_per_hour": k * 3600 / t_pack,
        "speedup": t_sep / t_pack, "packed_peak_mb": peak,
    }


def _step_seconds(pack, idx: torch.Tensor, shared: bool, steps: int) -> float:
    """Forward + backward of the pack on `idx`, inputs per member or shared (no update)."""
    x = pack._x_pool[idx[0]] if shared else pack._x_pool[idx]
    fn = pack._eval_shared if shared else pack._train_fn
    pack.template.train()
    start = time.perf_counter()
    for _ in range(steps):
        out = fn(pack.params, pack.buffers, x)
        out.float().logsumexp(-1).sum().backward()
    return (time.perf_counter() - start) / steps


def side_costs(args) -> dict[str, float]:
    """Per-member order vs shared order; a free row vs a compacted pack (digits MLP, k=16)."""
    configs = _configs("mlp", "digits", 17, args.device)
    pack = _pack("mlp", configs)
    idx = torch.randint(0, len(pack._x_pool), (17, 64), device=pack._x_pool.device)
    member = _step_seconds(pack, idx, False, 30)
    shared = _step_seconds(pack, idx, True, 30)
    pack.remove(16)
    ids = list(range(16))
    pack.train_one_epoch(ids)
    start = time.perf_counter()
    pack.train_one_epoch(ids)
    with_free_row = time.perf_counter() - start
    pack.compact()
    pack.train_one_epoch(ids)
    start = time.perf_counter()
    pack.train_one_epoch(ids)
    compacted = time.perf_counter() - start
    return {"step_member_order_s": member, "step_shared_order_s": shared,
            "epoch_with_free_row_s": with_free_row, "epoch_compacted_s": compacted}


def hpo_runs(args) -> dict[str, float]:
    """The same ASHA experiment through `tuner launch` with and without packing: whole
    wall time and the tuning part (after Ray's start, before the result files)."""
    import ray

    from tuner.experiment.config import parse_experiment
    from tuner.launch.runner import run

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, packing in (("unpacked", None), ("packed", {"members": 16})):
            raw = {
                "name": f"hpo-{label}", "trainable": "mlp", "storage": tmp,
                "config": {"dataset": "digits", "hidden": 128, "depth": 2, "batch_size": 64},
                "space": {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
                          "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2,
                                           "log": True},
                          "dropout": {"type": "float", "low": 0.0, "high": 0.5},
                          "optimizer": "adam"},
                "searcher": "random", "scheduler": "asha",
                "budget": {"min": 1, "max": 9, "eta": 3}, "metric": "val_accuracy",
                "mode": "max", "num_samples": args.hpo_trials, "seed": 0,
                "resources": {"cpus": 1, "gpus": 0}, "packing": packing,
            }
            lines: list[str] = []
            outcome = run(parse_experiment(raw), write=lines.append)
            ray.shutdown()  # each variant pays its own Ray start
            out[f"{label}_wall_s"] = outcome.wall_seconds
            tuning = re.search(r"tuning ([0-9.]+) s\)", lines[-1])
            out[f"{label}_tuning_s"] = float(tuning.group(1)) if tuning else float("nan")
            out[f"{label}_best"] = outcome.best.last if outcome.best else float("nan")
    out["speedup_wall"] = out["unpacked_wall_s"] / out["packed_wall_s"]
    out["speedup_tuning"] = out["unpacked_tuning_s"] / out["packed_tuning_s"]
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| model | data | k | separate s | packed s | samples/s sep → packed "
            "| trials/h sep → packed | speed-up | peak MiB |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['k']} | {r['separate_s']:.2f} | "
            f"{r['packed_s']:.2f} | {r['separate_samples_per_s']:,.0f} → "
            f"{r['packed_samples_per_s']:,.0f} | {r['separate_trials_per_hour']:,.0f} → "
            f"{r['packed_trials_per_hour']:,.0f} | **{r['speedup']:.2f}×** | "
            f"{r['packed_peak_mb']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.packing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ks", default="1,4,16,64")
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--datasets", default="digits,mnist1d")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--hpo", action="store_true", help="also time whole tuner launch runs")
    parser.add_argument("--hpo-trials", type=int, default=32)
    parser.add_argument("--out", default=None, help="folder for results.json and table.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for model in args.models.split(","):
        for dataset in args.datasets.split(","):
            for k in (int(v) for v in args.ks.split(",")):
                rows.append(throughput_cell(model, dataset, k, args))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    report = {"device": args.device, "threads": args.threads, "rows": rows,
              "side_costs": side_costs(args)}
    if args.hpo:
        report["hpo"] = hpo_runs(args)
    text = table(rows) + "\n\n" + json.dumps({k: v for k, v in report.items()
                                              if k in ("side_costs", "hpo")}, indent=1)
    print("\n" + text)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        Path(args.out, "results.json").write_text(json.dumps(report, indent=1))
        Path(args.out, "table.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

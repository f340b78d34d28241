"""GPU trials under Ray: the same HPO run one trial per GPU, four per GPU, and packed.

    python -m benchmarks.gpu_ray --out benchmarks/results/gpu/ray-trials          # on a GPU box
    python -m benchmarks.gpu_ray --device cpu --trials 8 --epochs 2 --ks 4 --out /tmp/x  # smoke

One fixed experiment — the digits MLP with its shape fixed (hidden 256 × 2, batch 64, Adam),
`lr` and `weight_decay` drawn by random search (seed 0), FIFO so every trial trains all
`--epochs` epochs — runs through `tuner.run` (the `tuner launch` path: preflight, Ray Tune or
the packed executor, result files) once per variant, on one local Ray started here first:

* **one-per-gpu** — `resources: {cpus: 1, gpus: 1}`: a trial holds a whole GPU;
* **four-per-gpu** — `gpus: 0.25`: four trial processes share each GPU (fractional GPUs);
* **packed-k** — `packing: {members: k}` with `gpus: 1` per pack worker (a pack worker asks
  for the trial's `resources`, `tuner.launch.packed.executor`): k trials fused in one process.

Every variant trains the same `--trials` configs for the same epochs, so the work is equal;
what differs is how it is laid on the GPU. Reported per variant: wall seconds of the
`tuner.run` call (Ray already up; Ray's start is reported once, apart), trials per hour
(trials × 3600 / wall), the ratio to one-per-gpu and to four-per-gpu (the goals, at k ≥ 8:
≥ 3× and ≥ 1.5×), the trainers' own seconds (sum of the reported `epoch_seconds`: how much of
the wall is training rather than Ray's per-trial and per-run costs), and GPU memory per
trial: the trainables' `peak_memory_mb` (torch's allocator peak in the trial's process; a
pack's peak / its members) and, from `nvidia-smi` sampled every 0.2 s, the largest
per-process use (CUDA context included; a pack process's / k).

With `--device cpu` the variants ask for CPUs instead (1, 0.25, 1 per pack) on a one-CPU
Ray: CPU figures, labelled so, for a smoke test — not the GPU goals.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

GOAL_VS_ONE, GOAL_VS_FRACTIONAL, GOAL_K = 3.0, 1.5, 8


def experiment(name: str, storage: str, args: argparse.Namespace, resources: dict,
               packing: dict | None) -> dict[str, Any]:
    """The fixed experiment, as a dict `tuner.run` takes; only resources and packing vary."""
    return {
        "name": name, "trainable": "mlp", "storage": storage,
        "config": {"dataset": "digits", "hidden": 256, "depth": 2, "batch_size": 64,
                   "optimizer": "adam", "dropout": 0.0, "device": args.device_config},
        "space": {"lr": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
                  "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True}},
        "searcher": "random", "scheduler": "fifo",
        "budget": {"min": 1, "max": args.epochs, "eta": 3},
        "metric": "val_accuracy", "mode": "max", "num_samples": args.trials, "seed": 0,
        "resources": resources, "packing": packing,
    }


def variants(device: str, ks: list[int]) -> list[tuple[str, dict, dict | None]]:
    """(label, resources, packing): on CUDA per GPU, on CPU the same shares of one CPU."""
    if device == "cuda":
        one, four = {"cpus": 1, "gpus": 1}, {"cpus": 1, "gpus": 0.25}
    else:
        one, four = {"cpus": 1, "gpus": 0}, {"cpus": 0.25, "gpus": 0}
    # the slowest last: a run cut short by its time limit still has the other figures
    rows = [("four-per-gpu", four, None)]
    rows += [(f"packed-{k}", one, {"members": k}) for k in ks]
    return rows + [("one-per-gpu", one, None)]


class GpuMemorySampler(threading.Thread):
    """Largest used memory per process id and all together, from `nvidia-smi`, every
    `period` s until `stop()`, leaving out the driver's process; a machine without it (or
    whose processes it cannot see) leaves both empty."""

    def __init__(self, exclude: int, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.exclude, self.period, self.per_pid, self.total = exclude, period, {}, 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            used = _nvidia_smi_apps()
            used.pop(self.exclude, None)  # the driver (it may score the winner on the GPU)
            for pid, mib in used.items():
                self.per_pid[pid] = max(self.per_pid.get(pid, 0.0), mib)
            self.total = max(self.total, sum(used.values()))
            self._stop_event.wait(self.period)

    def stop(self) -> dict[str, float]:
        self._stop_event.set()
        self.join(timeout=5)
        return {"smi_process_max_mib": max(self.per_pid.values(), default=math.nan),
                "smi_processes": len(self.per_pid),
                "smi_total_max_mib": self.total or math.nan}


def _nvidia_smi_apps() -> dict[int, float]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    used = {}
    for line in out.strip().splitlines():
        pid, _, mib = line.partition(",")
        try:
            used[int(pid)] = float(mib)
        except ValueError:
            continue
    return used


def run_variant(label: str, resources: dict, packing: dict | None, args, storage: str,
                driver_pid: int) -> dict[str, Any]:
    """One `tuner.run` of the experiment; wall time, what the trials reported, GPU memory."""
    import tuner

    sampler = GpuMemorySampler(exclude=driver_pid) if args.device == "cuda" else None
    if sampler:
        sampler.start()
    start = time.perf_counter()
    results = tuner.run(experiment(label, storage, args, resources, packing), quiet=True)
    wall = time.perf_counter() - start
    memory = sampler.stop() if sampler else {}
    reports = trial_reports(results.path)
    done = int((results.trials.status == "completed").sum())
    epochs = int(results.trials.epochs.sum())
    peak = [max(r.get("peak_memory_mb", math.nan) for r in rows) for rows in reports.values()]
    members = packing["members"] if packing else 1
    slices = members / (resources["gpus"] or resources["cpus"]) if packing else 1
    return {
        "variant": label, "resources": resources, "members": members,
        "wall_s": wall, "trials": len(results.trials), "trials_done": done,
        "epochs_trained": epochs, "trials_per_hour": len(results.trials) * 3600 / wall,
        # a pack's members each report the pack's epoch: count it once
        "trainer_s": sum(r.get("epoch_seconds", 0.0) for rows in reports.values()
                         for r in rows) / members,
        "best_val_accuracy": float(results.trials[f"best_{results.metric}"].max()),
        # a pack's process peak is shared by its members
        "allocator_peak_mib_per_trial": max(peak, default=math.nan) / slices,
        "smi_mib_per_trial": memory.get("smi_process_max_mib", math.nan) / slices,
        **memory,
    }


def trial_reports(path: str) -> dict[str, list[dict]]:
    """Each trial's reports, one dict per epoch, from its `result.json` (Ray writes one per
    trial; the packed executor one per member), so both kinds of run read alike."""
    out = {}
    for file in Path(path).glob("*/result.json"):
        lines = file.read_text().splitlines()
        out[file.parent.name] = [json.loads(line) for line in lines if line.strip()]
    return out


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Trials per hour relative to one-per-gpu and four-per-gpu (NaN until that one ran)."""
    base = {r["variant"]: r["trials_per_hour"] for r in rows}
    for r in rows:
        r["vs_one_per_gpu"] = r["trials_per_hour"] / base.get("one-per-gpu", math.nan)
        r["vs_four_per_gpu"] = r["trials_per_hour"] / base.get("four-per-gpu", math.nan)


def goals(rows: list[dict[str, Any]]) -> list[str]:
    """One line per packed variant with k ≥ 8: both goals met or not."""
    lines = []
    for r in rows:
        if r["members"] >= GOAL_K and not math.isnan(r["vs_one_per_gpu"]):
            ok = (r["vs_one_per_gpu"] >= GOAL_VS_ONE
                  and r["vs_four_per_gpu"] >= GOAL_VS_FRACTIONAL)
            lines.append(f"{r['variant']}: {r['vs_one_per_gpu']:.2f}× vs one per GPU (goal "
                         f"≥ {GOAL_VS_ONE:g}×), {r['vs_four_per_gpu']:.2f}× vs four per GPU "
                         f"(goal ≥ {GOAL_VS_FRACTIONAL:g}×): {'met' if ok else 'NOT met'}")
    return lines


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| variant | wall s | trainer s | trials/h | vs one/GPU | vs four/GPU "
            "| MiB/trial (allocator) | MiB/trial (nvidia-smi) | best val acc |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['wall_s']:.1f} | {r['trainer_s']:.1f} | "
            f"{r['trials_per_hour']:,.0f} | {r['vs_one_per_gpu']:.2f}× | "
            f"{r['vs_four_per_gpu']:.2f}× | {r['allocator_peak_mib_per_trial']:.0f} | "
            f"{r['smi_mib_per_trial']:.0f} | {r['best_val_accuracy']:.4f} |")
    return "\n".join(lines)


def start_ray(device: str) -> float:
    """A local Ray for every variant (one already up in this process is reused): on CUDA
    with this machine's CPUs and GPUs, on CPU with one CPU (the unit the variants share)."""
    import ray

    from tuner.launch.ray_session import RAY_ENV, local_only_env

    if ray.is_initialized():
        return 0.0
    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    local_only_env()
    start = time.perf_counter()
    ray.init(address="local", include_dashboard=False, log_to_driver=False,
             logging_level="WARNING", **({} if device == "cuda" else {"num_cpus": 1}))
    return time.perf_counter() - start


def device_config(parser: argparse.ArgumentParser, device: str) -> str:
    """The trials' ``config.device`` for ``--device``; ``cuda`` without a GPU is refused."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no CUDA GPU (use --device cpu for CPU "
                         "figures)")
        return "auto"
    return "cpu"


def describe(device: str) -> dict[str, Any]:
    import ray
    import torch

    info = {"device": device, "torch": torch.__version__, "ray": ray.__version__,
            "cluster": {k: v for k, v in ray.cluster_resources().items()
                        if k in ("CPU", "GPU")}}
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_ray", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--trials", type=int, default=32, help="trials in every variant")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of every trial")
    parser.add_argument("--ks", default="8,16,32", help="members per pack, comma-separated")
    parser.add_argument("--out", default=None, help="folder for results.json and results.md")
    args = parser.parse_args(argv)
    args.device_config = device_config(parser, args.device)
    ks = [int(k) for k in args.ks.split(",") if k]
    ray_start = start_ray(args.device)
    info = {**describe(args.device), "ray_start_s": ray_start, "trials": args.trials,
            "epochs": args.epochs}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gpu_ray-") as storage:
        for label, resources, packing in variants(args.device, ks):
            rows.append(run_variant(label, resources, packing, args, storage, os.getpid()))
            print(f"{label}: {rows[-1]['wall_s']:.1f} s, "
                  f"{rows[-1]['trials_per_hour']:,.0f} trials/h", flush=True)
            text = report(rows, info, args)  # after each variant: a cut-short run keeps these
            if args.out:
                os.makedirs(args.out, exist_ok=True)
                Path(args.out, "results.json").write_text(
                    json.dumps({**info, "rows": rows}, indent=1))
                Path(args.out, "results.md").write_text(text + "\n")
    print("\n" + text)
    return 0


def report(rows: list[dict[str, Any]], info: dict[str, Any], args) -> str:
    """results.md: what ran, the table, the goals (ratios filled in `rows`)."""
    add_ratios(rows)
    title = ("GPU figures" if args.device == "cuda" else
             "CPU figures (--device cpu: shares of one CPU, not GPU figures)")
    return "\n".join([
        f"# Trials under Ray: {title}", "",
        f"{args.trials} trials × {args.epochs} epochs (digits MLP 256×2, random search, FIFO) "
        f"per variant; {json.dumps(info['cluster'])}; Ray start {info['ray_start_s']:.1f} s "
        f"(not in the walls); {info.get('gpu', 'no GPU')}, torch {info['torch']}, "
        f"Ray {info['ray']}.", "", table(rows), "", *goals(rows)])


if __name__ == "__main__":
    raise SystemExit(main())

"""Record a task's table: every grid configuration trained for the whole schedule, per epoch.

    python -m benchmarks.recorded.recorder --task mnist1d-cnn [--pack-size 12] [--max-minutes M]

NAS-Bench-201 and HPOBench's FCNet tables are made this way (every configuration trained to the
end, the curve kept per epoch, several seeds for some), here with our own trainables. Per epoch
each run records train loss, validation loss and accuracy, test loss and accuracy (the held-out
split, scored every epoch so the chosen model's test score is known at any stop), and seconds.

Runs that may share a pack (``trainables.packing.keys.pack_key``: same shape, batch size,
optimiser; they differ in lr, dropout, seed) train as one ``PackedRun`` of up to
``--pack-size`` members; a member's seconds are the pack's epoch time divided by its members
(the simulated clock charges a trial its share). ``--pack-size 1`` trains one run at a time.
The device is the trainables' ``auto``: CUDA when a GPU is visible.

Resumable: after each pack ends, ``curves.csv.gz`` is rewritten atomically with every finished
run; a restart skips the (configuration, seed) pairs already in it, so a killed recorder loses
at most the pack it was training and never retrains a finished one. ``meta.json`` keeps the
command, software versions, machine and device.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.recorded.task import GridTask, load_task

__all__ = ["COLUMNS", "main", "read_curves", "record", "todo"]

COLUMNS = ("config_id", "seed", "epoch", "train_loss", "val_loss", "val_accuracy", "test_loss",
           "test_accuracy", "seconds", "pack_size")
CURVES = "curves.csv.gz"


def read_curves(folder: Path) -> list[dict]:
    """The rows recorded so far (none when the file is absent)."""
    import csv

    path = folder / CURVES
    if not path.exists():
        return []
    with gzip.open(path, "rt", newline="") as f:
        return list(csv.DictReader(f))


def todo(task: GridTask, rows: list[dict]) -> list[tuple[int, int]]:
    """(config id, seed) pairs still to train: seed 0 for every point, the noise seeds for the
    noise sample, minus every pair whose last epoch is recorded."""
    done = {(int(r["config_id"]), int(r["seed"])) for r in rows
            if int(r["epoch"]) == task.epochs}
    wanted = [(i, 0) for i in range(len(task.points()))]
    wanted += [(i, s) for i in task.noise_ids() for s in task.noise_seeds]
    return [p for p in wanted if p not in done]


def packs(task: GridTask, pairs: list[tuple[int, int]], size: int
          ) -> Iterator[list[tuple[int, int]]]:
    """The pairs grouped by what may share a pack, in chunks of at most ``size``."""
    from trainables.packing.keys import pack_key

    points = task.points()
    groups: dict[str, list[tuple[int, int]]] = {}
    for i, seed in pairs:
        groups.setdefault(pack_key(task.trial_config(points[i], seed)), []).append((i, seed))
    for members in groups.values():
        for start in range(0, len(members), max(1, size)):
            yield members[start:start + size]


def _row(i: int, seed: int, m: dict, test: tuple[float, float], seconds: float,
         k: int) -> dict:
    g = (lambda v: f"{v:.6g}" if math.isfinite(v) else "nan")
    return {"config_id": i, "seed": seed, "epoch": m["epoch"], "train_loss": g(m["train_loss"]),
            "val_loss": g(m["val_loss"]), "val_accuracy": g(m["val_accuracy"]),
            "test_loss": g(test[0]), "test_accuracy": g(test[1]), "seconds": f"{seconds:.4g}",
            "pack_size": k}


def train_pack(task: GridTask, members: list[tuple[int, int]]) -> list[dict]:
    """Train one pack (or one solo run) for the whole schedule; its rows, epoch by epoch."""
    from trainables import get_trainable
    from trainables.packing.run import PackedRun

    cls, points = get_trainable(task.trainable), task.points()
    configs = {p: task.trial_config(points[p[0]], p[1]) for p in members}
    if len(members) == 1:
        return _train_solo(cls, task, members[0], configs[members[0]])
    pack = PackedRun(cls)
    for p, cfg in configs.items():
        pack.add(p, cfg)
    rows = []
    for _ in range(task.epochs):
        metrics = pack.train_one_epoch()
        tests = pack.evaluate(split="test")
        for (i, seed), m in metrics.items():
            rows.append(_row(i, seed, m, tests[(i, seed)], m["epoch_seconds"] / len(members),
                             len(members)))
    return rows


def _train_solo(cls, task: GridTask, pair: tuple[int, int], config: dict) -> list[dict]:
    run = cls.make_run(config)
    rows = []
    for _ in range(task.epochs):
        m = run.train_one_epoch()
        rows.append(_row(*pair, m, run.evaluate_split("test"), m["epoch_seconds"], 1))
    return rows


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_curves(folder: Path, rows: list[dict]) -> None:
    """Every finished run's rows, sorted, gzip'd, replacing the file in one rename."""
    import csv

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(sorted(rows, key=lambda r: (int(r["config_id"]), int(r["seed"]),
                                            int(r["epoch"]))))
    _write_atomic(folder / CURVES, gzip.compress(buf.getvalue().encode(), mtime=0))


def machine() -> dict:
    """Software versions and the machine, kept beside the table."""
    import numpy
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "platform": platform.platform(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": gpu or "cpu"}


def record(task: GridTask, pack_size: int, max_minutes: float | None = None,
           log=print) -> int:
    """Train what is left (at most ``max_minutes``); returns how many runs are still to do."""
    folder = task.folder
    rows = read_curves(folder)
    left = todo(task, rows)
    unfinished = set(left)
    rows = [r for r in rows if (int(r["config_id"]), int(r["seed"])) not in unfinished]
    deadline = time.time() + 60 * max_minutes if max_minutes else None
    t0 = time.time()
    for members in packs(task, left, pack_size):
        if deadline and time.time() > deadline:
            break
        rows += train_pack(task, members)
        write_curves(folder, rows)
        done = set(members)
        left = [p for p in left if p not in done]
        log(f"{task.name}: {len(members)} runs done, {len(left)} left, "
            f"{time.time() - t0:.0f} s")
    return len(left)


def write_meta(task: GridTask, argv: list[str], pack_size: int, seconds: float | None,
               left: int) -> None:
    """``meta.json``: how the table was made, one entry per recorder session — written when a
    session starts (``"status": "running"``, which a killed session keeps) and again when it
    ends."""
    path = task.folder / "meta.json"
    meta = json.loads(path.read_text()) if path.exists() else {"sessions": []}
    meta["command"] = "python -m benchmarks.recorded.recorder " + " ".join(map(shlex.quote,
                                                                              argv))
    entry = {"finished" if seconds is not None else "started":
             time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "status": "running" if seconds is None else "ended",
             "seconds": round(seconds or 0), "pack_size": pack_size, "runs_left": left,
             **machine()}
    if seconds is not None and meta["sessions"] and meta["sessions"][-1]["status"] == "running":
        entry = {**meta["sessions"].pop(), **entry}
    meta["sessions"].append(entry)
    _write_atomic(path, (json.dumps(meta, indent=1) + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.recorded.recorder",
                                description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True, help="a folder of benchmarks/tables with task.yaml")
    p.add_argument("--pack-size", type=int, default=12, help="runs per pack (1: solo)")
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--tables", type=Path, default=None,
                   help="folder holding the task folders (default: benchmarks/tables)")
    args = p.parse_args(argv)
    try:
        task = load_task(args.task, args.tables)
    except (KeyError, ValueError) as exc:
        print(f"recorder: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    write_meta(task, argv, args.pack_size, None, len(todo(task, read_curves(task.folder))))
    left = record(task, args.pack_size, args.max_minutes)
    write_meta(task, argv, args.pack_size, time.time() - t0, left)
    print(f"{task.name}: {'complete' if not left else f'{left} runs left'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

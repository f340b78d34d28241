"""A recorded table's README: how it was made, what it holds, how noisy and how misleading.

    python -m benchmarks.recorded.describe --task mnist1d-cnn

Written next to the table (``benchmarks/tables/<task>/README.md``): the command and machine
from ``meta.json``, the grid, the spread of final validation and test scores, the seed-to-seed
noise of the repeated configurations, and how well each rung ranks configurations like the
last epoch does (Kendall's τ between epoch r and the last, over every configuration) — the
quantity that decides whether stopping early can pay on this task.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks.recorded.table import TableBenchmark, load

__all__ = ["describe", "main"]


def _rank_agreement(bench: TableBenchmark, epochs=(1, 3, 9)) -> dict[int, float]:
    from scipy.stats import kendalltau

    last = bench.values[:, -1]
    return {e: float(kendalltau(bench.values[:, e - 1], last).statistic) for e in epochs
            if e < bench.fidelity_max}


def describe(bench: TableBenchmark) -> str:
    """The README text."""
    task = bench.task
    meta_path = task.folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"sessions": []}
    last = meta["sessions"][-1] if meta["sessions"] else {}
    val, test = bench.values[:, -1], bench.tests[:, -1]
    noise = bench.noise()
    seconds = float(bench.seconds[:, -1].sum())
    grid = "\n".join(f"| {n} | {s['type']}{' (log)' if s['log'] else ''} | "
                     f"{', '.join(map(str, s['values']))} |" for n, s in task.grid.items())
    sessions = "\n".join(
        f"- {e.get('finished', e.get('started'))}: {e.get('status')}, packs of "
        f"{e.get('pack_size')}, {e.get('seconds')} s, {e.get('runs_left')} runs left"
        + (f" — {e['note']}" if e.get("note") else "") for e in meta["sessions"])
    taus = ", ".join(f"epoch {e}: {t:.2f}" for e, t in _rank_agreement(bench).items())
    best = int(np.argmax(val) if bench.mode == "max" else np.argmin(val))
    return f"""# {bench.name}

{len(task.points())} configurations of the `{task.trainable}` trainable ({task.config}), each
trained for {task.epochs} epochs; per epoch: train loss, validation and test loss and accuracy,
seconds. {noise['configs']} configurations again with seeds {list(task.noise_seeds)}.
Use it as an instance of the harness: `python -m benchmarks.compare --instances {bench.name}`.

Made with (from the repository root):

    {meta.get('command', 'python -m benchmarks.recorded.recorder --task ' + task.name)}

on {last.get('cpu', '?')} ({last.get('cpu_count', '?')} cores, {last.get('torch_threads', '?')}
torch thread), device {last.get('device', '?')}, Python {last.get('python', '?')}, torch
{last.get('torch', '?')}; {seconds / 3600:.2f} h of training summed over the seed-0 runs (packed
runs: their share of the pack's time). Recorder sessions (`meta.json`):

{sessions}

| parameter | searched as | recorded values |
|---|---|---|
{grid}

| at epoch {task.epochs} | best | median | worst |
|---|---|---|---|
| {bench.metric} | {np.max(val):.4f} | {np.median(val):.4f} | {np.min(val):.4f} |
| test score | {np.max(test):.4f} | {np.median(test):.4f} | {np.min(test):.4f} |

The configuration best on validation: {task.points()[best]} (test {test[best]:.4f}).

Noise (standard deviation across seeds at the last epoch, mean over the repeated
configurations): validation {noise['val_sd']:.4f}, test {noise['test_sd']:.4f}.

How early epochs rank configurations like the last one (Kendall's τ): {taus}.

Files: `task.yaml` (the grid; ids in its product order), `curves.csv.gz` (`config_id, seed,
epoch, train_loss, val_loss, val_accuracy, test_loss, test_accuracy, seconds, pack_size`),
`meta.json` (command, versions, machine per recorder session).
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.recorded.describe",
                                description=__doc__.splitlines()[0])
    p.add_argument("--task", required=True)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    bench = load("real/" + args.task)
    text = describe(bench)
    (bench.task.folder / "README.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

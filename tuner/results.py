"""Results: one record per trial → ``trials.csv``, ``best.json``, ``report.md``, ``curves.png``.

Pure functions over plain records (``TrialRecord``), so they are testable without Ray; the
runner builds the records from Ray's ``ResultGrid``. Every file is written to a temporary
name and renamed into place, so a crash never leaves a truncated ``trials.csv`` or
``best.json`` behind (object stores such as S3/GCS write whole objects, which is atomic too).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from tuner.budget import BudgetLadder

__all__ = ["TrialRecord", "write_atomic", "pick_best", "trials_csv", "report_markdown",
           "plot_curves", "summary_table", "rung_counts", "status_of"]

COMPLETED, STOPPED, ERRORED = "completed", "stopped early", "errored"


@dataclass
class TrialRecord:
    """What we keep of one trial: its config, its per-epoch metric and how it ended."""

    trial_id: str
    config: dict[str, Any]
    status: str
    epochs: int
    history: list[float] = field(default_factory=list)  # metric per epoch, epoch 1 first
    error: str = ""
    node: str = ""
    retries: int = 0
    checkpoint: str | None = None  # path of the last checkpoint (for the test evaluation)

    def best(self, mode: str) -> tuple[float | None, int | None]:
        """Best finite metric and its epoch (1-based)."""
        finite = [(v, i + 1) for i, v in enumerate(self.history) if _finite(v)]
        if not finite:
            return None, None
        return (max if mode == "max" else min)(finite, key=lambda t: t[0])

    @property
    def last(self) -> float | None:
        return self.history[-1] if self.history and _finite(self.history[-1]) else None


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def status_of(epochs: int, max_epochs: int, error: str) -> str:
    if error:
        return f"{ERRORED}: {error}" if not error.startswith(ERRORED) else error
    return COMPLETED if epochs >= max_epochs else STOPPED


def pick_best(records: list[TrialRecord], mode: str) -> TrialRecord | None:
    """The winner by its last value, among trials that trained longest without error.

    Longest first because an early-stopped trial's score comes from a cheaper fidelity
    (fewer epochs, less data) and is not comparable with full-budget scores.
    """
    ok = [r for r in records if not r.status.startswith(ERRORED) and r.last is not None]
    if not ok:
        return None
    longest = max(r.epochs for r in ok)
    pool = [r for r in ok if r.epochs == longest]
    sign = 1 if mode == "max" else -1
    return max(pool, key=lambda r: (sign * r.last, -_order(r.trial_id)))


def _order(trial_id: str) -> int:
    digits = "".join(ch for ch in trial_id.rsplit("_", 1)[-1] if ch.isdigit())
    return int(digits) if digits else 0


def rung_counts(records: list[TrialRecord], ladder: BudgetLadder) -> list[tuple[Any, int]]:
    """(rung, number of trials that trained at least that many epochs) for the report."""
    return [(rung, sum(1 for r in records if r.epochs >= rung.resource))
            for rung in ladder.rungs()]


# ---------------------------------------------------------------------------------------
def write_atomic(path: str, data: bytes | str) -> None:
    """Write ``data`` so readers see the old file or the whole new one, never a part."""
    payload = data.encode() if isinstance(data, str) else data
    if "://" in path:
        import pyarrow.fs

        fs, inner = pyarrow.fs.FileSystem.from_uri(path)
        with fs.open_output_stream(inner) as out:
            out.write(payload)
        return
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def trials_csv(records: list[TrialRecord], param_names: list[str], metric: str,
               mode: str) -> str:
    """One row per trial: id, every hyperparameter, status, epochs, last and best metric."""
    buf = io.StringIO()
    cols = (["trial_id", *param_names, "status", "epochs", f"last_{metric}", f"best_{metric}",
             "best_epoch", "retries", "node"])
    writer = csv.writer(buf)
    writer.writerow(cols)
    for r in records:
        best, best_epoch = r.best(mode)
        writer.writerow([r.trial_id, *[r.config.get(p, "") for p in param_names], r.status,
                         r.epochs, _fmt(r.last), _fmt(best), best_epoch or "", r.retries,
                         r.node])
    return buf.getvalue()


def _fmt(v: Any) -> str:
    return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def best_json(best: TrialRecord, *, metric: str, mode: str, test: dict[str, float],
              params: list[str]) -> str:
    value, epoch = best.best(mode)
    return json.dumps({
        "trial_id": best.trial_id,
        "config": {p: best.config[p] for p in params if p in best.config},
        "metric": metric,
        "mode": mode,
        f"last_{metric}": best.last,
        f"best_{metric}": value,
        "best_epoch": epoch,
        "epochs": best.epochs,
        "test": test,
    }, indent=2, default=str) + "\n"


def summary_table(records: list[TrialRecord], metric: str, mode: str, top: int = 5) -> str:
    """A fixed-width table of the top trials for the terminal."""
    ranked = sorted((r for r in records if r.last is not None),
                    key=lambda r: (-r.epochs, -r.last if mode == "max" else r.last))[:top]
    lines = [f"{'trial':<14} {'status':<28} {'epochs':>6} {metric:>14}"]
    for r in ranked:
        lines.append(f"{r.trial_id[-14:]:<14} {r.status[:28]:<28} {r.epochs:>6} {r.last:>14.4f}")
    return "\n".join(lines)


def report_markdown(*, name: str, description: str, method: str, trainable: str,
                    records: list[TrialRecord], ladder: BudgetLadder, metric: str, mode: str,
                    best: TrialRecord | None, test: dict[str, float], params: list[str],
                    wall_seconds: float) -> str:
    """The human summary: rungs reached, outcome counts, best configs, validation vs test."""
    n = len(records)
    by_status = {s: sum(1 for r in records if r.status.startswith(s))
                 for s in (COMPLETED, STOPPED, ERRORED)}
    out = [f"# Experiment `{name}`", ""]
    if description:
        out += [description, ""]
    out += [f"- trainable: `{trainable}`; method: {method}",
            f"- trials: {n} — {by_status[COMPLETED]} completed, {by_status[STOPPED]} stopped "
            f"early, {by_status[ERRORED]} errored; {sum(r.retries for r in records)} retries",
            f"- wall time: {wall_seconds:.1f} s", "",
            "## Budget ladder", "",
            "| rung | epochs | data fraction | trials reaching it |", "|---|---|---|---|"]
    for i, (rung, count) in enumerate(rung_counts(records, ladder)):
        out.append(f"| {i} | {rung.resource} | {rung.data_fraction:g} | {count} |")
    out += ["", "## Best configuration", ""]
    if best is None:
        out.append("No trial finished without error.")
    else:
        value, epoch = best.best(mode)
        out += ["| parameter | value |", "|---|---|"]
        out += [f"| {p} | {_fmt(best.config[p])} |" for p in params if p in best.config]
        out += ["", "| | value |", "|---|---|",
                f"| validation {metric} (last epoch {best.epochs}) | {_fmt(best.last)} |",
                f"| validation {metric} (best, epoch {epoch}) | {_fmt(value)} |"]
        out += [f"| test {k.removeprefix('test_')} (held-out split) | {_fmt(v)} |"
                for k, v in test.items()]
    out += ["", "## Top trials", "", "| trial | status | epochs | "
            f"{metric} | " + " | ".join(params) + " |",
            "|---" * (4 + len(params)) + "|"]
    ranked = sorted((r for r in records if r.last is not None),
                    key=lambda r: (-r.epochs, -r.last if mode == "max" else r.last))
    for r in ranked[:10]:
        out.append(f"| {r.trial_id} | {r.status} | {r.epochs} | {_fmt(r.last)} | "
                   + " | ".join(_fmt(r.config.get(p, "")) for p in params) + " |")
    errored = [r for r in records if r.status.startswith(ERRORED)]
    if errored:
        out += ["", "## Errored trials", ""]
        out += [f"- {r.trial_id}: {r.status}" for r in errored]
    retried = [r for r in records if r.retries]
    if retried:
        out += ["", "## Retried trials (resumed from their last checkpoint)", ""]
        out += [f"- {r.trial_id}: {r.retries} retr{'y' if r.retries == 1 else 'ies'}"
                for r in retried]
    return "\n".join(out) + "\n"


def plot_curves(records: list[TrialRecord], metric: str, best: TrialRecord | None,
                ladder: BudgetLadder) -> bytes:
    """PNG of the metric per epoch: completed solid, stopped early dashed grey, best bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for r in records:
        xs = list(range(1, len(r.history) + 1))
        if r.status.startswith(ERRORED):
            ax.plot(xs, r.history, color="tab:red", lw=0.8, marker="x", alpha=0.7)
        elif r.status == COMPLETED:
            ax.plot(xs, r.history, color="tab:blue", lw=1.2, alpha=0.8)
        else:
            ax.plot(xs, r.history, color="0.6", lw=0.9, ls="--", marker=".", alpha=0.8)
    if best is not None:
        ax.plot(range(1, len(best.history) + 1), best.history, color="tab:green", lw=2.8,
                label=f"best ({best.trial_id})")
    for rung in ladder.rungs():
        ax.axvline(rung.resource, color="0.85", lw=0.8, zorder=0)
    handles = [plt.Line2D([], [], color="tab:blue", label="completed"),
               plt.Line2D([], [], color="0.6", ls="--", marker=".", label="stopped early"),
               plt.Line2D([], [], color="tab:red", marker="x", label="errored")]
    if best is not None:
        handles.append(plt.Line2D([], [], color="tab:green", lw=2.8, label="best"))
    ax.legend(handles=handles, loc="best", fontsize=8)
    ax.set_xlabel("epoch (vertical lines: rungs)")
    ax.set_ylabel(metric)
    ax.set_xscale("log" if ladder.max >= 27 else "linear")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


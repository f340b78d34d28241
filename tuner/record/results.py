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

__all__ = ["TrialRecord", "error_text", "figure_png", "numbers", "write_atomic", "pick_best", "trials_csv", "report_markdown",
           "plot_curves", "summary_table", "rung_counts", "status_of"]

COMPLETED, STOPPED, ERRORED = "completed", "stopped early", "errored"
INTERRUPTED, NOT_STARTED = "interrupted", "not started"  # a run stopped by Ctrl-C / a kill


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
    order: int = 0  # creation order (Ray's trial ids are random): trials.csv order, tie-breaks
    log: str | None = None  # the trial's stdout/stderr file, when it wrote one
    values: dict[str, float] = field(default_factory=dict)  # numbers of its last result
    histories: dict[str, list] = field(default_factory=dict)  # other objectives per epoch

    def value(self, name: str) -> float | None:
        """``name`` in the trial's last result, when it is a finite number."""
        v = self.values.get(name)
        return v if _finite(v) else None

    def value_at(self, name: str, epoch: int, metric: str | None = None) -> float | None:
        """``name`` as reported at ``epoch`` (``history`` holds ``metric``'s values,
        ``histories`` the other objectives'); the last value stands in when the trial
        ended at that epoch and no per-epoch record exists (a packed run keeps none)."""
        series = self.history if name == metric else self.histories.get(name)
        if series is not None and len(series) >= epoch:
            v = series[epoch - 1]
        else:
            v = self.values.get(name) if self.epochs == epoch else None
        return float(v) if _finite(v) else None

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


def error_text(trial: Any) -> str:
    """``RuntimeError: first line`` of a Ray trial's exception, as trials.csv shows it."""
    try:
        error = trial.get_error()
        cause = getattr(error, "cause", None) or error
        text = str(cause).splitlines()[0][:120] if str(cause) else ""
        return f"{type(cause).__name__}: {text}" if error is not None else "exception"
    except Exception:  # noqa: BLE001 — the error file may be gone
        return "exception"


def numbers(result: dict | None) -> dict[str, float]:
    """The finite numbers of a reported result (what ``TrialRecord.values`` keeps)."""
    return {str(k): float(v) for k, v in (result or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def status_of(epochs: int, max_epochs: int, error: str) -> str:
    """completed / stopped early / ``errored: <first line>`` from what a trial reported."""
    if error:
        return f"{ERRORED}: {error}" if not error.startswith(ERRORED) else error
    return COMPLETED if epochs >= max_epochs else STOPPED


def pick_best(records: list[TrialRecord], mode: str) -> TrialRecord | None:
    """The winner by its last value, among trials that trained longest without error.

    Longest first because an early-stopped trial's score comes from a cheaper fidelity
    (fewer epochs, less data) and is not comparable with full-budget scores. Ties (digits'
    validation accuracy moves in steps of 1/360) go to the trial created first: creation
    order is fixed by the seed when trials run one at a time, unlike Ray's random trial ids,
    and a later trial that only equals an earlier score adds no evidence for itself.
    """
    ok = [r for r in records if not r.status.startswith(ERRORED) and r.last is not None]
    if not ok:
        return None
    longest = max(r.epochs for r in ok)
    pool = [r for r in ok if r.epochs == longest]
    sign = 1 if mode == "max" else -1
    return max(pool, key=lambda r: (sign * r.last, -r.order))


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
        # mkstemp makes 0600; a result file gets what open() would give it (0666 & ~umask),
        # so a group sharing the storage can read it. os.umask is read by setting it: briefly
        # to a strict mask, so a file another thread creates meanwhile is never looser.
        umask = os.umask(0o077)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    # A writer killed between mkstemp and the rename leaves its `.tmp-XXXXXXXX` behind. No
    # reader opens one (readers name their files; globs skip dot-files); the next write into
    # the folder removes those over ten minutes old, which no live write owns (its file is
    # seconds old). Ages are read against the file just written: one clock, the storage's.
    try:
        cutoff = os.stat(path).st_mtime - 600
        with os.scandir(directory) as entries:
            stale = [e.path for e in entries if len(e.name) == 13 and e.name.startswith(".tmp-")
                     and e.stat(follow_symlinks=False).st_mtime < cutoff]
    except OSError:
        return
    for leftover in stale:
        try:
            os.unlink(leftover)
        except OSError:
            pass


def trials_table(records: list[TrialRecord], param_names: list[str], metric: str,
                 mode: str, others: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One row per trial in creation order: id, every hyperparameter, status, epochs, last
    and best metric, and the last value of each of the ``others`` objectives — the rows of
    ``trials.csv`` and of ``Results.trials``."""
    rows = []
    for r in sorted(records, key=lambda r: r.order):
        best, best_epoch = r.best(mode)
        rows.append({"trial_id": r.trial_id, **{p: r.config.get(p) for p in param_names},
                     "status": r.status, "epochs": r.epochs, f"last_{metric}": r.last,
                     f"best_{metric}": best, "best_epoch": best_epoch,
                     **{f"last_{n}": r.value(n) for n in others}, "retries": r.retries,
                     "node": r.node})
    return rows


def trials_csv(records: list[TrialRecord], param_names: list[str], metric: str,
               mode: str, others: tuple[str, ...] = ()) -> str:
    """``trials.csv``: :func:`trials_table` with metric values to 6 significant digits."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    values = {f"last_{metric}", f"best_{metric}", *(f"last_{n}" for n in others)}
    writer.writerow(["trial_id", *param_names, "status", "epochs", f"last_{metric}",
                     f"best_{metric}", "best_epoch", *(f"last_{n}" for n in others),
                     "retries", "node"])
    for row in trials_table(records, param_names, metric, mode, others):
        writer.writerow(["" if v is None else _fmt(v) if isinstance(v, float) and k in values
                         else v for k, v in row.items()])
    return buf.getvalue()


def _fmt(v: Any) -> str:
    return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def best_json(best: TrialRecord, *, metric: str, mode: str, test: dict[str, float],
              params: list[str], trainable: str = "", test_note: str = "") -> str:
    """The winner, ready to use: its searched ``params``, the full ``config`` it trained with
    (fixed settings included), its checkpoint and trainable — enough to rebuild and score it
    from this file alone (``trainables.evaluate_checkpoint("…/best.json")``)."""
    value, epoch = best.best(mode)
    return json.dumps({
        "trial_id": best.trial_id,
        "params": {p: best.config[p] for p in params if p in best.config},
        "config": best.config,
        "trainable": trainable,
        "checkpoint": best.checkpoint,
        "metric": metric,
        "mode": mode,
        f"last_{metric}": best.last,
        f"best_{metric}": value,
        "best_epoch": epoch,
        "epochs": best.epochs,
        "test": test,
        **({"test_note": test_note} if test_note else {}),
    }, indent=2, default=str) + "\n"


def summary_table(records: list[TrialRecord], metric: str, mode: str, top: int = 5) -> str:
    """A fixed-width table of the top trials for the terminal; says how many it leaves out."""
    ranked = sorted((r for r in records if r.last is not None),
                    key=lambda r: (-r.epochs, -r.last if mode == "max" else r.last))[:top]
    lines = [f"{'trial':<14} {'status':<28} {'epochs':>6} {metric:>14}"]
    for r in ranked:
        lines.append(f"{r.trial_id[-14:]:<14} {r.status[:28]:<28} {r.epochs:>6} {r.last:>14.4f}")
    if len(ranked) < len(records):
        unreported = sum(1 for r in records if r.last is None)
        lines.append(f"top {len(ranked)} of {len(records)} trials"
                     + (f" ({unreported} reported no {metric})" if unreported else "")
                     + "; every trial is in trials.csv")
    return "\n".join(lines)


def report_markdown(*, name: str, description: str, method: str, trainable: str,
                    records: list[TrialRecord], ladder: BudgetLadder, metric: str, mode: str,
                    best: TrialRecord | None, test: dict[str, float], params: list[str],
                    wall_seconds: float, planned: int | None = None, interrupted: bool = False,
                    test_note: str = "") -> str:
    """The human summary: rungs reached, outcome counts, best configs, validation vs test."""
    out = [f"# Experiment `{name}`", ""]
    if description:
        out += [description, ""]
    out += [f"- trainable: `{trainable}`; method: {method}",
            *_outcome_lines(records, planned, interrupted),
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
        if not test:
            out += ["", f"No test score was taken: {test_note or 'no held-out evaluation.'}"]
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
        for r in errored:
            out.append(f"- {r.trial_id}: {r.status}" + (f" (its output: `{r.log}`)"
                                                        if r.log else ""))
            tail = _tail(r.log)
            if tail:
                out += ["", "  ```", *[f"  {line}" for line in tail], "  ```"]
    retried = [r for r in records if r.retries]
    if retried:
        out += ["", "## Retried trials (each from its last checkpoint, or from scratch without one)",
                ""]
        out += [f"- {r.trial_id}: {r.retries} retr{'y' if r.retries == 1 else 'ies'}"
                for r in retried]
    return "\n".join(out) + "\n"


def _tail(path: str | None, lines: int = 8) -> list[str]:
    """The last ``lines`` lines a trial printed (what it said before it failed)."""
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()[-4000:]
    except OSError:
        return []
    return [line[:200] for line in text.rstrip().splitlines()[-lines:]]


def _outcome_lines(records: list[TrialRecord], planned: int | None,
                   interrupted: bool) -> list[str]:
    """Outcome counts; an interrupted run says so first, with what did not run."""
    counts = {s: sum(1 for r in records if r.status.startswith(s))
              for s in (COMPLETED, STOPPED, ERRORED, INTERRUPTED, NOT_STARTED)}
    ended = counts[COMPLETED] + counts[STOPPED] + counts[ERRORED]
    total = max(planned or 0, len(records))
    lines = []
    if interrupted:
        unstarted = counts[NOT_STARTED] + max(0, total - len(records))
        lines.append(f"- **interrupted: {ended} of {total} trials ended**; "
                     f"{counts[INTERRUPTED]} interrupted while running, {unstarted} not started "
                     "(continue with `--resume`)")
    lines.append(f"- trials: {len(records)} — {counts[COMPLETED]} completed, {counts[STOPPED]} "
                 f"stopped early, {counts[ERRORED]} errored"
                 + (f", {counts[INTERRUPTED]} interrupted" if counts[INTERRUPTED] else "")
                 + (f", {counts[NOT_STARTED]} not started" if counts[NOT_STARTED] else "")
                 + f"; {sum(r.retries for r in records)} retries")
    return lines


def plot_curves(records: list[TrialRecord], metric: str, best: TrialRecord | None,
                ladder: BudgetLadder) -> bytes:
    """PNG of the metric per epoch: completed solid, stopped early dashed grey, best bold.

    The legend names only the outcomes that occurred; epochs are whole numbers, so the
    x ticks are too (the rungs on a log axis, integers on a linear one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, NullLocator

    styles = {"completed": dict(color="tab:blue", lw=1.2),
              "other": dict(color="0.6", lw=0.9, ls="--", marker="."),
              "errored": dict(color="tab:red", lw=0.8, marker="x")}
    seen: dict[str, set[str]] = {}  # style -> statuses drawn with it
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for r in records:
        kind = ("errored" if r.status.startswith(ERRORED) else
                "completed" if r.status == COMPLETED else "other")
        seen.setdefault(kind, set()).add(ERRORED if kind == "errored" else
                                         STOPPED if r.status.startswith(STOPPED) else r.status)
        ax.plot(range(1, len(r.history) + 1), r.history, alpha=0.75, **styles[kind])
    handles = [plt.Line2D([], [], label=" / ".join(sorted(seen[kind])), **styles[kind])
               for kind in styles if kind in seen]
    if best is not None:
        ax.plot(range(1, len(best.history) + 1), best.history, color="tab:green", lw=2.8)
        handles.append(plt.Line2D([], [], color="tab:green", lw=2.8, label="best"))
    for rung in ladder.rungs():
        ax.axvline(rung.resource, color="0.85", lw=0.8, zorder=0)
    if handles:
        ax.legend(handles=handles, loc="best", fontsize=8)
    ax.set_xlabel("epoch (vertical lines: rungs)")
    ax.set_ylabel(metric)
    if ladder.max >= 27:
        ax.set_xscale("log")
        ticks = [rung.resource for rung in ladder.rungs()]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return figure_png(fig)


def figure_png(fig: Any) -> bytes:
    """A finished matplotlib figure as PNG bytes (grid, tight layout), closed after."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


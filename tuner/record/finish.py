"""After tuning: pick the winner, score it on held-out data, write the result files.

Shared by the runner (after ``fit()``, finished or interrupted) so every way a run ends leaves
the same four files, each written whole (``results.write_atomic``): ``trials.csv``,
``best.json``, ``report.md``, ``curves.png``.

The test-set guard: a search that only ever saw validation scores is judged once on data it
never saw. Our trainables carry their own held-out split (``trainables.evaluate_checkpoint``);
user code gives an ``evaluate`` hook, ``fn(config, checkpoint) -> {"test_accuracy": …}``, called
here in the driver on the winner's last checkpoint. Without either, the report says plainly
that no test score was taken rather than leaving the column blank.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from tuner.record import results as res

__all__ = ["Finished", "append_to_report", "checkpoint_at", "finish", "test_score"]


@dataclass
class Finished:
    records: list = field(default_factory=list)
    best: Any = None
    test: dict = field(default_factory=dict)
    test_note: str = ""
    front: list = field(default_factory=list)  # several objectives: the Pareto set

def test_score(exp: Any, best: res.TrialRecord | None) -> tuple[dict[str, float], str]:
    """``(test metrics, note)`` for the winner: the metrics, or why there are none."""
    if best is None:
        return {}, "no trial finished without error"
    from tuner.experiment.user_code import check_evaluate, resolve_trainable

    info = resolve_trainable(exp.trainable)
    if exp.evaluate is None and not info.has_test_split:
        return {}, ("this trainable has no held-out split we know of and the experiment "
                    "gives no `evaluate: package.module:fn` hook")
    if not best.checkpoint:
        return {}, "the winning trial saved no checkpoint to score"
    try:
        checkpoint = checkpoint_at(exp.storage, best.checkpoint)
        if exp.evaluate is not None:
            hook, _ = check_evaluate(exp.evaluate)
            out = hook(dict(best.config), checkpoint)
        else:
            import trainables

            with checkpoint.as_directory() as directory:
                out = trainables.evaluate_checkpoint(info.obj, best.config, directory,
                                                     split="test")
    except Exception as exc:  # noqa: BLE001 — the user's hook failing must not lose the run
        from tuner.record.collect import error_line

        import traceback

        line = error_line("".join(traceback.format_exception_only(type(exc), exc)))
        return {}, f"the test evaluation raised {line or type(exc).__name__}"
    if not isinstance(out, dict):
        return {}, f"the evaluate hook returned {type(out).__name__}, not a dict of metrics"
    return {str(k): float(v) for k, v in out.items() if isinstance(v, (int, float))}, ""


def checkpoint_at(storage: str, path: str):
    """A ``ray.tune.Checkpoint`` for a path Ray recorded (on local disk or in ``storage``'s
    object store, whose paths Ray keeps without the scheme)."""
    from ray.tune import Checkpoint

    if "://" not in storage:
        return Checkpoint.from_directory(path)
    import pyarrow.fs

    fs, _ = pyarrow.fs.FileSystem.from_uri(storage)
    return Checkpoint(path, filesystem=fs)


def finish(exp: Any, records: list[res.TrialRecord], *, interrupted: bool, wall: float,
           write: Callable[[str], None] = print, quiet: bool = False) -> Finished:
    """Write ``trials.csv``, ``best.json``, ``report.md``, ``curves.png`` for ``records``."""
    from tuner.experiment.user_code import describe_trainable

    others = tuple(exp.objectives.names[1:]) if getattr(exp, "several", False) else ()
    members = None
    if others:  # the lead member: best on the first objective, then the next, …
        from tuner.record.front import pareto_members

        members = pareto_members(records, exp.objectives)
    best = members[0] if members else res.pick_best(records, exp.mode)
    test, note = test_score(exp, best)
    params = list(exp.space)
    path = exp.path
    res.write_atomic(f"{path}/trials.csv", res.trials_csv(records, params, exp.metric,
                                                          exp.mode, others))
    front = _front(exp, members, best, test, note) if others else None
    if best is not None:
        text = res.best_json(best, metric=exp.metric, mode=exp.mode, test=test, params=params,
                             trainable=describe_trainable(exp.trainable), test_note=note)
        if front is not None:
            text = _with_front(text, exp, front)
        res.write_atomic(f"{path}/best.json", text)
    report = _report(exp, records, best, test, note, wall, interrupted)
    if front is not None:
        report = _report_front(report, exp, records, front, path)
    res.write_atomic(f"{path}/report.md", report)
    res.write_atomic(f"{path}/curves.png", res.plot_curves(records, exp.metric, best,
                                                           exp.budget))
    if note and not quiet:
        write(f"note: no test score — {note}")
    if not quiet and front is None:
        _summary(exp, records, best, test, write)
    elif not quiet:
        _summary_front(exp, front, write)
    sys.stdout.flush()
    return Finished(records=records, best=best, test=test, test_note=note,
                    front=front[0] if front is not None else [])


def _front(exp: Any, members: list, best: Any, test: dict, note: str
           ) -> tuple[list, dict[str, dict], dict[str, str]]:
    """(members, test scores by trial id, notes): every member scored on held-out data."""
    tests, notes = {}, {}
    for member in members:
        if best is not None and member.trial_id == best.trial_id:
            tests[member.trial_id], notes[member.trial_id] = test, note
        else:
            tests[member.trial_id], notes[member.trial_id] = test_score(exp, member)
    return members, tests, notes


def _with_front(text: str, exp: Any, front: tuple) -> str:
    """``best.json`` with every objective's direction and the Pareto set (``pareto``); the
    top-level entry is the front's lead member (best on the first objective, then on the
    next), so readers of one winner
    (``trainables.evaluate_checkpoint``, ``tuner confirm``) keep working."""
    import json

    from tuner.record.front import front_json

    members, tests, notes = front
    data = json.loads(text)
    data["objectives"] = dict(zip(exp.objectives.names, exp.objectives.modes))
    data["pareto"] = front_json(members, exp.objectives, list(exp.space), tests, notes)
    return json.dumps(data, indent=2, default=str) + "\n"


def _report_front(report: str, exp: Any, records: list, front: tuple, path: str) -> str:
    """The report with its Pareto section, and ``pareto.png`` beside it."""
    from tuner.record.front import front_markdown, front_rows, plot_front

    members, tests, _ = front
    rows = front_rows(members, exp.objectives, list(exp.space), tests)
    res.write_atomic(f"{path}/pareto.png", plot_front(records, members, exp.objectives))
    section = front_markdown(rows, exp.objectives, list(exp.space), len(records))
    head, sep, tail = report.partition("\n## Best configuration")
    return head + "\n" + "\n".join(section) + "\n" + sep + tail


def _report(exp: Any, records: list, best: Any, test: dict, note: str, wall: float,
            interrupted: bool) -> str:
    from tuner.experiment.user_code import describe_trainable

    method = exp.method or f"{exp.searcher} + {exp.scheduler}"
    report = res.report_markdown(
        name=exp.name, description=exp.description, method=method,
        trainable=describe_trainable(exp.trainable), records=records, ladder=exp.budget,
        metric=exp.metric, mode=exp.mode, best=best, test=test, params=list(exp.space),
        wall_seconds=wall, planned=exp.num_samples, interrupted=interrupted, test_note=note)
    try:  # what each fault cost, from the run's own files; a clean run adds nothing
        from tuner.record.ledger import ledger_section

        report += ledger_section(exp.path, records)
    except Exception as exc:  # noqa: BLE001 — reading the files must never lose the run
        report += f"\nfault ledger unavailable: {type(exc).__name__}: {exc}\n"
    try:  # intervals, importance, plots: an analysis failure must never lose the run
        from tuner.record.insights import report_extras

        report += report_extras(exp, records, best, test)
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001
        report += f"\nimportance unavailable: {type(exc).__name__}: {exc}\n"
    return report


def _summary(exp: Any, records: list, best: Any, test: dict,
             write: Callable[[str], None]) -> None:
    write("")
    write(res.summary_table(records, exp.metric, exp.mode))
    if best is not None:
        params = {p: best.config[p] for p in exp.space if p in best.config}
        write(f"\nbest trial {best.trial_id}: validation {exp.metric} {best.last:.4f}"
              + "".join(f", {k} {v:.4f}" for k, v in test.items()))
        write(f"best config: {params}")


def _summary_front(exp: Any, front: tuple, write: Callable[[str], None]) -> None:
    members, tests, _ = front
    write(f"\nPareto front: {len(members)} trial(s), each in best.json, report.md and "
          "pareto.png" + (" (the first 10 here)" if len(members) > 10 else ""))
    for r in members[:10]:
        params = {p: r.config[p] for p in exp.space if p in r.config}
        write(f"  {r.trial_id}: " + ", ".join(f"{n} {r.value(n):.4g}"
                                             for n in exp.objectives.names)
              + "".join(f", {k} {v:.4f}" for k, v in tests.get(r.trial_id, {}).items())
              + f"  {params}")


def append_to_report(path: str, lines: list[str]) -> bool:
    """Append ``lines`` as a section of ``{path}/report.md`` (rewritten whole, atomically).

    PBT and PB2 add their lineage this way after ``finish``. Returns whether anything was
    added: nothing for no lines, and a remote report is left as written."""
    import os

    report = os.path.join(path, "report.md")
    if not lines or "://" in path or not os.path.exists(report):
        return False
    with open(report, encoding="utf-8") as f:
        text = f.read()
    res.write_atomic(report, text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n")
    return True

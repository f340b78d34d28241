"""What each fault cost a run: the "Faults and what they cost" section of ``report.md``.

A fault is cheap or dear depending on what it made the run throw away and do again; the
retry count alone does not say. So this module reads the run's own files — nothing a test
harness or a monitor knows — and charges every restart of a trial to the fault behind it:

* ``manifest.json``'s ``resumed`` list: one entry per driver restart (``--resume``), with the
  time the resumed driver started (``at``);
* each trial folder's ``result.json``: one row per result the driver received. A restored
  trial appends its rows again (Ray and the packed executor both append), so the file keeps
  the history of every attempt: ``training_iteration`` (the epoch), Ray's
  ``iterations_since_restore``, ``timestamp`` (whole seconds) and the node (``node_ip``, else
  ``hostname``);
* the run's trials (``TrialRecord``): their ids and the retries Ray counted (``retries``).

How each number is counted. A *restart* is a row whose epoch is not above the row before it
(the trial went back), or a row with ``iterations_since_restore == 1`` after earlier rows
(restored, perhaps from its newest checkpoint, so nothing went back). The trial went on from
epoch ``e - 1``, ``e`` being the restart row's epoch (0: from scratch).

* *epochs redone*: rows for an epoch the trial had reported before, each charged to the
  restart before it.
* *results lost in flight*: the rows of epochs after the point the trial went on from, which
  its later rows supersede (charged to that restart), and every row of an *orphan*: a trial
  folder whose id is not among the run's trials. The resumed driver's state never knew that
  trial (it started after the last experiment snapshot before the kill), so its results are in
  no table; they are charged to the first driver restart after its last row.
* *trials retried*: the restarts a fault caused, one per trial per fault (a retry Ray counted
  whose restart left no row counts too; a trial the scheduler had paused when the driver died
  restores after the restart like the others and counts too); the total sums the rows.

Which fault a restart belongs to — the nearest one before it that the files show:

1. a driver restart whose ``at`` falls after the trial's last row before the restart and no
   later than the restart row (the latest, if several);
2. else the trial's own failure, while Ray counted one: at most ``retries`` restarts per
   trial, those that went back first, then the others, each in time order;
3. else no fault: a scheduler pausing and resuming a trial (HyperBand) or PBT cloning another
   trial's checkpoint restore the same way.

Own failures on one node whose windows (last row before, restart row) share a second are one
fault: a lost node, or trials failing together — the files cannot tell which.

What this cannot see: a result computed by a trial process that died before sending it
never reaches the driver — no row, so the epoch computed again after the restore looks new;
time spent in an epoch cut short; a failure after the last experiment snapshot before a driver
kill (Ray's resumed count lacks it; its restart is charged to the driver restart); a trial
failure whose restart came only after a driver restart (charged to the driver restart, and
its retry listed again as one with no row). Rows with no time (a packed run from before its
executor stamped them) cannot be placed against a driver restart: their restarts go to the
trial's own failures as far as its retries go, and the rest, in a run with a driver restart,
are listed as restarts the files cannot place (a driver restart or a PBT exploit). A resumed
packed run sets an orphan's folder aside as ``<id>.orphan`` (its number is handed out again),
which counts as an orphan here. On remote storage (``s3://``…) no file is read: only Ray's
retry counts show.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any

from tuner.record.manifest import MANIFEST

__all__ = ["Fault", "Ledger", "Restart", "driver_restarts", "fault_ledger", "ledger_markdown",
           "ledger_section", "restarts_in", "trial_rows"]

RESULT_FILE = "result.json"  # Ray's per-trial results (EXPR_RESULT_FILE), one JSON line each


@dataclass
class Restart:
    """One place where a trial's ``result.json`` starts over, and what it cost."""

    trial_id: str
    node: str
    resumed_from: int  # the epoch the trial went on from (0: from scratch)
    after: float | None  # time of the trial's last row before the restart
    at: float | None  # time of the restart row
    went_back: bool  # the restart row's epoch is not above the row before it
    discarded: int = 0  # rows of epochs after ``resumed_from``, superseded
    redone: int = 0  # rows after it for epochs reported before


@dataclass
class Fault:
    """One row of the ledger: what happened and what it cost, summed over its restarts."""

    what: str
    when: float = math.inf  # for the order of the rows
    retried: int = 0
    redone: int = 0
    lost: int = 0


@dataclass
class Ledger:
    """A run's faults, and whether its rows carry times (a packed run's do not)."""

    faults: list[Fault]
    timed: bool = True


def ledger_section(path: str, records: list) -> str:
    """The report section (with a leading blank line), or "" for a run without faults."""
    lines = ledger_markdown(fault_ledger(path, records))
    return "\n" + "\n".join(lines) + "\n" if lines else ""


def fault_ledger(path: str, records: list) -> Ledger:
    """Every fault the run's files show at ``path``, in time order (see the module doc)."""
    local = "://" not in path
    rows = trial_rows(path) if local else {}
    drivers = [Fault(f"driver restart: resumed at {at if when is None else _clock(when)}",
                     _sort_time(when)) for when, at in (driver_restarts(path) if local else [])]
    retries = {r.trial_id: int(r.retries or 0) for r in records}
    own, unplaced = [], []
    for trial_id, trial in rows.items():
        if trial_id in retries:
            placed = _place(restarts_in(trial_id, trial), retries[trial_id], drivers)
            own += placed[0]
            unplaced += placed[1]
    faults = drivers + [_own_fault(group) for group in _together(own)]
    faults += _unseen_retries(records, own, rows)
    if records:
        faults += _orphans({t: r for t, r in rows.items() if t not in retries}, drivers)
    if unplaced and drivers:
        faults.append(_charge(Fault("restarts the files cannot place (a driver restart or "
                                    "a PBT exploit): " + _ids(unplaced)), unplaced))
    timed = all(_time(row) is not None for trial in rows.values() for row in trial)
    return Ledger(sorted(faults, key=lambda f: f.when), timed)


def trial_rows(path: str) -> dict[str, list[dict]]:
    """The rows of every trial folder's ``result.json`` under ``path``, by trial id (the
    rows' ``trial_id``, else the folder's name; ``<id>.orphan``, a packed run's set-aside
    orphan, by its name); a line cut short by a kill is skipped."""
    out: dict[str, list[dict]] = {}
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return out
    for name in names:
        try:
            with open(os.path.join(path, name, RESULT_FILE), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        rows = []
        for line in lines:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        if rows:  # a packed run's set-aside orphan keeps its folder's name: its id is reused
            key = name if ".orphan" in name else str(rows[0].get("trial_id") or name)
            out[key] = rows
    return out


def driver_restarts(path: str) -> list[tuple[float | None, str]]:
    """``(unix time or None, at as written)`` of each ``--resume`` in ``manifest.json``."""
    try:
        with open(os.path.join(path, MANIFEST), encoding="utf-8") as f:
            resumed = json.load(f).get("resumed") or []
    except (OSError, ValueError, AttributeError):
        return []
    return [(_unix(str(e.get("at", ""))), str(e.get("at") or "an unknown time"))
            for e in resumed if isinstance(e, dict)]


def _unix(at: str) -> float | None:
    """``manifest.json``'s ``at`` (``2026-12-06T01:54:57+0100``) as Unix time; a time
    without its offset is read as this machine's local time."""
    from datetime import datetime

    for form in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(at, form).timestamp()
        except ValueError:
            continue
    return None


def restarts_in(trial_id: str, rows: list[dict]) -> list[Restart]:
    """Every restart in one trial's rows with what it cost (see the module doc)."""
    found: list[Restart] = []
    live: list[int] = []  # epochs of the attempt the trial is on now
    seen: set[int] = set()  # every epoch it ever reported
    for i, row in enumerate(rows):
        epoch = _int(row.get("training_iteration"))
        if epoch < 1:
            continue  # not a result of an epoch
        went_back = bool(live) and epoch <= live[-1]
        restored = row.get("iterations_since_restore") == 1 and epoch > 1
        if i and (went_back or restored):
            before = rows[i - 1]
            restart = Restart(trial_id, _node(before), epoch - 1, _time(before), _time(row),
                              went_back=went_back)
            restart.discarded = sum(1 for e in live if e >= epoch)
            live = [e for e in live if e < epoch]
            found.append(restart)
        if found and epoch in seen:
            found[-1].redone += 1
        seen.add(epoch)
        live.append(epoch)
    return found


def _place(restarts: list[Restart], retries: int, drivers: list[Fault]
           ) -> tuple[list[Restart], list[Restart]]:
    """Charge each restart to a driver restart (added to that fault), or return it as the
    trial's own failure (at most ``retries``), or as unplaced (no time to place it by)."""
    rest = []
    for restart in restarts:
        driver = _driver_between(restart, drivers)
        if driver is not None:
            _charge(driver, [restart])
        else:
            rest.append(restart)
    ranked = sorted(rest, key=lambda r: not r.went_back)[:retries]
    own = [r for r in rest if any(r is o for o in ranked)]
    unplaced = [r for r in rest if r.at is None and not any(r is o for o in own)]
    return own, unplaced


def _driver_between(restart: Restart, drivers: list[Fault]) -> Fault | None:
    """The latest driver restart after the row before ``restart`` and not after it."""
    if restart.after is None or restart.at is None:
        return None
    inside = [d for d in drivers if d.when != math.inf and restart.after < d.when <= restart.at]
    return max(inside, key=lambda d: d.when) if inside else None


def _together(own: list[Restart]) -> list[list[Restart]]:
    """Own failures grouped: one node, and the windows (last row before, restart row) of a
    group all share a second — each trial at most once per group."""
    groups: list[list[Restart]] = []
    for restart in sorted(own, key=lambda r: (r.node, _sort_time(r.after))):
        group = groups[-1] if groups else []
        if (restart.after is not None and restart.at is not None and group
                and group[0].node == restart.node
                and all(o.at is not None and restart.after <= o.at for o in group)
                and all(restart.trial_id != o.trial_id for o in group)):
            group.append(restart)
        else:
            groups.append([restart])
    return groups


def _own_fault(group: list[Restart]) -> Fault:
    """The row for trial failures that happened together on one node."""
    first = group[0]
    where = f" on node {first.node}" if first.node else ""
    when = ""
    if first.after is not None and first.at is not None:
        start, end = max(r.after for r in group), min(r.at for r in group)
        when = (f" at {_clock(start)}" if start == end else
                f" between {_clock(start)} and {_clock(end)}")
    if len(group) == 1:
        what = (f"trial {first.trial_id} failed{where}{when}; went on from "
                + (f"epoch {first.resumed_from}" if first.resumed_from else "scratch"))
    else:
        what = (f"{len(group)} trials failed at once{where}{when} (a lost node?): "
                + _ids(group))
    return _charge(Fault(what, _sort_time(first.after)), group)


def _unseen_retries(records: list, own: list[Restart], rows: dict) -> list[Fault]:
    """Retries Ray counted whose restart left no row (the trial failed before its first
    result, or again before it reported): one row for them all, as they cost no recorded
    epoch (a lost pack worker fails its newest members this way, several at once)."""
    unseen = {}
    for r in records:
        missing = int(r.retries or 0) - sum(1 for o in own if o.trial_id == r.trial_id)
        if missing > 0:
            unseen[r.trial_id] = missing
    if not unseen:
        return []
    if len(unseen) == 1:
        ((trial_id, n),) = unseen.items()
        trial = rows.get(trial_id) or [{}]
        node = _node(trial[-1])
        what = (f"trial {trial_id} failed" + (f" on node {node}" if node else "")
                + f" and was retried {_times(n)}; its results show no restart (it failed "
                "before its first result, or again before it reported)")
        return [Fault(what, _sort_time(_time(trial[-1])), retried=n)]
    return [Fault(f"{len(unseen)} trials retried whose results show no restart (each failed "
                  "before its first result, or again before it reported): "
                  + ", ".join(unseen), retried=sum(unseen.values()))]


def _orphans(orphans: dict[str, list[dict]], drivers: list[Fault]) -> list[Fault]:
    """Charge the rows of trials the run never knew to the first driver restart after
    their last row; without such a restart (or a time), they are a row of their own."""
    alone, named = [], {}
    for trial_id, rows in orphans.items():
        last = _time(rows[-1])
        later = [d for d in drivers if last is not None and d.when != math.inf
                 and d.when >= last]
        if later:
            driver = min(later, key=lambda d: d.when)
            driver.lost += len(rows)
            named.setdefault(id(driver), (driver, []))[1].append(trial_id)
        else:
            alone.append((trial_id, rows))
    for driver, ids in named.values():
        driver.what += (f"; trial{'s' if len(ids) > 1 else ''} {', '.join(ids)} never known "
                        "to the resumed run")
    if not alone:
        return []
    return [Fault("trial folders the run's state does not list (started after its last "
                  "snapshot): " + ", ".join(t for t, _ in alone),
                  lost=sum(len(rows) for _, rows in alone))]


def _charge(fault: Fault, restarts: list[Restart]) -> Fault:
    fault.retried += len(restarts)
    fault.redone += sum(r.redone for r in restarts)
    fault.lost += sum(r.discarded for r in restarts)
    return fault


def ledger_markdown(ledger: Ledger) -> list[str]:
    """The section's lines: one table row per fault and a total; none without faults."""
    faults = ledger.faults
    if not faults:
        return []
    out = ["## Faults and what they cost", "",
           "From this run's own files (manifest.json's `resumed`, each trial's result.json). "
           "Epochs redone: results for an epoch the trial had reported before. Lost in "
           "flight: results the trial superseded by going on from an earlier checkpoint, and "
           "results of trials the resumed run never knew. A result a dying trial computed "
           "but never sent is not seen (`tuner/record/ledger.py` says how each is counted).",
           ""]
    if not ledger.timed:
        out += ["This run's result.json rows carry no time (a packed run from before its "
                "rows were stamped): restarts are charged to the trials' own failures as far "
                "as their retries go, and failures are not grouped by node.", ""]
    out += ["| fault | trials retried | epochs redone | results lost in flight |",
            "|---|---|---|---|"]
    out += [f"| {f.what} | {f.retried} | {f.redone} | {f.lost} |" for f in faults]
    out.append(f"| **total** | {sum(f.retried for f in faults)} | "
               f"{sum(f.redone for f in faults)} | {sum(f.lost for f in faults)} |")
    return out


# ---- small readers -----------------------------------------------------------------------
def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0


def _time(row: dict) -> float | None:
    value = row.get("timestamp")
    return float(value) if isinstance(value, (int, float)) else None


def _node(row: dict) -> str:
    return str(row.get("node_ip") or row.get("hostname") or "")


def _sort_time(value: float | None) -> float:
    return math.inf if value is None else value


def _clock(value: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def _ids(restarts: list[Restart]) -> str:
    return ", ".join(dict.fromkeys(r.trial_id for r in restarts))


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"

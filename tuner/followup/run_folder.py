"""Reading a finished run's folder: the experiment as it ran, its trials, its winner.

Shared by ``tuner refine`` and ``tuner confirm``. ``manifest.json`` (written by ``tuner launch``)
holds the resolved experiment; ``trials.csv`` and ``best.json`` the outcome; Ray's experiment
state, through ``tuner.followup.run_results.load``, each trial's per-epoch history. A hand-made or copied folder
with only our files still works (then trials.csv's last values are all there is).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search_spaces import Categorical, Fixed, Int, SearchSpace
from tuner.errors import ConfigError

__all__ = ["RunTable", "load_run"]


@dataclass
class RunTable:
    """What refine and confirm need from a run folder."""

    experiment: dict[str, Any]  # raw experiment (parse_experiment accepts it)
    rows: list[dict[str, Any]]  # trials.csv rows with typed parameter values
    best: dict[str, Any]  # best.json
    path: Path
    records: list | None = None  # per-epoch histories (run_results.load), when Ray's state is there


def load_run(run_dir: str | Path, experiment_file: str | None = None) -> RunTable:
    """Read ``manifest.json`` (the resolved experiment, written by ``tuner launch``),
    ``trials.csv`` and ``best.json``; ``experiment_file`` stands in for an older run's missing
    manifest."""
    path = Path(run_dir)
    if not (path / "trials.csv").is_file():
        raise ConfigError(f"{run_dir}: no trials.csv — not a finished run folder")
    experiment = _experiment(path, experiment_file)
    from tuner.experiment.config import parse_experiment

    try:
        space = parse_experiment(dict(experiment), base_dir=path).space
    except ConfigError as exc:
        raise ConfigError(f"{run_dir}: its experiment no longer validates: {exc}") from None
    best_file = path / "best.json"
    best = json.loads(best_file.read_text()) if best_file.is_file() else {}
    rows = [_typed(r, space) for r in csv.DictReader(io.StringIO((path / "trials.csv")
                                                                  .read_text()))]
    if isinstance(best.get("config"), dict):  # full precision (trials.csv rounds to 6 digits)
        # only the searched values: best.json may also carry the fixed trial settings
        best["config"] = {k: v for k, v in best["config"].items()
                          if k in space and not isinstance(space[k], Fixed)}
        for r in rows:
            if r["trial_id"] == best.get("trial_id"):
                r["config"] = {**r["config"], **best["config"]}
    return RunTable(experiment, rows, best, path, _records(path))


def _records(path: Path) -> list | None:
    """Each trial's per-epoch history through the Python API, so trials are compared at one
    rung; ``None`` where the folder holds only our files (then trials.csv's last values)."""
    if not (path / "manifest.json").is_file():
        return None
    try:
        from tuner.followup.run_results import load

        return load(path).records or None
    except Exception:  # no Ray experiment state (copied folder, hand-made table)
        return None


def _experiment(path: Path, experiment_file: str | None) -> dict[str, Any]:
    manifest = path / "manifest.json"
    if manifest.is_file():
        data = json.loads(manifest.read_text())
        exp = data.get("experiment") if isinstance(data, dict) else None
        if isinstance(exp, dict):
            return dict(exp)
    if experiment_file is None:
        raise ConfigError(f"{path}: no manifest.json (older run?); pass --experiment FILE, "
                          "the experiment file it was launched from")
    import yaml

    p = Path(experiment_file)
    if not p.is_file():
        raise ConfigError(f"--experiment {experiment_file}: file not found")
    raw = yaml.safe_load(p.read_text())
    if isinstance(raw.get("space"), str) and (p.parent / raw["space"]).is_file():
        raw["space"] = str((p.parent / raw["space"]).resolve())
    # the folder is the run: its name and storage win over what the file says
    raw.update(name=path.resolve().name, storage=str(path.resolve().parent))
    return raw


def _typed(row: dict[str, str], space: SearchSpace) -> dict[str, Any]:
    config = {}
    for name, dom in space.items():
        cell = row.get(name, "")
        if cell == "" or isinstance(dom, Fixed):
            continue
        if isinstance(dom, Categorical):
            config[name] = next((c for c in dom.choices if str(c) == cell), cell)
        elif isinstance(dom, Int):
            config[name] = int(float(cell))
        else:
            config[name] = float(cell)
    return {"trial_id": row["trial_id"], "config": config, "status": row.get("status", ""),
            "epochs": int(row.get("epochs") or 0), "row": row}

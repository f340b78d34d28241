"""A recorded-curve task: a grid of configurations of one of our trainables, in a YAML file.

The file (``benchmarks/tables/<name>/task.yaml``) names the trainable, the settings every
configuration shares, the schedule (``epochs``), the metric, and the grid — per parameter its
recorded values and how a searcher sees it:

    grid:
      lr:       {type: float, log: true, values: [1.0e-4, 1.0e-3, 1.0e-2]}
      depth:    {type: int, values: [1, 2]}
      channels: {type: categorical, values: [8, 16, 32]}

Searchers are given the space a user would write (``lr`` a log-uniform float between the grid's
end points, ``depth`` an int range, ``channels`` a choice) and every proposal lands on the grid
by one rule, the same for all methods (:meth:`GridTask.snap`): each ordered parameter takes the
grid value nearest in the unit cube of its domain (log scale for ``log: true``: the scale the
searchers model it on), a categorical must be one of the recorded choices. Declaring the grid as
choices instead would hide the order of ``lr`` and ``depth`` from the model-based searchers
(PSO, TPE, SMAC's forest), which is not how users write those parameters.

The grid's points are numbered in ``itertools.product`` order of the file (last parameter
fastest); the number is the configuration's id in the table. ``noise`` picks the
configurations repeated with more seeds (seeded, so the same ones every time).
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from search_spaces import Categorical, Float, Int, SearchSpace

__all__ = ["TABLES_DIR", "GridTask", "load_task", "task_names"]

TABLES_DIR = Path(__file__).resolve().parents[1] / "tables"
_KINDS = {"float", "int", "categorical"}


@dataclass(frozen=True)
class GridTask:
    """One task file, parsed and checked: the grid, the space searchers see, the snap rule."""

    name: str
    trainable: str
    config: dict
    epochs: int
    metric: str
    mode: str
    grid: dict[str, dict]
    noise_configs: int = 0
    noise_seeds: tuple[int, ...] = ()
    noise_sample_seed: int = 0
    ladder_min: int = 1  # first rung (epochs) of the ladder the harness gives schedulers
    folder: Path = field(default=TABLES_DIR)

    @property
    def names(self) -> list[str]:
        return list(self.grid)

    @functools.cached_property
    def _points(self) -> list[dict[str, Any]]:
        values = [self.grid[n]["values"] for n in self.names]
        return [dict(zip(self.names, combo)) for combo in itertools.product(*values)]

    @functools.cached_property
    def _space(self) -> SearchSpace:
        return self._build_space()

    def points(self) -> list[dict[str, Any]]:
        """Every grid configuration, its index being its id in the table (built once: the
        simulator snaps every query)."""
        return self._points

    def space(self) -> SearchSpace:
        """The space searchers are given: ordered parameters as ranges, choices as choices."""
        return self._space

    def _build_space(self) -> SearchSpace:
        params = {}
        for name, spec in self.grid.items():
            vals = spec["values"]
            if spec["type"] == "float":
                params[name] = Float(min(vals), max(vals), log=spec.get("log", False))
            elif spec["type"] == "int":
                params[name] = Int(min(vals), max(vals), log=spec.get("log", False))
            else:
                params[name] = Categorical(tuple(vals))
        return SearchSpace(params)

    def snap(self, config: dict) -> int:
        """The id of the grid point a proposal lands on (the rule in the module docstring)."""
        space, index = self.space(), 0
        for name in self.names:
            vals, dom = self.grid[name]["values"], space[name]
            if name not in config:
                raise KeyError(f"{self.name}: proposal has no value for {name!r}")
            value = config[name]
            if isinstance(dom, Categorical):
                if value not in vals:
                    raise ValueError(f"{self.name}: {name}={value!r} is not a recorded choice "
                                     f"{vals}")
                j = vals.index(value)
            else:
                u = dom.to_unit(min(max(value, dom.low), dom.high))
                j = int(np.argmin([abs(dom.to_unit(v) - u) for v in vals]))
            index = index * len(vals) + j
        return index

    def noise_ids(self) -> list[int]:
        """The configurations recorded again with ``noise_seeds`` (a seeded sample)."""
        n = len(self.points())
        rng = np.random.default_rng(self.noise_sample_seed)
        return sorted(int(i) for i in rng.choice(n, size=min(self.noise_configs, n),
                                                 replace=False))

    def trial_config(self, point: dict, seed: int) -> dict:
        """The flat config the trainable gets for one grid point and seed."""
        return {**self.config, **point, "seed": seed, "max_epochs": self.epochs}


def _check_grid(name: str, grid: Any) -> dict[str, dict]:
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"{name}: 'grid' must map parameter names to {{type, values}}")
    out = {}
    for param, spec in grid.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if kind not in _KINDS:
            raise ValueError(f"{name}: grid.{param}.type must be one of {sorted(_KINDS)}, "
                             f"got {kind!r}")
        vals = list(spec.get("values") or [])
        if len(vals) < 1 or len(set(map(repr, vals))) != len(vals):
            raise ValueError(f"{name}: grid.{param}.values must be distinct and non-empty")
        if kind != "categorical" and vals != sorted(vals):
            raise ValueError(f"{name}: grid.{param}.values must be increasing")
        if spec.get("log") and min(vals) <= 0:
            raise ValueError(f"{name}: grid.{param}: log scale needs values > 0")
        out[param] = {"type": kind, "values": vals, "log": bool(spec.get("log", False))}
    return out


def load_task(name: str, folder: Path | None = None) -> GridTask:
    """``benchmarks/tables/<name>/task.yaml`` parsed and checked."""
    import yaml

    base = (folder or TABLES_DIR) / name
    path = base / "task.yaml"
    if not path.is_file():
        raise KeyError(f"no recorded task {name!r}; one of {', '.join(task_names(folder))}")
    raw = yaml.safe_load(path.read_text())
    noise = raw.get("noise") or {}
    epochs = int(raw["epochs"])
    if epochs < 1 or raw.get("mode") not in ("min", "max"):
        raise ValueError(f"{name}: need epochs >= 1 and mode min|max")
    return GridTask(name=name, trainable=raw["trainable"], config=dict(raw.get("config") or {}),
                    epochs=epochs, metric=raw["metric"], mode=raw["mode"],
                    grid=_check_grid(name, raw.get("grid")),
                    noise_configs=int(noise.get("configs", 0)),
                    noise_seeds=tuple(int(s) for s in noise.get("seeds", ())),
                    noise_sample_seed=int(noise.get("sample_seed", 0)),
                    ladder_min=int((raw.get("budget") or {}).get("min", 1)), folder=base)


def task_names(folder: Path | None = None) -> list[str]:
    base = folder or TABLES_DIR
    return sorted(p.parent.name for p in base.glob("*/task.yaml"))


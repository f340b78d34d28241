"""An :class:`~tuner.experiment.config.Experiment` turned back into its file form.

The mapping has the shape of an experiment file (``parse_experiment`` reads it back), with
every override applied and every default made explicit. ``manifest.json`` records it, and
``--resume`` compares it with the run being continued.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["experiment_to_raw"]


def experiment_to_raw(exp: Any) -> dict[str, Any]:
    """The resolved :class:`~tuner.experiment.config.Experiment` as an experiment-file mapping."""
    from search_spaces.loader import space_to_dict
    from tuner.experiment.user_code import describe_trainable

    raw: dict[str, Any] = {
        "name": exp.name,
        "description": exp.description,
        "trainable": describe_trainable(exp.trainable),
        "config": dict(exp.config),
        "space": space_to_dict(exp.space),
        "searcher": {"name": exp.searcher, **exp.searcher_options},
        "scheduler": {"name": exp.scheduler, **exp.scheduler_options},
        "budget": exp.budget.to_dict() if hasattr(exp.budget, "to_dict") else _ladder(exp),
        "metric": exp.search_metric if hasattr(exp, "search_metric") else exp.metric,
        "mode": exp.search_mode if hasattr(exp, "search_mode") else exp.mode,
        "num_samples": exp.num_samples,
        "seed": exp.seed,
        "storage": exp.storage,
        "resources": exp.resources.to_dict(),
        "max_concurrent": exp.max_concurrent,
        "points_to_evaluate": list(exp.points_to_evaluate),
        "max_failures": exp.max_failures,
        "checkpoint_every": exp.checkpoint_every,
        "checkpoint_interval_s": exp.checkpoint_interval_s,
    }
    if exp.evaluate is not None:
        raw["evaluate"] = describe_trainable(exp.evaluate)
    for key in ("packing",):  # optional keys other modules add to Experiment
        if getattr(exp, key, None) is not None:
            raw[key] = _plain(getattr(exp, key))
    if getattr(exp, "tracking", None):  # only when on: manifests of runs without it unchanged
        raw["tracking"] = {k: dict(v) for k, v in exp.tracking.items()}
    return json.loads(json.dumps(raw, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _ladder(exp: Any) -> dict[str, Any]:
    b = exp.budget
    out = {"min": b.min, "max": b.max, "eta": b.eta}
    if b.data_fraction:
        out["data_fraction"] = list(b.data_fraction)
    return out

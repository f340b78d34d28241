"""``tuner launch results/NAME/manifest.json``: run a recorded experiment again, under a new name.

The manifest holds the resolved experiment in the file form (``tuner.experiment.file_form``);
a rerun reads it back, renames it so the original folder is never overwritten, and applies the
user's ``--set`` and overrides like any experiment file.
"""

from __future__ import annotations

import os
from typing import Any

from tuner.record.manifest import read_manifest

__all__ = ["rerun_experiment", "rerun_raw"]


def rerun_raw(path: str, name: str | None = None) -> dict[str, Any]:
    """The experiment of the manifest at ``path``, renamed so it never overwrites the
    original: ``NAME-rerun``, ``NAME-rerun2``, … (or ``name``)."""
    raw = dict(read_manifest(path)["experiment"])
    if name:
        raw["name"] = name
        return raw
    storage = raw.get("storage", "results")
    base = f"{raw['name']}-rerun"
    candidate, k = base, 1
    while "://" not in storage and os.path.exists(os.path.join(storage, candidate)):
        k += 1
        candidate = f"{base}{k}"
    raw["name"] = candidate
    return raw


def rerun_experiment(path: str, dotted: list[str], overrides: dict[str, Any]):
    """The validated experiment for ``tuner launch MANIFEST`` and ``tuner.run(MANIFEST)``:
    the recorded one, renamed (or ``overrides["name"]``), with ``--set`` and overrides."""
    from pathlib import Path

    from tuner.experiment import config

    raw = config.apply_overrides(rerun_raw(path, overrides.get("name")), dotted)
    raw.update({k: v for k, v in overrides.items() if v is not None and k != "name"})
    return config.parse_experiment(raw, base_dir=Path.cwd())

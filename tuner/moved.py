"""Old module paths of ``tuner`` → where the code lives now, for runs started before the move.

Ray pickles the callbacks, searcher and scheduler of a run into ``tuner.pkl`` by their module
path (``tuner.mirror_callback.MirrorCallback``, ``tuner.rung_quality.RungAgreement``, …), and
``--resume`` unpickles them. When ``tuner/`` became subpackages (experiment → compose →
launch → record → view → followup) those paths moved; this finder answers an import of an old
path with the module now holding the code, so a run folder made before the move still resumes
(tested on a checked-in run folder: ``tests/test_moved_modules.py``). It also keeps a user's
``from tuner.runner import run`` working. The table is the whole of it: no code is kept twice.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

__all__ = ["MOVED", "install"]

MOVED = {
    "tuner.config": "tuner.experiment.config",
    "tuner.user_code": "tuner.experiment.user_code",
    "tuner.ray_space": "tuner.experiment.ray_space",
    "tuner.methods": "tuner.compose.methods",
    "tuner.wiring": "tuner.compose.wiring",
    "tuner.registry": "tuner.compose.checks",
    "tuner.mf_searcher": "tuner.searchers.mf_tpe",
    "tuner.rung_quality": "tuner.schedulers.rung_quality",
    "tuner.plan": "tuner.schedulers.plan",
    "tuner.runner": "tuner.launch.runner",
    "tuner.preflight": "tuner.launch.preflight",
    "tuner.checkpointing": "tuner.launch.checkpointing",
    "tuner.resume": "tuner.launch.resume",
    "tuner.launch_errors": "tuner.launch.failures",
    "tuner.packing": "tuner.launch.packed.run",
    "tuner.pack_executor": "tuner.launch.packed.executor",
    "tuner.pack_state": "tuner.launch.packed.state",
    "tuner.results": "tuner.record.results",
    "tuner.collect": "tuner.record.collect",
    "tuner.finish": "tuner.record.finish",
    "tuner.insights": "tuner.record.insights",
    "tuner.confidence": "tuner.record.confidence",
    "tuner.ray_messages": "tuner.record.ray_messages",
    "tuner.manifest": "tuner.record.manifest",
    "tuner.progress": "tuner.view.progress",
    "tuner.mirror": "tuner.view.mirror",
    "tuner.mirror_callback": "tuner.view.mirror_callback",
    "tuner.dashboard": "tuner.view.dashboard",
    "tuner.refine": "tuner.followup.refine",
    "tuner.confirm": "tuner.followup.confirm",
    "tuner.run_folder": "tuner.followup.run_folder",
}


class MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``MOVED[name]`` when ``name`` is asked for; both names then give one module."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its new name already."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (``import tuner`` does)."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())

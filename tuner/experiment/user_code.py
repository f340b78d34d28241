"""The user's own training code: find it, check it, and say what Ray may do with it.

A trainable is one of three kinds, and Ray Tune treats each differently:

- ``torch``: ours (``trainables.TorchTrainable`` and ``make_trainable`` models). Checkpoints at
  the end and on our :class:`~tuner.launch.checkpointing.CheckpointPolicy`; held-out test split built in.
- ``class``: any other ``ray.tune.Trainable`` subclass. Ray reuses an actor for a new trial
  only through ``reset_config``; the base class returns False, and with ``reuse_actors=True`` Ray
  then logs "Could not re-use actor" and the run stops making progress (Ray's
  ``tune/execution/tune_controller.py``). So actors are reused only where the class overrides it.
- ``function``: ``train(config)`` calling ``ray.tune.report(metrics, checkpoint=...)`` — the most
  common Ray Tune code. Ray refuses ``checkpoint_at_end`` for it (``tune/experiment/experiment.py``)
  and ignores ``should_checkpoint``: the function decides when to save, and resumes by reading
  ``ray.tune.get_checkpoint()``. Function trainables run in Ray's reusable ``FunctionTrainable``.

Everything checkable before Ray starts is checked here (imports, signatures, whether pausing
schedulers can resume the function), so a mistake is one line and exit code 2, not a traceback
from a Ray worker.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

from tuner.errors import TrialCodeError

__all__ = ["TrainableInfo", "resolve_trainable", "load_callable", "check_evaluate",
           "import_paths", "describe_trainable"]


@dataclass(frozen=True)
class TrainableInfo:
    """What the runner needs to know about a trainable."""

    obj: Any  # the class or function handed to Ray
    kind: str  # "torch" | "class" | "function"
    label: str  # registry name or "module:attr" (or the callable's qualified name)
    reuse_actors: bool
    resumable: bool  # can it continue from a checkpoint after a pause (HyperBand, PBT)?

    @property
    def has_test_split(self) -> bool:
        """Ours, or a class that offers the same ``make_run(config)`` → ``restore`` /
        ``evaluate_split`` protocol (``trainables.evaluate_checkpoint`` duck-types it)."""
        return self.kind == "torch" or (self.kind == "class" and hasattr(self.obj, "make_run"))

    @property
    def saves_on_request(self) -> bool:
        """Does Ray save it (at the end, when paused, on ``should_checkpoint``)? Ours and a
        class with ``save_checkpoint`` do; a function saves itself through ``tune.report``."""
        return self.kind == "torch" or (self.kind == "class" and self.resumable)


def import_paths(extra: list[str] | None = None) -> list[str]:
    """Directories user code is imported from: the working directory (what ``python -m``
    gives the driver; the ``tuner`` console script does not) and the experiment file's."""
    out = [os.getcwd(), *(extra or [])]
    for path in reversed(out):
        if path and path not in sys.path:
            sys.path.insert(0, path)
    # local Ray workers inherit the driver's environment: let them import the same modules
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*out, *current]))
    return out


def load_callable(spec: str, key: str) -> Any:
    """Import ``package.module:attr``; a module that fails to import is the user's error."""
    module_name, _, attr = spec.partition(":")
    if not module_name.strip() or not attr.strip():
        raise TrialCodeError(f"{key}: expected 'package.module:name', got {spec!r}")
    try:
        module = importlib.import_module(module_name.strip())
    except Exception as exc:  # noqa: BLE001 — any error while importing user code is theirs
        raise TrialCodeError(f"{key}: cannot import module {module_name!r} "
                             f"({type(exc).__name__}: {_first_line(exc)})") from None
    obj = module
    for part in attr.strip().split("."):
        if not hasattr(obj, part):
            raise TrialCodeError(f"{key}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def resolve_trainable(spec: Any) -> TrainableInfo:
    """A registry name, an import path, a Trainable class or a function → ``TrainableInfo``."""
    if isinstance(spec, str):
        import trainables

        if spec in trainables.TRAINABLES:
            return _classify(trainables.TRAINABLES[spec], spec)
        if ":" not in spec:
            raise TrialCodeError(f"trainable: unknown {spec!r}; one of "
                                 f"{', '.join(sorted(trainables.TRAINABLES))} (or a "
                                 "'package.module:name' import path of a function or class)")
        return _classify(load_callable(spec, "trainable"), spec)
    return _classify(spec, describe_trainable(spec))


def describe_trainable(obj: Any) -> str:
    """``module:qualname`` of a callable (what a manifest can import again)."""
    if isinstance(obj, str):
        return obj
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}:{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"


def _classify(obj: Any, label: str) -> TrainableInfo:
    from ray import tune

    if inspect.isclass(obj):
        if not issubclass(obj, tune.Trainable):
            raise TrialCodeError(f"trainable: {label} is a class but not a ray.tune.Trainable "
                                 "subclass; pass a Trainable subclass or a function "
                                 "train(config) that calls ray.tune.report(...)")
        from trainables.base import TorchTrainable

        if issubclass(obj, TorchTrainable):
            return TrainableInfo(obj, "torch", label, reuse_actors=True, resumable=True)
        reuses = obj.reset_config is not tune.Trainable.reset_config
        saves = obj.save_checkpoint is not tune.Trainable.save_checkpoint
        return TrainableInfo(obj, "class", label, reuse_actors=reuses, resumable=saves)
    if callable(obj):
        _check_signature(obj, label, "trainable", "(config)", 1)
        return TrainableInfo(obj, "function", label, reuse_actors=True,
                             resumable=_reads_checkpoint(obj))
    raise TrialCodeError(f"trainable: {label} is neither a function nor a ray.tune.Trainable "
                         f"class (got {type(obj).__name__})")


def _check_signature(fn: Callable, label: str, key: str, wanted: str, n: int) -> None:
    """``fn`` must be callable with ``n`` positional arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins and C callables: nothing to check
    try:
        sig.bind(*range(n))
    except TypeError:
        raise TrialCodeError(f"{key}: {label} must take {wanted}, but its signature is "
                             f"{getattr(fn, '__name__', 'fn')}{sig}") from None


def _reads_checkpoint(fn: Callable) -> bool:
    """Can a paused function trial continue? Only if its code reads ``get_checkpoint()``.

    HyperBand and PBT pause trials and restart them later from their last checkpoint; a
    function that never calls ``ray.tune.get_checkpoint()`` would silently start over from
    epoch 1 with the scheduler believing it had trained. Checked in the function's module
    source (helpers it calls usually live there); ``fn.resumable = True`` overrides.
    """
    declared = getattr(fn, "resumable", None)
    if isinstance(declared, bool):
        return declared
    module = inspect.getmodule(fn)
    try:
        source = inspect.getsource(module) if module is not None else inspect.getsource(fn)
    except (OSError, TypeError):
        return True  # no source to read (a notebook, a C function): trust the user
    return "get_checkpoint" in source


def check_evaluate(spec: Any) -> tuple[Callable, str]:
    """The ``evaluate`` hook: ``fn(config, checkpoint) -> {"test_accuracy": ...}``."""
    fn = load_callable(spec, "evaluate") if isinstance(spec, str) else spec
    label = spec if isinstance(spec, str) else describe_trainable(spec)
    if not callable(fn):
        raise TrialCodeError(f"evaluate: {label} is not callable")
    _check_signature(fn, label, "evaluate", "(config, checkpoint)", 2)
    return fn, label

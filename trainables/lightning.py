"""Tune a PyTorch Lightning ``LightningModule`` + ``LightningDataModule`` with Ray Tune.

``lightning_trainable(module_fn, datamodule_fn, **trainer_kwargs)`` returns a function trainable
``train(config)``: it builds the module and the datamodule from the trial config, fits them with
a quiet, seeded ``lightning.pytorch.Trainer`` for ``config["max_epochs"]`` epochs, and reports
once per epoch, with a checkpoint, through ``ray.tune.report``. One report is one epoch, the
budget unit our schedulers count (``training_iteration``), and a paused or retried trial
resumes from ``ray.tune.get_checkpoint()`` at the next epoch, exactly as if it had never stopped.
``lightning_evaluate(module_fn, datamodule_fn)`` returns the experiment's ``evaluate`` hook:
the winner's checkpoint scored by ``trainer.test`` on the test split.

Why our own callback instead of Ray's ``TuneReportCheckpointCallback``
(``ray/tune/integration/pytorch_lightning.py``), whose shape we keep (a ``Callback``, not a
fork of the Trainer; ``trainer.save_checkpoint`` into a temporary directory handed to
``ray.tune.report``)? Ray's hooks ``on_validation_end``, as optuna-integration's
``PyTorchLightningPruningCallback`` does, and that point is wrong for a budget in epochs:

* it reports once per *validation run*: ``val_check_interval=0.25`` gives four reports an
  epoch, ``check_val_every_n_epoch=2`` one every other epoch, and ASHA's rungs, counted in
  reports, stop meaning epochs;
* Lightning runs validation inside the training epoch, before ``on_train_epoch_end`` reduces
  the epoch's training metrics (``fit_loop.py::_FitLoop.on_advance_end``), so the report pairs
  this epoch's ``val_loss`` with the previous epoch's ``train_loss`` (and lacks it after a
  resume); metrics logged in ``LightningModule.on_train_epoch_end`` are missing altogether;
* its checkpoint holds no random state, so a resumed trial reshuffles differently.

Our ``TuneEpochCallback`` is a ``lightning.pytorch.callbacks.Checkpoint``: Lightning calls
checkpoint callbacks' ``on_train_epoch_end`` after the module's own (the "monitoring
callbacks" rule in ``trainer/call.py::_call_callback_hooks``), which is where ``ModelCheckpoint``
saves with ``save_on_train_epoch_end``. There every metric of the epoch is final, and a
checkpoint taken there resumes at the next epoch (``_FitLoop``'s ``RESUMED_ON_EPOCH_END``).
The callback's state adds the torch/numpy/python random states (as tensors and lists, so
Lightning's ``weights_only`` loading accepts them) and replays the one ``ReduceLROnPlateau``
step that Lightning takes after the hook and would otherwise skip on resume. Tests check that
"2 epochs → checkpoint → resume to 4" equals 4 uninterrupted epochs, weights and all.

On a data-parallel gang (``resources: {workers: N, …}``, docs/data_parallel.md) the same
``train`` runs on every Ray Train worker with Lightning's own DDP strategy (Ray's
``RayDDPStrategy``) and reports through ``trainables.distributed.report``; tuner averages
the workers' reports into the trial's result.

Lightning is an optional extra: ``import trainables.lightning`` works without it, and the two
factories raise one line (``pip install -e ".[lightning]"``) when it is missing.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

try:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import Checkpoint as _CheckpointCallback
except ImportError:  # the optional extra is missing: the factories say so when called
    pl = None
    _CheckpointCallback = object

__all__ = ["INSTALL_HINT", "TuneEpochCallback", "lightning_evaluate", "lightning_trainable",
           "require_lightning"]

INSTALL_HINT = 'trainables.lightning needs PyTorch Lightning: pip install -e ".[lightning]"'
CHECKPOINT_FILE = "lightning.ckpt"
# Keys the factory sets from the trial config or needs as they are (one report per epoch).
_OWNED = ("max_epochs", "enable_checkpointing", "check_val_every_n_epoch")

Reporter = Callable[[dict, str], None]  # (metrics, checkpoint directory) -> None


def require_lightning() -> Any:
    """``lightning.pytorch``, or one line saying how to install it (``ModuleNotFoundError``,
    which ``tuner launch`` reports as a user error when it imports the trainable's module)."""
    if pl is None:
        raise ModuleNotFoundError(INSTALL_HINT)
    return pl


def lightning_trainable(module_fn: Callable[[dict], Any], datamodule_fn: Callable[[dict], Any],
                        **trainer_kwargs: Any) -> Callable[[dict], None]:
    """A Ray Tune function trainable fitting ``module_fn(config)`` on ``datamodule_fn(config)``.

    Either may be the ``LightningModule`` / ``LightningDataModule`` class itself. Trial config
    keys read here: ``max_epochs`` (required: the budget's top rung), ``seed`` (default 0,
    ``lightning.seed_everything``) and ``fidelity_schedule`` (when present, dataloaders are
    rebuilt every epoch so a datamodule can size the epoch's training data with
    ``tuner.fidelity(config, trainer.current_epoch + 1)``). ``trainer_kwargs`` go to
    ``lightning.pytorch.Trainer`` over our defaults (CPU unless Ray gave the trial a GPU; no
    logger, progress bar, model summary or sanity check; extra ``callbacks`` are appended).
    """
    require_lightning()
    owned = sorted(set(trainer_kwargs) & set(_OWNED))
    if owned:
        raise ValueError(f"lightning_trainable: {', '.join(owned)} cannot be set here: the trial "
                         "config gives max_epochs, and tuning needs our checkpoints and a "
                         "validation every epoch")

    def train(config: dict) -> None:
        import ray.tune

        from trainables.distributed import RESUME_KEY  # imports Ray Train: only in a trial

        if RESUME_KEY in config:  # one worker of a data-parallel gang (resources.workers)
            _fit_on_gang(module_fn, datamodule_fn, dict(config), trainer_kwargs)
            return
        _fit(module_fn, datamodule_fn, dict(config), trainer_kwargs, _tune_report,
             ray.tune.get_checkpoint())

    train.__name__ = f"train_{getattr(module_fn, '__name__', 'lightning')}"  # Ray's trial names
    train.resumable = True  # tuner: it resumes from ray.tune.get_checkpoint() (pausing schedulers)
    return train


def lightning_evaluate(module_fn: Callable[[dict], Any], datamodule_fn: Callable[[dict], Any],
                       **trainer_kwargs: Any) -> Callable[[Mapping, Any], dict[str, float]]:
    """The ``evaluate: pkg.module:fn`` hook: ``fn(config, checkpoint) -> {test metrics}``.

    Rebuilds the module and datamodule from the winner's ``config``, loads the weights from
    ``checkpoint`` (a ``ray.tune.Checkpoint`` written by our callback, its directory, or the
    ``.ckpt`` file) and returns what the module logs in ``test_step`` (e.g. ``test_loss``,
    ``test_accuracy``) as floats. Runs in the driver, on CPU unless ``trainer_kwargs`` say so.
    """
    require_lightning()

    def evaluate(config: Mapping, checkpoint: Any) -> dict[str, float]:
        config = dict(config)
        pl.seed_everything(int(config.get("seed", 0)), verbose=False)
        kwargs = {**_quiet_defaults(), "accelerator": "cpu", "devices": 1, **trainer_kwargs}
        with _checkpoint_file(checkpoint) as path, _quiet():
            # Our callback's state in the file is for resuming a fit; testing needs none of it.
            warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`")
            trainer = pl.Trainer(**kwargs)
            results = trainer.test(module_fn(config), datamodule=datamodule_fn(config),
                                   ckpt_path=path, verbose=False)
        return {key: float(value) for key, value in results[0].items()}

    return evaluate


class TuneEpochCallback(_CheckpointCallback):
    """Reports every epoch's metrics plus ``epoch`` (1-based) with a checkpoint; see the module
    docstring for why this hook and not Ray's. ``report(metrics, directory)`` defaults to
    ``ray.tune.report``; tests pass their own to run without Ray."""

    def __init__(self, report: Reporter | None = None) -> None:
        require_lightning()
        self._report = report or _tune_report
        self._plateau: list[tuple[int, float]] = []  # steps Lightning takes after our save
        self._replay: list[tuple[int, float]] = []  # steps a resumed run still has to take

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        # Never called during the sanity check (validation only), so no epoch-0 double report.
        metrics = {key: float(value) for key, value in trainer.callback_metrics.items()
                   if torch.as_tensor(value).numel() == 1}
        metrics["epoch"] = trainer.current_epoch + 1
        self._plateau = _pending_plateau_steps(trainer)
        with tempfile.TemporaryDirectory(prefix="lightning_ckpt_") as directory:
            trainer.save_checkpoint(os.path.join(directory, CHECKPOINT_FILE))
            self._report(metrics, directory)

    def state_dict(self) -> dict[str, Any]:
        """Random states and the plateau steps Lightning takes after this hook."""
        return {"rng": _rng_state(), "plateau": self._plateau}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _set_rng_state(state_dict["rng"])
        self._replay = list(state_dict.get("plateau", ()))

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # Restored schedulers are in place now: take the plateau steps the checkpoint missed.
        configs = trainer.lr_scheduler_configs
        for index, value in self._replay:
            pl_module.lr_scheduler_step(configs[index].scheduler, value)
        self._replay = []


def _fit(module_fn: Callable, datamodule_fn: Callable, config: dict,
         trainer_kwargs: Mapping[str, Any], report: Reporter, checkpoint: Any) -> None:
    """One trial: seed, build, fit; resume from ``checkpoint`` (Tune's, a directory or a
    ``.ckpt`` file) when given."""
    if config.get("max_epochs") is None:
        raise ValueError("lightning_trainable: the trial config needs max_epochs (tuner sets it "
                         "from budget.max; with a plain ray.tune.Tuner put it in param_space)")
    threads = os.environ.get("OMP_NUM_THREADS", "")  # Ray sets it from the trial's CPUs
    if threads.isdigit():
        torch.set_num_threads(max(1, int(threads)))
    pl.seed_everything(int(config.get("seed", 0)), verbose=False)
    module, datamodule = module_fn(config), datamodule_fn(config)
    with _checkpoint_file(checkpoint) as path, _quiet():
        trainer = pl.Trainer(**_trainer_kwargs(config, trainer_kwargs, TuneEpochCallback(report)))
        trainer.fit(module, datamodule=datamodule, ckpt_path=path)


def _fit_on_gang(module_fn: Callable, datamodule_fn: Callable, config: dict,
                 trainer_kwargs: Mapping[str, Any]) -> None:
    """One worker of a gang: Lightning's own DDP (Ray's ``RayDDPStrategy`` and cluster
    environment, ``ray/train/lightning/``) inside Ray Train's worker, which gives it the
    process group; Lightning shards the batches (its distributed sampler). Every worker
    reports each epoch through ``trainables.distributed.report``, rank 0 with the checkpoint
    (the gang's reports are averaged into the trial's)."""
    from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, prepare_trainer

    from trainables.distributed import PRIVATE_KEYS, get_checkpoint

    resume = get_checkpoint(config)
    private = {key: config.pop(key, None) for key in PRIVATE_KEYS}
    gang = {"strategy": RayDDPStrategy(), "plugins": [RayLightningEnvironment()],
            "devices": "auto", **trainer_kwargs}
    pl.seed_everything(int(config.get("seed", 0)), verbose=False)
    module, datamodule = module_fn(config), datamodule_fn(config)
    with _checkpoint_file(resume) as path, _quiet():
        callback = TuneEpochCallback(lambda metrics, folder: _train_report(private, metrics,
                                                                           folder))
        trainer = prepare_trainer(pl.Trainer(**_trainer_kwargs(config, gang, callback)))
        trainer.fit(module, datamodule=datamodule, ckpt_path=path)


def _train_report(private: Mapping[str, Any], metrics: dict, directory: str) -> None:
    import ray.train

    from trainables.distributed import report

    rank0 = ray.train.get_context().get_world_rank() == 0
    report(private, metrics, directory if rank0 else None)  # Lightning writes on rank 0 only


def _trainer_kwargs(config: Mapping[str, Any], user: Mapping[str, Any],
                    callback: TuneEpochCallback) -> dict[str, Any]:
    gpu = bool(_assigned_gpus()) and torch.cuda.is_available()
    kwargs = {**_quiet_defaults(), "accelerator": "gpu" if gpu else "cpu", "devices": 1,
              "num_sanity_val_steps": 0,  # every trial and every resume would pay for it
              **user}
    if config.get("fidelity_schedule"):
        kwargs.setdefault("reload_dataloaders_every_n_epochs", 1)
    kwargs["callbacks"] = [*(user.get("callbacks") or ()), callback]
    # Our callback is the checkpoint callback, so Lightning adds no ModelCheckpoint of its own.
    kwargs.update(max_epochs=int(config["max_epochs"]), enable_checkpointing=True,
                  check_val_every_n_epoch=1)
    return kwargs


def _quiet_defaults() -> dict[str, Any]:
    """No logger (Ray records every report), no progress bar, no model summary."""
    return {"logger": False, "enable_progress_bar": False, "enable_model_summary": False}


@contextmanager
def _quiet():
    """Silence Lightning's per-Trainer banners ("GPU available", tips), its advice about
    dataloader workers and logging intervals (tiny in-memory datasets always trigger it) and
    its pytree deprecation notice under torch >= 2.10: one trial would print them per resume."""
    from lightning.fabric.utilities.warnings import PossibleUserWarning

    log = logging.getLogger("lightning.pytorch")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PossibleUserWarning)
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
            yield
    finally:
        log.setLevel(level)


def _tune_report(metrics: dict, directory: str) -> None:
    import ray.tune

    ray.tune.report(metrics, checkpoint=ray.tune.Checkpoint.from_directory(directory))


@contextmanager
def _checkpoint_file(checkpoint: Any):
    """The ``.ckpt`` path inside a ``ray.tune.Checkpoint`` (downloaded if remote), a directory
    or a file; None for None."""
    if checkpoint is None:
        yield None
    elif hasattr(checkpoint, "as_directory"):
        with checkpoint.as_directory() as directory:
            yield os.path.join(directory, CHECKPOINT_FILE)
    else:
        path = os.fspath(checkpoint)
        yield os.path.join(path, CHECKPOINT_FILE) if os.path.isdir(path) else path


def _assigned_gpus() -> list:
    """Ray's GPU ids for this trial; none outside a Ray worker."""
    import ray

    return list(ray.get_gpu_ids()) if ray.is_initialized() else []


def _pending_plateau_steps(trainer: Any) -> list[tuple[int, float]]:
    """``(scheduler index, monitored value)`` for each ``ReduceLROnPlateau`` that Lightning
    steps after ``on_train_epoch_end`` this epoch (``_TrainingEpochLoop._update_learning_rates``
    with ``update_plateau_schedulers=True``), so a resume can take the same step."""
    if not trainer.lightning_module.automatic_optimization:
        return []
    steps = []
    for index, config in enumerate(trainer.lr_scheduler_configs):
        due = (trainer.current_epoch + 1) % config.frequency == 0
        value = trainer.callback_metrics.get(config.monitor) if config.monitor else None
        if config.reduce_on_plateau and config.interval == "epoch" and due and value is not None:
            steps.append((index, float(value)))
    return steps


def _rng_state() -> dict[str, Any]:
    """Global torch/CUDA/numpy/python random states, as tensors, numbers and lists only."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    version, state, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [kind, torch.from_numpy(key.astype(np.int64)), int(pos), int(has_gauss),
                      float(gauss)],
            "python": [version, list(state), py_gauss]}


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, values, py_gauss = state["python"]
    random.setstate((version, tuple(values), py_gauss))

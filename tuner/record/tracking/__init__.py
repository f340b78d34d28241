"""Experiment tracking: the run recorded in MLflow and/or Weights & Biases as it happens.

One parent per experiment and one child per trial (MLflow: a parent run and nested runs tagged
``mlflow.parentRunId``; W&B, which has no nesting: a group named after the experiment, one run
per trial with ``job_type="trial"`` and one ``job_type="experiment"`` summary run). A child holds
its trial's config as params, every reported metric per epoch (step = ``training_iteration``)
and how it ended; the winner is tagged and gets its test score; ``manifest.json`` and
``report.md`` go to the parent as artifacts. The ids live in ``<run folder>/tracking.json`` so
``tuner launch --resume`` continues the same parent and children instead of opening new ones.

``base`` (settings, ``tracking.json``, the tracker protocol), ``trackers`` (the guard that
keeps a failing tracker from stopping the run), ``mlflow_tracker`` and ``wandb_tracker`` (the
two backends, Ray free), ``callback`` (Ray's trial events → trackers, live), ``outcome`` (after
the result files are written: reconcile, mark the winner, close the parent; the packed path
replays its trials here). docs/tracking.md says what lands where and why Ray's own logger
callbacks are not used.
"""

from tuner.record.tracking.base import TRACKING_FILE, TrackingSpec, metrics_of, spec_of
from tuner.record.tracking.trackers import Trackers
from tuner.record.tracking.outcome import record_outcome

__all__ = ["TRACKING_FILE", "Trackers", "TrackingSpec", "metrics_of", "record_outcome",
           "spec_of"]

"""Step 3 of a run — the launch: Ray trials, from the checks before Ray starts to the end.

``preflight`` (checks only: results folder, resources, a changed experiment on ``--resume``),
``lock`` (one launch per folder), ``ray_session`` (starting Ray, how many trials fit, what PBT
may mutate), ``runner`` (an unpacked run through Ray Tune's ``Tuner``), ``packed`` (trials fused
into packs, driven by our executor), ``checkpointing`` and ``resume`` (Ray callbacks that save
trials and carry the scheduler's state), ``failures`` (Ray's exceptions as one line), ``rerun``
(a recorded run again) and ``outcome`` (what a launch returns).
"""

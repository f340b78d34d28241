"""Watching a run: ``progress`` (one line per finished trial, a live line on a terminal),
``mirror`` and ``mirror_callback`` (the run as an Optuna study in ``optuna.journal``, written
while it trains) and ``dashboard`` (``tuner dashboard NAME``: optuna-dashboard over it)."""

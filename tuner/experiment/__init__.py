"""Step 1 of a run — the experiment: parse and validate what the user wrote, before Ray starts.

``config`` (the experiment file, ``--set``, every rule as one line), ``user_code`` (the user's
function, ``Trainable`` class or our trainable, and the ``evaluate`` hook), ``ray_space`` (a
Ray Tune ``param_space`` as our space), ``packing`` (the ``packing:`` setting and whether the
model packs) and ``file_form`` (an experiment turned back into its file form, for the manifest
and ``--resume``).
"""

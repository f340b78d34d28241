"""What a launch that fails says, and what it leaves behind.

Ray reports a metric the trainable never returned as a ``ValueError`` from its controller
(``tune/execution/tune_controller.py::_validate_result_metrics``) with the whole result dict,
and a full or read-only disk as an ``OSError`` from wherever it was writing. Both are the
user's to fix, so both become one line (exit code 2). A launch that failed before any trial
reported removes its folder, so the rerun is not refused as "already exists".
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["clean_failed_launch", "translated", "storage_error"]


def storage_error(exc: OSError, exp: Any) -> BaseException:
    """A full disk or a read-only mount mid-run: one line; every result file is written
    whole or not at all (``results.write_atomic``), so what was written is intact."""
    import errno

    if exc.errno not in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT, errno.EPERM):
        return exc
    from tuner.errors import StorageError

    return StorageError(f"storage: {exc.strerror} while writing {exc.filename or exp.path}; "
                        "the result files written so far are intact")


def clean_failed_launch(exp: Any, created: bool) -> None:
    """Remove what a launch that failed before any trial reported left behind (Ray's
    ``tuner.pkl``, our manifest), so a rerun is not refused as "already exists"."""
    if not created or not os.path.isdir(exp.path):
        return
    for root, _, files in os.walk(exp.path):
        if "result.json" in files and os.path.getsize(os.path.join(root, "result.json")):
            return  # some trial reported: keep it for --resume
    import shutil

    shutil.rmtree(exp.path, ignore_errors=True)


_METRIC_MISSING = "did not include the specified metric"


def translated(exc: BaseException, exp: Any) -> BaseException:
    """Ray's "result did not include the metric" → one line naming what was reported."""
    text = str(exc)
    if _METRIC_MISSING not in text:
        return exc
    from tuner.errors import TrialCodeError

    reported = _reported_keys(text)
    names = list(exp.objectives.names) if getattr(exp, "several", False) else [exp.metric]
    missing = [n for n in names if n not in reported] or names
    what = ", ".join(repr(n) for n in missing)
    return TrialCodeError(f"metric: the trainable never reported {what}; it reported "
                          f"{', '.join(reported) or 'nothing'} (fix metric: or what your code "
                          "reports)")


def _reported_keys(text: str) -> list[str]:
    """The user's metric names from the result dict Ray quotes in its message."""
    import ast
    import re

    from ray.tune.result import AUTO_RESULT_KEYS

    found = re.search(r"Result: (\{.*\})", text, re.S)
    try:
        result = ast.literal_eval(found.group(1)) if found else {}
    except (ValueError, SyntaxError):
        keys = re.findall(r"'(\w+)':", found.group(1) if found else "")
        result = dict.fromkeys(keys)
    skip = set(AUTO_RESULT_KEYS) | {"done", "trial_id", "config", "should_checkpoint",
                                   "checkpoint_dir_name", "time_this_iter_s"}
    return [k for k in result if k not in skip and not k.startswith("config/")]

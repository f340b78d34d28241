"""``tuner dashboard`` in a real browser (headless Chromium), over a run mirrored by
``tuner.view.mirror``; and the command's user errors.

The run is recorded events fed to ``StudyMirror`` — the same calls ``MirrorCallback`` makes
during ``tuner launch`` (tests/test_mirror_run.py checks those against a real Ray run) — so the
browser test needs no Ray and stays deterministic. Without Chromium or optuna-dashboard the test
skips on a workstation and fails in CI (``CI`` set), where ``.ci/run`` installs both.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import pytest

from search_spaces import Categorical, Float, Int, SearchSpace
from tests.optional import in_ci, require
from tuner.errors import ConfigError
from tuner.view.mirror import JOURNAL, StudyMirror, distributions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import dashboard_shot  # noqa: E402  (scripts/ is no package)

SPACE = SearchSpace({
    "learning_rate": Float(1e-4, 0.1, log=True),
    "hidden_units": Int(16, 256, log=True),
    "optimizer": Categorical(["sgd", "adam"]),
    "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),
})


def _needs_browser() -> None:
    missing = [what for what, ok in (
        ("chromium", dashboard_shot.find_chromium() is not None),
        ("optuna-dashboard", importlib.util.find_spec("optuna_dashboard") is not None)) if not ok]
    if missing:
        why = (f"{' and '.join(missing)} missing: apt-get install -y chromium chromium-driver; "
               'pip install -e ".[dashboard]"')
        if in_ci():
            pytest.fail(f"CI must run the browser test: {why}")
        pytest.skip(why)


def _record(m: StudyMirror, first: int, last: int) -> None:
    """Trials first..last-1 of a recorded run: every third completes, one errors, the rest
    are stopped early by the scheduler."""
    for i in range(first, last):
        rid = f"trial{i:02d}"
        sgd = i % 2 == 0
        m.started(rid, {"learning_rate": 10 ** (-3 + i / 10), "hidden_units": 16 * (1 + i),
                        "optimizer": "sgd" if sgd else "adam",
                        **({"momentum": 0.9} if sgd else {}), "dataset": "digits"})
        epochs = 9 if i % 3 == 0 else 3
        for epoch in range(1, epochs + 1):
            m.result(rid, epoch, 0.5 + 0.04 * epoch + 0.01 * i, node="node-a")
        status = "completed" if epochs == 9 else "stopped early"
        m.ended(rid, "errored: RuntimeError: boom" if i == 4 else status, epochs)


@pytest.mark.slow
def test_dashboard_shows_the_run_and_its_growth_in_chromium(tmp_path):
    _needs_browser()
    folder = tmp_path / "browser_run"
    folder.mkdir()
    m = StudyMirror(str(folder / JOURNAL), study_name="browser_run", metric="val_accuracy",
                    mode="max", dists=distributions(SPACE), rungs=[1, 3, 9])
    _record(m, 0, 5)
    m.started("trial05", {"learning_rate": 0.01, "hidden_units": 64, "optimizer": "adam"})
    m.result("trial05", 1, 0.7)  # still running
    m.flush()
    proc, url = dashboard_shot.start_dashboard(str(folder))
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/dashboard/studies/0")
        text = dashboard_shot.text_of(dashboard_shot.render(url + "/trials"))
        assert "6 Trials" in text, text[:2000]
        for word in ("learning_rate", "hidden_units", "Complete", "Pruned", "Fail", "Running"):
            assert word in text, (word, text[:2000])
        assert "7 Trials" not in text
        # the run goes on: the page shows what the mirror flushed since, without a restart
        m.ended("trial05", "stopped early", 1)
        _record(m, 6, 8)
        m.flush()
        # optuna-dashboard re-reads the journal on its own schedule: reload the page (as a
        # user would) until it has, for up to 30 s
        deadline = time.time() + 30
        while True:
            text = dashboard_shot.text_of(dashboard_shot.render(url + "/trials"))
            if ("8 Trials" in text and "Running" not in text) or time.time() > deadline:
                break
            time.sleep(1)
        assert "8 Trials" in text and "Running" not in text, text[:2000]
        # the same server answered both pages: `tuner dashboard` kept running throughout
        assert proc.poll() is None, "tuner dashboard exited while the run went on"
    finally:
        proc.terminate()
        proc.wait(10)


# -- the command's user errors: one line, exit code 2 -------------------------------------------

def _args(name, storage="results", host="127.0.0.1", port=0):
    return argparse.Namespace(name=name, storage=storage, host=host, port=port)


def test_missing_run_and_missing_journal_are_user_errors(tmp_path):
    from tuner.view import dashboard

    with pytest.raises(ConfigError, match="no run 'nope'"):
        dashboard.main(_args("nope", storage=str(tmp_path)))
    (tmp_path / "old_run").mkdir()
    with pytest.raises(ConfigError, match=f"has no {JOURNAL} yet"):
        dashboard.main(_args("old_run", storage=str(tmp_path)))


def test_name_under_storage_or_a_folder_path(tmp_path):
    from tuner.view import dashboard

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / JOURNAL).write_text("")
    expected = str(tmp_path / "run" / JOURNAL)
    assert dashboard.find_journal("run", str(tmp_path)) == expected
    assert dashboard.find_journal(str(tmp_path / "run")) == expected
    assert dashboard.find_journal(expected) == expected


def test_cli_exit_code_2_without_optuna_dashboard(tmp_path, monkeypatch, capsys):
    from tuner import cli

    (tmp_path / "run").mkdir()
    StudyMirror(str(tmp_path / "run" / JOURNAL), study_name="run", metric="m", mode="max",
                dists={})
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)  # import fails as if absent
    assert cli.main(["dashboard", "run", "--storage", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install -e ".[dashboard]"' in err[0]


def test_busy_port_is_a_user_error(tmp_path):
    require("optuna_dashboard", 'the [dashboard] extra: pip install -e ".[dashboard]"')
    from tuner.view import dashboard

    journal = str(tmp_path / JOURNAL)
    StudyMirror(journal, study_name="run", metric="m", mode="max", dists={})
    server, url = dashboard.make_dashboard(journal, "127.0.0.1", 0)
    try:
        assert url == f"http://127.0.0.1:{server.server_port}/dashboard/studies/0"
        with pytest.raises(ConfigError, match="choose another --port"):
            dashboard.make_dashboard(journal, "127.0.0.1", server.server_port)
    finally:
        server.server_close()

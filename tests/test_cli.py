"""The CLI: user errors exit 2 with one line on stderr; --dry-run starts nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuner.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "examples" / "digits_mlp.yaml")


def test_help_explains_itself(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "launch" in out and "plan" in out


def test_launch_help_lists_options(capsys):
    with pytest.raises(SystemExit):
        main(["launch", "--help"])
    out = capsys.readouterr().out
    for flag in ("--address", "--storage", "--name", "--num-samples", "--seed", "--set",
                 "--dry-run", "--resume"):
        assert flag in out


def test_unknown_key_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "e.yaml"
    bad.write_text(Path(DEMO).read_text() + "\nschedular: asha\n")
    assert main(["launch", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tuner: error: schedular: unknown key")


def test_bad_override_exit_2(capsys):
    assert main(["launch", DEMO, "--set", "num_samples=-3", "--dry-run"]) == 2
    assert "num_samples: expected an integer >= 1, got -3" in capsys.readouterr().err


def test_dry_run_prints_plan_and_starts_nothing(tmp_path, capsys):
    rc = main(["launch", DEMO, "--dry-run", "--storage", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    lines = [line.rstrip() for line in out.splitlines()]
    # the demo's own values, each on the line that states it
    assert "trials       24   seed 0   max concurrent as resources allow" in lines
    assert "rungs        1 ep @ 1 data, 3 ep @ 1 data, 9 ep @ 1 data, 27 ep @ 1 data" in lines
    assert any(line.startswith("resources    1 CPU, 0 GPU per trial") for line in lines)
    assert "  bracket s=0: 24@1  8@3  ~3@9  <1@27   [~72 epochs]" in lines  # the ASHA plan
    assert not os.listdir(tmp_path)  # nothing written


def test_existing_results_dir_is_refused(tmp_path, capsys):
    (tmp_path / "digits_mlp").mkdir()
    (tmp_path / "digits_mlp" / "trials.csv").write_text("keep me")
    assert main(["launch", DEMO, "--storage", str(tmp_path)]) == 2
    assert "already exists; pass --resume" in capsys.readouterr().err
    assert (tmp_path / "digits_mlp" / "trials.csv").read_text() == "keep me"


def test_resume_without_experiment_is_refused(tmp_path, capsys):
    assert main(["launch", DEMO, "--storage", str(tmp_path), "--resume"]) == 2
    assert "--resume: no experiment" in capsys.readouterr().err


def test_python_dash_m_entry_point_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tuner", "launch", str(tmp_path / "nope.yaml")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"tuner: error: {tmp_path / 'nope.yaml'}: experiment file not found"


def test_plan_hyperband_paper_table(capsys):
    assert main(["plan", "--scheduler", "hyperband", "--min", "1", "--max", "81", "--eta", "3",
                 "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    first = out["brackets"][0]
    assert first["s"] == 4
    assert [(r["n"], r["r"]) for r in first["rungs"]] == [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]
    assert [(r["n"], r["r"]) for r in out["brackets"][1]["rungs"]] == [(34, 3), (11, 9), (3, 27),
                                                                      (1, 81)]


def test_the_resume_hint_repeats_what_locates_and_defines_the_run():
    from tuner.cli import resume_command

    argv = ["launch", "my exp.yaml", "--storage", "/tmp/r", "--name", "n1", "--set",
            "searcher.n_particles=8", "--quiet"]
    assert resume_command(argv) == ("tuner launch 'my exp.yaml' --storage /tmp/r --name n1 "
                                    "--set searcher.n_particles=8 --resume")
    assert resume_command(["launch", "exp.yaml", "--resume"]) == "tuner launch exp.yaml --resume"

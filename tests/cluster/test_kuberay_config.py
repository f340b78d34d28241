"""deploy/kuberay.yaml through scripts/check_kuberay.py (no Kubernetes here): the manifest
passes, and each rule rejects a variant that breaks it."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from check_kuberay import kuberay_problems, load, main  # noqa: E402


@pytest.fixture
def docs() -> list[dict]:
    return load(str(ROOT / "deploy" / "kuberay.yaml"))


def _spec(docs):
    return next(d for d in docs if d["kind"] == "RayCluster")["spec"]


def test_kuberay_manifest_passes(docs):
    assert kuberay_problems(docs) == []


def test_network_policy_limits_ingress_to_the_cluster_pods(docs):
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": selector}}]}]


@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        (lambda s: s.update(rayVersion="2.59.0"), "rayVersion"),
        (lambda s: s.pop("authOptions"), "authOptions"),
        (lambda s: s["headGroupSpec"]["rayStartParams"].pop("num-cpus"), "num-cpus"),
        (lambda s: s["headGroupSpec"].update(serviceType="LoadBalancer"), "LoadBalancer"),
        (lambda s: s.update(enableInTreeAutoscaling=False), "enableInTreeAutoscaling"),
        (
            lambda s: s["workerGroupSpecs"][0]["template"]["spec"]["containers"][0].update(
                image="rayproject/ray:latest-gpu"
            ),
            "does not match rayVersion",
        ),
        (
            lambda s: s["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"][
                "limits"
            ].pop("nvidia.com/gpu"),
            "nvidia.com/gpu",
        ),
    ],
    ids=["version", "auth", "head-cpus", "service", "autoscaler", "image", "gpu"],
)
def test_each_rule_rejects_a_bad_variant(docs, breaks, message):
    bad = copy.deepcopy(docs)
    breaks(_spec(bad))
    assert any(message in p for p in kuberay_problems(bad))


def test_checker_cli_exit_codes(docs, tmp_path, capsys):
    import yaml

    assert main([str(ROOT / "deploy" / "kuberay.yaml")]) == 0
    _spec(docs)["headGroupSpec"]["serviceType"] = "LoadBalancer"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    assert main([str(bad)]) == 2
    assert "exposes Ray outside the cluster" in capsys.readouterr().err

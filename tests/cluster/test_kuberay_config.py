"""deploy/kuberay.yaml: YAML structure of the RayCluster (no Kubernetes here), each check able to fail."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RAY_VERSION = "2.60.0"


def kuberay_problems(docs: list[dict]) -> list[str]:
    """House rules for the RayCluster manifest, one line per violation."""
    clusters = [d for d in docs if d.get("kind") == "RayCluster"]
    if len(clusters) != 1 or clusters[0].get("apiVersion") != "ray.io/v1":
        return ["expected exactly one ray.io/v1 RayCluster"]
    spec = clusters[0]["spec"]
    head, groups = spec["headGroupSpec"], spec.get("workerGroupSpecs") or []
    problems = []
    if spec.get("rayVersion") != RAY_VERSION:
        problems.append(f"rayVersion {spec.get('rayVersion')!r} != {RAY_VERSION}")
    if (spec.get("authOptions") or {}).get("mode") != "token":
        problems.append("authOptions.mode is not token")
    if str(head.get("rayStartParams", {}).get("num-cpus")) != "0":
        problems.append("head rayStartParams num-cpus is not '0'")
    if head.get("serviceType", "ClusterIP") != "ClusterIP":
        problems.append(f"head serviceType {head['serviceType']} exposes Ray outside the cluster")
    if not spec.get("enableInTreeAutoscaling"):
        problems.append("enableInTreeAutoscaling is off")
    pods = [head["template"]] + [g["template"] for g in groups]
    for container in (c for pod in pods for c in pod["spec"]["containers"]):
        if f":{RAY_VERSION}" not in container["image"]:
            problems.append(f"image {container['image']} does not match rayVersion")
    gpu_groups = [
        g
        for g in groups
        if all(
            int(c["resources"]["limits"].get("nvidia.com/gpu", 0)) >= 1
            for c in g["template"]["spec"]["containers"]
        )
    ]
    if not gpu_groups:
        problems.append("no worker group with nvidia.com/gpu limits")
    for g in gpu_groups:
        if not g.get("minReplicas", 0) <= g.get("replicas", 0) <= g["maxReplicas"]:
            problems.append(f"group {g['groupName']}: replicas outside [min, max]")
    return problems


@pytest.fixture
def docs() -> list[dict]:
    with open(ROOT / "deploy" / "kuberay.yaml") as f:
        return [d for d in yaml.safe_load_all(f) if d]


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

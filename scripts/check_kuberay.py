#!/usr/bin/env python3
"""Check deploy/kuberay.yaml offline (no Kubernetes, no network): the house rules for the
RayCluster, one line per violation, exit 2 if any.

    python scripts/check_kuberay.py deploy/kuberay.yaml

The same rules as cluster.yaml's, for the KubeRay operator: Ray pinned to the version the
project installs, token auth, no trials on the head, the head service inside the cluster, the
autoscaler on, images matching the Ray version, a GPU worker group with sane replica bounds.
"""

from __future__ import annotations

import sys

import yaml

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


def load(path: str) -> list[dict]:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def main(argv: list[str] | None = None) -> int:
    paths = (sys.argv[1:] if argv is None else argv) or ["deploy/kuberay.yaml"]
    status = 0
    for path in paths:
        problems = kuberay_problems(load(path))
        for msg in problems:
            print(f"{path}: {msg}", file=sys.stderr)
        status = 2 if problems else status
        if not problems:
            print(f"{path}: ok")
    return status


if __name__ == "__main__":
    sys.exit(main())

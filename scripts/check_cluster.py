"""Check a Ray cluster-launcher YAML offline: Ray's own schema checks, then our security rules.

Run it before `ray up` (no credentials, no network):

    python scripts/check_cluster.py cluster.yaml      # exit 0 ok, 2 with one line per problem

`ray_validate` is exactly what `ray up` does first (prepare_config + validate_config; private
Ray APIs, pinned to Ray 2.60). The security rules encode the house policy from docs/cluster.md:
nothing open to the world, Ray's ports only to the cluster itself, SSH only from a narrow range,
security groups chosen by us (never auto-created by Ray, which opens SSH to 0.0.0.0/0),
token authentication on every node, and the dashboard bound to loopback.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "RAY_PORTS",
    "SECURITY_RULES",
    "check_file",
    "load",
    "main",
    "placeholders",
    "ray_validate",
    "security_problems",
]

Config = dict[str, Any]

# (from, to) TCP ports a Ray cluster listens on: GCS, dashboard, client server, object manager,
# dashboard agent, default worker-port range.
RAY_PORTS: tuple[tuple[int, int], ...] = (
    (6379, 6379),
    (8265, 8265),
    (10001, 10001),
    (8076, 8076),
    (52365, 52365),
    (10002, 19999),
)
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_DOC_RANGES = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_NOT_LAUNCHER = (
    "not a Ray cluster-launcher config (no provider:); KubeRay manifests are checked by "
    "tests/cluster/test_kuberay_config.py"
)
_MIN_PUBLIC_PREFIX = 24  # an SSH source wider than a /24 is treated as "the internet"


def load(path: str | Path) -> Config:
    """Read a cluster YAML into a dict."""
    with open(path) as f:
        return yaml.safe_load(f)


def ray_validate(cfg: Config) -> Config:
    """Run Ray's own offline checks (what `ray up` does first); return the prepared config.

    Raises whatever Ray raises (jsonschema.ValidationError, ValueError) on a bad config.
    """
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(cfg))
    validate_config(prepared)
    return prepared


# --------------------------------------------------------------------------- helpers


def _ingress(cfg: Config) -> list[dict]:
    return (cfg.get("provider", {}).get("security_group") or {}).get("IpPermissions") or []


def _ports(rule: dict) -> tuple[int, int]:
    if str(rule.get("IpProtocol")) == "-1":  # all protocols, all ports
        return 0, 65535
    return int(rule.get("FromPort", 0)), int(rule.get("ToPort", 65535))


def _overlaps(span: tuple[int, int], other: tuple[int, int]) -> bool:
    return span[0] <= other[1] and other[0] <= span[1]


def _cidrs(rule: dict) -> list[str]:
    v4 = [r.get("CidrIp", "") for r in rule.get("IpRanges") or []]
    v6 = [r.get("CidrIpv6", "") for r in rule.get("Ipv6Ranges") or []]
    return v4 + v6


def _is_internal(cidr: str) -> bool:
    net = ipaddress.ip_network(cidr, strict=False)
    return any(net.version == p.version and net.subnet_of(p) for p in _RFC1918)


def _cluster_group_refs(cfg: Config) -> set[str]:
    """Names and ids that mean "this cluster's own security group"."""
    refs = {(cfg.get("provider", {}).get("security_group") or {}).get("GroupName", "")}
    for node_type in cfg.get("available_node_types", {}).values():
        refs.update(node_type.get("node_config", {}).get("SecurityGroupIds") or [])
    return refs - {""}


def _start_commands(cfg: Config) -> list[tuple[str, str]]:
    return [
        (key, cmd)
        for key in ("head_start_ray_commands", "worker_start_ray_commands")
        for cmd in cfg.get(key) or []
        if "ray start" in cmd
    ]


def _all_commands(cfg: Config) -> list[str]:
    keys = [k for k in cfg if k.endswith("_commands")]
    return [cmd for key in keys for cmd in cfg.get(key) or []]


# --------------------------------------------------------------------------- rules


def no_world_ingress(cfg: Config) -> list[str]:
    """No inbound rule may admit 0.0.0.0/0 or ::/0, on any port."""
    return [
        f"security_group: ports {_ports(r)} open to the world ({c})"
        for r in _ingress(cfg)
        for c in _cidrs(r)
        if ipaddress.ip_network(c, strict=False).prefixlen == 0
    ]


def ray_ports_internal(cfg: Config) -> list[str]:
    """A rule touching a Ray port may only name this cluster's group or RFC 1918 ranges."""
    problems, own = [], _cluster_group_refs(cfg)
    for rule in _ingress(cfg):
        span = _ports(rule)
        if not any(_overlaps(span, p) for p in RAY_PORTS):
            continue
        problems += [
            f"security_group: Ray ports {span} open to {c}; allow only the cluster's group"
            for c in _cidrs(rule)
            if not _is_internal(c)
        ]
        for pair in rule.get("UserIdGroupPairs") or []:
            ref = pair.get("GroupId") or pair.get("GroupName")
            if ref not in own:
                problems.append(f"security_group: Ray ports {span} open to foreign group {ref}")
        if rule.get("PrefixListIds"):
            problems.append(f"security_group: Ray ports {span} open to a prefix list")
    return problems


def ssh_only_from_narrow_range(cfg: Config) -> list[str]:
    """Outside sources may reach only TCP 22, and only from a /24 or narrower."""
    problems = []
    for rule in _ingress(cfg):
        span = _ports(rule)
        for cidr in _cidrs(rule):
            if _is_internal(cidr):
                continue
            if span != (22, 22) or str(rule.get("IpProtocol")) != "tcp":
                problems.append(f"security_group: public source {cidr} may reach ports {span}")
            elif ipaddress.ip_network(cidr, strict=False).prefixlen < _MIN_PUBLIC_PREFIX:
                problems.append(
                    f"security_group: SSH source {cidr} is wider than /{_MIN_PUBLIC_PREFIX}"
                )
    return problems


def security_groups_pinned(cfg: Config) -> list[str]:
    """Every node type names its security group; otherwise Ray creates one with SSH open."""
    return [
        f"available_node_types.{name}: no SecurityGroupIds, so `ray up` would create a group "
        "with SSH open to 0.0.0.0/0"
        for name, node_type in cfg.get("available_node_types", {}).items()
        if not node_type.get("node_config", {}).get("SecurityGroupIds")
    ]


def token_auth_on(cfg: Config) -> list[str]:
    """Every `ray start` runs with RAY_AUTH_MODE=token, and a token reaches the nodes."""
    problems = [
        f"{key}: `ray start` without RAY_AUTH_MODE=token before it: {cmd!r}"
        for key, cmd in _start_commands(cfg)
        if "RAY_AUTH_MODE=token" not in cmd.split("ray start")[0]
    ]
    if not _start_commands(cfg):
        problems.append("no head/worker `ray start` commands: cannot prove token auth is on")
    problems += [
        f"command disables token auth: {cmd!r}"
        for cmd in _all_commands(cfg)
        if re.search(r"RAY_AUTH_MODE=['\"]?disabled", cmd)
    ]
    mounts = cfg.get("file_mounts") or {}
    has_token = any(r.rstrip("/").endswith(".ray/auth_token") for r in mounts) or any(
        "RAY_AUTH_TOKEN" in cmd for cmd in _all_commands(cfg)
    )
    if not has_token:
        problems.append("file_mounts: no ~/.ray/auth_token (or RAY_AUTH_TOKEN) for the nodes")
    return problems


def dashboard_on_loopback(cfg: Config) -> list[str]:
    """The dashboard binds to loopback; users reach it through `ray dashboard` (SSH tunnel)."""
    problems = []
    for key, cmd in _start_commands(cfg):
        words = shlex.split(cmd.replace(";", " ; "))
        for i, word in enumerate(words):
            host = None
            if word.startswith("--dashboard-host="):
                host = word.split("=", 1)[1]
            elif word == "--dashboard-host" and i + 1 < len(words):
                host = words[i + 1]
            if host is not None and host not in _LOOPBACK:
                problems.append(f"{key}: dashboard bound to {host}; use 127.0.0.1")
    return problems


SECURITY_RULES: tuple[Callable[[Config], list[str]], ...] = (
    no_world_ingress,
    ray_ports_internal,
    ssh_only_from_narrow_range,
    security_groups_pinned,
    token_auth_on,
    dashboard_on_loopback,
)


def security_problems(cfg: Config) -> list[str]:
    """Every security-rule violation in `cfg`, one line each (empty list = passes)."""
    return [msg for rule in SECURITY_RULES for msg in rule(cfg)]


def check_file(path: str | Path) -> list[str]:
    """All problems of one cluster-launcher YAML: unreadable, Ray's checks, then ours."""
    from jsonschema.exceptions import ValidationError  # a Ray dependency

    try:
        cfg = load(path)
    except (OSError, yaml.YAMLError) as err:
        return [f"cannot read it: {str(err).splitlines()[0]}"]
    if not isinstance(cfg, dict) or "provider" not in cfg:
        return [_NOT_LAUNCHER]
    try:
        ray_validate(cfg)
    except (ValidationError, ValueError, KeyError, TypeError) as err:
        return [f"Ray rejects the config: {type(err).__name__}: {str(err).splitlines()[0]}"]
    return security_problems(cfg)


def placeholders(cfg: Any, where: str = "") -> list[str]:
    """Dotted paths of values still to fill in before `ray up`: REPLACE…, example addresses."""
    if isinstance(cfg, dict):
        return [p for k, v in cfg.items() for p in placeholders(v, f"{where}.{k}".lstrip("."))]
    if isinstance(cfg, list):
        return [p for i, v in enumerate(cfg) for p in placeholders(v, f"{where}[{i}]")]
    return [where] if isinstance(cfg, str) and ("REPLACE" in cfg or _is_doc_range(cfg)) else []


def _is_doc_range(text: str) -> bool:
    """RFC 5737 documentation addresses (203.0.113.0/24 …) stand for "your address here"."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return any(net.version == d.version and net.subnet_of(d) for d in _DOC_RANGES)


def main(argv: list[str] | None = None) -> int:
    """CLI: check each given YAML; exit 2 and print one line per problem if any."""
    paths = (sys.argv[1:] if argv is None else argv) or ["cluster.yaml"]
    status = 0
    for path in paths:
        problems = check_file(path)
        for msg in problems:
            print(f"{path}: {msg}", file=sys.stderr)
        if problems:
            status = 2
            continue
        todo = placeholders(load(path))
        print(f"{path}: ok" + (f"; still to fill in: {', '.join(todo)}" if todo else ""))
    return status


if __name__ == "__main__":
    sys.exit(main())

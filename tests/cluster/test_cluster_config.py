"""cluster.yaml: Ray's own offline validation, structure, and one test per security rule.

Every rule is shown to bite: each test builds a bad variant of the real file and asserts the
checker rejects it for the stated reason. No network, no credentials, no Ray instance; the
security rules need no Ray at all (only "Ray's own validation" imports ``ray.autoscaler``).
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import aws_security_group as asg
import check_cluster as cc


def _validation_error() -> type:
    """jsonschema's error, which Ray's validator raises (jsonschema comes with Ray): only the
    tests of Ray's own validation need it or Ray; the security rules are ours and need
    neither. Ray is a core dependency, so neither is skipped when missing: they fail."""
    from jsonschema.exceptions import ValidationError

    return ValidationError


@pytest.fixture(scope="module")
def base() -> dict:
    return cc.load(ROOT / "cluster.yaml")


@pytest.fixture
def cfg(base) -> dict:
    return copy.deepcopy(base)


def _head(cfg: dict) -> dict:
    return cfg["available_node_types"][cfg["head_node_type"]]


def _workers(cfg: dict) -> dict:
    return {k: v for k, v in cfg["available_node_types"].items() if k != cfg["head_node_type"]}


def _ssh_rule(cfg: dict) -> dict:
    return next(r for r in cc._ingress(cfg) if r.get("FromPort") == 22)


def _ray_rule(cfg: dict) -> dict:
    return next(r for r in cc._ingress(cfg) if r.get("FromPort") != 22)


def unpinned_ray_installs(cfg: dict) -> list[str]:
    """`pip install` commands that install Ray without pinning 2.60.0."""
    cmds = [c for k in cfg if k.endswith("_commands") for c in cfg[k] or []]
    return [c for c in cmds if re.search(r"pip install .*\bray\b", c) and "==2.60.0" not in c]


# ------------------------------------------------------------------- Ray's own validation


def test_ray_accepts_cluster_yaml(cfg):
    prepared = cc.ray_validate(cfg)
    assert prepared["head_node_type"] == "head"


def test_ray_rejects_node_type_without_resources(cfg):
    del _workers(cfg)["gpu_worker"]["resources"]
    with pytest.raises(_validation_error(), match="'resources' is a required property"):
        cc.ray_validate(cfg)


def test_ray_rejects_fractional_node_resources(cfg):
    _head(cfg)["resources"] = {"CPU": 0, "GPU": 0.5}
    with pytest.raises(_validation_error(), match="0.5 is not of type 'integer'"):
        cc.ray_validate(cfg)


def test_ray_rejects_unknown_head_type(cfg):
    cfg["head_node_type"] = "nope"
    with pytest.raises(ValueError, match="head_node_type"):
        cc.ray_validate(cfg)


def test_provider_defaults_do_not_sneak_in_a_nightly_ray(cfg):
    """prepare_config merges AWS defaults shallowly: omitted command lists come from there."""
    text = str(cc.ray_validate(cfg))
    assert "ray-wheels" not in text and "dev0" not in text
    del cfg["setup_commands"]
    assert "ray-wheels" in str(cc.ray_validate(cfg))  # the check above can fail


# ------------------------------------------------------------------- structure


def test_head_advertises_no_cpus_so_trials_stay_off_it(cfg):
    assert _head(cfg)["resources"] == {"CPU": 0}


def test_gpu_workers_autoscale_from_zero(cfg):
    (worker,) = _workers(cfg).values()
    assert worker["min_workers"] == 0 < worker["max_workers"] <= cfg["max_workers"]
    assert worker["node_config"]["InstanceType"].startswith(("g5.", "g6.", "p4", "p5"))


def test_ray_is_pinned_in_setup_commands(cfg):
    assert unpinned_ray_installs(cfg) == []
    assert any("ray[default,tune]==2.60.0" in c for c in cfg["setup_commands"])
    cfg["setup_commands"].append('pip install -U "ray[tune]"')
    assert len(unpinned_ray_installs(cfg)) == 1


def test_project_is_mounted_and_installed_on_every_node(cfg):
    assert cfg["file_mounts"]["~/tuner"] == "."
    for key in ("head_setup_commands", "worker_setup_commands"):
        assert cfg[key][-1] == "pip install -e ~/tuner"  # after torch, so pip keeps our build
        assert any("download.pytorch.org/whl/" in c for c in cfg[key])


def test_placeholders_are_listed_for_the_user():
    cfg = {"a": {"ImageId": "ami-REPLACE_ME", "ok": "x"}, "ids": ["sg-1", "sg-REPLACE"]}
    cfg["cidrs"] = ["203.0.113.10/32", "81.2.69.160/32"]  # documentation range vs. a real one
    assert cc.placeholders(cfg) == ["a.ImageId", "ids[1]", "cidrs[0]"]


# ------------------------------------------------------------------- security rules


def test_cluster_yaml_passes_every_security_rule(cfg):
    assert cc.security_problems(cfg) == []


def test_rule_no_world_ingress(cfg):
    _ssh_rule(cfg)["IpRanges"] = [{"CidrIp": "0.0.0.0/0"}]
    assert any("open to the world" in p for p in cc.no_world_ingress(cfg))


def test_rule_no_world_ingress_ipv6(cfg):
    _ssh_rule(cfg)["Ipv6Ranges"] = [{"CidrIpv6": "::/0"}]
    assert cc.no_world_ingress(cfg)


@pytest.mark.parametrize(
    "source",
    [
        {"IpRanges": [{"CidrIp": "198.51.100.0/24"}]},
        {"UserIdGroupPairs": [{"GroupId": "sg-other"}]},
    ],
    ids=["public-cidr", "foreign-group"],
)
def test_rule_ray_ports_only_to_the_cluster(cfg, source):
    cfg["provider"]["security_group"]["IpPermissions"].append(
        {"IpProtocol": "tcp", "FromPort": 8265, "ToPort": 8265, **source}
    )
    assert cc.ray_ports_internal(cfg)


def test_rule_ray_ports_may_use_the_vpc_cidr(cfg):
    _ray_rule(cfg)["IpRanges"] = [{"CidrIp": "172.31.0.0/16"}]
    assert cc.ray_ports_internal(cfg) == []


def test_rule_all_traffic_rule_counts_as_ray_ports(cfg):
    cfg["provider"]["security_group"]["IpPermissions"].append(
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "198.51.100.7/32"}]}
    )
    assert cc.ray_ports_internal(cfg) and cc.ssh_only_from_narrow_range(cfg)


def test_rule_ssh_only_from_narrow_range(cfg):
    _ssh_rule(cfg)["IpRanges"] = [{"CidrIp": "198.51.0.0/16"}]
    assert any("wider than /24" in p for p in cc.ssh_only_from_narrow_range(cfg))


def test_rule_public_sources_only_on_ssh(cfg):
    cfg["provider"]["security_group"]["IpPermissions"].append(
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "198.51.100.7/32"}],
        }
    )
    assert any("may reach ports (443, 443)" in p for p in cc.ssh_only_from_narrow_range(cfg))


def test_rule_security_groups_pinned(cfg):
    del _workers(cfg)["gpu_worker"]["node_config"]["SecurityGroupIds"]
    assert any("gpu_worker" in p for p in cc.security_groups_pinned(cfg))


def test_rule_token_auth_on_every_ray_start(cfg):
    cfg["worker_start_ray_commands"] = [
        c.replace("export RAY_AUTH_MODE=token;", "") for c in cfg["worker_start_ray_commands"]
    ]
    assert any("worker_start_ray_commands" in p for p in cc.token_auth_on(cfg))


def test_rule_token_auth_not_disabled(cfg):
    cfg["setup_commands"].append("echo 'export RAY_AUTH_MODE=disabled' >> ~/.bashrc")
    assert any("disables token auth" in p for p in cc.token_auth_on(cfg))


def test_rule_token_reaches_the_nodes(cfg):
    del cfg["file_mounts"]["~/.ray/auth_token"]
    assert any("auth_token" in p for p in cc.token_auth_on(cfg))


def test_rule_dashboard_on_loopback(cfg):
    cfg["head_start_ray_commands"] = [
        c.replace("--dashboard-host=127.0.0.1", "--dashboard-host=0.0.0.0")
        for c in cfg["head_start_ray_commands"]
    ]
    assert cc.dashboard_on_loopback(cfg) == [
        "head_start_ray_commands: dashboard bound to 0.0.0.0; use 127.0.0.1"
    ]


def test_ray_defaults_alone_fail_the_security_rules():
    """Ray's own AWS defaults.yaml (what you get from a bare config) breaks three rules."""
    import ray

    defaults = cc.load(Path(ray.__file__).parent / "autoscaler/aws/defaults.yaml")
    problems = cc.security_problems(defaults)
    assert any("no SecurityGroupIds" in p for p in problems)
    assert any("dashboard bound to 0.0.0.0" in p for p in problems)
    assert any("without RAY_AUTH_MODE=token" in p for p in problems)


def test_checker_cli_exit_codes(cfg, tmp_path, capsys):
    assert cc.main([str(ROOT / "cluster.yaml")]) == 0
    _ssh_rule(cfg)["IpRanges"] = [{"CidrIp": "0.0.0.0/0"}]
    bad = tmp_path / "bad.yaml"
    bad.write_text(__import__("yaml").safe_dump(cfg))
    assert cc.main([str(bad)]) == 2
    assert "open to the world" in capsys.readouterr().err


def test_security_group_plan_resolves_the_self_reference(cfg):
    rules = asg.plan_ingress(cfg, "sg-0abc")
    pairs = [p for r in rules for p in r.get("UserIdGroupPairs") or []]
    assert pairs and all(p.get("GroupId") == "sg-0abc" and "GroupName" not in p for p in pairs)
    assert (
        cfg["provider"]["security_group"]["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupName"]
        == "tuner-ray"
    )  # the config itself is untouched

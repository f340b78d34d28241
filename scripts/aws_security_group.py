"""Create the cluster's AWS security group from `provider.security_group` in cluster.yaml.

    python scripts/aws_security_group.py cluster.yaml --vpc-id vpc-0123 [--region us-west-2]

Prints the new group id; put it into `SecurityGroupIds` of every node type. We create the group
ourselves because a group that `ray up` creates always gets SSH from 0.0.0.0/0 on top of the
configured rules (Ray 2.60, autoscaler/_private/aws/config.py). Refuses to run if the rules
break the checks in scripts/check_cluster.py. Needs boto3 and AWS credentials (not the tests).
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_cluster import load, security_problems

__all__ = ["main", "plan_ingress"]


def plan_ingress(cfg: dict, group_id: str) -> list[dict]:
    """The IpPermissions to authorise, with references to the group's own name turned into its id.

    EC2 accepts a group *name* in UserIdGroupPairs only in the default VPC, so the
    self-reference written in the YAML as `GroupName: <our name>` becomes `GroupId: <id>`.
    """
    sg = cfg["provider"]["security_group"]
    rules = copy.deepcopy(sg.get("IpPermissions") or [])
    for rule in rules:
        for pair in rule.get("UserIdGroupPairs") or []:
            if pair.get("GroupName") == sg["GroupName"]:
                del pair["GroupName"]
                pair["GroupId"] = group_id
    return rules


def _create(cfg: dict, vpc_id: str, region: str) -> str:
    import boto3  # only needed here; the launcher on your laptop needs it anyway

    ec2 = boto3.client("ec2", region_name=region)
    name = cfg["provider"]["security_group"]["GroupName"]
    group_id = ec2.create_security_group(
        GroupName=name, VpcId=vpc_id, Description=f"Ray cluster {cfg['cluster_name']} (tuner)"
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group_id, IpPermissions=plan_ingress(cfg, group_id)
    )
    return group_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="cluster.yaml")
    parser.add_argument("--vpc-id", required=True)
    parser.add_argument("--region", help="defaults to provider.region")
    args = parser.parse_args(argv)
    cfg = load(args.config)
    problems = security_problems(cfg)
    if problems:
        print("refusing to create the group:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    print(_create(cfg, args.vpc_id, args.region or cfg["provider"]["region"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

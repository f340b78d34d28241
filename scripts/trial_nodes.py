"""Which Ray node ran each trial of an experiment (also after the run, and after a node died).

    python scripts/trial_nodes.py RESULTS/NAME --address 127.0.0.1:6390     # prints JSON

Tune's result.json names the host (`hostname`, `node_ip`) but not the Ray node, and on one
machine every node has the same IP. Each result does carry the `pid` of the trial's actor, and
the GCS keeps every actor, dead ones included, with its pid and node id. Joining the two gives
trial -> node ids, one per process the trial ran in (a retry after a crash is a new process).
Uses `ray._private.state.actors()` (no dashboard needed; private API, Ray 2.60 pinned).
Run it with the cluster's RAY_AUTH_MODE / token settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "trial_nodes", "trial_pids"]


def trial_pids(experiment_dir: str | Path) -> dict[str, list[int]]:
    """trial_id -> the distinct pids that reported results, in order of first report."""
    out: dict[str, list[int]] = {}
    for result_file in sorted(Path(experiment_dir).glob("*/result.json")):
        for line in result_file.read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            pids = out.setdefault(row["trial_id"], [])
            if row["pid"] not in pids:
                pids.append(row["pid"])
    return out


def trial_nodes(experiment_dir: str | Path, address: str) -> dict:
    """{"nodes": {node_id: {alive, resources}}, "trials": {trial_id: [node_id per pid]}}."""
    import ray
    from ray._private import state

    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    try:
        node_of_pid: dict[int, str] = {}
        for actor in state.actors().values():
            node_of_pid[actor["Pid"]] = actor["Address"]["NodeID"]
        nodes = {
            n["NodeID"]: {"alive": n["Alive"], "resources": n.get("Resources", {})}
            for n in ray.nodes()
        }
    finally:
        ray.shutdown()
    trials = {
        trial: [node_of_pid.get(pid, "unknown") for pid in pids]
        for trial, pids in trial_pids(experiment_dir).items()
    }
    return {"nodes": nodes, "trials": trials}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", help="<storage>/<name> of the experiment")
    parser.add_argument("--address", default="auto", help="Ray address (default: auto)")
    args = parser.parse_args(argv)
    if not Path(args.experiment_dir).is_dir():
        print(f"trial_nodes: no directory {args.experiment_dir}", file=sys.stderr)
        return 2
    print(json.dumps(trial_nodes(args.experiment_dir, args.address), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

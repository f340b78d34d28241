"""Read what the trackers wrote, with the trackers' own formats (tests only).

W&B offline runs are ``<dir>/wandb/offline-run-<time>-<id>/run-<id>.wandb``: W&B's
transaction log, a LevelDB-style log (32 KiB blocks of chunks with a 7-byte header: CRC,
length, type full/first/middle/last) after a 7-byte file header (``:W&B``, magic, version),
each record a ``wandb_internal_pb2.Record`` protobuf — the file ``wandb sync`` uploads. wandb
0.2x moved its reader into the Go core, so the few lines are here; the records are parsed
with wandb's own protobuf classes. A run resumed offline is a second folder with the same id:
``wandb_runs`` merges the segments in time order, as ``wandb sync`` does.
"""

from __future__ import annotations

import glob
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

_BLOCK, _HEADER = 32768, 7
_FULL, _FIRST, _LAST = 1, 2, 4


def wandb_records(path: str) -> list[Any]:
    """Every record of one ``.wandb`` file."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = open(path, "rb").read()
    assert data[:4] == b":W&B", f"{path}: not a W&B transaction log"
    pos, out, pending = _HEADER, [], b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        pending = chunk if kind == _FIRST else pending + chunk
        if kind in (_FULL, _LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
    return out


@dataclass
class WandbRun:
    run_id: str
    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, list[str]] = field(default_factory=dict)
    exit_codes: list[int] = field(default_factory=list)
    segments: int = 0


def wandb_runs(directory: str) -> dict[str, WandbRun]:
    """The offline runs under ``directory``/wandb, by run id, segments merged."""
    runs: dict[str, WandbRun] = {}
    for path in sorted(glob.glob(os.path.join(directory, "wandb", "offline-run-*", "*.wandb")),
                       key=os.path.getmtime):
        records = wandb_records(path)
        run_id = next(r.run.run_id for r in records if r.WhichOneof("record_type") == "run")
        run = runs.setdefault(run_id, WandbRun(run_id))
        run.segments += 1
        for record in records:
            _apply(run, record)
    return runs


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def _apply(run: WandbRun, record: Any) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "run":
        r = record.run
        run.name, run.group, run.job_type = r.display_name, r.run_group, r.job_type
        run.tags = list(r.tags)  # the latest tags replace the earlier ones, as on the server
        run.config.update({_key(i): json.loads(i.value_json) for i in r.config.update})
    elif kind == "config":
        run.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
    elif kind == "history":
        run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
    elif kind == "summary":
        run.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
    elif kind == "artifact":
        run.artifacts[record.artifact.name] = [e.path for e in record.artifact.manifest.contents]
    elif kind == "exit":
        run.exit_codes.append(record.exit.exit_code)

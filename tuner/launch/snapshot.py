"""Keep the last whole copy of Ray's experiment snapshot, so a driver killed while Ray writes
it can still ``--resume``.

Ray 2.60 writes ``experiment_state-<session>.json`` with a plain ``open(..., "w")`` into the
driver's staging folder (``tune/execution/tune_controller.py`` ``save_to_dir``) and then
copies that folder into the experiment folder with pyarrow (``tune/execution/
experiment_state.py`` ``sync_up_experiment_state`` → ``StorageContext.syncer.sync_up``).
Neither step is atomic: a SIGKILL during the copy leaves a torn JSON behind. Our fault soak hit
it ("Unterminated string starting at: line 1 column 515563"); Ray's restore would then start
the whole experiment again, and ``preflight.check_saved_state`` could only refuse.

``tuner.launch.resume.SnapshotKeeper`` (a Ray callback) runs on the driver's control loop
right after Ray's own snapshot (``TuneController.step`` saves, then calls ``on_step_end``), so
the staging files are whole and belong together: the experiment state, the searcher's state and
the callbacks' state (which carries the scheduler's rungs, ``tuner.launch.resume``). It copies
that set (:func:`keep`) into one of two slots under ``<experiment>/.snapshot/`` and then points
``.snapshot/current`` at it with an atomic rename, so a kill at any moment leaves the pointer on
a whole set. :func:`put_back` restores that set before ``--resume`` when the newest one in the
experiment folder is torn.
"""

from __future__ import annotations

import glob
import json
import os
import pickletools
import shutil

from tuner.record.results import write_atomic

__all__ = ["KEPT", "STATE_GLOB", "keep", "put_back", "session_of", "whole"]

KEPT = ".snapshot"
STATE_GLOB = "experiment_state-*.json"


def session_of(state_file: str) -> str:
    """``2026-12-06_01-21-45`` of ``…/experiment_state-2026-12-06_01-21-45.json``."""
    return os.path.basename(state_file)[len("experiment_state-"):-len(".json")]


def _session_files(folder: str, session: str) -> list[str]:
    """The snapshot set of one driver session: every state file Ray names after it."""
    return sorted(name for name in os.listdir(folder)
                  if name.endswith((f"-{session}.json", f"-{session}.pkl"))
                  and not name.startswith(("tmp", ".")))


def _readable(path: str) -> bool:
    """A pickle whose opcodes run to its STOP (checked without importing the classes it
    names: a cut pickle fails here), or a JSON file that parses. Ray's
    ``search_gen_state-*.json`` is a pickle despite its name: the content decides."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:1] == b"\x80":  # the PROTO opcode that starts every pickle of protocol ≥ 2
            for _ in pickletools.genops(data):
                pass
        else:
            json.loads(data)
    except (OSError, ValueError):
        return False
    return True


def whole(folder: str, session: str) -> bool:
    """Whether the snapshot set of ``session`` in ``folder`` is there and reads in full."""
    try:
        names = _session_files(folder, session)
    except OSError:
        return False
    return (f"experiment_state-{session}.json" in names
            and all(_readable(os.path.join(folder, n)) for n in names))


def keep(staging: str, session: str, kept: str) -> None:
    """Copy the set into the slot ``current`` does not name, then switch ``current`` to it."""
    pointer = os.path.join(kept, "current")
    slot = "b" if _current(pointer) == "a" else "a"
    target = os.path.join(kept, slot)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    for name in _session_files(staging, session):
        with open(os.path.join(staging, name), "rb") as src:
            data = src.read()
        with open(os.path.join(target, name), "wb") as out:
            out.write(data)
    if whole(target, session):  # never point at a set that does not read in full
        write_atomic(pointer, slot)


def _current(pointer: str) -> str | None:
    try:
        with open(pointer) as f:
            return f.read().strip() or None
    except OSError:
        return None


def put_back(path: str) -> str | None:
    """Before ``--resume``: make the snapshot Ray reads the last set the driver kept whole.

    Ray's copy into the experiment folder can leave a torn file, or whole files from two
    different snapshots (the copy of a large experiment state cut short after the searcher's
    small files went in): a searcher that counts a trial the trial list lacks never draws its
    replacement — the 1,000-trial soak ended with 998 of 1,000 trials that way. The kept set
    was copied right after Ray wrote it, in one go, so it is whole and of one moment. Files of
    a later session are moved aside to ``.torn-*`` (Ray picks the newest name). Returns a line
    for the user when anything was replaced, else None (also when nothing whole was kept)."""
    kept = os.path.join(path, KEPT)
    slot = _current(os.path.join(kept, "current"))
    kept_states = sorted(glob.glob(os.path.join(kept, slot or "-", STATE_GLOB)))
    if not kept_states or not whole(os.path.dirname(kept_states[-1]),
                                    session := session_of(kept_states[-1])):
        return None
    source = os.path.dirname(kept_states[-1])
    later = [session_of(s) for s in glob.glob(os.path.join(path, STATE_GLOB))
             if session_of(s) > session]
    torn = any(not whole(path, s) for s in [*later, session])
    for other in later:
        for name in _session_files(path, other):
            os.replace(os.path.join(path, name), os.path.join(path, f".torn-{name}"))
    changed = bool(later)
    for name in _session_files(source, session):
        with open(os.path.join(source, name), "rb") as f:
            data = f.read()
        if _content(os.path.join(path, name)) != data:
            write_atomic(os.path.join(path, name), data)
            changed = True
    if not changed:
        return None
    how = "was cut short" if torn else "was not the last one the driver wrote whole"
    return (f"tuner: the experiment snapshot in {path} {how} when the driver died; continuing "
            "from the last whole one the driver kept (the seconds after it are redone)")


def _content(file: str) -> bytes | None:
    try:
        with open(file, "rb") as f:
            return f.read()
    except OSError:
        return None

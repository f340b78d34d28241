"""Every optional peer of ``benchmarks.peers`` names the package its tests need (so that a
machine without the ``bench`` extra skips them, and CI fails them, instead of erroring)."""

from __future__ import annotations

from benchmarks import peers
from benchmarks.syne_peers import SYNE_PEERS
from tests.benchmarks.conftest import method_peers


def test_each_optional_peer_names_its_packages():
    assert all(method_peers(m) for m in peers.EXTRA_PEERS + SYNE_PEERS)
    assert all("syne_tune" in method_peers(m) for m in SYNE_PEERS)
    core = [m for m in peers.ALL_METHODS if m not in peers.EXTRA_PEERS + SYNE_PEERS]
    assert core and not any(method_peers(m) for m in core)

"""``tuner dashboard NAME``: optuna-dashboard over a run's ``optuna.journal``, on loopback.

Reuse, not rewrite: optuna-dashboard (optional extra ``[dashboard]``) serves history,
intermediate values, parallel coordinates, contour, slice, importance, EDF, a timeline and a
filterable trial table from any Optuna storage; ``tuner.view.mirror`` writes the run as one. This
module only finds the file, opens it and serves optuna-dashboard's own WSGI app
(``optuna_dashboard.wsgi``) with the threaded ``wsgiref`` server its CLI uses (``_cli.py``:
``ThreadedWSGIServer``), so the page's parallel polls do not queue behind each other.

It listens on 127.0.0.1 unless ``--host`` says otherwise: the dashboard has no authentication
and lets anyone who reaches it write notes into the study. ``--port 0`` takes a free port and
prints it (the browser test uses that).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Callable
from typing import Any

from tuner.errors import ConfigError

__all__ = ["add_parser", "find_journal", "main", "make_dashboard"]

INSTALL = 'pip install -e ".[dashboard]"'
JOURNAL = "optuna.journal"  # tuner.view.mirror.JOURNAL, not imported: the CLI parser loads this module


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "dashboard", help="watch a run (live or finished) in optuna-dashboard",
        description="Serve optuna-dashboard over <storage>/NAME/optuna.journal, which "
                    "tuner launch writes while it runs: history, per-epoch curves, parallel "
                    "coordinates, slices, importance, timeline and the trial table.")
    parser.add_argument("name", help="a results folder, or a run name under --storage")
    parser.add_argument("--storage", default="results",
                        help="results directory holding NAME (default: ./results)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help=argparse.SUPPRESS)
    parser.set_defaults(handler=main)
    return parser


def find_journal(name: str, storage: str = "results") -> str:
    """NAME as a results folder (or the journal itself), else ``<storage>/NAME``."""
    candidates = [name] if os.sep in name or os.path.isdir(name) or os.path.isfile(name) \
        else []
    candidates.append(os.path.join(storage, name))
    for where in candidates:
        if os.path.isfile(where) and os.path.basename(where) == JOURNAL:
            return where
        if os.path.isdir(where):
            journal = os.path.join(where, JOURNAL)
            if not os.path.isfile(journal):
                raise ConfigError(f"dashboard: {where} has no {JOURNAL} yet (tuner launch "
                                  "writes it when the run's first trial starts)")
            return journal
    raise ConfigError(f"dashboard: no run {name!r} (looked for "
                      f"{' and '.join(repr(c) for c in candidates)})")


def _server(host: str, port: int, app: Any) -> Any:
    """optuna-dashboard's own choice (``_cli.py``): wsgiref, one thread per request; quiet,
    and without waiting for the page's open polls on Ctrl-C. Imported here, not at the top:
    the CLI's parser loads this module for every command."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # a line per poll otherwise
            pass

    return make_server(host, port, app, server_class=Server, handler_class=Quiet)


def make_dashboard(journal: str, host: str = "127.0.0.1", port: int = 8080
                   ) -> tuple[Any, str]:
    """A ready server over ``journal`` and the URL of its study page (not serving yet)."""
    try:
        import optuna_dashboard
    except ImportError:
        raise ConfigError(f"dashboard: optuna-dashboard is not installed; run: {INSTALL}") \
            from None
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(journal))
    studies = storage.get_all_studies()
    try:
        server = _server(host, port, optuna_dashboard.wsgi(storage))
    except OSError as exc:
        raise ConfigError(f"dashboard: cannot listen on {host}:{port} "
                          f"({exc.strerror or exc}); choose another --port") from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    url = f"http://{shown}:{server.server_port}/dashboard/"
    if len(studies) == 1:
        url += f"studies/{storage.get_study_id_from_name(studies[0].study_name)}"
    return server, url


def _exposed(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


def main(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    journal = find_journal(args.name, args.storage)
    server, url = make_dashboard(journal, args.host, args.port)
    if _exposed(args.host):
        print(f"tuner: warning: listening on {args.host}: anyone who can reach this machine "
              "can read the study and write notes into it", file=sys.stderr)
    out(f"dashboard for {os.path.dirname(os.path.abspath(journal))}: {url}  (Ctrl-C stops it)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

"""Running the application under a production server: granian by default, gunicorn on request.

The default was chosen by measurement (docs/benchmarks.md, "Serving model"): granian reads and
buffers each request on its own (Rust, asynchronous) before a Python thread sees it, so clients
that send their headers a byte at a time hold no worker, and its decision path was the fastest
of the candidates. The other models stay selectable (`serve --server`) to compare them side by
side (`bench/decisions.py --server`); gevent and waitress are installed by the `servers` extra.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from .storage.engine import normalise

# The models `serve --server` accepts; the first is the default.
MODELS = ("granian", "sync", "gevent", "waitress")
# What each model imports (gevent and waitress come with the `servers` extra).
NEEDS = {
    "granian": ["granian"],
    "sync": ["gunicorn"],
    "gevent": ["gunicorn", "gevent"],
    "waitress": ["waitress"],
}
DEFAULT_WORKERS = 2  # one per core on the standard machine; measured better than 2 x cores + 1
# Gunicorn's access log line: no client address (no raw IP is stored anywhere, logs included)
# and no query string (it can carry search terms or tokens).
ACCESS_LOG_FORMAT = '"%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def run(
    database: str,
    host: str,
    port: int,
    workers: int | None = None,
    model: str = "granian",
    access_log: bool = True,
) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown server model {model!r}; one of {', '.join(MODELS)}")
    missing = [name for name in NEEDS[model] if importlib.util.find_spec(name) is None]
    if missing:
        raise ValueError(
            f"--server {model} needs {', '.join(missing)}: pip install 'privacy-center[servers]'"
        )
    workers = workers or DEFAULT_WORKERS
    # Every worker builds its own app after it starts (no connection crosses a fork); they find
    # the database the same way `create_app()` always does.
    os.environ["PRIVACY_CENTER_DB"] = normalise(database)
    if model == "granian":
        _run_granian(host, port, workers, access_log)
    elif model in ("sync", "gevent"):
        _run_gunicorn(host, port, workers, model, access_log)
    else:
        _run_waitress(host, port, workers)


def _run_granian(host: str, port: int, workers: int, access_log: bool) -> None:
    from granian.constants import Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.server import Server

    Server(
        # RSGI, not granian's WSGI: server/rsgi.py reads each body before the app sees it.
        "server.rsgi:create",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        # uvloop where it is installed (a dependency, but not on Windows), else asyncio's own;
        # named, not granian's "auto", which would prefer the experimental rloop if present.
        loop=Loops.uvloop if importlib.util.find_spec("uvloop") else Loops.asyncio,
        # A client gets this long to send its request headers, however slowly it sends them.
        http1_settings=HTTP1Settings(header_read_timeout=10_000),
        log_access=access_log,
        # No client address (no raw IP is stored anywhere, logs included) and no query string.
        log_access_format='[%(time)s] "%(method)s %(path)s" %(status)d %(dt_ms).1fms',
        workers_kill_timeout=10,  # graceful shutdown: requests in flight get 10 s to finish
        respawn_failed_workers=True,
    ).serve()


def _run_gunicorn(host: str, port: int, workers: int, worker_class: str, access_log: bool) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def __init__(self, options: dict[str, Any]):
            self.options = options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                if key in self.cfg.settings:  # settings newer than the installed gunicorn skipped
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from . import create_app

            return create_app()

    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": worker_class,
            "worker_connections": 1000,
            "preload_app": False,
            "accesslog": "-" if access_log else None,
            "access_log_format": ACCESS_LOG_FORMAT,
            "timeout": 30,
            "graceful_timeout": 10,
            # Several servers (tests, a demo) may run at once; none needs gunicorn's control socket.
            "control_socket_disable": True,
        }
    ).run()


def _run_waitress(host: str, port: int, workers: int) -> None:
    import waitress

    from . import create_app

    # One process; its threads share the GIL, so `workers` sets the threads.
    waitress.serve(create_app(), host=host, port=port, threads=max(workers, 2), ident=None)

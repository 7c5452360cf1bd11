"""Running the application under gunicorn, the production WSGI server."""

from __future__ import annotations

import multiprocessing

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, database: str, options: dict):
        self.database = database
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self):
        from . import create_app

        return create_app({"DATABASE": self.database})


def run(database: str, host: str, port: int, workers: int | None = None) -> None:
    workers = workers or multiprocessing.cpu_count() * 2 + 1
    _Server(
        database,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "sync",
            # Each worker builds its own app after the fork: no shared connection crosses a fork.
            "preload_app": False,
            "accesslog": "-",
            # No client address (no raw IP is stored anywhere, logs included) and no query string.
            "access_log_format": '"%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            "timeout": 30,
            "graceful_timeout": 10,
            # Several servers (tests, a demo) may run at once; none needs gunicorn's control socket.
            "control_socket_disable": True,
        },
    ).run()

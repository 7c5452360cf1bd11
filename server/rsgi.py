"""The WSGI app behind granian's RSGI interface: each request read whole, then run on one thread.

Granian's own WSGI interface hands a request to Python once its headers are in and lets the app
read the body from the socket: a client that trickles its body holds that Python thread (and,
measured, starved health probes). Here the body is read on granian's asynchronous side first,
at most `MAX_CONTENT_LENGTH` + 1 bytes of it, and only a complete request reaches the app,
which runs on the worker's one thread. A body announced larger than the limit is not read at
all: the app sees its length and answers 413 itself, in the JSON error shape.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

from .fastpath import FastPath

_DONE = object()


class RSGIApp:
    def __init__(self, app: Flask):
        self.app = app
        self.limit: int = app.config["MAX_CONTENT_LENGTH"]
        # One thread per worker runs the app: more would only queue on the GIL and on SQLite's
        # write lock (gunicorn's gthread workers measured a 4x worse decision p99).
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="app")
        self.fast = FastPath(app)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        length = scope.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            body = b""  # refused by the app from its announced length, never read
        elif length is not None:
            body = await protocol()
        else:
            body = await self._read_bounded(protocol)
        loop = asyncio.get_running_loop()
        site_key = self.fast.route(scope.method, scope.path)
        if site_key is not None:
            # A decision, answered without Flask (server/fastpath.py) unless it is unusual.
            if self.fast.grouped:
                # SQLite: on this thread, stored with the others in hand (group commit).
                answer = await self.fast.batched(site_key, scope, body)
            else:
                answer = await loop.run_in_executor(
                    self.pool, self.fast.decision, site_key, scope, body
                )
            if answer is not None:
                protocol.response_bytes(*answer)
                return
        environ = self._environ(scope, body)
        status, headers, chunks = await loop.run_in_executor(self.pool, self._call, environ)
        if isinstance(chunks, list):
            protocol.response_bytes(status, headers, b"".join(chunks))
            return
        # A streamed answer (an export): each chunk is made on the app thread, sent from here.
        transport = protocol.response_stream(status, headers)
        try:
            while (
                chunk := await loop.run_in_executor(self.pool, next, chunks, _DONE)
            ) is not _DONE:
                if chunk:
                    await transport.send_bytes(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await loop.run_in_executor(self.pool, close)

    async def _read_bounded(self, protocol: Any) -> bytes:
        """A body of unknown length (chunked): at most limit + 1 bytes, enough to refuse it."""
        parts, size = [], 0
        async for chunk in protocol:
            parts.append(chunk)
            size += len(chunk)
            if size > self.limit:
                break
        return b"".join(parts)

    def _call(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Any]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            started[:] = [int(status.split(" ", 1)[0]), headers]

        result: Iterable[bytes] = self.app(environ, start_response)
        iterator: Iterator[bytes] = iter(result)
        first = next(iterator, b"")  # start_response may come with the first chunk
        status, headers = started
        if any(name.lower() == "content-length" for name, _ in headers):
            # A whole answer (every one but an export): sent in one piece.
            try:
                return status, headers, [first, *iterator]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return status, headers, _Chained(first, iterator, result)

    def _environ(self, scope: Any, body: bytes) -> dict[str, Any]:
        server_host, _, server_port = scope.server.rpartition(":")
        client_host, _, client_port = scope.client.rpartition(":")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope.method,
            "SCRIPT_NAME": "",
            # WSGI's native strings: the path's bytes (granian has percent-decoded it) as latin-1.
            "PATH_INFO": scope.path.encode("utf-8", "replace").decode("latin-1"),
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": server_host.strip("[]"),
            "SERVER_PORT": server_port,
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "REMOTE_ADDR": client_host.strip("[]"),
            "REMOTE_PORT": client_port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            # The input ends where the body read above ended (chunked bodies have no length).
            "wsgi.input_terminated": True,
        }
        for name, value in scope.headers.items():
            if "_" in name:
                # `X_Forwarded_For` would become HTTP_X_FORWARDED_FOR, beside or instead of the
                # proxy's own header: dropped, as gunicorn and werkzeug's server drop it.
                continue
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name == "content-length":
                environ["CONTENT_LENGTH"] = value
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
                if key in environ:
                    separator = "; " if key == "HTTP_COOKIE" else ","
                    environ[key] += separator + value
                else:
                    environ[key] = value
        return environ


class _Chained:
    """An answer's iterator with its first chunk put back, closed like the app's own."""

    def __init__(self, first: bytes, rest: Iterator[bytes], result: Iterable[bytes]):
        self.first: bytes | None = first
        self.rest = rest
        self.result = result

    def __iter__(self) -> _Chained:
        return self

    def __next__(self) -> bytes:
        if self.first is not None:
            first, self.first = self.first, None
            return first
        return next(self.rest)

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is not None:
            close()


def create() -> RSGIApp:
    """Granian's factory: run in each worker, so each builds its own app after it starts."""
    from . import create_app

    return RSGIApp(create_app())

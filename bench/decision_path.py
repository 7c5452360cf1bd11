"""CPU time per request of the app itself, for /healthz and a decision, without an HTTP server.

Builds the app as a worker does (`server.rsgi.RSGIApp`, the default server's adapter) on a
fresh database with the demo registry, and calls it as granian does once it has parsed a
request (an RSGI scope and protocol; the adapter hands the request to its one app thread),
thousands of times in a row. What
it prints is the Python side of a request in microseconds of CPU (`time.process_time`), which
moves far less with the machine's load than throughput does; `bench/decisions.py` measures the
whole server. `--profile` prints cProfile's top functions of the decisions instead.

  python bench/decision_path.py [--requests 5000] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://127.0.0.1:9"
UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
BODY = json.dumps(
    {
        "revision": 1,
        "action": "custom",
        "language": "ja",
        "page_url": "https://news.sakura-media.example/articles/2026/11/27/1",
        "categories": {"functional": True, "analytics": True, "advertising": False},
    }
).encode()
# What bench/decisions.py sets: the limits are counted (their cost is in the figures) but the
# one client never reaches them.
_HIGH = "1000000000"
NEVER_REFUSED = (
    f"decisions.client={_HIGH}/minute, {_HIGH}/hour; decisions.site={_HIGH}/minute; "
    f"config.client={_HIGH}/minute; config.site={_HIGH}/minute"
)


class Headers:
    """What granian's RSGIHeaders offers the adapter: lower-case names, repeats kept."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = [(name.lower(), value) for name, value in pairs]

    def get(self, name: str, default=None):
        return next((v for n, v in self.pairs if n == name), default)

    def get_all(self, name: str) -> list[str]:
        return [v for n, v in self.pairs if n == name]

    def items(self):
        return list(self.pairs)


class Scope:
    """An RSGI HTTP scope as granian gives it for a request from wrk."""

    def __init__(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""):
        self.proto, self.http_version, self.scheme = "http", "1.1", "http"
        self.method, self.path, self.query_string = method, path, ""
        self.server, self.client = "127.0.0.1:8000", "127.0.0.1:40000"
        pairs = [("host", "127.0.0.1:8000"), *headers]
        if body:
            pairs.append(("content-length", str(len(body))))
        self.headers = Headers(pairs)
        self.body = body


class Protocol:
    """The request's body and where the answer goes."""

    def __init__(self, body: bytes):
        self.body = body
        self.status = 0

    async def __call__(self) -> bytes:
        return self.body

    def __aiter__(self):
        return self._chunks()

    async def _chunks(self):
        if self.body:
            yield self.body

    def response_bytes(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.answer = status, headers, body


REQUESTS = {
    "healthz": Scope("GET", "/healthz", []),
    "decision": Scope(
        "POST",
        "/api/v1/sites/news/decisions",
        [("content-type", "application/json"), ("origin", ORIGIN), ("user-agent", UA)],
        BODY,
    ),
    "config": Scope("GET", "/api/v1/sites/news/config", [("origin", ORIGIN)]),
}
EXPECTED = {"healthz": 200, "decision": 201, "config": 200}


def run(app, name: str, count: int) -> float:
    """Microseconds of CPU per request over `count` requests, each through the adapter's
    `__rsgi__` as granian calls it (so with its hand-over to the app thread)."""
    scope = REQUESTS[name]
    loop = asyncio.get_event_loop()
    started = time.process_time()
    for _ in range(count):
        protocol = Protocol(scope.body)
        loop.run_until_complete(app.__rsgi__(scope, protocol))
    elapsed = time.process_time() - started
    if protocol.status != EXPECTED[name]:
        raise SystemExit(f"{name}: answered {protocol.status}")
    return elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the decisions")
    parser.add_argument(
        "--only",
        choices=REQUESTS,
        help="warm up, then run only this request --requests times and print nothing: for "
        "counting instructions (bench/instructions.sh)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-path-"))
    os.environ["PRIVACY_CENTER_DB"] = str(work / "path.db")
    os.environ.setdefault("PRIVACY_CENTER_RATE_LIMIT", NEVER_REFUSED)
    subprocess.run(
        [sys.executable, "-m", "server", "demo", "--origin", ORIGIN],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    from server.rsgi import create

    app = create()
    try:
        for name in REQUESTS:  # warm: caches, connections, the first compression
            run(app, name, 200)
        if args.only:
            if args.requests:
                run(app, args.only, args.requests)
            return
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            run(app, "decision", args.requests)
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(
                os.environ.get("SORT", "tottime")
            ).print_stats(40)
            print(out.getvalue())
            return
        figures: dict[str, list[float]] = {name: [] for name in REQUESTS}
        for _ in range(args.rounds):  # interleaved, as bench/decisions.py does
            for name in REQUESTS:
                figures[name].append(run(app, name, args.requests))
        print(
            f"CPU per request in the app (µs, median of {args.rounds} rounds of "
            f"{args.requests}; min–max)"
        )
        for name, values in figures.items():
            print(
                f"  {name:9} {statistics.median(values):7.0f}   "
                f"({min(values):.0f}–{max(values):.0f})"
            )
        ratio = statistics.median(figures["healthz"]) / statistics.median(figures["decision"])
        print(f"  healthz / decision CPU: {ratio:.0%}")
    finally:
        app.pool.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

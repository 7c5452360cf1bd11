"""Soak: mixed load near capacity, 20 slow clients, one SIGKILL of the server group mid-run.

Starts the real server (`privacy-center serve`, its default model and workers) on a fresh SQLite
file with the demo registry and an admin token, then for `--seconds` (default 600):
- sends a steady, open-loop mix (a request is due at its time whether or not earlier ones have
  been answered, and its latency counts from that time): 50 % decisions (POST, a new consent id
  each), 25 % config, 15 % the widget `/w/news.js`, 10 % an admin read with a token
  (`GET /api/v1/admin/sites`), at `--rate` requests/s, by default `--load` (70 %) of the
  capacity measured by a short closed-loop calibration just before;
- keeps 20 clients sending their request headers one byte every 0.2 s (reconnecting when the
  server drops them), and probes `/healthz` twice a second;
- half-way, SIGKILLs the server's whole process group (master and workers) and starts it again
  on the same port and database.
Then it stops the server and looks up every acknowledged decision (a 201 answer, by consent id)
in the database: the number missing must be 0. Prints throughput, p50/p99 per kind, errors by
phase (before the kill, the restart window, after) and the missing count; exits 1 if any
acknowledged decision is missing. Loopback only; the run is bounded by `--seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from server.storage import connect
from server.storage import decisions as decision_store

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://127.0.0.1:9"
SITE = "news"
SLOW_CLIENTS = 20
MIX = (("decision", 50), ("config", 25), ("widget", 15), ("admin", 10))
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`privacy-center serve` in its own process group, restartable on the same port."""

    def __init__(self, work: Path, env: dict, port: int, workers: int | None):
        self.work, self.env, self.port, self.workers = work, env, port, workers
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> float:
        """Start and wait until /healthz answers; returns the seconds that took."""
        started = time.monotonic()
        self.starts += 1
        args = [sys.executable, "-m", "server", "serve", "--port", str(self.port)]
        if self.workers:
            args += ["--workers", str(self.workers)]
        with open(self.work / f"server-{self.starts}.log", "ab") as log:
            self.process = subprocess.Popen(
                args,
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = started + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                # The port may still be held for a moment after a kill: try again.
                time.sleep(0.2)
                return self.start() if self.starts < 20 else _fail(self)
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/healthz", timeout=1
                ) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.05)
        return _fail(self)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


def _fail(server: Server):
    log = (server.work / f"server-{server.starts}.log").read_text(errors="replace")
    server.stop()
    raise SystemExit(f"the server did not start:\n{log[-2000:]}")


def cli(env, *args) -> str:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def decision_body() -> str:
    analytics = random.random() < 0.5
    return json.dumps(
        {
            "revision": 1,
            "action": "custom",
            "language": "ja",
            "page_url": f"https://news.sakura-media.example/articles/{random.randrange(10**6)}",
            "categories": {"functional": True, "analytics": analytics, "advertising": False},
        }
    )


class Stats:
    def __init__(self):
        # (when it ended, kind, latency from when it was due, status or error)
        self.samples: list[tuple[float, str, float, int | str]] = []
        self.acknowledged: list[str] = []
        self.probes: list[tuple[float, float | None]] = []
        self.slow_connections = 0


async def request(session, base, kind, token, stats, t0, due):
    headers = {"User-Agent": UA}
    try:
        if kind == "decision":
            headers.update({"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN})
            async with session.post(
                f"{base}/api/v1/sites/{SITE}/decisions", data=decision_body(), headers=headers
            ) as response:
                body = await response.read()
                status: int | str = response.status
                if status == 201:
                    stats.acknowledged.append(json.loads(body)["consent_id"])
        else:
            path = {
                "config": f"/api/v1/sites/{SITE}/config",
                "widget": f"/w/{SITE}.js",
                "admin": "/api/v1/admin/sites",
            }[kind]
            if kind == "admin":
                headers["Authorization"] = f"Bearer {token}"
            async with session.get(base + path, headers=headers) as response:
                await response.read()
                status = response.status
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        status = type(error).__name__
    done = time.monotonic()
    stats.samples.append((done - t0, kind, done - due, status))


async def slow_client(port, stop, stats):
    """Sends a request's headers one byte every 0.2 s, forever; reconnects when dropped."""
    line = (
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n" + b"X-P: " + b"p" * 200
    )
    while not stop.is_set():
        writer = None
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            stats.slow_connections += 1
            for byte in line:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
        except OSError:
            await asyncio.sleep(0.2)
        finally:
            if writer is not None:
                writer.close()
                try:
                    await writer.wait_closed()
                except OSError:
                    pass


async def prober(session, base, stop, stats, t0):
    while not stop.is_set():
        started = time.monotonic()
        try:
            async with session.get(
                f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                await response.read()
                took = time.monotonic() - started if response.status == 200 else None
        except (TimeoutError, aiohttp.ClientError, OSError):
            took = None
        stats.probes.append((started - t0, took))
        await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - started)))


def pick_kind(rng):
    roll = rng.randrange(100)
    for kind, share in MIX:
        if roll < share:
            return kind
        roll -= share
    raise AssertionError


async def calibrate(base, token, seconds=5, concurrency=16) -> float:
    """Closed-loop capacity of the mix: requests/s answered with `concurrency` in flight."""
    stats, rng = Stats(), random.Random(1)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.monotonic()
        end = t0 + seconds

        async def loop():
            while time.monotonic() < end:
                await request(session, base, pick_kind(rng), token, stats, t0, time.monotonic())

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(stats.samples) / seconds


async def soak(server, base, token, rate, seconds) -> tuple[Stats, float, float, float]:
    stats, rng = Stats(), random.Random(2)
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=10)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.monotonic()
        background = [
            asyncio.create_task(slow_client(server.port, stop, stats)) for _ in range(SLOW_CLIENTS)
        ]
        background.append(asyncio.create_task(prober(session, base, stop, stats, t0)))
        kill_at, killed_at, restart, back = seconds / 2, None, None, []
        tasks: set[asyncio.Task] = set()
        interval, n, next_note = 1.0 / rate, 0, 10.0
        while True:
            due = t0 + n * interval
            if due - t0 >= seconds:
                break
            now = time.monotonic()
            if now - t0 >= next_note:  # progress on stderr, for long runs
                print(
                    f"{now - t0:.0f} s: {len(stats.samples)} answered, {len(tasks)} in flight",
                    file=sys.stderr,
                    flush=True,
                )
                next_note += 10
            if killed_at is None and now - t0 >= kill_at:
                server.kill()
                killed_at = time.monotonic() - t0
                # Restart in a thread: the load (and its errors) goes on meanwhile.
                restart = loop.run_in_executor(None, server.start)
                restart.add_done_callback(lambda _: back.append(time.monotonic() - t0))
                continue
            if due > now:
                await asyncio.sleep(due - now)
            task = asyncio.create_task(
                request(session, base, pick_kind(rng), token, stats, t0, due)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        print("load done; waiting for the requests in flight", file=sys.stderr, flush=True)
        if restart is not None:
            await restart
        await asyncio.gather(*tasks)
        stop.set()
        print("stopping the slow clients", file=sys.stderr, flush=True)
        await asyncio.gather(*background)
    return stats, seconds, killed_at, back[0]


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def report(stats, seconds, killed_at, back_at, rate, missing, checked):
    # A request is counted in the phase in which it ended: one in flight when the kill lands
    # fails in the restart window, as do those of the 2 s after the server answers again.
    window = (killed_at, back_at + 2)
    phases = (
        ("whole run", 0, float("inf")),
        ("before the kill", 0, window[0]),
        ("restart window", *window),
        ("after the restart", window[1], float("inf")),
    )
    print(
        f"{seconds:.0f} s at {rate:.0f} requests/s offered (mix: "
        + ", ".join(f"{k} {s}%" for k, s in MIX)
        + f"), {SLOW_CLIENTS} slow clients ({stats.slow_connections} connections over the run)"
    )
    print(
        f"SIGKILL of the server group at {killed_at:.1f} s; answering again at {back_at:.1f} s "
        f"({back_at - killed_at:.1f} s later)"
    )
    print(
        f"{'phase':20} {'kind':9} {'answers':>8} {'/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7}  statuses"
    )
    for name, start, end in phases:
        span = max(min(end, seconds) - start, 1e-9)
        for kind in [k for k, _ in MIX] + ["all"]:
            rows = [
                s for s in stats.samples if start <= s[0] < end and (kind == "all" or s[1] == kind)
            ]
            good = [s for s in rows if s[3] in (200, 201)]
            errors = len(rows) - len(good)
            statuses: dict = {}
            for s in rows:
                statuses[s[3]] = statuses.get(s[3], 0) + 1
            latencies = [s[2] * 1000 for s in good]
            print(
                f"{name:20} {kind:9} {len(good):8d} {len(good) / span:7.0f} "
                f"{percentile(latencies, 0.5):8.1f} {percentile(latencies, 0.99):8.1f} "
                f"{errors:7d}  {dict(sorted(statuses.items(), key=str))}"
            )
    steady = [p for p in stats.probes if not (window[0] <= p[0] < window[1])]
    answered = [p for p in steady if p[1] is not None]
    print(
        f"health probes outside the restart window: {len(answered)}/{len(steady)} answered "
        f"within 2 s, slowest {max((p[1] for p in answered), default=0) * 1000:.0f} ms"
    )
    print(
        f"acknowledged decisions (201): {checked}; missing from the database afterwards: {missing}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, help="requests/s offered (default: calibrated)")
    parser.add_argument(
        "--load", type=float, default=0.7, help="share of the calibrated capacity to offer"
    )
    parser.add_argument("--workers", type=int, help="serve --workers (default: serve's own)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-soak-"))
    db_path = work / "soak.db"
    env = dict(os.environ, PRIVACY_CENTER_DB=str(db_path))
    # The one load client stands for many visitors' networks: the limits are counted (their cost
    # is in the figures) but set out of its reach.
    high = "1000000000/minute"
    env.setdefault(
        "PRIVACY_CENTER_RATE_LIMIT",
        f"decisions.client={high}; decisions.site={high}; config.client={high}; "
        f"config.site={high}; consents.client={high}",
    )
    cli(env, "demo", "--origin", ORIGIN)
    token = cli(env, "create-token", "soak").strip()
    server = Server(work, env, free_port(), args.workers)
    base = f"http://127.0.0.1:{server.port}"
    # A soak stopped from outside (timeout, Ctrl-C) still stops its server: `finally` runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("soak stopped by SIGTERM"))
    server.start()
    try:
        rate = args.rate or args.load * asyncio.run(calibrate(base, token))
        stats, seconds, killed_at, back_at = asyncio.run(
            soak(server, base, token, rate, args.seconds)
        )
    finally:
        server.stop()
    db = connect(db_path)
    try:
        # One pass over the site's log (the export) rather than a lookup per id: the soak's
        # check must not depend on how a single lookup is planned.
        stored = {row["consent_id"] for row in decision_store.export(db, SITE)}
    finally:
        db.conn.close()
    missing = sum(1 for cid in stats.acknowledged if cid not in stored)
    report(stats, seconds, killed_at, back_at, rate, missing, len(stats.acknowledged))
    shutil.rmtree(work, ignore_errors=True)
    if missing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

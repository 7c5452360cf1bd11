"""What the rate limits cost: per check in-process, and per decision through the real server.

1. In-process: the time of one decision's check (its three sliding-window counters: the
   client's minute and hour, the site's minute) on the SQLite counter file and on Redis,
   from one process, then from several processes at once on the same file.
2. End to end: `privacy-center serve` (4 sync workers) on a fresh database with the demo
   registry, driven by wrk posting first decisions, in interleaved rounds with the limits
   `off`, counted in the SQLite file, and counted in Redis. The limits are raised so far that
   the one load client is never refused: what is measured is the counting.

`python bench/ratelimit.py [--seconds 8] [--rounds 3] [--checks 5000]`; needs wrk and a Redis
at PRIVACY_CENTER_REDIS (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from decisions import (
    LUA_POST,
    LUA_REPORT,
    NEVER_REFUSED,
    ORIGIN,
    free_port,
    run_wrk,
    wait_ready,
)

from server.ratelimit import Limiter, _namespace, parse_settings
from server.storage.ratelimit import uri_for

ROOT = Path(__file__).resolve().parent.parent


def _checks(uri: str, namespace: str, count: int) -> list[float]:
    limiter = Limiter(parse_settings(NEVER_REFUSED), uri, namespace)
    times = []
    try:
        for n in range(count):
            client = f"client-{n % 500}"
            start = time.perf_counter()
            refusal = limiter.check("decisions", client, "news")
            times.append(time.perf_counter() - start)
            assert refusal is None
    finally:
        limiter.close()
    return times


def _checks_in_process(uri: str, namespace: str, count: int, queue) -> None:
    queue.put(_checks(uri, namespace, count))


def in_process(uri: str, namespace: str, count: int, processes: int) -> tuple[float, float]:
    """(median µs, p99 µs) of one decision's check, with `processes` checking at once."""
    if processes == 1:
        times = _checks(uri, namespace, count)
    else:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        workers = [
            context.Process(target=_checks_in_process, args=(uri, namespace, count, queue))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        times = [t for _ in workers for t in queue.get(timeout=600)]
        for worker in workers:
            worker.join(60)
    times.sort()
    return statistics.median(times) * 1e6, times[int(len(times) * 0.99)] * 1e6


def end_to_end(args, redis_url: str) -> dict[str, list[dict]]:
    work = Path(tempfile.mkdtemp(prefix="pc-bench-ratelimit-"))
    db_path = work / "bench.db"
    secret = secrets.token_hex(16)
    base_env = dict(os.environ, PRIVACY_CENTER_DB=str(db_path), PRIVACY_CENTER_SECRET_KEY=secret)
    base_env.pop("PRIVACY_CENTER_REDIS", None)
    cli = [sys.executable, "-m", "server"]
    subprocess.run(
        cli + ["demo", "--origin", ORIGIN], env=base_env, check=True, cwd=ROOT, capture_output=True
    )
    body = json.dumps(
        {
            "revision": 1,
            "action": "custom",
            "language": "ja",
            "page_url": "https://news.sakura-media.example/articles/2026/11/27/1",
            "categories": {"functional": True, "analytics": True, "advertising": False},
        }
    )
    script = work / "post.lua"
    script.write_text(LUA_POST % (body, ORIGIN) + LUA_REPORT)
    setups = {
        "off": {"PRIVACY_CENTER_RATE_LIMIT": "off"},
        "SQLite counters": {"PRIVACY_CENTER_RATE_LIMIT": NEVER_REFUSED},
        "Redis counters": {
            "PRIVACY_CENTER_RATE_LIMIT": NEVER_REFUSED,
            "PRIVACY_CENTER_REDIS": redis_url,
        },
    }
    runs: dict[str, list[dict]] = {name: [] for name in setups}
    try:
        for _ in range(args.rounds):  # interleaved: a slow spell hits every set-up alike
            for name, extra in setups.items():
                port = free_port()
                server = subprocess.Popen(
                    cli + ["serve", "--port", str(port), "--workers", str(args.workers)],
                    env=dict(base_env, **extra),
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                try:
                    wait_ready(port)
                    url = f"http://127.0.0.1:{port}/api/v1/sites/news/decisions"
                    runs[name].append(
                        run_wrk(url, str(script), args.seconds, args.connections, args.threads)
                    )
                finally:
                    os.killpg(server.pid, signal.SIGTERM)
                    server.wait(timeout=20)
    finally:
        _drop_redis_keys(redis_url, secret)
        shutil.rmtree(work, ignore_errors=True)
    return runs


def _drop_redis_keys(url: str, secret: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"privacy-center:{_namespace(secret)}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--checks", type=int, default=5000, help="in-process checks per run")
    args = parser.parse_args()
    redis_url = os.environ.get("PRIVACY_CENTER_REDIS") or "redis://127.0.0.1:6379/0"
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does it)")

    print("one decision's check (3 sliding-window counters), in-process:")
    print(f"{'storage':18} {'processes':>9} {'median µs':>10} {'p99 µs':>9}")
    work = Path(tempfile.mkdtemp(prefix="pc-bench-counters-"))
    secret = secrets.token_hex(16)
    try:
        for processes in (1, 4):
            uri = uri_for(str(work / f"counters-{processes}.db"))
            median, p99 = in_process(uri, "bench", args.checks, processes)
            print(f"{'SQLite file':18} {processes:9d} {median:10.1f} {p99:9.1f}")
            median, p99 = in_process(redis_url, _namespace(secret), args.checks, processes)
            print(f"{'Redis (loopback)':18} {processes:9d} {median:10.1f} {p99:9.1f}")
    finally:
        _drop_redis_keys(redis_url, secret)
        shutil.rmtree(work, ignore_errors=True)

    runs = end_to_end(args, redis_url)
    print(
        f"\nPOST decisions through serve ({args.workers} sync workers), wrk -t{args.threads} "
        f"-c{args.connections} -d{args.seconds}s, {args.rounds} interleaved rounds (medians); "
        f"{os.cpu_count()} cores shared by both"
    )
    print(f"{'limits':18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'µs/req':>8}")
    medians = {name: sorted(rs, key=lambda r: r["rps"])[len(rs) // 2] for name, rs in runs.items()}
    base = medians["off"]["rps"]
    for name, r in medians.items():
        extra = (1e6 / r["rps"] - 1e6 / base) if name != "off" else 0.0
        print(
            f"{name:18} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['errors']:7d} {extra:+8.0f}"
        )
    print("µs/req: extra wall time per decision at full load, from the throughput difference")


if __name__ == "__main__":
    main()

"""Decisions per second and latency against `privacy-center serve`, beside a trivial endpoint.

Starts the real server (`serve --server MODEL`, N workers) on a fresh SQLite file with the demo
registry, then drives it with wrk (a separate process, Lua script for the POST) for each
endpoint in turn. `--server granian,sync,gevent` starts one server per model (each on its own
database) and interleaves them, so the models are compared side by side in the same run:
  /healthz                          the ceiling: the same stack, one trivial query
  POST /api/v1/sites/news/decisions a first decision per request (new consent id)
  GET  /api/v1/sites/news/config    the published configuration
Prints requests/s, p50/p99 latency, the server's CPU time per request (every process of the
server, user + system, from /proc: less sensitive to a busy machine than throughput) and bytes
per stored decision. `MODEL@DIR` serves from another checkout of the project (e.g. the previous
commit's, from `git archive`), so that a change is measured against its parent in one run. Needs
`wrk` (Debian package); `make bench` installs it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from server.storage import connect

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "http://127.0.0.1:9"
# The one load client sends far more than a visitor's network may: the rate limits are counted
# as by default (their cost is in the figures) but out of reach. bench/ratelimit.py measures them.
_HIGH = "1000000000"
NEVER_REFUSED = (
    f"decisions.client={_HIGH}/minute, {_HIGH}/hour; decisions.site={_HIGH}/minute; "
    f"config.client={_HIGH}/minute; config.site={_HIGH}/minute"
)

LUA_POST = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "%s"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
"""

LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %f %f %f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port):
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def cpu_seconds(group: int) -> float:
    """User + system CPU time so far of every process in process group `group` (the server's)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / tick


def run_wrk(url, script, seconds, connections, threads, group=None):
    cpu_before = cpu_seconds(group) if group else 0.0
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "-s", script, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(group) - cpu_before if group else 0.0
    match = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    requests, errors, duration_us, p50, p99, worst = match.groups()
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": int(requests) / (int(duration_us) / 1e6),
        "requests": int(requests),
        "errors": int(errors) + (int(non2xx.group(1)) if non2xx else 0),
        "p50_ms": float(p50) / 1000,
        "p99_ms": float(p99) / 1000,
        "max_ms": float(worst) / 1000,
        "cpu_us": cpu / max(int(requests), 1) * 1e6,
    }


TAKEN: set[int] = set()


def start_server(work, spec, default_workers, access_log):
    """One `serve` for `spec`: a model of `serve --server`, `:N` workers, `+log` access log,
    `@DIR` the checkout to serve from (default: this one), with `DIR/.venv` if it has one."""
    spec, _, checkout = spec.partition("@")
    root = Path(checkout).resolve() if checkout else ROOT
    spec_model, _, option = spec.partition("+")
    access_log = access_log or option == "log"
    model, _, workers = spec_model.partition(":")
    workers = workers or default_workers
    name = spec.replace(":", "-").replace("+", "-") + (f"-{root.name}" if checkout else "")
    db_path = work / f"bench-{name}.db"
    env = dict(os.environ, PRIVACY_CENTER_DB=str(db_path))
    if checkout:
        # Ahead of this checkout's editable install, in `serve` and in granian's workers.
        env["PYTHONPATH"] = str(root)
    env.pop("PRIVACY_CENTER_WORKERS", None)
    env.setdefault("PRIVACY_CENTER_RATE_LIMIT", NEVER_REFUSED)
    # That checkout's own environment where it has one (its dependencies as they were), else
    # this interpreter's.
    python = root / ".venv" / "bin" / "python"
    cli = [str(python) if checkout and python.exists() else sys.executable, "-m", "server"]
    subprocess.run(
        cli + ["demo", "--origin", ORIGIN], env=env, check=True, cwd=root, capture_output=True
    )
    port = free_port()
    while port in TAKEN:  # two servers on one port would measure each other
        port = free_port()
    TAKEN.add(port)
    log = open(work / f"server-{name}.log", "wb")  # noqa: SIM115 - closed with the server
    server = subprocess.Popen(
        cli
        + ["serve", "--port", str(port), "--workers", str(workers), "--server", model]
        + (["--access-log"] if access_log else ["--no-access-log"]),
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return server, port, db_path, log


def stop_server(server, log):
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    log.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--server",
        default="granian+log",
        help="serving model(s) of `serve --server` (default: serve's own defaults), comma-separated to compare them "
        "side by side (e.g. granian,sync,gevent,waitress); MODEL:N runs that one with N "
        "workers (granian:1,granian:2,granian:4), MODEL+log with its access log on "
        "(granian,granian+log), MODEL@DIR from the checkout in DIR (granian@/tmp/before,granian)",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="serve every model with its access log on"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="run the endpoints in turn this many times; report each one's median",
    )
    args = parser.parse_args()
    models = [m.strip() for m in args.server.split(",") if m.strip()]
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does it)")
    work = Path(tempfile.mkdtemp(prefix="pc-bench-"))
    body = json.dumps(
        {
            "revision": 1,
            "action": "custom",
            "language": "ja",
            "page_url": "https://news.sakura-media.example/articles/2026/11/27/1",
            "categories": {"functional": True, "analytics": True, "advertising": False},
        }
    )
    post = work / "post.lua"
    post.write_text(LUA_POST % (body, ORIGIN) + LUA_REPORT)
    get = work / "get.lua"
    get.write_text(LUA_REPORT)
    servers = {}
    runs = {model: {} for model in models}
    try:
        for model in models:
            servers[model] = start_server(work, model, args.workers, args.access_log)
        for _, port, _, _ in servers.values():
            wait_ready(port)
        # Interleaved rounds: a slow spell of the machine hits every model and endpoint alike.
        for _ in range(args.rounds):
            for model, (server, port, _, _) in servers.items():
                base = f"http://127.0.0.1:{port}"
                for name, url, script in (
                    ("trivial (GET /healthz)", f"{base}/healthz", get),
                    ("decisions (POST)", f"{base}/api/v1/sites/news/decisions", post),
                    ("config (GET)", f"{base}/api/v1/sites/news/config", get),
                ):
                    runs[model].setdefault(name, []).append(
                        run_wrk(
                            url,
                            str(script),
                            args.seconds,
                            args.connections,
                            args.threads,
                            server.pid,
                        )
                    )
    finally:
        for server, _, _, log in servers.values():
            stop_server(server, log)
    print(
        f"load: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, {args.rounds} "
        f"interleaved rounds (medians); {args.workers} workers per server unless named; "
        f"access log {'on' if args.access_log else 'off unless named'}; {os.cpu_count()} cores shared by "
        "the servers and wrk"
    )
    for model in models:
        results = {
            name: sorted(rs, key=lambda r: r["rps"])[len(rs) // 2]
            for name, rs in runs[model].items()
        }
        ratios = sorted(
            d["rps"] / t["rps"]
            for d, t in zip(
                runs[model]["decisions (POST)"], runs[model]["trivial (GET /healthz)"], strict=True
            )
        )
        p99s = sorted(r["p99_ms"] for r in runs[model]["decisions (POST)"])
        print(f"\nserver: {model}")
        print(
            f"{'endpoint':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'errors':>7} {'CPU µs':>7}"
        )
        for name, r in results.items():
            cpu = statistics.median(x["cpu_us"] for x in runs[model][name])
            print(
                f"{name:28} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['max_ms']:8.2f} {r['errors']:7d} {cpu:7.0f}"
            )
        print("decisions / trivial, per round: " + ", ".join(f"{r:.0%}" for r in ratios))
        print("decision p99 per round (ms): " + ", ".join(f"{p:.1f}" for p in p99s))
        report_storage(servers[model][2])
    shutil.rmtree(work, ignore_errors=True)


def report_storage(db_path):
    db = connect(db_path)
    count = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = (
        db.execute(
            "SELECT SUM(pgsize) FROM dbstat WHERE name IN "
            "('decisions', 'decisions_consent', 'decisions_site_time')"
        ).fetchone()[0]
        if _has_dbstat(db)
        else None
    )
    total = db_path.stat().st_size
    db.close()
    print(
        f"decisions stored: {count}; database file {total / 1e6:.1f} MB after VACUUM "
        f"({page_size}-byte pages)"
    )
    if pages is not None and count:
        print(f"bytes per stored decision (table + its two indexes): {pages / count:.0f}")


def _has_dbstat(db):
    try:
        db.execute("SELECT 1 FROM dbstat LIMIT 1").fetchone()
        return True
    except Exception:  # noqa: BLE001 - dbstat is a compile-time option of SQLite
        return False


if __name__ == "__main__":
    main()

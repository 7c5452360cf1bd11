"""Bytes on the wire, per encoding, of what a visitor downloads: the config (the vendor details
fetched on the first "Customize") at 5, 30 and 100 vendors, the disclosure page and JSON, the
demo page and the widget; and what a decision's answer and an admin page would gain.

A real server (`python -m server serve`, gunicorn, 1 worker) on a temporary database, spoken to
over a raw socket: "wire" is the whole HTTP/1.1 response (status line, headers, body) as read
from the socket, "body" the body alone. `Accept-Encoding` is absent (identity), `gzip`, then
`br`. Vendor counts: the demo site `news` (5), and two kinds of 30/100-vendor sites:
  - copies: one vendor repeated under new names (bench/_widget_common.py's 30-vendor site),
    the set-up of issue 13's 22 KB/69 KB figures; it compresses unrealistically well;
  - distinct: every vendor its own name, recipient, hosts, cookies and policy URL, its texts
    taken in turn from the demo's seven real vendors.

    .venv/bin/python bench/wire_sizes.py [--server-root ../other-checkout]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import brotli
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server import compression  # noqa: E402
from server.cli import DEMO_FILE  # noqa: E402
from server.storage import connect, migrate  # noqa: E402
from server.storage import registry as registry_store  # noqa: E402
from server.storage import revisions as revision_store  # noqa: E402

ORIGIN = "https://news.sakura-media.example"
WORDS = (
    "Kumo Hikari Sora Umi Mori Kaze Hoshi Tsuki Yama Kawa Nami Hana Yuki Ame Taiyo Midori "
    "Pulse Metric Beacon Signal Vector Orbit Prism Quanta Nimbus Atlas Helix Vertex Lumen"
).split()
FORMS = ("Inc.", "株式会社", "GmbH", "Ltd.", "Corporation", "合同会社", "S.A.S.", "Pte. Ltd.")


def copied_vendors(doc: dict, count: int) -> list[dict]:
    template = doc["vendors"][0]
    out = []
    for i in range(count):
        vendor = copy.deepcopy(template)
        vendor["key"] = f"copy-{i:03d}"
        vendor["name"] = f"Vendor {i:02d} Analytics Platform"
        vendor["recipient"] = f"Vendor {i:02d} Inc."
        out.append(vendor)
    return out


def distinct_vendors(doc: dict, count: int) -> list[dict]:
    rng = random.Random(13)
    real = doc["vendors"]
    out = []
    for i in range(count):
        vendor = copy.deepcopy(real[i % len(real)])
        brand = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
        slug = brand.lower().replace(" ", "-") + f"-{i}"
        vendor["key"] = f"distinct-{i:03d}"
        vendor["name"] = f"{brand} {rng.choice(('Analytics', 'Ads', 'Tag', 'Chat', 'Video'))}"
        vendor["recipient"] = f"{brand} {rng.choice(FORMS)}"
        vendor["country"] = rng.choice(("JP", "US", "DE", "FR", "SG", "IE"))
        vendor["privacy_policy_url"] = f"https://www.{slug}.example/legal/privacy/"
        if rng.random() < 0.5:
            vendor["opt_out_url"] = f"https://{slug}.example/opt-out"
        else:
            vendor.pop("opt_out_url", None)
        vendor["hosts"] = [f"cdn.{slug}.example", f"t{rng.randrange(1, 99)}.{slug}.example"]
        vendor["cookies"] = [
            {"name": f"_{slug[:5]}_{rng.choice('abcdefgh')}{j}", "duration_days": d}
            for j, d in enumerate(rng.sample([1, 30, 90, 180, 365, 390, 400], rng.randint(1, 3)))
        ]
        out.append(vendor)
    return out


def make_database(path: str) -> list[tuple[str, int, str]]:
    """The demo registry plus the four large sites; every site published. (key, vendors, kind)."""
    db = connect(path)
    migrate(db)
    doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    template = doc["sites"][0]
    sites = [("news", len(template["vendors"]), "demo")]
    for kind, make in (("copies", copied_vendors), ("distinct", distinct_vendors)):
        made = make(doc, 100)
        doc["vendors"].extend(made)
        for count in (30, 100):
            vendors = made[:count]  # the 30-vendor site lists the first 30 of the 100
            site = copy.deepcopy(template)
            site["key"] = f"{kind}-{count}"
            site["vendors"] = [
                {"vendor": v["key"], "category": ("functional", "analytics", "advertising")[i % 3]}
                for i, v in enumerate(vendors)
            ]
            doc["sites"].append(site)
            sites.append((site["key"], count, kind))
    registry_store.apply(db, doc, "bench")
    for site in doc["sites"]:
        revision_store.publish(db, site["key"], "bench")
    db.conn.close()
    return sites


def start(path: str, port: int, log: Path, root: Path = ROOT) -> subprocess.Popen:
    """The server of the checkout at `root` (its `server` package first on the path)."""
    env = dict(os.environ, PRIVACY_CENTER_DB=path, PRIVACY_CENTER_SECRET_KEY="bench")
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)]
            + ["--workers", "1"],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if exchange(port, "GET", "/healthz")[0] == 200:
                return process
        except OSError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit(log.read_text())


def exchange(
    port: int, method: str, path: str, headers: dict | None = None, body: bytes = b""
) -> tuple[int, dict, int, bytes, float]:
    """(status, headers, bytes on the wire, body, seconds) of one request on its own connection."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    seconds = time.perf_counter() - started
    raw = b"".join(chunks)
    head, _, content = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), found, len(raw), content, seconds


def sizes(port: int, path: str, headers: dict | None = None) -> list[tuple[int, int, float]]:
    """(wire, body, seconds) for identity, gzip and br; checks each decodes to the same bytes."""
    out, plain = [], None
    for accept in (None, "gzip", "br"):
        sent = dict(headers or {})
        if accept:
            sent["Accept-Encoding"] = accept
        status, got, wire, body, seconds = exchange(port, "GET", path, sent)
        assert status == 200, (path, status)
        coding = got.get("content-encoding")
        decoded = (
            gzip.decompress(body)
            if coding == "gzip"
            else brotli.decompress(body)
            if coding == "br"
            else body
        )
        plain = plain if plain is not None else decoded
        assert decoded == plain, (path, accept)
        out.append((wire, len(body), seconds))
    return out


def cost(body: bytes, runs: int = 5) -> str:
    def median_ms(work) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return sorted(times)[runs // 2] * 1000

    gz = median_ms(lambda: gzip.compress(body, compression.DYNAMIC_GZIP_LEVEL, mtime=0))
    br = median_ms(lambda: brotli.compress(body, quality=compression.DYNAMIC_BROTLI_QUALITY))
    digest = median_ms(lambda: hashlib.sha256(body).hexdigest())
    return (
        f"gzip {compression.DYNAMIC_GZIP_LEVEL} {gz:.2f} ms, "
        f"brotli {compression.DYNAMIC_BROTLI_QUALITY} {br:.2f} ms, sha256 {digest:.2f} ms"
    )


def throughput(port: int, seconds: int, tmp: Path) -> None:
    """Requests/s and p99 (wrk -t1 -c4, bench/decisions.py's reporting) for the config."""
    from decisions import LUA_REPORT, run_wrk

    for label, path, accept in (
        ("healthz", "/healthz", None),
        ("config news, identity", "/api/v1/sites/news/config", None),
        ("config news, br", "/api/v1/sites/news/config", "gzip, deflate, br, zstd"),
    ):
        script = tmp / "wrk.lua"
        lines = [f'wrk.headers["Origin"] = "{ORIGIN}"']
        if accept:
            lines.append(f'wrk.headers["Accept-Encoding"] = "{accept}"')
        script.write_text("\n".join(lines) + "\n" + LUA_REPORT)
        got = run_wrk(f"http://127.0.0.1:{port}{path}", str(script), seconds, 4, 1)
        print(
            f"wrk {label:24} {got['rps']:7,.0f} req/s  p50 {got['p50_ms']:5.1f} ms  "
            f"p99 {got['p99_ms']:5.1f} ms  errors {got['errors']}"
        )


def row(label: str, measured: list[tuple[int, int, float]]) -> str:
    (iw, ib, _), (gw, gb, _), (bw, bb, _) = measured
    return f"{label:52} {ib:>8,} {iw:>8,} {gb:>7,} {gw:>7,} {bb:>7,} {bw:>7,}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server-root",
        type=Path,
        default=ROOT,
        help="serve from another checkout (e.g. the previous commit's worktree) for a before/after",
    )
    parser.add_argument(
        "--throughput",
        type=int,
        default=0,
        metavar="SECONDS",
        help="also drive /healthz and the demo config (identity, br) with wrk for SECONDS each",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pc-wire-"))
    path = str(tmp / "pc.db")
    sites = make_database(path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = start(path, port, tmp / "server.log", args.server_root.resolve())
    print(f"server: {args.server_root.resolve()}")
    try:
        origin = {"Origin": ORIGIN}
        print(f"{'':52} {'identity':>17} {'gzip':>15} {'brotli':>15}")
        print(
            f"{'what':52} {'body':>8} {'wire':>8} {'body':>7} {'wire':>7} {'body':>7} {'wire':>7}"
        )
        firsts = []
        for key, count, kind in sites:
            url = f"/api/v1/sites/{key}/config"
            # The first request of a revision compresses it (brotli 11); its time is printed.
            first = exchange(port, "GET", url, {**origin, "Accept-Encoding": "br"})[4]
            measured = sizes(port, url, origin)
            firsts.append((key, first, measured[2][2]))
            print(row(f"config, {count} vendors ({kind})", measured))
        for key, _, kind in sites:
            if kind == "copies":
                continue
            for path_, label in (
                (f"/api/v1/sites/{key}/disclosure", f"disclosure JSON, {key}"),
                (f"/sites/{key}/disclosure?lang=ja", f"disclosure page (ja), {key}"),
            ):
                print(row(label, sizes(port, path_)))
        print(row("demo page /demo/news (ja)", sizes(port, "/demo/news?lang=ja")))
        print(row("privacy center front page (ja)", sizes(port, "/?lang=ja")))
        print(row("widget /w/news.js", sizes(port, "/w/news.js")))
        print(row("OpenAPI JSON", sizes(port, "/api/v1/openapi.json")))
        print()
        for key, first, later in firsts:
            print(
                f"config {key}: first request (compresses the revision) {first * 1000:.0f} ms, "
                f"then {later * 1000:.1f} ms"
            )
        if args.throughput:
            throughput(port, args.throughput, tmp)
        # What the after-request hook pays for a page built per request, on a memo miss (the
        # body's hash is taken on every request; the compressed bytes are then remembered).
        body = exchange(port, "GET", "/sites/distinct-100/disclosure?lang=ja")[3]
        print(f"per-request compression of the {len(body):,}-byte disclosure page: " + cost(body))
        # Not compressed, and why: the decision answer is small; admin pages risk BREACH.
        answer = json.dumps(
            {
                "revision": 1,
                "action": "accept_all",
                "categories": {"functional": True, "analytics": True, "advertising": True},
            }
        ).encode()
        status, _, wire, body, _ = exchange(
            port,
            "POST",
            "/api/v1/sites/news/decisions",
            {**origin, "Content-Type": "application/json", "Accept-Encoding": "gzip, br"},
            answer,
        )
        assert status == 201, status
        print(
            f"decision answer (POST, left plain): body {len(body):,} bytes, wire {wire:,}; "
            f"gzip would give {len(gzip.compress(body, 6)):,}, brotli {len(brotli.compress(body)):,}"
        )
        status, _, wire, body, _ = exchange(port, "GET", "/admin/login")
        print(
            f"admin sign-in page (left plain, BREACH): body {len(body):,} bytes; "
            f"gzip would give {len(gzip.compress(body, 6)):,}"
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


if __name__ == "__main__":
    main()

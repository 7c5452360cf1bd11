"""Benchmark: the figures page over a large consent log, its size, and what rollups cost per decision.

Generates N decisions (default 10 million) straight into a SQLite file over 90 days and the
demo registry's two sites, the way the running server would have stored them (same tables,
same compact choices, same rollups), then prints:
  - the database size,
  - the figures page's response time for a 30-day range (through the Flask app),
  - the time of storage.decisions.record() with and without the rollup upkeep, at
    `PRAGMA synchronous` NORMAL (the server's default) or FULL (`--sync FULL`); the line
    prints the setting SQLite reports for the connection that ran it.

    .venv/bin/python bench/figures.py [--decisions 10000000] [--db build/bench-figures.db]
                                      [--sync NORMAL|FULL]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import secrets
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

from server import create_app
from server.storage import accounts, connect, migrate
from server.storage import decisions as decision_log
from server.storage import figures as figures_store
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage.decisions import _bits
from server.storage.util import iso_to_ms

ROOT = Path(__file__).resolve().parent.parent

DAYS = 90
USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14) Chrome/124.0 Mobile Safari/537.36",
]


def patterns(content):
    """A realistic mix of choices for a revision: (weight, action, categories, vendors)."""
    optional = [c["key"] for c in content["categories"] if not c["required"]]
    vendors = [(v["key"], v["category"]) for v in content["vendors"]]

    def choice(accepted, vendor_off=()):
        # In the revision's order: the log stores choices as bits in that order.
        cats = {c["key"]: c["required"] or c["key"] in accepted for c in content["categories"]}
        vens = {k: cats[c] and k not in vendor_off for k, c in vendors}
        return cats, vens

    out = [(45, "accept_all", *choice(set(optional))), (30, "reject_all", *choice(set()))]
    for i in range(1, 2 ** len(optional) - 1):
        accepted = {k for j, k in enumerate(optional) if i >> j & 1}
        out.append((20 / (2 ** len(optional) - 2), "custom", *choice(accepted)))
    out.append((3, "custom", *choice(set(optional), vendor_off={vendors[-1][0]})))
    out.append((2, "withdraw", *choice(set())))
    return [(w, a, c, v, _bits(c), _bits(v)) for w, a, c, v in out]


def setup(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = connect(path)
    migrate(db)
    doc = yaml.safe_load((ROOT / "server" / "demo" / "registry.yaml").read_text())
    registry_store.apply(db, doc, "bench")
    for key in registry_store.site_keys(db):
        revision_store.publish(db, key, "bench")
    # A second revision of shop (a vendor moved), so that the figures split by revision.
    doc = registry_store.load(db)
    shop = next(s for s in doc["sites"] if s["key"] == "shop")
    shop["vendors"][-1]["category"] = "analytics"
    registry_store.save(db, doc, "bench")
    revision_store.publish(db, "shop", "bench")
    accounts.create_user(db, "bench@example.com", "bench password 1", "viewer")
    return db


def generate(db, total, first_day):
    """Bulk insert: indexes dropped and rebuilt after, rollups counted in memory then written."""
    sites = {"shop": 0.7, "news": 0.3}
    mixes = {}
    for key in sites:
        for number in (1, 2):
            revision = revision_store.get(db, key, number)
            if revision:
                mixes[(key, number)] = patterns(revision["content"])
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA journal_mode = MEMORY")
    db.execute("PRAGMA cache_size = -500000")
    index_sql = [
        row[0]
        for row in db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decisions' "
            "AND sql IS NOT NULL"
        )
    ]
    for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' "
        "AND tbl_name = 'decisions' AND sql IS NOT NULL"
    ).fetchall():
        db.execute(f"DROP INDEX {name}")
    ua_ids = [
        db.execute("INSERT INTO user_agents (value) VALUES (?)", [ua]).lastrowid
        for ua in USER_AGENTS
    ]
    ua_uses = collections.Counter()
    daily, optins = collections.Counter(), collections.Counter()
    rng = random.Random(7)
    per_day = total // DAYS
    inserted = 0
    sql = (
        "INSERT INTO decisions (consent_id, site_key, revision, action, categories, vendors, "
        "language, page_url, gpc, recorded_at, user_agent_id, client_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    started = time.perf_counter()
    db.execute("BEGIN")
    for d in range(DAYS):
        day = (first_day + timedelta(days=d)).isoformat()
        day_ms = iso_to_ms(day + "T00:00:00Z")
        count = per_day if d < DAYS - 1 else total - inserted
        rows = []
        for site_key, share in sites.items():
            n = int(count * share) if site_key == "shop" else count - int(count * sites["shop"])
            number = 2 if site_key == "shop" and d >= 60 else 1
            mix = mixes[(site_key, number)]
            picks = rng.choices(range(len(mix)), weights=[m[0] for m in mix], k=n)
            seconds = sorted(rng.randrange(86_400_000) for _ in range(n))
            for pick in set(picks):
                _, action, cats, vens, _, _ = mix[pick]
                times = picks.count(pick)
                daily[(site_key, day, number, action)] += times
                for key, on in cats.items():
                    if on:
                        optins[(site_key, day, number, "category", key)] += times
                for key, on in vens.items():
                    if on:
                        optins[(site_key, day, number, "vendor", key)] += times
            for pick, ms in zip(picks, seconds, strict=True):
                _, action, _, _, cats_bits, vens_bits = mix[pick]
                rows.append(
                    (
                        secrets.token_urlsafe(16),
                        site_key,
                        number,
                        action,
                        cats_bits,
                        vens_bits,
                        "ja",
                        f"https://{site_key}.sakura-media.example/p/{ms % 997}",
                        0,
                        day_ms + ms,
                        ua_ids[ms % len(ua_ids)],
                        f"{ms % 65536:016x}",
                    )
                )
                ua_uses[ua_ids[ms % len(ua_ids)]] += 1
        db.conn.executemany(sql, rows)
        inserted += len(rows)
        if d % 10 == 9:
            print(f"  {inserted:,} decisions ({time.perf_counter() - started:.0f} s)", flush=True)
    db.conn.executemany(
        "UPDATE user_agents SET uses = ? WHERE id = ?", [(n, ua_id) for ua_id, n in ua_uses.items()]
    )
    db.conn.executemany(
        "INSERT INTO figures_daily VALUES (?, ?, ?, ?, ?)", [(*k, v) for k, v in daily.items()]
    )
    db.conn.executemany(
        "INSERT INTO figures_optins VALUES (?, ?, ?, ?, ?, ?)", [(*k, v) for k, v in optins.items()]
    )
    db.execute("COMMIT")
    print(f"  inserted in {time.perf_counter() - started:.0f} s; rebuilding indexes", flush=True)
    t = time.perf_counter()
    for statement in index_sql:
        db.execute(statement)
    print(f"  indexes in {time.perf_counter() - t:.0f} s", flush=True)
    db.execute("PRAGMA journal_mode = WAL")  # persistent; synchronous is per connection
    return inserted


def page_times(path, first, last, runs=7):
    app = create_app({"DATABASE": path, "SECRET_KEY": "bench"})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text)[1]
    client.post(
        "/admin/login",
        data={"email": "bench@example.com", "password": "bench password 1", "csrf_token": token},
    )
    url = f"/admin/sites/shop/figures?from={first}&to={last}"
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t)
        assert response.status_code == 200, response.status_code
    shown = re.search(r"([\d,]+) decisions from", response.text)[1]
    return times, shown


SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def record_costs(path, rounds=200, sync="NORMAL"):
    """Mean time of record() with and without the rollup upkeep, interleaved, on the big file,
    and the `synchronous` setting they ran at, as SQLite reports it."""
    db = connect(path)  # as the server opens it, then `synchronous` set from --sync
    db.execute(f"PRAGMA synchronous = {sync}")
    ran_at = SYNC_NAMES[db.execute("PRAGMA synchronous").fetchone()[0]]
    revision = revision_store.get(db, "shop")
    choice = {
        "revision": revision["number"],
        "action": "custom",
        "categories": {
            "necessary": True,
            "functional": True,
            "analytics": True,
            "advertising": False,
        },
        "vendors": {
            v["key"]: v["category"] in ("functional", "analytics")
            for v in revision["content"]["vendors"]
        },
        "language": "ja",
        "page_url": "https://shop.sakura-media.example/",
        "gpc": False,
    }
    real_add = figures_store.add
    with_rollups, without, uncounted = [], [], []
    for i in range(rounds * 2):
        rollups = i % 2 == 0
        figures_store.add = real_add if rollups else (lambda *a, **k: None)
        consent_id = secrets.token_urlsafe(16)
        t = time.perf_counter()
        decision_log.record(db, "shop", consent_id, choice, USER_AGENTS[0], None)
        (with_rollups if rollups else without).append(time.perf_counter() - t)
        if not rollups:
            uncounted.append(consent_id)
    figures_store.add = real_add
    # The decisions recorded without rollups would make the figures disagree with the log.
    db.conn.executemany("DELETE FROM decisions WHERE consent_id = ?", [(c,) for c in uncounted])
    db.conn.close()
    return with_rollups, without, ran_at


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10_000_000)
    parser.add_argument("--db", default=str(ROOT / "build" / "bench-figures.db"))
    parser.add_argument("--reuse", action="store_true", help="measure an existing file again")
    parser.add_argument(
        "--sync",
        choices=("NORMAL", "FULL"),
        default="NORMAL",
        help="PRAGMA synchronous for the record() timing (NORMAL: the server's default)",
    )
    args = parser.parse_args()
    last_day = date.today()
    first_day = last_day - timedelta(days=DAYS - 1)
    if not args.reuse:
        print(f"generating {args.decisions:,} decisions into {args.db}", flush=True)
        db = setup(args.db)
        generate(db, args.decisions, first_day)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.conn.close()
    size = sum(os.path.getsize(args.db + s) for s in ("", "-wal") if os.path.exists(args.db + s))
    db = connect(args.db)
    count = db.execute("SELECT MAX(id) FROM decisions").fetchone()[0]
    rollup_rows = db.execute(
        "SELECT (SELECT COUNT(*) FROM figures_daily) + (SELECT COUNT(*) FROM figures_optins)"
    ).fetchone()[0]
    db.conn.close()
    print(f"decisions: {count:,}; rollup rows: {rollup_rows:,}")
    print(f"database size: {size / 2**30:.2f} GiB ({size / count:.0f} bytes per decision)")
    first30 = (last_day - timedelta(days=29)).isoformat()
    times, shown = page_times(args.db, first30, last_day.isoformat())
    print(
        f"figures page, 30 days ({shown} decisions of shop): first {times[0] * 1000:.0f} ms, "
        f"median {statistics.median(times[1:]) * 1000:.0f} ms, max {max(times[1:]) * 1000:.0f} ms"
    )
    with_rollups, without, ran_at = record_costs(args.db, sync=args.sync)
    print(
        f"record(): with rollups median {statistics.median(with_rollups) * 1000:.2f} ms, "
        f"without {statistics.median(without) * 1000:.2f} ms "
        f"(extra {1000 * (statistics.median(with_rollups) - statistics.median(without)):.2f} ms; "
        f"synchronous={ran_at}, {len(with_rollups)} each)"
    )


if __name__ == "__main__":
    main()

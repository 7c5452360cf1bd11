"""PostgreSQL beside SQLite: decisions/s and latency, and a 10 M decision log (issue 12).

Two parts, each optional:

`--throughput`: in one run, servers side by side, each on its own new database with the demo
registry, driven by wrk in interleaved rounds (bench/decisions.py's load and Lua script):
  sqlite:2   `serve --workers 2` on a SQLite file
  pg:2, pg:4 `serve --workers N` on PostgreSQL
  pg:2x2     two `serve --workers 2` processes on one PostgreSQL database, each driven by its
             own wrk at the same time (half the connections each): the figures are their sum
For each: /healthz req/s, decisions/s, p50 and p99, and decisions / healthz of the same server.

`--log N` (default 10 M): N decisions generated straight into a PostgreSQL database by
generate_series, spread over 12 months and 8 sites, shaped as the server stores them, with
their daily rollups; then bytes per decision (pg_total_relation_size of every partition over
rows), the figures page (30 days and 365 days, through the admin UI), a consent-id lookup
(the visitor's API and the admin's lookup), the erasure of one consent id, and `purge`
dropping the oldest month.

    .venv/bin/python bench/pg.py --throughput --log 10000000 [--keep]
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import decisions as bench  # noqa: E402  (bench/decisions.py: the wrk driver)

from server import create_app  # noqa: E402
from server import decisions as rules  # noqa: E402
from server.services import decisions as decision_service  # noqa: E402
from server.storage import accounts, connect, migrate, partitions  # noqa: E402
from server.storage import decisions as decision_log  # noqa: E402
from server.storage import figures as figures_store  # noqa: E402
from server.storage import registry as registry_store  # noqa: E402
from server.storage import revisions as revision_store  # noqa: E402
from server.storage.decisions import _bits  # noqa: E402
from server.storage.engine import close_pools  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("PGBENCH_SERVER", "postgresql://root@127.0.0.1:5432/")
SECRET = "bench"


def load():
    return os.getloadavg()


def fresh_database(name):
    with psycopg.connect(SERVER + "postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return SERVER + name


# Throughput


def start(work, label, location, workers, extra=None):
    env = dict(os.environ, PRIVACY_CENTER_DB=location, PRIVACY_CENTER_INSTANCE=str(work))
    env.update(extra or {})
    env.pop("PRIVACY_CENTER_WORKERS", None)
    env.setdefault("PRIVACY_CENTER_RATE_LIMIT", bench.NEVER_REFUSED)
    cli = [sys.executable, "-m", "server"]
    subprocess.run(
        cli + ["demo", "--origin", bench.ORIGIN], env=env, check=True, cwd=ROOT, capture_output=True
    )
    port = bench.free_port()
    log = open(work / f"server-{label}-{port}.log", "wb")  # noqa: SIM115 - closed with it
    server = subprocess.Popen(
        cli + ["serve", "--port", str(port), "--workers", str(workers), "--no-access-log"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return server, port, log


def wrk_together(urls, script, seconds, connections):
    """One wrk per URL at the same time, `connections` split between them; summed."""
    results = [None] * len(urls)

    def one(i, url):
        results[i] = bench.run_wrk(url, script, seconds, max(1, connections // len(urls)), 1)

    threads = [threading.Thread(target=one, args=(i, u)) for i, u in enumerate(urls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "rps": sum(r["rps"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "p50_ms": max(r["p50_ms"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
    }


def throughput(args, work):
    body = (
        '{"revision": 1, "action": "custom", "language": "ja", '
        '"page_url": "https://news.sakura-media.example/articles/2026/11/27/1", '
        '"categories": {"functional": true, "analytics": true, "advertising": false}}'
    )
    post = work / "post.lua"
    post.write_text(bench.LUA_POST % (body, bench.ORIGIN) + bench.LUA_REPORT)
    get = work / "get.lua"
    get.write_text(bench.LUA_REPORT)
    setups = {
        "sqlite, 2 workers": [(str(work / "bench.db"), 2)],
        "postgresql, 2 workers": [(fresh_database("pgscale_bench_w2"), 2)],
        "postgresql, 4 workers": [(fresh_database("pgscale_bench_w4"), 4)],
    }
    shared = fresh_database("pgscale_bench_two")
    setups["postgresql, two serve x 2 workers"] = [(shared, 2), (shared, 2)]
    if args.no_sync:
        # What batching commits could win at most on PostgreSQL: no commit waits for its WAL
        # flush at all (NOT durable: a crash may lose acknowledged decisions; a measure only).
        setups["postgresql, 4 workers, synchronous_commit off (bound)"] = [
            (fresh_database("pgscale_bench_nosync"), 4)
        ]
    if args.compare_late:
        # The same, with the shared rows' statements run where they stand instead of at the
        # commit (PRIVACY_CENTER_PG_LATE=0): what holding them to the commit wins.
        for n in (2, 4):
            setups[f"postgresql, {n} workers, statements where they stand"] = [
                (fresh_database(f"pgscale_bench_early{n}"), n)
            ]
    extra = {
        f"postgresql, {n} workers, statements where they stand": {"PRIVACY_CENTER_PG_LATE": "0"}
        for n in (2, 4)
    }
    extra |= {
        "postgresql, 4 workers, synchronous_commit off (bound)": {
            "PGOPTIONS": "-c synchronous_commit=off"
        }
    }
    servers = {}
    runs = {label: {"healthz": [], "decisions": []} for label in setups}
    loads = []
    try:
        for label, parts in setups.items():
            servers[label] = [
                start(work, str(len(servers)), loc, n, extra.get(label)) for loc, n in parts
            ]
        for parts in servers.values():
            for _, port, _ in parts:
                bench.wait_ready(port)
        for _ in range(args.rounds):
            for label, parts in servers.items():
                ports = [port for _, port, _ in parts]
                loads.append(load()[0])
                runs[label]["healthz"].append(
                    wrk_together(
                        [f"http://127.0.0.1:{p}/healthz" for p in ports],
                        str(get),
                        args.seconds,
                        args.connections,
                    )
                )
                runs[label]["decisions"].append(
                    wrk_together(
                        [f"http://127.0.0.1:{p}/api/v1/sites/news/decisions" for p in ports],
                        str(post),
                        args.seconds,
                        args.connections,
                    )
                )
    finally:
        for parts in servers.values():
            for server, _, log in parts:
                bench.stop_server(server, log)
    print(
        f"\n## Throughput: wrk -c{args.connections} -d{args.seconds}s (split between the two "
        f"servers of a pair), {args.rounds} interleaved rounds, medians; load average during the "
        f"run {min(loads):.1f}-{max(loads):.1f} ({os.cpu_count()} cores)"
    )
    print(
        "| setup | healthz req/s | decisions/s | decision p50 | decision p99 | "
        "decisions / healthz per round | errors |"
    )
    print("|---|---:|---:|---:|---:|---|---:|")
    for label, r in runs.items():

        def median(key, what, r=r):
            return statistics.median(x[key] for x in r[what])

        ratios = sorted(
            d["rps"] / h["rps"] for d, h in zip(r["decisions"], r["healthz"], strict=True)
        )
        errors = sum(x["errors"] for x in r["decisions"] + r["healthz"])
        print(
            f"| {label} | {median('rps', 'healthz'):,.0f} | {median('rps', 'decisions'):,.0f} | "
            f"{median('p50_ms', 'decisions'):.1f} ms | {median('p99_ms', 'decisions'):.1f} ms | "
            + ", ".join(f"{x:.0%}" for x in ratios)
            + f" | {errors} |"
        )
    for label in setups:
        if label.startswith("postgresql"):
            location = setups[label][0][0]
            db = connect(location)
            print(f"{label}: {bytes_per_decision(db)}")
            db.close()


# Holding the shared rows' statements to the commit, A/B in one run


def _ab_worker(url, seconds, slice_seconds, start_at, out):
    db = connect(url)
    revision = revision_store.get(db, "news")
    body = {
        "revision": revision["number"],
        "action": "custom",
        "categories": {"functional": True, "analytics": True, "advertising": False},
        "language": "ja",
    }
    counts = {"held to the commit": 0, "where they stand": 0}
    while time.time() < start_at:
        time.sleep(0.01)
    while (now := time.time()) < start_at + seconds:
        # Every process switches at the same moments: slices alternate between the two.
        late = int((now - start_at) // slice_seconds) % 2 == 0
        os.environ["PRIVACY_CENTER_PG_LATE"] = "1" if late else "0"
        decision_service.record(
            db,
            SECRET,
            "news",
            dict(body),
            lambda n: revision if n == revision["number"] else None,
            decision_service.Visitor(user_agent="Mozilla/5.0 Bench", remote_addr="192.0.2.1"),
        )
        counts["held to the commit" if late else "where they stand"] += 1
    out.put(counts)
    db.close()


def late_ab(args):
    """`--late-ab SECONDS`: N processes record decisions (the storage path alone: no HTTP, no
    rate limits) on one site with one user agent, switching every few seconds between holding
    the shared rows' statements to the commit and running them where they stand."""
    import multiprocessing

    url = fresh_database("pgscale_bench_ab")
    db = connect(url)
    migrate(db)
    setup_registry(db)
    db.close()
    for processes in (2, 4):
        out = multiprocessing.Queue()
        start_at = time.time() + 2
        workers = [
            multiprocessing.Process(target=_ab_worker, args=(url, args.late_ab, 3, start_at, out))
            for _ in range(processes)
        ]
        for w in workers:
            w.start()
        totals = {}
        for _ in workers:
            for key, n in out.get().items():
                totals[key] = totals.get(key, 0) + n
        for w in workers:
            w.join()
        print(
            f"{processes} processes, {args.late_ab} s in 3 s slices (load {load()[0]:.1f}): "
            + ", ".join(f"{k} {n / (args.late_ab / 2):,.0f}/s" for k, n in totals.items())
        )


# The 10 M log

SITES = 8
MONTHS = 12
USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14) Chrome/124.0 Mobile Safari/537.36",
]


def site_keys():
    return ["news"] + [f"news{i}" for i in range(2, SITES + 1)]


def setup_registry(db):
    doc = yaml.safe_load((ROOT / "server" / "demo" / "registry.yaml").read_text())
    news = next(s for s in doc["sites"] if s["key"] == "news")
    for key in site_keys()[1:]:
        clone = copy.deepcopy(news)
        clone["key"] = key
        clone["origins"] = [f"https://{key}.sakura-media.example"]
        doc["sites"].append(clone)
    registry_store.apply(db, doc, "bench")
    for key in registry_store.site_keys(db):
        revision_store.publish(db, key, "bench")
    accounts.create_user(db, "bench@example.com", "bench password 1", "viewer")


def patterns(content):
    """(action, categories bits, vendors bits) in 20 buckets: 45 % accept all, 30 % reject all,
    20 % custom (a few mixes), 5 % withdraw."""
    cats = content["categories"]
    vendors = content["vendors"]

    def bits(accepted):
        choice = {c["key"]: c["required"] or c["key"] in accepted for c in cats}
        vchoice = {v["key"]: choice.get(v["category"], False) for v in vendors}
        return _bits(choice), _bits(vchoice)

    optional = [c["key"] for c in cats if not c["required"]]
    out = [("accept_all", *bits(set(optional)))] * 9 + [("reject_all", *bits(set()))] * 6
    for i in range(4):
        out.append(("custom", *bits({k for j, k in enumerate(optional) if (i + 1) >> j & 1})))
    out.append(("withdraw", *bits(set())))
    return out


def generate(db, total, end_ms):
    """`total` decisions over the MONTHS months before `end_ms`, in time order, and their
    rollups; returns the seconds it took."""
    content = revision_store.get(db, "news")["content"]
    rows = patterns(content)
    start_ms = end_ms - MONTHS * 30 * 86_400_000
    ua_ids = []
    for value in USER_AGENTS:
        ua_id = int.from_bytes(__import__("hashlib").sha256(value.encode()).digest()[:7], "big")
        ua_ids.append(ua_id)
        db.execute(
            "INSERT INTO user_agents (id, value, uses) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
            [ua_id, value],
        )
    t = time.perf_counter()
    # Partitions for the whole span first (the server keeps them ahead of time).
    month = partitions.Month.of(start_ms)
    while month.start_ms < end_ms:
        partitions._create(db, month)
        month = month.next()
    db.execute("SET synchronous_commit = off")
    db.execute("SET maintenance_work_mem = '256MB'")
    sites = "ARRAY[" + ", ".join(f"'{k}'" for k in site_keys()) + "]"
    actions = "ARRAY[" + ", ".join(f"'{a}'" for a, _, _ in rows) + "]"
    cats = "ARRAY[" + ", ".join(f"'{c}'" for _, c, _ in rows) + "]"
    vens = "ARRAY[" + ", ".join(f"'{v}'" for _, _, v in rows) + "]"
    uas = "ARRAY[" + ", ".join(str(u) for u in ua_ids) + "]::bigint[]"
    step = 1_000_000
    for first in range(0, total, step):
        last = min(total, first + step)
        db.execute(
            "INSERT INTO decisions (consent_id, site_key, revision, action, categories, vendors, "
            "language, page_url, gpc, recorded_at, user_agent_id, client_hash) "
            "SELECT substr(replace(replace(encode(sha224(int8send(g)), 'base64'), '+', '-'), "
            "'/', '_'), 1, 22), "
            f"({sites})[1 + (g * 7919) % {SITES}], 1, "
            f"({actions})[1 + g % 20], ({cats})[1 + g % 20], ({vens})[1 + g % 20], "
            "CASE WHEN g % 5 = 0 THEN 'en' ELSE 'ja' END, "
            "'https://news.sakura-media.example/articles/2026/' || (g % 1000) || '/' || (g % 97), "
            f"CASE WHEN g % 50 = 0 THEN 1 ELSE 0 END, {start_ms} + g * "
            f"({end_ms - start_ms}::bigint / {total}), ({uas})[1 + g % 4], "
            "substr(md5((g % 100000)::text), 1, 16) "
            f"FROM generate_series({first}::bigint, {last - 1}) AS g"
        )
        print(f"  {last:,} decisions, {time.perf_counter() - t:.0f} s", flush=True)
    db.execute(
        "UPDATE user_agents SET uses = (SELECT COUNT(*) FROM decisions d "
        "WHERE d.user_agent_id = user_agents.id)"
    )
    # The daily rollups, as the server keeps them (one per decision), summed here.
    groups = db.execute(
        "SELECT site_key, to_char(to_timestamp(recorded_at / 1000.0) AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD'), revision, action, categories, vendors, COUNT(*) FROM decisions "
        "GROUP BY 1, 2, 3, 4, 5, 6"
    ).fetchall()
    cat_keys = [c["key"] for c in content["categories"]]
    ven_keys = [v["key"] for v in content["vendors"]]
    daily, optins = {}, {}
    for site, day, revision, action, cbits, vbits, n in groups:
        key = (site, day, revision, action)
        daily[key] = daily.get(key, 0) + n
        for kind, keys, b in (("category", cat_keys, cbits), ("vendor", ven_keys, vbits)):
            for k, bit in zip(keys, b, strict=False):
                if bit == "1":
                    okey = (site, day, revision, kind, k)
                    optins[okey] = optins.get(okey, 0) + n
    db.executemany(
        "INSERT INTO figures_daily (site_key, day, revision, action, decisions) "
        "VALUES (?, ?, ?, ?, ?)",
        [(*k, n) for k, n in daily.items()],
    )
    db.executemany(
        "INSERT INTO figures_optins (site_key, day, revision, kind, key, accepted) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(*k, n) for k, n in optins.items()],
    )
    db.execute("VACUUM ANALYZE decisions")
    return time.perf_counter() - t


def bytes_per_decision(db):
    rows = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    heap, total = db.execute(
        "SELECT SUM(pg_table_size(relid))::bigint, SUM(pg_total_relation_size(relid))::bigint "
        "FROM pg_partition_tree('decisions') WHERE isleaf"
    ).fetchone()
    if not rows:
        return "no decisions"
    return (
        f"{rows:,} decisions: {total / rows:.0f} bytes per decision with its indexes "
        f"({heap / rows:.0f} the row alone; {total / 1e9:.2f} GB in all)"
    )


def timed(action, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        action()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return times


def show(label, times):
    p99 = times[min(len(times) - 1, round(len(times) * 0.99))]
    print(
        f"| {label} | {statistics.median(times):.1f} ms | {p99:.1f} ms | {max(times):.1f} ms | "
        f"{len(times)} |"
    )


WAL_DIR = os.environ.get("PGBENCH_WAL_DIR", "/var/lib/postgresql/15/main/pg_wal")


def ours(db, start, end):
    """The WAL bytes between two positions that this database's transactions wrote: the
    records naming one of its relations, and the commit records of those transactions (read
    with pg_waldump, as the WAL is the whole server's and other databases write too)."""
    oid = db.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()
    db.execute("SELECT pg_switch_wal()")  # the range is then on disk, whole
    out = subprocess.run(
        ["/usr/lib/postgresql/15/bin/pg_waldump", "-p", WAL_DIR, "-s", start, "-e", end],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:  # e.g. the range was recycled by a checkpoint meanwhile
        print(f"pg_waldump: {out.stderr.strip()[:200]}")
        return float("nan")
    mine = f" rel 1663/{oid[0]}/"
    total, xids, commits = 0, set(), {}
    for line in out.stdout.splitlines():
        size = re.search(r"len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+)", line)
        if not size:
            continue
        if mine in line:
            total += int(size[1])
            xids.add(size[2])
        elif "rmgr: Transaction" in line and "COMMIT" in line:
            commits[size[2]] = int(size[1])
    return total + sum(n for xid, n in commits.items() if xid in xids)


def wal_per_decision(db, count=1000):
    """WAL bytes per decision recorded through the app's own path (one connection, one site),
    right after a CHECKPOINT (every page's first change is then written whole) and again
    after that."""
    revision = revision_store.get(db, "news2")
    body = {
        "revision": revision["number"],
        "action": "custom",
        "categories": {"functional": True, "analytics": True, "advertising": False},
        "language": "ja",
        "page_url": "https://news2.sakura-media.example/articles/1",
    }
    agents = [f"Mozilla/5.0 Bench/{i % 40}" for i in range(count)]

    def batch():
        start = db.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        t = time.perf_counter()
        for agent in agents:
            decision_service.record(
                db,
                SECRET,
                "news2",
                dict(body),
                lambda n: revision if n == revision["number"] else None,
                decision_service.Visitor(user_agent=agent, remote_addr="192.0.2.1"),
            )
        took = time.perf_counter() - t
        end = db.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        return ours(db, str(start), str(end)) / count, took / count * 1000

    db.execute("CHECKPOINT")
    cold = batch()
    warm = batch()
    print(
        f"| WAL per decision ({count} recorded by the app's code, one connection): "
        f"{cold[0]:,.0f} B right after a checkpoint, {warm[0]:,.0f} B after | "
        f"{cold[1]:.1f} / {warm[1]:.1f} ms each | | {2 * count} |"
    )


def log_bench(args):
    name = args.name
    if args.keep:
        url = SERVER + name
        try:
            db = connect(url)
        except Exception:  # noqa: BLE001 - not there yet: build it
            db = None
        existing = (
            db is not None
            and db.execute("SELECT to_regclass('decisions') IS NOT NULL").fetchone()[0]
        )
        if existing and db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] >= args.log:
            print(f"reusing {name}")
        else:
            existing = False
        if db is not None and not existing:
            db.close()
    else:
        existing = False
    if not existing:
        url = fresh_database(name)
        db = connect(url)
        migrate(db)
        setup_registry(db)
        end_ms = int(time.time() * 1000)
        print(f"generating {args.log:,} decisions (load {load()[0]:.1f})", flush=True)
        seconds = generate(db, args.log, end_ms)
        print(f"generated in {seconds:.0f} s")
    print(f"\n## A log of {args.log:,} decisions, 12 months, {SITES} sites (load {load()[0]:.1f})")
    print(bytes_per_decision(db))
    months = partitions.months(db)
    print(f"{len(months)} month partitions: {months[0].name} .. {months[-1].name}")

    print("\n| what | median | p99 | max | runs |\n|---|---:|---:|---:|---:|")
    os.environ.setdefault("PRIVACY_CENTER_RATE_LIMIT", "off")  # lookups, not the limiter
    app = create_app({"DATABASE": url, "SECRET_KEY": SECRET})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").text)[1]
    client.post(
        "/admin/login",
        data={"email": "bench@example.com", "password": "bench password 1", "csrf_token": token},
    )
    last = figures_store.last_day(db, "news")
    from datetime import date, timedelta

    end = date.fromisoformat(last)
    for days in (30, 365):
        first = (end - timedelta(days=days - 1)).isoformat()
        url_page = f"/admin/sites/news/figures?from={first}&to={last}"
        shown = re.search(r"([\d,]+) decisions from", client.get(url_page).text)[1]

        def page(url_page=url_page):
            assert client.get(url_page).status_code == 200

        show(f"figures page, {days} days of one site ({shown} decisions)", timed(page, 7))

    # Consent ids picked across the whole year and every site.
    total = db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    picked = db.execute(
        "SELECT consent_id, site_key FROM decisions TABLESAMPLE BERNOULLI (?) "
        "ORDER BY random() LIMIT 200",
        [min(100.0, 100 * 1000 / total)],
    ).fetchall()
    receipts = rules.Receipts(SECRET)
    it = iter(picked * 10)

    def lookup():
        cid, site = next(it)
        answer = client.get(
            f"/api/v1/consents/{cid}",
            headers={"Authorization": f"Bearer {receipts.issue(cid, site)}"},
        )
        assert answer.status_code == 200 and answer.json["decisions"], answer.status_code

    show("consent-id lookup, visitor's API (GET /api/v1/consents/ID)", timed(lookup, 200))
    it = iter(picked * 10)
    show(
        "consent-id lookup, storage (decisions.for_consent)",
        timed(lambda: decision_log.for_consent(db, *next(it)), 200),
    )
    it = iter(picked * 10)
    show(
        "consent-id lookup, admin (any site, one query)",
        timed(lambda: decision_log.for_consent_any_site(db, next(it)[0]), 200),
    )
    wal_per_decision(db)
    victims = iter(picked[-50:])

    def erase():
        cid, site = next(victims)
        assert decision_service.erase(db, SECRET, site, cid) == 1

    show("erase one consent id (decisions, rollups, user agent, erasure record)", timed(erase, 40))

    def export_day():
        day0 = months[len(months) // 2]
        rows = list(
            decision_log.export(
                db,
                "news",
                f"{day0.first_day}T00:00:00.000Z",
                f"{day0.first_day[:8]}02T00:00:00.000Z",
            )
        )
        assert rows

    show("export of one site's day (storage, decoded)", timed(export_day, 5))

    if args.drop:
        oldest = partitions.months(db)[0]
        before = f"{oldest.end_day}T00:00:00.000Z"
        rows = db.execute(f"SELECT COUNT(*) FROM {oldest.name}").fetchone()[0]
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "server", "--database", url, "purge", "--before", before],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        took = time.perf_counter() - t
        assert out.returncode == 0, out.stderr
        dropped = re.search(r"month partitions dropped whole: (.*)", out.stdout)
        print(
            f"\npurge --before {before}: {took:.1f} s for the whole command, "
            f"dropping {dropped[1] if dropped else 'nothing'} ({rows:,} decisions)"
        )
    db.close()
    close_pools()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throughput", action="store_true")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-sync",
        action="store_true",
        help="also PostgreSQL with synchronous_commit off: the bound of what group commit wins",
    )
    parser.add_argument(
        "--compare-late",
        action="store_true",
        help="also PostgreSQL with PRIVACY_CENTER_PG_LATE=0 (shared rows written where they stand)",
    )
    parser.add_argument(
        "--late-ab",
        type=int,
        default=0,
        metavar="SECONDS",
        help="record decisions in 2 and 4 processes, alternating the shared rows' statements "
        "held to the commit and not, for this long",
    )
    parser.add_argument("--log", type=int, default=0, help="decisions in the generated log")
    parser.add_argument("--name", default="pgscale_bench_log", help="the log's database")
    parser.add_argument("--keep", action="store_true", help="reuse the generated log if there")
    parser.add_argument("--drop", action="store_true", help="end by purging the oldest month")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in load())}")
    if args.late_ab:
        late_ab(args)
    if args.log:
        log_bench(args)
    if args.throughput:
        with tempfile.TemporaryDirectory(prefix="pc-bench-pg-") as work:
            throughput(args, Path(work))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in load())}")


if __name__ == "__main__":
    main()

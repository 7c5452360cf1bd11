"""Rate limits of the public API: per client network and per site, 429 that the widget can
read, shared by every worker (SQLite file or Redis), trusted proxies, and the settings."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import secrets
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing

import pytest
import redis
from limits import parse

from server import create_app
from server.decisions import client_hash
from server.ratelimit import (
    ConfigError,
    Limiter,
    _namespace,
    counter_file,
    limiter_for,
    parse_settings,
    parse_trusted_proxies,
)
from server.storage import connect, migrate
from server.storage import ratelimit_postgresql as pg_counters
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage.ratelimit import SQLiteStorage, uri_for
from support import ON_POSTGRESQL, ORIGIN, REGISTRY, decision

ON_POSTGRESQL_ONLY = pytest.mark.skipif(not ON_POSTGRESQL, reason="a PostgreSQL run's database")

REDIS_URL = "redis://127.0.0.1:6379/0"
BLOG_ORIGIN = "https://blog.example.co.jp"
VISITOR = "203.0.113.5"  # one network (203.0.113.0/24) ...
NEIGHBOUR = "203.0.113.77"  # ... the same network
STRANGER = "198.51.100.7"  # another network


@pytest.fixture
def two_sites(db):
    """`shop` and `blog`, both published, each with its own origin."""
    doc = copy.deepcopy(REGISTRY)
    blog = copy.deepcopy(doc["sites"][0])
    blog.update(key="blog", origins=[BLOG_ORIGIN])
    doc["sites"].append(blog)
    registry_store.apply(db, doc, "test")
    for site in ("shop", "blog"):
        revision_store.publish(db, site, "test")


@pytest.fixture(autouse=True)
def _away_from_a_minutes_end():
    """limits' sliding-window counter weighs the last window's count down from the first
    moment of the next: a client refused at 12:00:59.9 is let through once at 12:01:00.1.
    So a test that counts up to a per-minute limit starts at least 2 s before a minute ends
    (a PostgreSQL run once crossed that edge between its third and fourth post)."""
    left = 60 - time.time() % 60
    if left < 2:
        time.sleep(left + 0.05)


@pytest.fixture
def make_app(db_path, db):
    """`make_app(RATE_LIMIT=...)`: an app whose limits, counter storage and proxies are the
    test's own, whatever the environment says."""
    apps = []

    def make(**config):
        settings = {"RATE_LIMIT": "", "RATE_LIMIT_REDIS": "", "TRUSTED_PROXIES": ""}
        settings.update(config)
        app = create_app(
            {"DATABASE": db_path, "SECRET_KEY": "test-secret", "TESTING": True, **settings}
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        limiter = limiter_for(app)
        if limiter is not None:
            limiter.close()


def post(client, site="shop", addr=VISITOR, origin=None, headers=None):
    origin = origin or (BLOG_ORIGIN if site == "blog" else ORIGIN)
    return client.post(
        f"/api/v1/sites/{site}/decisions",
        json=decision(),
        headers={"Origin": origin, **(headers or {})},
        environ_base={"REMOTE_ADDR": addr},
    )


def stored(db, site="shop"):
    return db.execute("SELECT COUNT(*) FROM decisions WHERE site_key = ?", [site]).fetchone()[0]


def assert_refused(response, origin=ORIGIN):
    """A 429 the widget can act on: the JSON error shape, when to retry, readable cross-origin."""
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and "retry in" in error["message"]
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["Cache-Control"] == "no-store"
    return retry_after


# --- one app, the SQLite counters -------------------------------------------------------------


def test_a_client_over_its_limit_gets_429_and_nothing_is_recorded(make_app, db, published):
    client = make_app(RATE_LIMIT="decisions.client=3/minute").test_client()
    assert [post(client).status_code for _ in range(3)] == [201, 201, 201]
    refused = post(client)
    retry_after = assert_refused(refused)
    assert retry_after <= 60
    assert "from your network to site 'shop'" in refused.get_json()["error"]["message"]
    assert stored(db) == 3


def test_the_client_is_its_network_and_other_networks_keep_their_own_budget(
    make_app, db, published
):
    client = make_app(RATE_LIMIT="decisions.client=2/minute").test_client()
    assert [post(client, addr=VISITOR).status_code for _ in range(2)] == [201, 201]
    # The same /24 is the same client (the key is the network's hash, as in the consent log).
    assert post(client, addr=NEIGHBOUR).status_code == 429
    assert post(client, addr=STRANGER).status_code == 201
    assert post(client, addr="2001:db8:1:2::5").status_code == 201
    assert stored(db) == 4


def test_a_client_limited_on_one_site_may_still_decide_on_another(make_app, db, two_sites):
    client = make_app(RATE_LIMIT="decisions.client=2/minute").test_client()
    assert [post(client, site="shop").status_code for _ in range(3)] == [201, 201, 429]
    assert post(client, site="blog").status_code == 201


def test_a_site_over_its_limit_refuses_every_client_and_other_sites_go_on(make_app, db, two_sites):
    client = make_app(RATE_LIMIT="decisions.client=off; decisions.site=4/minute").test_client()
    answers = [post(client, addr=f"198.51.{n}.1").status_code for n in range(4)]
    assert answers == [201, 201, 201, 201]
    refused = post(client, addr="192.0.2.1")
    assert_refused(refused)
    assert "Site 'shop' is receiving more requests" in refused.get_json()["error"]["message"]
    assert post(client, site="blog", addr="192.0.2.1").status_code == 201
    assert stored(db, "shop") == 4 and stored(db, "blog") == 1


def test_a_refused_client_does_not_use_up_the_sites_budget(make_app, db, published):
    client = make_app(RATE_LIMIT="decisions.client=2/minute; decisions.site=5/minute").test_client()
    assert [post(client).status_code for _ in range(10)] == [201, 201] + [429] * 8
    # Only the two accepted ones counted for the site: three more networks still fit.
    assert [post(client, addr=f"198.51.{n}.1").status_code for n in range(4)] == [
        201,
        201,
        201,
        429,
    ]


def test_the_refusal_names_the_site_origin_only(make_app, published):
    client = make_app(RATE_LIMIT="decisions.client=1/minute").test_client()
    assert post(client).status_code == 201
    foreign = post(client, origin="https://evil.example")
    assert foreign.status_code == 429
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_a_refused_client_may_post_again_after_retry_after(make_app, published):
    client = make_app(RATE_LIMIT="decisions.client=2/second").test_client()
    answers = [post(client) for _ in range(6)]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, [answer.status_code for answer in answers]
    time.sleep(int(refused[-1].headers["Retry-After"]) + 0.05)
    assert post(client).status_code == 201


def test_config_and_consents_have_their_own_limits(make_app, published):
    client = make_app(
        RATE_LIMIT="config.client=2/minute; consents.client=2/minute; decisions.client=off"
    ).test_client()
    url = "/api/v1/sites/shop/config"
    config = [client.get(url, headers={"Origin": ORIGIN}) for _ in range(3)]
    assert [r.status_code for r in config] == [200, 200, 429]
    assert_refused(config[2])
    assert config[0].headers["Cache-Control"].startswith("public")  # a 429 is never cached

    answer = post(client).get_json()  # decisions are counted apart from the config reads
    consent = f"/api/v1/consents/{answer['consent_id']}"
    bearer = {"Authorization": f"Bearer {answer['receipt']}"}
    assert client.get(consent, headers=bearer).status_code == 200
    assert client.get(consent, headers=bearer).status_code == 200
    refused = client.delete(consent, headers=bearer)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    # Refused before anything was erased: a new network may still read the records.
    other = client.get(consent, headers=bearer, environ_base={"REMOTE_ADDR": STRANGER})
    assert len(other.get_json()["decisions"]) == 1


def test_preflights_and_unknown_sites_are_not_counted(make_app, db, published):
    app = make_app(RATE_LIMIT="decisions.client=1/minute; decisions.site=1/minute")
    client = app.test_client()
    for _ in range(3):
        preflight = client.options(
            "/api/v1/sites/shop/decisions",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert post(client, site="no-such-site").status_code == 404
    assert post(client).status_code == 201
    # Made-up site keys left no counters behind.
    keys = counter_keys(app.config["DATABASE"])
    assert keys and not any("no-such-site" in key for key in keys)


def counter_keys(database):
    """The keys of the counters kept for a database: in its SQLite counter file, or in its
    PostgreSQL table."""
    if database.startswith("postgresql://"):
        db = connect(database)
        try:
            if "ratelimit_counters" not in db.table_names():
                return []
            return [key for (key,) in db.execute("SELECT key FROM ratelimit_counters")]
        finally:
            db.close()
    if not counter_file(database).exists():
        return []
    with closing(sqlite3.connect(counter_file(database))) as counters:
        return [row[0] for row in counters.execute("SELECT key FROM counters")]


@pytest.mark.sqlite_only(reason="the SQLite counter file's mode")
def test_the_counter_file_is_private(make_app, published):
    app = make_app()
    assert post(app.test_client()).status_code == 201
    path = counter_file(app.config["DATABASE"])
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_off_disables_every_limit(make_app, db, published):
    app = make_app(RATE_LIMIT="off")
    client = app.test_client()
    assert [post(client).status_code for _ in range(30)] == [201] * 30
    assert limiter_for(app) is None
    assert not counter_file(app.config["DATABASE"]).exists()


def test_the_defaults_apply_when_nothing_is_set(make_app, published):
    app = make_app()
    assert post(app.test_client()).status_code == 201
    assert counter_keys(app.config["DATABASE"])
    rules = limiter_for(app).settings.rules
    assert rules["decisions.client"] == (parse("1200/minute"), parse("12000/hour"))
    assert rules["decisions.site"] == (parse("60000/minute"),)


# --- trusted proxies ------------------------------------------------------------------------


def last_client_hash(db):
    return db.execute("SELECT client_hash FROM decisions ORDER BY id DESC LIMIT 1").fetchone()[0]


def test_without_trusted_proxies_x_forwarded_for_changes_nothing(make_app, db, published):
    client = make_app(RATE_LIMIT="decisions.client=2/minute").test_client()
    answers = [
        post(client, headers={"X-Forwarded-For": f"198.51.{n}.9"}).status_code for n in range(4)
    ]
    assert answers == [201, 201, 429, 429]  # a new forged address each time: still one client
    assert last_client_hash(db) == client_hash("test-secret", VISITOR)


def test_with_a_trusted_proxy_the_client_is_the_forwarded_address(make_app, db, published):
    client = make_app(RATE_LIMIT="decisions.client=1/minute", TRUSTED_PROXIES="1").test_client()
    proxy = "10.0.0.2"
    assert post(client, addr=proxy, headers={"X-Forwarded-For": STRANGER}).status_code == 201
    assert last_client_hash(db) == client_hash("test-secret", STRANGER)
    # Visitors behind the one proxy are told apart; the same visitor is not.
    assert post(client, addr=proxy, headers={"X-Forwarded-For": VISITOR}).status_code == 201
    assert post(client, addr=proxy, headers={"X-Forwarded-For": NEIGHBOUR}).status_code == 429
    # What the visitor wrote before the proxy's own entry is not believed.
    spoofed = post(client, addr=proxy, headers={"X-Forwarded-For": f"192.0.2.1, {STRANGER}"})
    assert spoofed.status_code == 429


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("lots", "is not 'rule=limits'"),
        ("decisions=10/minute", "is not 'rule=limits'"),
        ("decisions.clients=10/minute", "unknown rule 'decisions.clients'"),
        ("decisions.client=ten per minute", "is not a list of limits"),
        ("decisions.client=10/fortnight", "is not a list of limits"),
        ("decisions.client=0/minute", "write 'decisions.client=off'"),
    ],
)
def test_a_bad_rate_limit_value_is_refused_with_the_fix(make_app, value, complaint):
    with pytest.raises(ConfigError) as raised:
        parse_settings(value)
    assert "PRIVACY_CENTER_RATE_LIMIT" in str(raised.value) and complaint in str(raised.value)
    with pytest.raises(ConfigError):
        make_app(RATE_LIMIT=value)


def test_rate_limit_values_that_are_accepted():
    settings = parse_settings(" decisions.client = 10/second, 100 per minute ; config.site=off ")
    assert settings.rules["decisions.client"] == (parse("10/second"), parse("100/minute"))
    assert settings.rules["config.site"] == ()
    assert settings.rules["consents.client"] == (parse("120/minute"),)  # the default
    assert not parse_settings("OFF").enabled


@pytest.mark.parametrize("value", ["-1", "one", "1.5", "11"])
def test_a_bad_trusted_proxies_value_is_refused(make_app, value):
    with pytest.raises(ConfigError, match="PRIVACY_CENTER_TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES=value)
    assert parse_trusted_proxies("2") == 2 and parse_trusted_proxies("") == 0


def serve_command(database, workers=2, port=0):
    return [
        sys.executable,
        "-m",
        "server",
        "--database",
        str(database),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("PRIVACY_CENTER_RATE_LIMIT", "decisions.client=many", "is not a list of limits"),
        ("PRIVACY_CENTER_TRUSTED_PROXIES", "yes", "is not a number of proxies"),
        ("PRIVACY_CENTER_REDIS", "http://127.0.0.1:6379", "is not a redis:// URL"),
        ("PRIVACY_CENTER_REDIS", "redis://127.0.0.1:1/0", "no Redis answers"),
    ],
)
def test_serve_stops_at_start_up_with_one_readable_line(tmp_path, name, value, complaint):
    env = dict(os.environ, **{name: value})
    done = subprocess.run(
        serve_command(tmp_path / "pc.db"), env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {name}: ") and complaint in lines[0]


# --- the SQLite counters between processes --------------------------------------------------


def _acquire_many(path, count, results):
    storage = SQLiteStorage(uri_for(path))
    try:
        won = sum(storage.acquire_sliding_window_entry("key", 60, 86400) for _ in range(count))
    finally:
        storage.close()
    results.put(won)


def test_sqlite_counters_are_exact_across_processes(tmp_path):
    path = str(tmp_path / "counters.db")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_acquire_many, args=(path, 50, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    won = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    results.close()
    results.join_thread()
    assert sum(won) == 60  # 150 tries at a limit of 60 a day, from three processes at once
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def _first_acquire_at(path, start, results):
    storage = SQLiteStorage(uri_for(path))
    while time.time() < start:  # every process opens the new file at the same moment
        pass
    try:
        results.put(storage.acquire_sliding_window_entries([("key", 100, 86400)]))
    except Exception as error:  # what the limiter would log and let through uncounted
        results.put(repr(error))
    finally:
        storage.close()


def test_a_new_counter_file_opened_by_several_processes_at_once_counts_each_one(tmp_path):
    """Two workers' first requests arrive together: each is counted (setting up the file
    beside another process used to fail with 'database is locked', and the request went
    through uncounted)."""
    context = multiprocessing.get_context("spawn")
    for attempt in range(6):
        path = str(tmp_path / f"new-{attempt}.db")
        results = context.Queue()
        start = time.time() + 1.5  # past the spawned interpreters' start
        workers = [
            context.Process(target=_first_acquire_at, args=(path, start, results)) for _ in range(3)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(60)
        results.close()
        results.join_thread()
        assert outcomes == [None, None, None], outcomes
        assert (
            SQLiteStorage(uri_for(path)).get(
                SQLiteStorage.sliding_window_keys("key", 86400, time.time())[1]
            )
            == 3
        )


def _acquire_many_postgresql(url, count, results):
    storage = pg_counters.PostgreSQLStorage(pg_counters.uri_for(url))
    try:
        won = sum(storage.acquire_sliding_window_entry("key", 60, 86400) for _ in range(count))
    finally:
        storage.close()
    results.put(won)


@ON_POSTGRESQL_ONLY
def test_postgresql_counters_are_exact_across_processes(db_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_acquire_many_postgresql, args=(db_path, 50, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    won = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    results.close()
    results.join_thread()
    assert sum(won) == 60  # 150 tries at a limit of 60 a day, from three processes at once
    db = connect(db_path)
    persistence = db.execute(
        "SELECT relpersistence FROM pg_class WHERE relname = 'ratelimit_counters'"
    ).fetchone()[0]
    db.close()
    assert persistence == "u"  # UNLOGGED: no WAL, no fsync for a counter


def test_sqlite_counters_take_a_requests_limits_in_turn_in_one_go(tmp_path):
    storage = SQLiteStorage(uri_for(str(tmp_path / "counters.db")))
    try:
        limits = [("client", 2, 86400), ("site", 3, 86400)]
        answers = [storage.acquire_sliding_window_entries(limits) for _ in range(4)]
        # Two pass; the client's third is refused before the site counts it.
        assert answers == [None, None, 0, 0]
        assert storage.get_sliding_window("site", 86400)[2] == 2
        assert storage.acquire_sliding_window_entries([("site", 3, 86400)]) is None
        assert storage.acquire_sliding_window_entries([("site", 3, 86400)]) == 0
    finally:
        storage.close()


def test_sqlite_counters_expire_and_are_swept_in_small_batches(tmp_path, monkeypatch):
    from server.storage import ratelimit as counters

    monkeypatch.setattr(counters, "PURGE_EVERY", 3600.0)  # no sweep until the test says so
    storage = SQLiteStorage(uri_for(str(tmp_path / "counters.db")))

    def keys():
        with closing(sqlite3.connect(storage.path)) as conn:
            return sorted(row[0] for row in conn.execute("SELECT key FROM counters"))

    try:
        assert storage.incr("a", 1) == 1 and storage.incr("a", 1) == 2
        time.sleep(1.05)
        assert storage.get("a") == 0 and storage.incr("a", 1) == 1  # a new window
        for key in "bcde":
            storage.incr(key, 1)
        time.sleep(1.05)
        monkeypatch.setattr(counters, "PURGE_BATCH", 2)
        monkeypatch.setattr(counters, "PURGE_EVERY", 0.5)
        storage.incr("live", 60)  # a sweep: two of the five expired ones
        assert len(keys()) == 4
        storage.incr("live", 60)  # the batch was full: the next write sweeps again
        storage.incr("live", 60)
        assert keys() == ["live"]
        storage.incr("z", 1)  # the last batch was not full: no sweep for PURGE_EVERY
        time.sleep(1.05)
        storage.incr("live", 60)  # a sweep
        assert keys() == ["live"] and storage.get("live") == 4
    finally:
        storage.close()


# --- Redis ------------------------------------------------------------------------------------


@pytest.fixture
def redis_namespace():
    """A secret key of this test's own, and the Redis keys it made removed afterwards."""
    secret = secrets.token_hex(16)
    yield secret
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"privacy-center:{_namespace(secret)}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def test_with_redis_two_machines_of_one_deployment_share_the_limits(
    db_path, db, published, redis_namespace
):
    def machine(secret):
        return create_app(
            {
                "DATABASE": db_path,
                "SECRET_KEY": secret,
                "RATE_LIMIT": "decisions.client=3/day",
                "RATE_LIMIT_REDIS": REDIS_URL,
                "TRUSTED_PROXIES": "",
            }
        )

    apps = [machine(redis_namespace), machine(redis_namespace)]
    try:
        first, second = (app.test_client() for app in apps)
        answers = [post(client).status_code for client in (first, second, first, second)]
        assert answers == [201, 201, 201, 429]
        assert_refused(post(first))
        assert not counter_file(db_path).exists()  # nothing went to the SQLite counters
    finally:
        for app in apps:
            limiter_for(app).close()


@pytest.mark.parametrize(
    "storage", ["sqlite", "redis", pytest.param("postgresql", marks=ON_POSTGRESQL_ONLY)]
)
def test_a_requests_limits_in_one_go_answer_as_limits_would_one_by_one(
    tmp_path, storage, redis_namespace, new_database
):
    """The batched check (one transaction, one Redis call) against limits' own strategy."""

    def uri(name):
        if storage == "postgresql":
            return pg_counters.uri_for(new_database(name))
        return uri_for(str(tmp_path / f"{name}.db")) if storage == "sqlite" else REDIS_URL

    settings = parse_settings("decisions.client=3/day, 5/second; decisions.site=7/day")
    batched = Limiter(settings, uri("batched"), _namespace(redis_namespace))
    one_by_one = Limiter(settings, uri("reference"), _namespace(redis_namespace + "-reference"))
    strategy = one_by_one.strategy
    try:
        for client in ["a", "a", "b", "a", "a", "c", "b", "b", "b", "c", "d", "e", "e"]:
            refusal = batched.check("decisions", client, "shop")
            expected = None
            for scope, ids in (("client", ("shop", client)), ("site", ("shop",))):
                for item in settings.rules[f"decisions.{scope}"]:
                    if expected is None and not strategy.hit(item, "decisions", scope, *ids):
                        expected = (scope, item)
            assert (refusal and (refusal.scope, refusal.limit)) == expected, client
    finally:
        batched.close()
        one_by_one.close()
        if storage == "redis":  # the reference's keys, under its own namespace
            client = redis.Redis.from_url(REDIS_URL)
            try:
                prefix = f"privacy-center:{_namespace(redis_namespace + '-reference')}:*"
                keys = list(client.scan_iter(match=prefix))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()


def test_when_the_counters_are_unreachable_decisions_are_still_recorded(
    make_app, db, published, caplog
):
    client = make_app(
        RATE_LIMIT="decisions.client=1/minute", RATE_LIMIT_REDIS="redis://127.0.0.1:1/0"
    ).test_client()
    assert [post(client).status_code for _ in range(3)] == [201] * 3
    assert stored(db) == 3
    assert "rate limits not applied" in caplog.text


# --- the real server, two workers -------------------------------------------------------------


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _workers(master_pid):
    with open(f"/proc/{master_pid}/task/{master_pid}/children") as handle:
        return [int(pid) for pid in handle.read().split()]


def _work_done(pid):
    """(bytes read from files, CPU clock ticks) of a process."""
    with open(f"/proc/{pid}/io") as handle:
        read = int(next(line for line in handle if line.startswith("rchar:")).split()[1])
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return read, int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture
def real_server(tmp_path, db_path):
    """`real_server(**env)`: `privacy-center serve --workers 2` on the test registry."""
    database = connect(db_path)
    migrate(database)
    doc = copy.deepcopy(REGISTRY)
    registry_store.apply(database, doc, "test")
    revision_store.publish(database, "shop", "test")
    database.close()
    started = []

    def start(**env_overrides):
        port = _free_port()
        env = dict(os.environ, PRIVACY_CENTER_DB=db_path, **env_overrides)
        for name in ("PRIVACY_CENTER_REDIS", "PRIVACY_CENTER_TRUSTED_PROXIES"):
            if name not in env_overrides:
                env.pop(name, None)
        with open(tmp_path / "server.log", "ab") as log:
            process = subprocess.Popen(
                serve_command(db_path, port=port),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    pass
                if len(_workers(process.pid)) == 2:
                    return port, process
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError((tmp_path / "server.log").read_text())

    yield start
    for process in started:
        os.killpg(process.pid, 15)
        process.wait(timeout=15)


def _post_over_http(port):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/sites/shop/decisions",
        data=json.dumps(decision()).encode(),
        method="POST",
        headers={"Content-Type": "text/plain", "Origin": ORIGIN},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def _flood(port, master_pid, at_least=40, threads=8, at_most=400):
    """Decisions from 8 threads at once, at least `at_least`, and on until both workers have
    answered some (which one accepts a connection is up to them); returns every answer."""
    workers = _workers(master_pid)
    before = {pid: _work_done(pid) for pid in workers}
    answers, lock = [], threading.Lock()

    def send():
        answer = _post_over_http(port)
        with lock:
            answers.append(answer)

    def both_answered():
        # An idle worker does nothing; one that answered read the request at least (or, when
        # its database is a server's socket, which that count leaves out: spent CPU time).
        return all(
            _work_done(pid)[0] - before[pid][0] > 100 or _work_done(pid)[1] - before[pid][1] > 2
            for pid in workers
        )

    while len(answers) < at_least or not both_answered():
        assert len(answers) < at_most, "one worker answered every request"
        senders = [threading.Thread(target=send) for _ in range(threads)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
    return answers


@pytest.mark.parametrize("storage", ["database", "redis"])
def test_the_real_server_shares_the_limit_between_its_workers(
    real_server, storage, redis_namespace, db_path
):
    env = {"PRIVACY_CENTER_RATE_LIMIT": "decisions.client=20/day"}
    if storage == "redis":
        env.update(PRIVACY_CENTER_REDIS=REDIS_URL, PRIVACY_CENTER_SECRET_KEY=redis_namespace)
    port, process = real_server(**env)
    answers = _flood(port, process.pid)
    statuses = sorted(status for status, _, _ in answers)
    # Counted per worker, the first request the second worker answered would have passed too.
    assert statuses == [201] * 20 + [429] * (len(answers) - 20)
    status, headers, body = next(answer for answer in answers if answer[0] == 429)
    assert json.loads(body)["error"]["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 86400
    assert headers["Access-Control-Allow-Origin"] == ORIGIN
    # The database's own counters (a SQLite file beside it, a table in PostgreSQL) or Redis.
    assert bool(counter_keys(db_path)) == (storage == "database")


def test_the_real_server_with_rate_limit_off(real_server, db_path):
    port, process = real_server(PRIVACY_CENTER_RATE_LIMIT="off")
    answers = _flood(port, process.pid, at_least=24)
    assert [status for status, _, _ in answers] == [201] * len(answers)
    assert not counter_keys(db_path)  # no worker counted anything


def test_a_forwarded_header_spelled_with_underscores_never_reaches_the_app(real_server):
    """Behind one trusted proxy, the client is the last X-Forwarded-For entry. A client's own
    `X_Forwarded_For` would read as the same header in WSGI's environ, appended after the
    proxy's: the server drops it, so it cannot pose as a fresh client network."""
    port, _ = real_server(
        PRIVACY_CENTER_RATE_LIMIT="decisions.client=1/minute", PRIVACY_CENTER_TRUSTED_PROXIES="1"
    )

    def post(headers):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/sites/shop/decisions",
            data=json.dumps(decision()).encode(),
            method="POST",
            headers={"Content-Type": "text/plain", "Origin": ORIGIN, **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            with error:
                return error.code

    assert post({"X-Forwarded-For": "198.51.100.7"}) == 201
    spoofed = {"X-Forwarded-For": "198.51.100.7", "X_Forwarded_For": "203.0.113.9"}
    assert post(spoofed) == 429
    assert post({"X-Forwarded-For": "203.0.113.9"}) == 201  # another network is counted apart

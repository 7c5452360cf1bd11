"""Two app machines: two `privacy-center serve` processes on different ports against one PostgreSQL
database, with one secret key, behave as one deployment. The rate limits' counters are in
PostgreSQL, or in Redis when PRIVACY_CENTER_REDIS names one (both variants run)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from postgresql_server import new_database

from server.storage import accounts, connect
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import ADMIN_PASSWORD, ON_POSTGRESQL, ORIGIN, REGISTRY, decision

# These make their own PostgreSQL databases (and SQLite files) whatever the run's engine: they
# run once, on the SQLite leg of `make test`, not again on the PostgreSQL one.
pytestmark = pytest.mark.skipif(ON_POSTGRESQL, reason="runs on the SQLite leg (both engines)")

REDIS = os.environ.get("PRIVACY_CENTER_TEST_REDIS", "redis://127.0.0.1:6379/7")
CONSENT_READS = 6  # per client per minute, on the whole deployment (the lowest rule: consents)
EDITOR = "editor@example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(url, env, log_dir, home):
    """One app machine: `privacy-center serve` (2 workers) as its own process group, in its own
    working folder (`home`), so that no file it keeps can be another machine's."""
    port = _free_port()
    home.mkdir()
    log = open(log_dir / f"machine-{port}.log", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", "2"],
        env={**os.environ, "PRIVACY_CENTER_DB": url, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=home,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, log, base
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError((log_dir / f"machine-{port}.log").read_text())
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["postgresql", "redis"])
def machines(request, tmp_path_factory):
    """Two machines on one new database; what they share and nothing else (each has its own
    instance folder: the secret key comes from the environment, as docs/storage.md says)."""
    if request.param == "redis":
        redis = pytest.importorskip("redis")
        try:
            redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            pytest.skip(f"no Redis at {REDIS}: {error}")
    log_dir = tmp_path_factory.mktemp("machines")
    with new_database() as url:
        db = connect(url)
        registry_store.apply(db, REGISTRY, "test")
        revision_store.publish(db, "shop", "test")
        token = accounts.create_token(db, "machines")
        accounts.create_user(db, EDITOR, ADMIN_PASSWORD, "editor")
        db.close()
        common = {
            # A new key for each run: the rate limiter's namespace in Redis is derived from it.
            "PRIVACY_CENTER_SECRET_KEY": secrets.token_urlsafe(32),
            "PRIVACY_CENTER_RATE_LIMIT": f"consents.client={CONSENT_READS}/minute",
        }
        if request.param == "redis":
            common["PRIVACY_CENTER_REDIS"] = REDIS
        started = []
        try:
            for name in ("a", "b"):
                home = log_dir / f"machine-{name}"
                env = {**common, "PRIVACY_CENTER_INSTANCE": str(home / "instance")}
                started.append(_serve(url, env, log_dir, home))
            yield {
                "a": started[0][2],
                "b": started[1][2],
                "token": token,
                "url": url,
                "variant": request.param,
            }
        finally:
            for process, log, _ in started:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
                log.close()


def _admin(machines):
    return {"Authorization": f"Bearer {machines['token']}"}


def _post_decision(base, **overrides):
    answer = requests.post(
        f"{base}/api/v1/sites/shop/decisions",
        json=decision(**overrides),
        headers={"Origin": ORIGIN},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _export(base, machines):
    answer = requests.get(
        f"{base}/api/v1/admin/sites/shop/decisions?format=jsonl", headers=_admin(machines)
    )
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def _config_revision(base):
    answer = requests.get(f"{base}/api/v1/sites/shop/config", headers={"Origin": ORIGIN})
    assert answer.status_code == 200, answer.text
    return answer.json()["revision"]


def _widget_revision(base):
    answer = requests.get(f"{base}/w/shop.js")
    assert answer.status_code == 200
    return int(re.search(r'"revision":(\d+)', answer.text)[1])


def test_a_publish_through_one_is_served_by_the_other_at_once(machines):
    a, b = machines["a"], machines["b"]
    before = _config_revision(b)
    assert _widget_revision(b) == before  # both in b's memory now, keyed by revision and hash
    changed = requests.patch(
        f"{a}/api/v1/admin/sites/shop",
        json={"name": {"ja": "新しいショップ", "en": f"Shop {secrets.token_hex(3)}"}},
        headers=_admin(machines),
    )
    assert changed.status_code == 200, changed.text
    published = requests.post(f"{a}/api/v1/admin/sites/shop/publish", headers=_admin(machines))
    assert published.status_code == 201, published.text
    number = published.json()["number"]
    assert number == before + 1
    # No wait, no cache to expire: the next request to the other machine has it.
    assert _config_revision(b) == number and _widget_revision(b) == number
    config = requests.get(f"{b}/api/v1/sites/shop/config", headers={"Origin": ORIGIN}).json()
    assert config["name"]["ja"] == "新しいショップ"
    assert _config_revision(a) == number and _widget_revision(a) == number
    # the same bytes from both: a browser's copy from one is revalidated (304) by the other
    for path in ("/w/shop.js", "/api/v1/sites/shop/config"):
        tags = [requests.get(f"{base}{path}", headers={"Origin": ORIGIN}) for base in (a, b)]
        assert tags[0].headers["ETag"] == tags[1].headers["ETag"]
        again = requests.get(
            f"{b}{path}", headers={"Origin": ORIGIN, "If-None-Match": tags[0].headers["ETag"]}
        )
        assert again.status_code == 304


def test_decisions_through_both_land_in_one_log(machines):
    a, b = machines["a"], machines["b"]
    revision = _config_revision(a)
    before = len(_export(a, machines))
    answers = [_post_decision(base, revision=revision) for base in (a, b) * 8]
    # one visitor deciding again through the other machine, with the receipt of the first
    first = answers[0]
    again = _post_decision(
        b, revision=revision, consent_id=first["consent_id"], receipt=first["receipt"]
    )
    log_a, log_b = _export(a, machines), _export(b, machines)
    assert log_a == log_b  # one log, read the same from either machine
    assert len(log_a) == before + 17
    ids = [row["consent_id"] for row in log_a]
    assert {answer["consent_id"] for answer in answers} <= set(ids)
    assert ids.count(again["consent_id"]) == 2
    # and the visitor's receipt from machine a opens the record on machine b
    mine = requests.get(
        f"{b}/api/v1/consents/{first['consent_id']}",
        headers={"Authorization": f"Bearer {first['receipt']}"},
    )
    assert mine.status_code == 200 and len(mine.json()["decisions"]) == 2
    # the figures page, from the daily rollups, counts the same on both
    browser = Browser()
    assert browser.sign_in(a).status_code == 302
    counts = [
        re.search(
            r"([\d,]+) decisions from", browser.http.get(f"{base}/admin/sites/shop/figures").text
        )
        for base in (a, b)
    ]
    assert counts[0] and counts[1], "no count on the figures page"
    assert counts[0][1] == counts[1][1] == f"{len(log_a):,}"


class Browser:
    """An admin's browser: one cookie jar, whichever machine the balancer sends it to."""

    def __init__(self):
        self.http = requests.Session()

    def csrf(self, page):
        return _CSRF.search(page.text)[1]

    def sign_in(self, base, password=ADMIN_PASSWORD):
        form = self.http.get(f"{base}/admin/login")
        return self.http.post(
            f"{base}/admin/login",
            data={"email": EDITOR, "password": password, "csrf_token": self.csrf(form)},
            allow_redirects=False,
        )

    def signed_in(self, base):
        page = self.http.get(f"{base}/admin/", allow_redirects=False)
        return page.status_code == 200

    def post(self, base, path, data):
        page = self.http.get(f"{base}/admin/account")
        return self.http.post(
            f"{base}{path}", data={**data, "csrf_token": self.csrf(page)}, allow_redirects=False
        )

    def copy(self):
        """Another browser holding a copy of this one's cookie (captured, or a second tab)."""
        other = Browser()
        other.http.cookies.update(self.http.cookies)
        return other


def test_an_admin_session_is_one_session_on_both_machines(machines):
    a, b = machines["a"], machines["b"]
    browser = Browser()
    assert browser.sign_in(a).status_code == 302
    assert browser.signed_in(b) and browser.signed_in(a)
    captured = browser.copy()
    # signing out on b ends the session everywhere, a captured copy of the cookie too
    assert browser.post(b, "/admin/logout", {}).status_code == 302
    assert not captured.signed_in(a) and not captured.signed_in(b)

    # a password changed on one machine ends the login's other sessions on the other
    first, second = Browser(), Browser()
    assert first.sign_in(a).status_code == 302 and second.sign_in(b).status_code == 302
    new_password = "another correct horse battery"
    changed = second.post(
        a,
        "/admin/account",
        {"current": ADMIN_PASSWORD, "new": new_password, "repeat": new_password},
    )
    assert changed.status_code == 302, changed.text
    assert second.signed_in(b) and second.signed_in(a)  # the browser that changed it stays
    assert not first.signed_in(b) and not first.signed_in(a)
    assert Browser().sign_in(b, new_password).status_code == 302
    db = connect(machines["url"])  # put back for the other tests
    accounts.set_password(db, accounts.list_users(db)[0]["id"], ADMIN_PASSWORD, "test")
    db.close()


def test_failed_sign_ins_are_counted_across_both_machines(machines):
    a, b = machines["a"], machines["b"]
    browser = Browser()
    statuses = []
    # Five free tries per account, then a wait that doubles: alternating machines, the sixth
    # or seventh try is held off. Counted per machine, it would take the tenth.
    for attempt in range(8):
        statuses.append(browser.sign_in((a, b)[attempt % 2], "wrong password").status_code)
        if statuses[-1] == 429:
            break
    assert statuses[:5] == [401] * 5, statuses
    assert statuses[-1] == 429 and len(statuses) <= 8, statuses
    held = browser.sign_in(b, ADMIN_PASSWORD)  # even the right password waits now
    assert held.status_code == 429 and "Try again in" in held.text
    db = connect(machines["url"])  # forget them, for the other tests
    db.execute("DELETE FROM login_failures")
    db.close()


def test_rate_limits_are_counted_across_both_machines(machines):
    a, b = machines["a"], machines["b"]
    mine = _post_decision(a, revision=_config_revision(a))
    auth = {"Authorization": f"Bearer {mine['receipt']}"}
    url = f"/api/v1/consents/{mine['consent_id']}"
    statuses = []
    for attempt in range(2 * CONSENT_READS):  # alternating machines, until one refuses
        statuses.append(requests.get(f"{(a, b)[attempt % 2]}{url}", headers=auth).status_code)
        if statuses[-1] != 200:
            break
    # At most CONSENT_READS in all (fewer if an earlier test read a consent meanwhile), each
    # machine having served at most half of them: counted per machine, it would be twice that.
    assert statuses[-1] == 429 and CONSENT_READS - 2 <= len(statuses) - 1 <= CONSENT_READS, statuses
    for base in (a, b):  # the limit is reached for the deployment, not per machine
        refused = requests.get(f"{base}{url}", headers=auth)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1


def test_a_machine_with_another_secret_key_is_refused(tmp_path):
    """A machine started without the deployment's key (each would make its own) would refuse
    the others' receipts and sessions: `serve` stops with one line instead of starting."""
    first, second = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with new_database() as url:
        process, log, _ = _serve(
            url, {"PRIVACY_CENTER_SECRET_KEY": first}, tmp_path, tmp_path / "a"
        )
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()

        def serve(key, *flags):
            """The refusal's message, or None if the machine started (it is stopped then)."""
            port = _free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--port", str(port), *flags],
                env={**os.environ, "PRIVACY_CENTER_DB": url, "PRIVACY_CENTER_SECRET_KEY": key},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            deadline = time.monotonic() + 30
            while process.poll() is None:
                try:  # it answers: the key was accepted
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "neither refused nor started"
                    time.sleep(0.1)
                    continue
                os.killpg(process.pid, signal.SIGTERM)
                process.communicate(timeout=15)
                return None
            stderr = process.communicate(timeout=15)[1]
            assert process.returncode == 1 and "Traceback" not in stderr, stderr
            return stderr

        assert "secret key is not the one this database has been served with" in serve(second)
        # Replaced on purpose (it leaked): --new-secret-key records the new one; then the old
        # key is the one refused.
        assert serve(second, "--new-secret-key") is None
        assert "secret key is not the one" in serve(first)


def test_migrate_from_several_machines_at_once_on_a_new_database():
    """`migrate` (init-db's other name) as each machine's deploy step, all at once: one migrates,
    the others wait for it and find nothing to do."""
    from server.storage.schema import STEPS

    with new_database(migrated=False) as url:
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "server", command],
                env={**os.environ, "PRIVACY_CENTER_DB": url},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for command in ("migrate", "migrate", "init-db")
        ]
        outputs = [process.communicate(timeout=120)[0] for process in processes]
        assert [process.returncode for process in processes] == [0, 0, 0], outputs
        assert sum(f"version {len(STEPS)} (was 0)" in out for out in outputs) == 1, outputs
        assert sum("(up to date)" in out for out in outputs) == 2, outputs
        db = connect(url)
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(len(STEPS),)]
        db.close()

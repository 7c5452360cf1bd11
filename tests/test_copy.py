"""`privacy-center copy`: a SQLite deployment moved into PostgreSQL serves the same config, exports
the same log and signs in the same people; a second copy, an unmigrated target or a row that
PostgreSQL would store differently changes nothing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from postgresql_server import new_database, row_counts

from server import create_app
from server.cli import main
from server.storage import accounts, connect, migrate
from server.storage import deployment as deployment_store
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.storage import scans as scan_store
from support import (
    ADMIN_PASSWORD,
    ON_POSTGRESQL,
    ORIGIN,
    REGISTRY,
    AdminClient,
    FormClient,
    decision,
)

# These make their own PostgreSQL databases (and SQLite files) whatever the run's engine: they
# run once, on the SQLite leg of `make test`, not again on the PostgreSQL one.
pytestmark = pytest.mark.skipif(ON_POSTGRESQL, reason="runs on the SQLite leg (both engines)")

SECRET = "the-deployment's-secret-key"
HEADERS = {"Origin": ORIGIN, "User-Agent": "pytest-browser/1.0"}


def copy(source, target, *extra):
    return CliRunner().invoke(main, ["copy", "--from", source, "--to", target, *extra])


def app_on(location):
    return create_app(
        {"DATABASE": location, "SECRET_KEY": SECRET, "TESTING": True, "RATE_LIMIT": "off"}
    )


@pytest.fixture
def deployment(tmp_path):
    """A SQLite deployment that has been used: a published registry, decisions (one of them
    retried with its request_id, two from one visitor), an erasure, a user, a token, a failed
    sign-in, a queued scan; and what it answers."""
    path = str(tmp_path / "deployment.db")
    db = connect(path)
    migrate(db)
    registry_store.apply(db, REGISTRY, "test")
    revision_store.publish(db, "shop", "test")
    accounts.create_user(db, "editor@example.com", ADMIN_PASSWORD, "editor")
    token = accounts.create_token(db, "export")
    scan_store.create(db, "shop", 1, {"urls": []}, "test")
    assert deployment_store.check_secret_key(db, SECRET)  # as `serve` records it
    db.close()
    client = app_on(path).test_client()
    consents = []
    for n in range(40):
        action = ["accept_all", "reject_all", "custom"][n % 3]
        body = decision(
            action=action,
            categories={
                "functional": action != "reject_all",
                "analytics": action == "accept_all" or (action == "custom" and n % 2 == 0),
                "advertising": action == "accept_all",
            },
            language=["ja", "en"][n % 2],
            page_url=f"https://shop.example.co.jp/items/{n}",
            request_id=f"retry-{n:04d}",
        )
        headers = {**HEADERS, "User-Agent": f"Browser/{n % 4}"}
        answer = client.post("/api/v1/sites/shop/decisions", json=body, headers=headers)
        assert answer.status_code == 201, answer.json
        consents.append(answer.json)
    again = client.post(
        "/api/v1/sites/shop/decisions",
        json=decision(consent_id=consents[1]["consent_id"], receipt=consents[1]["receipt"]),
        headers=HEADERS,
    )
    assert again.status_code == 201
    erased = consents[0]
    assert (
        client.delete(
            f"/api/v1/consents/{erased['consent_id']}",
            headers={"Authorization": f"Bearer {erased['receipt']}"},
        ).status_code
        == 200
    )
    wrong = FormClient(client).post(
        "/admin/login", data={"email": "editor@example.com", "password": "not it"}
    )
    assert wrong.status_code == 401
    return {"path": path, "token": token, "consents": consents, "answers": _answers(client, token)}


def _answers(client, token):
    auth = {"Authorization": f"Bearer {token}"}
    export = client.get("/api/v1/admin/sites/shop/decisions?format=jsonl", headers=auth)
    assert export.status_code == 200
    return {
        "config": client.get("/api/v1/sites/shop/config", headers=HEADERS).json,
        "widget": client.get("/w/shop.js").get_data(),
        "export": export.get_data(as_text=True),
        "revisions": client.get("/api/v1/admin/sites/shop/revisions", headers=auth).json,
        "audit": client.get("/api/v1/admin/audit?limit=1000", headers=auth).json,
    }


def test_a_copied_deployment_answers_as_the_original(deployment):
    with new_database() as url:
        result = copy(deployment["path"], url)
        assert result.exit_code == 0, result.output
        assert "every count and checksum matches" in result.output
        for table in ("decisions", "erasures", "users", "tokens", "login_failures", "scans"):
            line = next(line for line in result.output.splitlines() if line.startswith(table))
            assert line.endswith("ok"), line
        counts = row_counts(url)
        assert counts["decisions"] == 40 and counts["erasures"] == 1
        assert counts["decision_requests"] == 40 and counts["login_failures"] == 2
        assert counts["scans"] == 1 and counts["figures_daily"] > 0

        app = app_on(url)
        client = app.test_client()
        assert _answers(client, deployment["token"]) == deployment["answers"]
        assert deployment["answers"]["export"].count("\n") == 40
        # the same people sign in, with their passwords; the token is the same token
        assert (
            AdminClient(app.test_client(), "editor@example.com").get("/admin/").status_code == 200
        )
        # a visitor's receipt reads their record; the erased consent id stays erased
        kept = deployment["consents"][1]
        mine = client.get(
            f"/api/v1/consents/{kept['consent_id']}",
            headers={"Authorization": f"Bearer {kept['receipt']}"},
        )
        assert mine.status_code == 200 and len(mine.json["decisions"]) == 2
        erased = deployment["consents"][0]
        reused = client.post(
            "/api/v1/sites/shop/decisions",
            json=decision(consent_id=erased["consent_id"], receipt=erased["receipt"]),
            headers=HEADERS,
        )
        assert reused.status_code == 403
        # a retry of a request recorded before the copy is answered, not recorded twice
        retried = client.post(
            "/api/v1/sites/shop/decisions",
            json=decision(
                action="custom",
                categories={"functional": True, "analytics": True, "advertising": False},
                language="ja",
                page_url="https://shop.example.co.jp/items/2",
                request_id="retry-0002",
            ),
            headers={**HEADERS, "User-Agent": "Browser/2"},
        )
        assert retried.status_code == 201
        assert retried.json["consent_id"] == deployment["consents"][2]["consent_id"]
        # new rows get new ids after the copied ones: the ids' sequences moved on
        fresh = client.post("/api/v1/sites/shop/decisions", json=decision(), headers=HEADERS)
        assert fresh.status_code == 201
        db = connect(url)
        # the secret key's fingerprint came along: `serve` with another key is refused
        assert deployment_store.check_secret_key(db, SECRET)
        assert not deployment_store.check_secret_key(db, "another key")
        accounts.create_user(db, "new@example.com", ADMIN_PASSWORD, "viewer")
        accounts.create_token(db, "another")
        db.close()
        assert row_counts(url)["decisions"] == 41


def test_a_second_copy_into_the_same_database_is_refused_and_changes_nothing(deployment):
    with new_database() as url:
        assert copy(deployment["path"], url).exit_code == 0
        before = row_counts(url)
        again = copy(deployment["path"], url)
        assert again.exit_code == 1
        assert "the target is not empty" in again.output and "nothing was copied" in again.output
        assert "Traceback" not in again.output
        assert row_counts(url) == before


def test_a_target_without_the_schema_is_refused(deployment):
    with new_database(migrated=False) as url:
        result = copy(deployment["path"], url)
        assert result.exit_code == 1
        assert "the target database has no schema" in result.output
        assert "privacy-center migrate" in result.output


def test_a_difference_is_found_and_nothing_is_kept(deployment):
    # PostgreSQL's text cannot hold a NUL character: the engine stores U+FFFD instead. The
    # checksum sees the one changed row, and the copy is rolled back.
    db = connect(deployment["path"])
    db.execute("UPDATE decisions SET page_url = ? WHERE id = 5", ["https://shop.example/\x00"])
    db.close()
    with new_database() as url:
        result = copy(deployment["path"], url, "--batch-size", "7")
        assert result.exit_code == 1, result.output
        line = next(line for line in result.output.splitlines() if line.startswith("decisions"))
        assert line.endswith("DIFFERENT")
        assert "rolled back" in result.output
        assert set(row_counts(url).values()) == {0}


@pytest.mark.parametrize(
    "source, target, message",
    [
        ("postgresql://root@127.0.0.1/x", "postgresql://root@127.0.0.1/y", "copy reads a SQLite"),
        ("{missing}", "postgresql://root@127.0.0.1/y", "no such database file"),
        ("{sqlite}", "/tmp/other.db", "is not a postgresql:// URL"),
        ("{sqlite}", "postgresql://root@127.0.0.1:1/none", "cannot open the target"),
    ],
)
def test_wrong_arguments_are_one_readable_line(deployment, tmp_path, source, target, message):
    source = source.format(missing=tmp_path / "missing.db", sqlite=deployment["path"])
    result = copy(source, target)
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "Traceback" not in result.output


def test_a_copy_while_the_sqlite_server_records_is_one_moment_of_it(tmp_path, served):
    """The source is read in one read transaction: the SQLite server goes on recording (no
    decision refused), and the copy holds a consistent snapshot between before and after."""
    from test_backup import Writer, exported, post_decision, prepare, wait_for

    live = tmp_path / "live" / "privacy-center.db"
    live.parent.mkdir()
    token = prepare(str(live))
    base = served(str(live), PRIVACY_CENTER_RATE_LIMIT="off")
    before = [post_decision(base) for _ in range(20)]
    with new_database() as url, Writer(base) as writer:
        wait_for(writer, 5)
        acknowledged = before + list(writer.answers)
        result = copy(str(live), url)
        wait_for(writer, 5)
        writer.stop.set()
        writer.join(timeout=30)
        assert result.exit_code == 0, result.output
        assert not writer.failures
        copied = {row[0] for row in _consent_ids(url)}
        assert {a["consent_id"] for a in acknowledged} <= copied
        assert copied <= {a["consent_id"] for a in before + writer.answers}
        assert len(copied) < len(exported(base, token))  # the server recorded more after it


def _consent_ids(url):
    db = connect(url)
    try:
        return db.execute("SELECT consent_id FROM decisions").fetchall()
    finally:
        db.close()

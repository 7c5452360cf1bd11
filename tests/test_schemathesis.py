"""Every /api/v1 operation, public and admin, fuzzed by schemathesis against the real server.

The server is `privacy-center serve` (gunicorn) on a fresh database with the demo registry
published and an admin token. Each operation is called with generated valid and invalid
requests, and each answer must be no 5xx, a documented status code, a documented content type,
and a body that matches the documented schema (server/openapi.py).
"""

import copy

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.cli import DEMO_FILE
from server.openapi import document
from server.storage import accounts, connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from support import DATABASES

# ~40 operations x this many generated cases each: about a minute on two busy cores.
MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(document())
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)


@pytest.fixture(scope="module")
def api(tmp_path_factory, served_module):
    """(base URL, admin token, the demo site's origin) of a real server."""
    db_path = DATABASES.new(tmp_path_factory.mktemp("fuzz"))
    db = connect(db_path)
    migrate(db)
    doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    registry_store.apply(db, copy.deepcopy(doc), "test")
    for site in doc["sites"]:
        revision_store.publish(db, site["key"], "test")
    token = accounts.create_token(db, "fuzz")
    db.close()
    # A fuzzed POST .../scans is accepted and queued like any other; its process then finds no
    # browser and fails at once, instead of crawling in the background beyond this test.
    url = served_module(
        db_path, workers=2, PRIVACY_CENTER_RATE_LIMIT="off", CHROMIUM="/nonexistent/chromium"
    )
    yield url, token, doc["sites"][0]["origins"][0]
    DATABASES.give_back(db_path)


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    max_examples=MAX_EXAMPLES,
    database=None,  # deterministic: nothing to remember between runs
)
def test_the_server_answers_as_documented(case, api):
    url, token, origin = api
    headers = {"Origin": origin}  # the demo site's own pages, so decisions get past the origin
    if case.path.startswith("/api/v1/admin/"):
        headers["Authorization"] = f"Bearer {token}"
    case.call_and_validate(base_url=url, headers=headers, checks=CHECKS, timeout=30)

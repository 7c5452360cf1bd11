"""The OpenAPI document lists exactly the /api/v1 routes the app serves."""

import re


def test_document_and_routes_are_the_same_set(app, client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    documented = {
        (path, method.upper()) for path, ops in document["paths"].items() for method in ops
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD"}:
            if method == "OPTIONS" and "OPTIONS" not in rule.methods - {"HEAD"}:
                continue
            served.add((path, method))
    # Flask adds OPTIONS to every rule; only routes that handle it themselves document it.
    served = {(p, m) for p, m in served if m != "OPTIONS" or (p, m) in documented}
    assert served == documented


def test_every_operation_documents_its_errors(client):
    document = client.get("/api/v1/openapi.json").json
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)
            for name in re_params(path):
                refs = [p.get("$ref", "") for p in op.get("parameters", [])]
                assert refs, (path, method, name)


def re_params(path):
    return re.findall(r"{([^}]+)}", path)


def test_registry_bodies_list_exactly_the_fields_the_server_accepts(client):
    """A closed body must name every field the validation knows, no more, no fewer."""
    from server import registry

    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    expected = {
        "VendorInput": registry.VENDOR_FIELDS,
        "VendorChange": registry.VENDOR_FIELDS,
        "SiteInput": registry.SITE_FIELDS,
        "SiteChange": registry.SITE_FIELDS,
        "CategoryInput": registry.CATEGORY_FIELDS | {"position"},
        "CategoryChange": registry.CATEGORY_FIELDS | {"position"},
        "OrganizationInput": registry.ORG_FIELDS,
        "OrganizationChange": registry.ORG_FIELDS,
    }
    for name, fields in expected.items():
        assert schemas[name]["additionalProperties"] is False, name
        assert set(schemas[name]["properties"]) == fields, name


def test_every_answer_is_described(client):
    document = client.get("/api/v1/openapi.json").json
    responses = document["components"]["responses"]
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                where = (path, method, status)
                if status.startswith("4"):
                    name = answer["$ref"].rsplit("/", 1)[1]
                    if status == "414":  # the HTTP server's own answer, not the application's
                        continue
                    assert "application/json" in responses[name]["content"], where
                elif status not in ("204", "304"):
                    assert answer["content"], where
            if path.startswith("/api/v1/admin/"):
                assert op["security"] == [{"token": []}] and "401" in op["responses"], (
                    path,
                    method,
                )
            elif path != "/api/v1/openapi.json":
                assert op["responses"]["429"]["$ref"].endswith("/RateLimited"), (path, method)
    assert "Retry-After" in responses["RateLimited"]["headers"]


def test_the_documented_examples_are_accepted(db_path):
    """The request examples are real requests against the demo registry."""
    import yaml

    from server import create_app
    from server.cli import DEMO_FILE
    from server.openapi import EXAMPLES
    from server.storage import accounts, connect, migrate
    from server.storage import registry as registry_store
    from server.storage import revisions as revision_store

    db = connect(db_path)
    migrate(db)
    doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    registry_store.apply(db, doc, "test")
    revision_store.publish(db, "news", "test")
    auth = {"Authorization": f"Bearer {accounts.create_token(db, 'examples')}"}
    db.close()
    client = create_app({"DATABASE": db_path, "SECRET_KEY": "s", "TESTING": True}).test_client()
    origin = doc["sites"][0]["origins"][0]
    answers = [
        client.post(
            "/api/v1/sites/news/decisions", json=EXAMPLES["Decision"], headers={"Origin": origin}
        ),
        client.post("/api/v1/admin/vendors", json=EXAMPLES["VendorInput"], headers=auth),
        client.post("/api/v1/admin/sites", json=EXAMPLES["SiteInput"], headers=auth),
        client.post(
            "/api/v1/admin/sites/news/categories", json=EXAMPLES["CategoryInput"], headers=auth
        ),
        client.post(
            "/api/v1/admin/sites/news/vendors", json=EXAMPLES["AssignmentInput"], headers=auth
        ),
    ]
    assert [a.status_code for a in answers] == [201] * 5, [a.json for a in answers]


def test_the_document_is_valid_openapi_3_0():
    import schemathesis

    from server.openapi import document

    schemathesis.openapi.from_dict(document()).validate()  # raises on an invalid document

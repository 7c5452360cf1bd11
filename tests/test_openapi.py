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

"""The command line: apply/export round trip, a bad file changing nothing, publish, export."""

import json

import yaml
from click.testing import CliRunner

from server.cli import DEMO_FILE, main
from support import ORIGIN


def run(db_path, *args, input=None):
    return CliRunner().invoke(
        main, ["--database", db_path, *args], input=input, catch_exceptions=False
    )


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(
        json.dumps(doc) if name.endswith(".json") else yaml.safe_dump(doc, allow_unicode=True),
        encoding="utf-8",
    )
    return str(path)


def test_apply_is_idempotent_and_export_round_trips(tmp_path, db_path, registry_doc):
    path = write(tmp_path, "registry.yaml", registry_doc)
    first = run(db_path, "registry", "apply", path, "--publish")
    assert first.exit_code == 0, first.output
    assert "create vendor google-analytics" in first.output
    assert "published shop revision 1" in first.output
    second = run(db_path, "registry", "apply", path, "--publish")
    assert "no changes" in second.output and "unchanged since revision 1" in second.output
    exported = run(db_path, "registry", "export").output
    again = write(tmp_path, "exported.yaml", yaml.safe_load(exported))
    assert "no changes" in run(db_path, "registry", "apply", again).output
    as_json = run(db_path, "registry", "export", "--format", "json").output
    json_path = write(tmp_path, "exported.json", json.loads(as_json))
    assert "no changes" in run(db_path, "registry", "apply", json_path).output
    assert yaml.safe_load(exported) == json.loads(as_json)


def test_export_of_one_site_applies_as_a_no_op(tmp_path, db_path):
    run(db_path, "registry", "apply", str(DEMO_FILE))
    one = run(db_path, "registry", "export", "--site", "shop").output
    doc = yaml.safe_load(one)
    assert [s["key"] for s in doc["sites"]] == ["shop"]
    assert "youtube" not in [v["key"] for v in doc["vendors"]]  # used only by news
    assert "no changes" in run(db_path, "registry", "apply", write(tmp_path, "s.yaml", doc)).output
    full = yaml.safe_load(run(db_path, "registry", "export").output)
    assert [s["key"] for s in full["sites"]] == ["news", "shop"]


def test_bad_file_changes_nothing_and_lists_every_problem(tmp_path, db_path, registry_doc):
    run(db_path, "registry", "apply", write(tmp_path, "ok.yaml", registry_doc))
    before = run(db_path, "registry", "export").output
    registry_doc["vendors"][0]["recipient"] = "Changed LLC"  # a valid change ...
    del registry_doc["sites"][0]["categories"][2]["name"]["en"]  # ... next to two bad ones
    registry_doc["sites"][0]["origins"].append("not an origin")
    result = CliRunner().invoke(
        main,
        ["--database", db_path, "registry", "apply", write(tmp_path, "bad.yaml", registry_doc)],
    )
    assert result.exit_code != 0
    assert "error: sites[0].categories[2].name.en: missing" in result.output
    assert "error: sites[0].origins[1]: must be an origin" in result.output
    assert "2 problem(s); nothing was changed" in result.output
    assert "Traceback" not in result.output
    assert run(db_path, "registry", "export").output == before


def test_unreadable_and_malformed_files(tmp_path, db_path):
    result = CliRunner().invoke(
        main, ["--database", db_path, "registry", "apply", str(tmp_path / "missing.yaml")]
    )
    assert result.exit_code != 0 and "cannot read" in result.output
    path = tmp_path / "broken.yaml"
    path.write_text("sites: [", encoding="utf-8")
    result = CliRunner().invoke(main, ["--database", db_path, "registry", "apply", str(path)])
    assert result.exit_code != 0 and "not valid YAML or JSON" in result.output


def test_prune_refuses_to_remove_a_published_site(tmp_path, db_path, registry_doc):
    run(db_path, "registry", "apply", write(tmp_path, "a.yaml", registry_doc), "--publish")
    registry_doc["sites"] = []
    result = CliRunner().invoke(
        main,
        [
            "--database",
            db_path,
            "registry",
            "apply",
            "--prune",
            write(tmp_path, "b.yaml", registry_doc),
        ],
    )
    assert result.exit_code != 0 and "has published revisions" in result.output


def test_publish_and_decisions_export(tmp_path, db_path, registry_doc, app):
    run(db_path, "registry", "apply", write(tmp_path, "a.yaml", registry_doc))
    assert "published shop revision 1" in run(db_path, "publish", "shop").output
    assert "unchanged since revision 1" in run(db_path, "publish", "shop").output
    result = CliRunner().invoke(main, ["--database", db_path, "publish", "nope"])
    assert result.exit_code != 0 and "no site 'nope'" in result.output
    client = app.test_client()
    body = {
        "revision": 1,
        "action": "reject_all",
        "categories": {"functional": False, "analytics": False, "advertising": False},
    }
    assert (
        client.post(
            "/api/v1/sites/shop/decisions", json=body, headers={"Origin": ORIGIN}
        ).status_code
        == 201
    )
    out = run(db_path, "decisions", "export", "shop", "--format", "csv").output.splitlines()
    assert out[0].startswith("recorded_at,consent_id") and len(out) == 2 and "reject_all" in out[1]
    assert run(db_path, "decisions", "export", "shop", "--since", "2999-01-01").output == ""
    result = CliRunner().invoke(
        main, ["--database", db_path, "decisions", "export", "shop", "--since", "soon"]
    )
    assert result.exit_code != 0 and "ISO 8601" in result.output


def test_create_token_prints_only_the_token(db_path):
    result = run(db_path, "create-token", "ci")
    assert result.output.startswith("pc_") and len(result.output.strip().split()) == 1


def test_create_admin(db_path):
    result = run(db_path, "create-admin", "root@example.com")
    assert result.exit_code == 0 and "with password" in result.output
    result = CliRunner().invoke(
        main,
        ["--database", db_path, "create-admin", "root@example.com", "--password-stdin"],
        input="long-enough-password\n",
    )
    assert result.exit_code != 0 and "already exists" in result.output
    result = run(
        db_path,
        "create-admin",
        "two@example.com",
        "--password-stdin",
        input="long-enough-password\n",
    )
    assert result.exit_code == 0 and "long-enough-password" not in result.output


def test_demo_loads_once(db_path):
    first = run(db_path, "demo", "--origin", "http://127.0.0.1:8000")
    assert "published news revision 1" in first.output and "admin login:" in first.output
    second = run(db_path, "demo")
    assert "demo not loaded" in second.output and "admin login" not in second.output


def test_init_db_is_idempotent(db_path):
    assert "schema version" in run(db_path, "init-db").output
    assert "(up to date)" in run(db_path, "init-db").output


def test_the_documented_example_registry_applies(db_path):
    from pathlib import Path

    example = Path(__file__).parent.parent / "docs" / "examples" / "registry.yaml"
    result = run(db_path, "registry", "apply", str(example), "--publish")
    assert result.exit_code == 0 and "published shop revision 1" in result.output

"""A site's `appearance` (layout, position, brand colours): validated, published, round-tripped."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from server.cli import main
from server.registry import RegistryError, contrast, normalize
from server.storage import registry as registry_store
from server.storage import revisions as revision_store

BOX = {
    "layout": "box",
    "position": "bottom-left",
    "colors": {"accent": "#1A73E8", "accent_text": "#fff"},
}


def problems(doc):
    with pytest.raises(RegistryError) as info:
        normalize(doc)
    return info.value.problems


def test_a_site_without_appearance_keeps_none_and_a_given_one_is_normalised(registry_doc):
    assert normalize(registry_doc)["sites"][0]["appearance"] is None
    registry_doc["sites"][0]["appearance"] = BOX
    site = normalize(registry_doc)["sites"][0]
    assert site["appearance"] == {
        "layout": "box",
        "position": "bottom-left",
        "colors": {"accent": "#1a73e8", "accent_text": "#fff"},
    }


def test_layout_alone_gets_its_default_position(registry_doc):
    registry_doc["sites"][0]["appearance"] = {"layout": "box"}
    assert normalize(registry_doc)["sites"][0]["appearance"] == {
        "layout": "box",
        "position": "bottom-right",
        "colors": {},
    }
    registry_doc["sites"][0]["appearance"] = {"position": "top"}
    assert normalize(registry_doc)["sites"][0]["appearance"]["layout"] == "bar"


@pytest.mark.parametrize(
    "appearance,expected",
    [
        ("box", "sites[0].appearance: must be a mapping"),
        ({"layout": "popup"}, "sites[0].appearance.layout: must be bar or box"),
        ({"layout": ["box"]}, "sites[0].appearance.layout: must be bar or box"),
        (
            {"layout": "bar", "position": "bottom-left"},
            "sites[0].appearance.position: must be bottom or top for layout bar",
        ),
        (
            {"layout": "box", "position": "top"},
            "sites[0].appearance.position: must be bottom-right or bottom-left for layout box",
        ),
        ({"size": "big"}, "sites[0].appearance.size: unknown field"),
        (
            {"colors": {"background": "#000"}},
            "sites[0].appearance.colors.background: unknown field",
        ),
        (
            {"colors": {"accent": "red"}},
            "sites[0].appearance.colors.accent: must be a colour written #rgb or #rrggbb",
        ),
        (
            {"colors": {"accent": "#123;}body{x:y"}},
            "sites[0].appearance.colors.accent: must be a colour written #rgb or #rrggbb",
        ),
        (
            {"colors": {"accent": "#12345"}},
            "sites[0].appearance.colors.accent: must be a colour written #rgb or #rrggbb",
        ),
        (
            {"colors": {"accent_text": 255}},
            "sites[0].appearance.colors.accent_text: must be a colour written #rgb or #rrggbb",
        ),
        (
            {"colors": {"accent": "#ffcc00", "accent_text": "#000"}},
            "sites[0].appearance.colors.accent: is too light for text on white (links, the "
            "Customize button): needs a contrast of 4.5:1 (WCAG AA)",
        ),
        (
            {"colors": {"accent": "#1a73e8", "accent_text": "#9ab"}},
            "sites[0].appearance.colors.accent_text: has too little contrast with the accent "
            "colour: needs 4.5:1 (WCAG AA)",
        ),
    ],
)
def test_each_bad_field_is_named(registry_doc, appearance, expected):
    registry_doc["sites"][0]["appearance"] = appearance
    assert problems(registry_doc) == [expected]


def test_contrast_follows_wcag():
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#fff", "#fff") == pytest.approx(1)
    assert contrast("#0b4fb0", "#ffffff") == pytest.approx(7.6, abs=0.1)


def test_it_reaches_the_revision_the_config_and_the_widget(db, client, registry_doc):
    registry_doc["sites"][0]["appearance"] = BOX
    registry_store.apply(db, registry_doc, "test")
    revision, _ = revision_store.publish(db, "shop", "test")
    assert revision["content"]["site"]["appearance"]["layout"] == "box"
    config = client.get("/api/v1/sites/shop/config").get_json()
    assert config["appearance"] == {
        "layout": "box",
        "position": "bottom-left",
        "colors": {"accent": "#1a73e8", "accent_text": "#fff"},
    }
    script = client.get("/w/shop.js", headers={"Accept-Encoding": "identity"}).data.decode()
    embedded = json.JSONDecoder().raw_decode(script[script.rindex('({"site"') + 1 :])[0]
    assert embedded["appearance"] == config["appearance"]

    # A change of look is a new revision, and visitors keep their decisions.
    registry_doc["sites"][0]["appearance"] = {"layout": "bar", "position": "top"}
    registry_store.apply(db, registry_doc, "test")
    second, created = revision_store.publish(db, "shop", "test")
    assert created and not second["needs_decision"]
    assert {"change": "site_changed", "fields": ["appearance"]} in second["changes"]


def test_a_site_without_appearance_gets_the_defaults_and_no_new_revision(db, client, published):
    config = client.get("/api/v1/sites/shop/config").get_json()
    assert config["appearance"] == {"layout": "bar", "position": "bottom", "colors": {}}
    assert "appearance" not in published["content"]["site"]
    _revision, created = revision_store.publish(db, "shop", "test")
    assert not created


def test_export_and_apply_round_trip(tmp_path, db_path, registry_doc):
    registry_doc["sites"][0]["appearance"] = BOX
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(registry_doc, allow_unicode=True), encoding="utf-8")

    def run(*args):
        return CliRunner().invoke(main, ["--database", db_path, *args], catch_exceptions=False)

    assert run("registry", "apply", str(path)).exit_code == 0
    exported = yaml.safe_load(run("registry", "export").output)
    assert exported["sites"][0]["appearance"] == {
        "layout": "box",
        "position": "bottom-left",
        "colors": {"accent": "#1a73e8", "accent_text": "#fff"},
    }
    again = tmp_path / "again.json"
    again.write_text(json.dumps(exported), encoding="utf-8")
    assert "no changes" in run("registry", "apply", str(again)).output

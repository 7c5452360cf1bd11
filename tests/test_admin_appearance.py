"""The site settings form edits the banner's appearance, with errors next to their fields."""

from __future__ import annotations

from server.storage import registry as registry_store


def site_form(**changes):
    form = {
        "name.ja": "サンプルショップ",
        "name.en": "Sample Shop",
        "origins": "https://shop.example.co.jp",
        "languages.ja": "1",
        "languages.en": "1",
        "default_language": "ja",
        "consent_max_age_days": "180",
        "honor_gpc": "1",
        "appearance.layout": "bar",
    }
    form.update(changes)
    return form


def stored(db):
    return next(s for s in registry_store.load(db)["sites"] if s["key"] == "shop")


def test_the_form_shows_and_saves_the_appearance(admin_client, published, db):
    editor = admin_client("editor")
    page = editor.get("/admin/sites/shop").text
    assert 'name="appearance.layout"' in page and 'value="bar" selected' in page
    response = editor.post(
        "/admin/sites/shop",
        site_form(
            **{
                "appearance.layout": "box",
                "appearance.position": "bottom-left",
                "appearance.colors.accent": "#AD1457",
            }
        ),
    )
    assert response.status_code == 302
    assert stored(db)["appearance"] == {
        "layout": "box",
        "position": "bottom-left",
        "colors": {"accent": "#ad1457"},
    }
    page = editor.get("/admin/sites/shop").text
    assert 'value="box" selected' in page and 'value="bottom-left" selected' in page
    assert 'value="#ad1457"' in page


def test_bad_values_are_named_next_to_their_fields_and_nothing_is_saved(
    admin_client, published, db
):
    editor = admin_client("editor")
    response = editor.post(
        "/admin/sites/shop",
        site_form(
            **{
                "appearance.position": "bottom-left",
                "appearance.colors.accent": "red;}x{",
            }
        ),
    )
    assert response.status_code == 400
    text = response.text
    assert 'id="err-appearance-position"' in text and "must be bottom or top for layout bar" in text
    assert 'id="err-appearance-colors-accent"' in text
    assert "must be a colour written #rgb or #rrggbb" in text
    assert "red;}x{" in text and "<x" not in text
    assert stored(db)["appearance"] is None

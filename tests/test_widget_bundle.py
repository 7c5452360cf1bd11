"""The widget's bundle: built from widget/ in the test run, small, and served prebuilt when installed."""

from __future__ import annotations

import gzip
import shutil

import pytest
import yaml
from calmjs.parse import es5

from server import create_app, widget
from server.cli import DEMO_FILE
from server.storage import registry as registry_store
from server.storage import revisions as revision_store
from server.widget_build import (
    WidgetBuildError,
    build_sources,
    main,
    read_dist,
    write_dist,
)
from support import cdn_app

# The demo site's whole first load, gzip: the widget's code, styles and first-layer config
# (the preferences' part comes only on the first "Customize").
FIRST_LOAD_BUDGET = 6_000


@pytest.fixture
def widget_copy(tmp_path):
    copy = tmp_path / "widget"
    shutil.copytree(widget.WIDGET_DIR, copy)
    return copy


def test_the_bundle_builds_from_the_sources_and_parses_again():
    sources = build_sources(widget.WIDGET_DIR)
    assert sources.js.startswith("(function(") and sources.js.endswith("})")
    es5(sources.js)  # the minified code is valid JavaScript too
    # The stylesheets in the order their modules are joined (base first), minified: no comments, no line breaks.
    assert sources.css.startswith(":host{all:initial") and ".pc-btn{" in sources.css
    assert "\n" not in sources.css and "/*" not in sources.css
    assert build_sources(widget.WIDGET_DIR).digest == sources.digest  # reproducible


def test_the_preferences_are_a_second_file_that_the_first_one_names():
    sources = build_sources(widget.WIDGET_DIR)
    es5(sources.part)
    assert sources.part.startswith("document.currentScript.pcPart(function(")
    # The first file carries the banner only; the part the dialog, its words and its styles.
    assert "Accept all" in sources.js and "Save choices" not in sources.js
    assert "Save choices" in sources.part and "選択を保存" in sources.part
    assert ".pc-banner" in sources.css and ".pc-switch" not in sources.css
    assert ".pc-switch" in sources.part
    # Named by its content: the address in the first file changes with the part.
    assert sources.part_path.startswith("/w/p/") and f'"{sources.part_path}"' in sources.js


def test_the_notice_is_in_the_first_file_and_what_a_withdrawal_does_in_the_part():
    sources = build_sources(widget.WIDGET_DIR)
    # The regimes' first layer (docs/widget.md, "Regimes"): its words in both languages.
    for text in ("About external transmission", "外部送信について", "Close", "閉じる"):
        assert text in sources.js
    assert ".pc-close{" in sources.css and "'dismiss'" in sources.js
    # Deleting cookies and reloading come with the part, fetched on a withdrawal.
    for code in ("max-age=0", "location.reload"):
        assert code in sources.part and code not in sources.js


def test_the_part_gets_the_first_files_names_it_uses_in_one_order(widget_copy):
    prefs = widget_copy / "src" / "modals" / "preferences.js"
    sources = build_sources(widget_copy)
    takes = sources.part[len("document.currentScript.pcPart(function(") :].split(")")[0]
    # The part's stylesheet, then each name it uses of the first file (h, T, decide, ...).
    assert len(takes.split(",")) > 10
    edit(
        prefs,
        "\nvar prefs",
        "\nimport { consentDefault } from '../core/consent-mode.js';\nvar prefs",
    )
    with prefs.open("a", encoding="utf-8") as handle:
        handle.write("function usesMore() { return consentDefault; }\n")
    more = build_sources(widget_copy)
    assert len(more.part.split(")")[0].split(",")) == len(takes.split(",")) + 1
    assert more.part_path != sources.part_path and more.js != sources.js


def test_a_part_without_its_return_value_fails_the_build(widget_copy):
    prefs = widget_copy / "src" / "modals" / "preferences.js"
    prefs.write_text(prefs.read_text(encoding="utf-8").replace("var PART =", "var NOPE ="))
    with pytest.raises(WidgetBuildError, match="does not declare `var PART`"):
        build_sources(widget_copy)


def test_a_syntax_error_in_the_part_names_its_file(widget_copy):
    prefs = widget_copy / "src" / "modals" / "preferences-texts.js"
    prefs.write_text("var P = {;\n", encoding="utf-8")
    with pytest.raises(WidgetBuildError, match=r"preferences-texts\.js: Unexpected ';' at 1:10"):
        build_sources(widget_copy)


def test_a_syntax_error_fails_the_build_naming_the_file_and_line(widget_copy):
    broken = widget_copy / "src" / "core" / "state.js"
    lines = broken.read_text(encoding="utf-8").count("\n")
    with broken.open("a", encoding="utf-8") as handle:
        handle.write("function broken( {\n  return 1;\n}\n")
    with pytest.raises(WidgetBuildError) as caught:
        build_sources(widget_copy)
    message = str(caught.value)
    assert message.startswith("the widget's JavaScript does not parse: ")
    assert f"{broken}: Unexpected '{{' at {lines + 1}:18" in message


def test_an_unterminated_string_in_the_last_module_is_located_too(widget_copy):
    main_js = widget_copy / "src" / "main.js"
    main_js.write_text("var ok = 1;\nvar text = 'never closed;\n", encoding="utf-8")
    with pytest.raises(WidgetBuildError, match=r"src/main\.js: Unterminated string .* at 2:12"):
        build_sources(widget_copy)


def test_a_file_that_no_module_imports_or_a_missing_import_fails_the_build(widget_copy):
    (widget_copy / "src" / "utils" / "extra.js").write_text("export var extra = 1;\n")
    with pytest.raises(WidgetBuildError, match=r"src/utils/extra\.js is not imported by any"):
        build_sources(widget_copy)
    (widget_copy / "src" / "utils" / "extra.js").unlink()
    (widget_copy / "styles" / "banner.css").unlink()
    with pytest.raises(
        WidgetBuildError, match=r"banner\.js:\d+: \.\./\.\./styles/banner\.css does"
    ):
        build_sources(widget_copy)


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_first_file_cannot_pull_the_preferences_in(widget_copy):
    edit(
        widget_copy / "src" / "core" / "api.js",
        "\nexport function acceptAll",
        "\nimport { P } from '../modals/preferences-texts.js';\nexport function acceptAll",
    )
    edit(widget_copy / "src" / "core" / "api.js", "var cats = {};", "var cats = {}, p = P;")
    # A module that only the part needs may be shared: it moves to the first file.
    sources = build_sources(widget_copy)
    assert "Save choices" in sources.js
    edit(
        widget_copy / "src" / "core" / "api.js",
        "\nexport function acceptAll",
        "\nimport { PART } from '../modals/preferences.js';\nexport function acceptAll",
    )
    edit(widget_copy / "src" / "core" / "api.js", "p = P;", "p = P, q = PART;")
    edit(widget_copy / "src" / "modals" / "preferences.js", "var PART =", "export var PART =")
    with pytest.raises(WidgetBuildError, match="the preferences would be in the first load"):
        build_sources(widget_copy)


@pytest.mark.parametrize(
    "file,old,new,error",
    [
        # A name of another module used without importing it.
        (
            "src/core/api.js",
            "import { listeners } from '../utils/events.js';\n",
            "\n",
            r"api\.js: uses `listeners` of src/utils/events\.js without importing it",
        ),
        # An import that nothing uses.
        (
            "src/core/texts.js",
            "import { LANG } from './config.js';",
            "import { LANG, SITE } from './config.js';",
            r"texts\.js: imports `SITE` but does not use it",
        ),
        # A name the other module does not export.
        (
            "src/utils/dom.js",
            "export function h(",
            "function h(",
            r"(root|banner|preferences)\.js: src/utils/dom\.js does not export `h`",
        ),
        # Two modules of a file share one scope: one home per name.
        (
            "src/utils/cookies.js",
            "export function readCookie",
            "function h() {}\nexport function readCookie",
            r"`h` is declared in src/",
        ),
    ],
)
def test_imports_must_say_what_a_module_uses(widget_copy, file, old, new, error):
    edit(widget_copy / file, old, new)
    with pytest.raises(WidgetBuildError, match=error):
        build_sources(widget_copy)


def test_the_demo_sites_first_load_stays_within_budget(client, db):
    registry_store.apply(db, yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8")), "test")
    revision_store.publish(db, "news", "test")
    response = client.get("/w/news.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "gzip"
    assert '"site":"news"' in gzip.decompress(response.data).decode()
    assert len(response.data) <= FIRST_LOAD_BUDGET, f"{len(response.data)} bytes gzip"


def test_a_site_with_regimes_stays_within_budget_in_each_regime(db_path, db):
    # The example rules on the demo site, seen from each kind of region.
    doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    doc["sites"][0]["regimes"] = {
        "default": "opt_in",
        "regions": {"JP": "notice", "US-CA": "opt_out", "US": "opt_out", "EU": "opt_in"},
    }
    registry_store.apply(db, doc, "test")
    revision_store.publish(db, doc["sites"][0]["key"], "test")
    app = cdn_app(db_path)
    client = app.test_client()
    for region, regime in (("JP", "notice"), ("US", "opt_out"), ("DE", "opt_in")):
        headers = {"Accept-Encoding": "gzip", "CF-IPCountry": region, "CF-Region-Code": "CA"}
        response = client.get(f"/w/{doc['sites'][0]['key']}.js", headers=headers)
        text = gzip.decompress(response.data).decode()
        assert f'"regime":"{regime}"' in text and '"regimes"' not in text
        assert len(response.data) <= FIRST_LOAD_BUDGET, f"{region}: {len(response.data)} gzip"


def test_an_installed_package_serves_the_prebuilt_bundle(tmp_path, monkeypatch, db_path, published):
    dist = tmp_path / "widget_dist"
    built = write_dist(widget.WIDGET_DIR, dist)
    assert read_dist(dist) == built
    monkeypatch.setattr(widget, "WIDGET_DIR", tmp_path / "no-checkout" / "widget")
    monkeypatch.setattr(widget, "DIST_DIR", dist)

    def no_build(directory):
        raise AssertionError(f"built from {directory} at run time")

    monkeypatch.setattr(widget, "build_sources", no_build)
    app = create_app({"DATABASE": db_path, "SECRET_KEY": "x", "TESTING": True})
    client = app.test_client()
    body = client.get("/w/shop.js", headers={"Accept-Encoding": "identity"}).data
    assert body.decode().startswith(built.js + "(")
    part = client.get(built.part_path, headers={"Accept-Encoding": "identity"})
    assert part.status_code == 200 and part.data.decode() == built.part


def test_an_altered_or_missing_bundle_is_an_error(tmp_path, monkeypatch):
    dist = tmp_path / "widget_dist"
    write_dist(widget.WIDGET_DIR, dist)
    with (dist / "widget.min.js").open("a") as handle:
        handle.write(";")
    with pytest.raises(WidgetBuildError, match="does not match its widget.sha256"):
        read_dist(dist)
    (dist / "widget.min.css").unlink()
    with pytest.raises(WidgetBuildError, match="incomplete widget bundle"):
        read_dist(dist)
    # Neither a checkout nor a bundle: the application does not start.
    monkeypatch.setattr(widget, "WIDGET_DIR", tmp_path / "none")
    monkeypatch.setattr(widget, "DIST_DIR", tmp_path / "none")
    with pytest.raises(RuntimeError, match="no widget to serve"):
        create_app({"DATABASE": str(tmp_path / "pc.db"), "SECRET_KEY": "x"})


def test_the_build_command_writes_the_bundle(tmp_path, capsys):
    assert main([str(tmp_path / "out")]) == 0
    assert "bytes of JavaScript" in capsys.readouterr().out
    assert read_dist(tmp_path / "out") == build_sources(widget.WIDGET_DIR)
    assert main([]) == 2

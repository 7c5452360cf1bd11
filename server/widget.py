"""The embeddable widget: /w/<site>.js assembled, minified and compressed once per revision."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request

from . import regions
from .compression import add_vary
from .db import get_db
from .registry import SITE_KEY
from .revisions import public_config
from .storage import revisions as revision_store
from .widget_build import ENTRY, Sources, build_sources, read_dist

try:
    import brotli
except ImportError:  # brotli is optional: gzip alone still serves every browser
    brotli = None

# A development checkout builds from the sources next to the package; an installed wheel serves
# the bundle its build step wrote (server/widget_build.py, setup.py).
WIDGET_DIR = Path(__file__).resolve().parent.parent / "widget"
DIST_DIR = Path(__file__).resolve().parent / "widget_dist"
CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=86400"
# The preferences' part is named by its content hash: a new build gets a new address.
PART_CACHE_CONTROL = "public, max-age=31536000, immutable"
# What the first layer needs; vendor details are fetched from the config API when the
# preferences are first opened, so the script does not grow with the number of vendors.
FIRST_LAYER_FIELDS = (
    "revision",
    "consent_revision",
    "name",
    "notice",
    "languages",
    "default_language",
    "consent_max_age_days",
    "cookie_domain",
    "google_consent_mode",
    "honor_gpc",
    "reload_on_withdrawal",
    "appearance",
)

bp = Blueprint("widget", __name__)


@bp.record_once
def _check_source(state):
    widget_source(state.app.config.get("WIDGET_DIR"))  # fail at start-up, not on a request


@dataclass(frozen=True)
class Bundle:
    raw: bytes
    gzip: bytes
    br: bytes | None
    etag: str


_sources: dict[str, Sources] = {}
_bundles: OrderedDict = OrderedDict()
_lock = threading.Lock()
# Bundles kept per worker (~50 kB each with their encodings): sites x revisions in use x the
# regions their visitors come from when a region header is configured.
_CACHE_SIZE = 512


def load_sources(directory: Path = WIDGET_DIR) -> Sources:
    """The widget's code and styles built from `directory`, once per process."""
    key = str(directory)
    if key not in _sources:
        _sources[key] = build_sources(directory)
    return _sources[key]


def widget_source(configured: str | None = None) -> Path:
    """Where the widget comes from: the `WIDGET_DIR` setting, else the development checkout's
    `widget/` (so edits are picked up on restart), else the installed package's prebuilt bundle."""
    if configured:
        return Path(configured)
    if (WIDGET_DIR / ENTRY).is_file():
        return WIDGET_DIR
    if (DIST_DIR / "widget.sha256").is_file():
        return DIST_DIR
    raise RuntimeError(
        f"no widget to serve: neither {WIDGET_DIR} (a development checkout) nor {DIST_DIR} "
        "(an installed wheel); build the wheel with `pip wheel .`, not by copying the package"
    )


def current_sources() -> Sources:
    source = widget_source(current_app.config.get("WIDGET_DIR"))
    if source == DIST_DIR:
        key = str(source)
        if key not in _sources:
            _sources[key] = read_dist(source)
        return _sources[key]
    return load_sources(source)


def script_json(value) -> str:
    """JSON that is safe inside a script: no `</script>`, no line separators that end a string."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def first_layer_config(revision: dict, regime: str = "opt_in", region: str | None = None) -> dict:
    """What the first file needs of the site. Empty values (null, false, [], {}) are left out:
    the widget reads a missing field as empty, and every visitor pays for each byte; but for
    this request's `regime` and `region` (null when unknown), always there."""
    config = public_config(revision)
    out = {"site": config["site"], "regime": regime, "region": region}
    out.update({field: config.get(field) for field in FIRST_LAYER_FIELDS})
    out["categories"] = [
        _present(
            {
                "key": c["key"],
                "required": c["required"],
                "google_consent_types": c["google_consent_types"],
                "gpc_refuses": c["gpc_refuses"],
            }
        )
        for c in config["categories"]
    ]
    return {**_present(out), "regime": regime, "region": region}


def _present(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if value not in (None, False, [], {})}


def compressed(raw: bytes) -> Bundle:
    return Bundle(
        raw=raw,
        gzip=gzip.compress(raw, 9, mtime=0),
        br=brotli.compress(raw, quality=11) if brotli else None,
        etag=hashlib.sha256(raw).hexdigest()[:32],
    )


def build(config: dict, sources: Sources) -> Bundle:
    text = sources.js + "(" + script_json(config) + "," + script_json(sources.css) + ");\n"
    return compressed(text.encode("utf-8"))


def bundle_for(db, site_key: str) -> Bundle | None:
    """The site's widget for its latest revision and this request's region, built on first use
    and kept in memory (keyed by regime and region: JP's script is never DE's)."""
    head = revision_store.head(db, site_key)
    if head is None:
        return None
    sources = current_sources()
    region = regions.request_region()
    key = (current_app.config["DATABASE"], site_key, head[0], head[1], sources.digest, region)
    with _lock:
        bundle = _bundles.get(key)
        if bundle is not None:
            _bundles.move_to_end(key)
            return bundle
    revision = revision_store.get(db, site_key, head[0])
    assert revision is not None  # its head was read just above; revisions are never deleted
    regime = regions.regime_for(revision["content"]["site"].get("regimes"), region)
    # One bundle per region its visitors come from, on each worker: ~20 ms of brotli each for
    # the test registry's 13 kB (docs/regions.md, "Caching").
    bundle = build(first_layer_config(revision, regime, region), sources)
    with _lock:
        _bundles[key] = bundle
        while len(_bundles) > _CACHE_SIZE:
            _bundles.popitem(last=False)
    return bundle


def missing_script(site_key: str) -> Response:
    # A site must never break because its widget is missing: valid, silent but for one warning.
    body = (
        "console.warn("
        + script_json(f"Privacy Center: no published widget for site '{site_key[:60]}'")
        + ");\n"
    )
    response = Response(body, content_type="text/javascript; charset=utf-8")
    response.headers["Cache-Control"] = "public, max-age=60"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


_parts: dict[str, Bundle] = {}


def part_bundle(sources: Sources) -> Bundle:
    """The preferences' part, the same for every site, compressed once per build."""
    bundle = _parts.get(sources.digest)
    if bundle is None:
        bundle = _parts[sources.digest] = compressed(sources.part.encode("utf-8"))
    return bundle


@bp.get("/w/<site_key>.js")
def script(site_key):
    bundle = bundle_for(get_db(), site_key) if SITE_KEY.match(site_key) else None
    if bundle is None:
        return missing_script(site_key)
    response = send_bundle(bundle, CACHE_CONTROL)
    add_vary(response.headers, *regions.vary_headers())
    return response


@bp.get("/w/p/<name>.js")
def part(name):
    """The preferences' code and styles, loaded by the first file on the first "Customize"."""
    sources = current_sources()
    if request.path != sources.part_path:
        # An address from another build (a page that kept an older first file): a script that
        # fails, so that the widget says the preferences could not be loaded.
        response = Response(
            "throw new Error('Privacy Center: this widget build is no longer served');\n",
            status=404,
            content_type="text/javascript; charset=utf-8",
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
    return send_bundle(part_bundle(sources), PART_CACHE_CONTROL)


def send_bundle(bundle: Bundle, cache_control: str) -> Response:
    accepted = request.accept_encodings
    if bundle.br is not None and accepted["br"]:
        body, encoding, etag = bundle.br, "br", bundle.etag + "-br"
    elif accepted["gzip"]:
        body, encoding, etag = bundle.gzip, "gzip", bundle.etag + "-gz"
    else:
        body, encoding, etag = bundle.raw, None, bundle.etag
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(body, content_type="text/javascript; charset=utf-8")
        if encoding:
            response.headers["Content-Encoding"] = encoding
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/demo/<site_key>")
def demo(site_key):
    """A sample publisher page embedding the site's widget, with held example scripts."""
    head = revision_store.head(get_db(), site_key) if SITE_KEY.match(site_key) else None
    if head is None:
        abort(404)
    revision = revision_store.get(get_db(), site_key, head[0])
    config = public_config(revision)
    lang = request.args.get("lang")
    if lang not in config["languages"]:
        lang = (
            request.accept_languages.best_match(config["languages"]) or config["default_language"]
        )
    return render_template("demo/page.html", config=config, lang=lang, site_key=site_key)


@bp.get("/demo/<site_key>/video")
def demo_video(site_key):
    """What the demo page's held iframe shows once its category is accepted."""
    if not SITE_KEY.match(site_key):
        abort(404)
    return render_template("demo/video.html", site_key=site_key)

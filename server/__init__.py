"""The privacy center: a Flask application for the registry, revisions, consent log and pages."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask

__version__ = "0.1.0"


def default_database() -> str:
    return os.environ.get("PRIVACY_CENTER_DB") or "instance/privacy-center.db"


def load_secret_key(instance_dir: Path) -> str:
    """The signing key: from the environment, else generated once into the instance folder."""
    key = os.environ.get("PRIVACY_CENTER_SECRET_KEY")
    if key:
        return key
    path = instance_dir / "secret_key"
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        # O_EXCL: when several workers start at once, exactly one writes the key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    for _ in range(50):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)  # another worker is writing it right now
    raise RuntimeError(f"{path} is empty")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    config = dict(test_config or {})
    from .storage import engine

    database = engine.normalise(config.get("DATABASE") or default_database())
    app.config["DATABASE"] = database
    app.config["SECRET_KEY"] = config.get("SECRET_KEY") or load_secret_key(
        engine.instance_dir(database)
    )
    app.config["JSON_SORT_KEYS"] = False
    # No request body needs more (a registry edit is a few kB, a decision at most 16 kB): a
    # larger one is refused (413) before it is read, on every route.
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.config.update(config)

    from . import (
        admin_api,
        api,
        compression,
        db,
        errors,
        openapi,
        pages,
        privacy_center,
        ratelimit,
        regions,
        security_headers,
        widget,
    )

    db.init_app(app)
    errors.init_app(app)
    ratelimit.init_app(app)  # PRIVACY_CENTER_RATE_LIMIT, _REDIS, _TRUSTED_PROXIES
    regions.init_app(app)  # PRIVACY_CENTER_REGION_HEADER, _SUBDIVISION_HEADER
    security_headers.init_app(app)
    compression.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(privacy_center.bp)
    app.register_blueprint(widget.bp)
    from admin import bp as admin_ui  # the admin web UI is its own top-level package

    app.register_blueprint(admin_ui)
    return app

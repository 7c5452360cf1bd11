"""Shared by the widget benchmarks: a temporary database with the demo sites and a 30-vendor site."""

from __future__ import annotations

import copy
import subprocess
import tarfile
import tempfile
from pathlib import Path

import yaml

from server import create_app
from server.cli import DEMO_FILE
from server.storage import connect, migrate
from server.storage import registry as registry_store
from server.storage import revisions as revision_store


def make_app(origins: list[str]):
    """An app on a temporary database: demo sites `news`, `shop`, and `big` with 30 vendors."""
    tmp = Path(tempfile.mkdtemp(prefix="pc-bench-"))
    path = str(tmp / "pc.db")
    db = connect(path)
    migrate(db)
    doc = yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8"))
    for site in doc["sites"]:
        site["origins"] = site["origins"] + origins
    big = copy.deepcopy(doc["sites"][0])
    big["key"] = "big"
    template = doc["vendors"][0]
    big["vendors"] = []
    for i in range(30):
        vendor = copy.deepcopy(template)
        vendor["key"] = f"vendor-{i:02d}"
        vendor["name"] = f"Vendor {i:02d} Analytics Platform"
        vendor["recipient"] = f"Vendor {i:02d} Inc."
        doc["vendors"].append(vendor)
        big["vendors"].append(
            {"vendor": vendor["key"], "category": ["functional", "analytics", "advertising"][i % 3]}
        )
    doc["sites"].append(big)
    registry_store.apply(db, doc, "bench")
    for key in ("news", "shop", "big"):
        revision_store.publish(db, key, "bench")
    db.close()
    return create_app({"DATABASE": path, "SECRET_KEY": "bench"})


def vanilla_cookieconsent() -> Path:
    """vanilla-cookieconsent 3.1.0 from `npm pack` into a temporary folder (never committed)."""
    tmp = Path(tempfile.mkdtemp(prefix="vcc-"))
    subprocess.run(
        ["npm", "pack", "vanilla-cookieconsent@3.1.0", "--silent"],
        cwd=tmp,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarball = next(tmp.glob("vanilla-cookieconsent-*.tgz"))
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "package" / "dist"

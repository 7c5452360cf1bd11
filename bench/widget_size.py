"""Bytes over the wire of /w/<site>.js (gzip -9 and brotli), next to vanilla-cookieconsent 3.1.0.

The first load is /w/<site>.js alone; the preferences' part (/w/p/<hash>.js, the same for every
site) and the site's config come on the first "Customize".

Run: .venv/bin/python bench/widget_size.py   (needs npm for the comparison; a few seconds)
"""

from __future__ import annotations

import gzip
import re

import brotli

from _widget_common import make_app, vanilla_cookieconsent


def main():
    client = make_app([]).test_client()
    rows = []
    for key, label in (
        ("news", "ours: demo site news (5 vendors)"),
        ("shop", "ours: demo site shop (4 vendors)"),
        ("big", "ours: site with 30 vendors"),
    ):
        raw = client.get(f"/w/{key}.js", headers={"Accept-Encoding": "identity"}).data
        gz = client.get(f"/w/{key}.js", headers={"Accept-Encoding": "gzip"}).data
        br = client.get(f"/w/{key}.js", headers={"Accept-Encoding": "br"}).data
        rows.append((label + ", first load", len(raw), len(gz), len(br)))
        part = re.search(rb'"(/w/p/[0-9a-f]+\.js)"', raw).group(1).decode()
        rows.append(
            (
                "  + preferences' part on first Customize (any site)",
                len(client.get(part, headers={"Accept-Encoding": "identity"}).data),
                len(client.get(part, headers={"Accept-Encoding": "gzip"}).data),
                len(client.get(part, headers={"Accept-Encoding": "br"}).data),
            )
        )
        config = client.get(f"/api/v1/sites/{key}/config").data
        rows.append(
            (
                f"  + details on first Customize ({key} config)",
                len(config),
                len(gzip.compress(config, 9)),
                len(brotli.compress(config)),
            )
        )
    try:
        dist = vanilla_cookieconsent()
        code = (dist / "cookieconsent.umd.js").read_bytes() + (
            dist / "cookieconsent.css"
        ).read_bytes()
        js = (dist / "cookieconsent.umd.js").read_bytes()
        css = (dist / "cookieconsent.css").read_bytes()
        rows.append(
            (
                "vanilla-cookieconsent 3.1.0 js + css, before any configuration",
                len(code),
                len(gzip.compress(js, 9)) + len(gzip.compress(css, 9)),
                len(brotli.compress(js)) + len(brotli.compress(css)),
            )
        )
    except Exception as error:  # noqa: BLE001 - the comparison needs npm; ours stands alone
        print(f"(vanilla-cookieconsent skipped: {error})")
    print(f"{'what':64} {'raw':>8} {'gzip -9':>8} {'brotli':>8}")
    for label, raw, gz, br in rows:
        print(f"{label:64} {raw:8,} {gz:8,} {br:8,}")


if __name__ == "__main__":
    main()

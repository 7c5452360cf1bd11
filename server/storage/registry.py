"""Reading and writing the registry (organization, vendors, sites, categories, assignments)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from ..registry import RegistryError, normalize
from .audit import record as audit
from .engine import Database
from .schema import write
from .util import now_iso

Json = dict[str, Any]
# (action, type, site, key, before, after): one change to write and to audit.
Change = tuple[str, str, str | None, str, Any, Any]

SITE_ROW_EXCLUDES = ("key", "categories", "vendors")


def load(db: Database) -> Json:
    """The whole stored registry as a normalised document, in stored order."""
    doc: Json = {"vendors": list_vendors(db), "sites": list_sites(db)}
    org = organization(db)
    if org is not None:
        doc["organization"] = org
    return doc


def site_keys(db: Database) -> list[str]:
    return [key for (key,) in db.execute("SELECT key FROM sites ORDER BY key")]


# Targeted reads: one item without loading the whole registry.


def _site_children(db: Database, site: Json) -> Json:
    key = site["key"]
    site["categories"] = [
        json.loads(d)
        for (d,) in db.execute(
            "SELECT doc FROM categories WHERE site_key = ? ORDER BY position", [key]
        )
    ]
    site["vendors"] = [
        {"vendor": v, "category": c}
        for v, c in db.execute(
            "SELECT vendor_key, category_key FROM assignments WHERE site_key = ? ORDER BY position",
            [key],
        )
    ]
    return site


def get_site(db: Database, site_key: str) -> Json | None:
    """One site with its categories and assignments, or None."""
    row = db.execute("SELECT doc FROM sites WHERE key = ?", [site_key]).fetchone()
    return _site_children(db, {"key": site_key, **json.loads(row[0])}) if row else None


def list_sites(db: Database) -> list[Json]:
    """Every site with its categories and assignments, by key."""
    return [
        _site_children(db, {"key": key, **json.loads(doc)})
        for key, doc in db.execute("SELECT key, doc FROM sites ORDER BY key").fetchall()
    ]


def get_vendor(db: Database, vendor_key: str) -> Json | None:
    row = db.execute("SELECT doc FROM vendors WHERE key = ?", [vendor_key]).fetchone()
    return json.loads(row[0]) if row else None


def list_vendors(db: Database, keys: list[str] | None = None) -> list[Json]:
    """The vendor catalog by key, or only the vendors named by `keys`."""
    if keys is None:
        rows = db.execute("SELECT doc FROM vendors ORDER BY key")
    elif not keys:
        return []  # `IN ()` is SQLite's; PostgreSQL refuses an empty list
    else:
        marks = ", ".join("?" * len(keys))
        rows = db.execute(f"SELECT doc FROM vendors WHERE key IN ({marks}) ORDER BY key", keys)
    return [json.loads(doc) for (doc,) in rows]


def vendor_sites(db: Database) -> dict[str, list[str]]:
    """Each vendor key with the sites it is assigned to."""
    out: dict[str, list[str]] = {}
    for vendor, site in db.execute(
        "SELECT vendor_key, site_key FROM assignments ORDER BY vendor_key, site_key"
    ):
        out.setdefault(vendor, []).append(site)
    return out


def site_languages(db: Database) -> list[str]:
    """Every language some site shows."""
    langs: set[str] = set()
    for (doc,) in db.execute("SELECT doc FROM sites"):
        langs.update(json.loads(doc).get("languages") or [])
    return sorted(langs)


def _by_key(items: Iterable[Json]) -> dict[str, Json]:
    return {item["key"]: item for item in items}


def _site_fields(site: Json) -> Json:
    return {k: v for k, v in site.items() if k not in SITE_ROW_EXCLUDES}


def merge(current: Json, incoming: Json, prune: bool = False) -> Json:
    """The registry after applying `incoming`: what it names replaces what is stored.

    Vendors and sites the file leaves out are kept, unless `prune` is set.
    """
    merged: Json = {"vendors": [], "sites": []}
    org = incoming.get("organization", current.get("organization"))
    if org is not None:
        merged["organization"] = org
    for part in ("vendors", "sites"):
        new = _by_key(incoming.get(part, []))
        kept = [] if prune else [item for item in current.get(part, []) if item["key"] not in new]
        merged[part] = sorted(kept + list(new.values()), key=lambda item: item["key"])
    return merged


def _site_languages_by_vendor(doc: Json, skip_sites: Iterable[str] = ()) -> dict[str, list[str]]:
    need: dict[str, set[str]] = {}
    for site in doc.get("sites", []):
        if site["key"] in skip_sites:
            continue
        for assignment in site["vendors"]:
            need.setdefault(assignment["vendor"], set()).update(site["languages"])
    return {k: sorted(v) for k, v in need.items()}


def validate_file(db: Database, doc: object, prune: bool = False) -> tuple[Json, Json]:
    """Validate a registry file against what is stored; return (file, merged registry)."""
    current = load(db)
    file_sites = (
        {str(s.get("key")) for s in doc.get("sites", []) or [] if isinstance(s, dict)}
        if isinstance(doc, dict)
        else set()
    )
    known = {} if prune else _site_languages_by_vendor(current, skip_sites=file_sites)
    incoming = normalize(
        doc,
        known_vendor_keys=set() if prune else {v["key"] for v in current["vendors"]},
        known_vendor_languages=known,
    )
    merged = merge(current, incoming, prune)
    try:
        merged = normalize(merged)
    except RegistryError as error:
        raise RegistryError([f"(registry after apply) {p}" for p in error.problems]) from None
    return incoming, merged


def changes(before: Json, after: Json) -> list[Change]:
    """What must be written to go from `before` to `after`: (action, type, site, key, old, new)."""
    out: list[Change] = []
    if before.get("organization") != after.get("organization") and "organization" in after:
        out.append(
            (
                "update" if "organization" in before else "create",
                "organization",
                None,
                "organization",
                before.get("organization"),
                after["organization"],
            )
        )
    old_v, new_v = _by_key(before["vendors"]), _by_key(after["vendors"])
    for key in sorted(set(old_v) | set(new_v)):
        if old_v.get(key) != new_v.get(key):
            action = "create" if key not in old_v else "delete" if key not in new_v else "update"
            out.append((action, "vendor", None, key, old_v.get(key), new_v.get(key)))
    old_s, new_s = _by_key(before["sites"]), _by_key(after["sites"])
    for key in sorted(set(old_s) | set(new_s)):
        old, new = old_s.get(key), new_s.get(key)
        if old is None or new is None or _site_fields(old) != _site_fields(new):
            action = "create" if old is None else "delete" if new is None else "update"
            out.append(
                (action, "site", key, key, old and _site_fields(old), new and _site_fields(new))
            )
        old_c = _by_key(old["categories"]) if old else {}
        new_c = _by_key(new["categories"]) if new else {}
        old_order = list(old_c) if old else []
        new_order = list(new_c) if new else []
        for cat in sorted(set(old_c) | set(new_c)):
            moved = cat in old_c and cat in new_c and old_order.index(cat) != new_order.index(cat)
            if old_c.get(cat) != new_c.get(cat) or moved:
                action = (
                    "create" if cat not in old_c else "delete" if cat not in new_c else "update"
                )
                out.append((action, "category", key, cat, old_c.get(cat), new_c.get(cat)))
        old_a = {a["vendor"]: a for a in old["vendors"]} if old else {}
        new_a = {a["vendor"]: a for a in new["vendors"]} if new else {}
        for vendor in sorted(set(old_a) | set(new_a)):
            if old_a.get(vendor) != new_a.get(vendor):
                action = (
                    "create"
                    if vendor not in old_a
                    else "delete"
                    if vendor not in new_a
                    else "update"
                )
                out.append(
                    (action, "assignment", key, vendor, old_a.get(vendor), new_a.get(vendor))
                )
        if (
            new
            and old
            and [a["vendor"] for a in old["vendors"]] != [a["vendor"] for a in new["vendors"]]
            and not any(c[1] == "assignment" and c[2] == key for c in out)
        ):
            out.append(
                (
                    "update",
                    "assignment_order",
                    key,
                    key,
                    [a["vendor"] for a in old["vendors"]],
                    [a["vendor"] for a in new["vendors"]],
                )
            )
    return out


def save(db: Database, after: Json, actor: str) -> list[Change]:
    """Make the stored registry equal `after` (already validated), with an audit entry per change."""
    with write(db, "registry"):
        before = load(db)
        todo = changes(before, after)
        if not todo:
            return []
        stamp = now_iso()
        new_sites = _by_key(after["sites"])
        touched_sites = {c[2] for c in todo if c[2] in new_sites}
        # Sites and their children: rewrite the children of each touched site in one go, so
        # that positions stay dense; vendors are written first so assignments can refer to them.
        for action, kind, _site, key, _old, new in todo:
            if kind == "organization":
                db.execute(
                    "INSERT INTO organization (id, doc) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                    [_json(new)],
                )
            elif kind == "vendor" and action != "delete":
                db.execute(
                    "INSERT INTO vendors (key, doc, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, "
                    "updated_at = excluded.updated_at",
                    [key, _json(new), stamp],
                )
        for action, kind, _site, key, _old, _new in todo:
            if kind == "site" and action == "delete":
                db.execute("DELETE FROM assignments WHERE site_key = ?", [key])
                db.execute("DELETE FROM categories WHERE site_key = ?", [key])
                db.execute("DELETE FROM sites WHERE key = ?", [key])
        for key in sorted(touched_sites):
            site = new_sites[key]
            db.execute(
                "INSERT INTO sites (key, doc, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, "
                "updated_at = excluded.updated_at",
                [key, _json(_site_fields(site)), stamp],
            )
            db.execute("DELETE FROM assignments WHERE site_key = ?", [key])
            db.execute("DELETE FROM categories WHERE site_key = ?", [key])
            for position, category in enumerate(site["categories"]):
                db.execute(
                    "INSERT INTO categories (site_key, key, position, doc) VALUES (?, ?, ?, ?)",
                    [key, category["key"], position, _json(category)],
                )
            for position, assignment in enumerate(site["vendors"]):
                db.execute(
                    "INSERT INTO assignments (site_key, vendor_key, category_key, position) "
                    "VALUES (?, ?, ?, ?)",
                    [key, assignment["vendor"], assignment["category"], position],
                )
        for action, kind, _site, key, _old, _new in todo:
            if kind == "vendor" and action == "delete":
                db.execute("DELETE FROM vendors WHERE key = ?", [key])
        for action, kind, site_key, key, old, new in todo:
            audit(db, actor, action, kind, key, site_key, old, new, at=stamp)
        return todo


def apply(db: Database, doc: object, actor: str) -> list[Change]:
    """Make the registry match a registry file without removing anything (all or nothing).

    Removing what a file leaves out (`--prune`) goes through services.registry.apply_file,
    which checks what may be removed.
    """
    with write(db, "registry"):
        _, merged = validate_file(db, doc)
        return save(db, merged, actor)


def change(db: Database, mutate: Callable[[Json], str], actor: str) -> Json:
    """Load the registry, let `mutate(doc)` edit it, validate the whole, save: all or nothing.

    `mutate` returns the path of the object it edited ("vendors[2]"); a RegistryError raised
    here carries that path as `prefix`. The admin API and the admin UI both edit through this.
    """
    with write(db, "registry"):
        doc = load(db)
        prefix = mutate(doc)
        try:
            doc = normalize(doc)
        except RegistryError as error:
            error.prefix = prefix or ""
            raise
        save(db, doc, actor)
        return doc


def organization(db: Database) -> Json | None:
    row = db.execute("SELECT doc FROM organization WHERE id = 1").fetchone()
    return json.loads(row[0]) if row else None


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def site_origins(db: Database, site_key: str) -> list[str] | None:
    """The site's registered origins as stored now (None for an unknown site)."""
    row = db.execute("SELECT doc FROM sites WHERE key = ?", [site_key]).fetchone()
    return json.loads(row[0])["origins"] if row else None


def decision_context(
    db: Database, site_key: str, number: int | None
) -> tuple[list[str] | None, tuple[int, str] | None]:
    """(origins, revision head) for recording a decision, in one query.

    origins is None for an unknown site; the head (number, content hash) is None when the site
    has no revision `number`.
    """
    row = db.execute(
        "SELECT s.doc, r.number, r.content_hash FROM sites s LEFT JOIN revisions r "
        "ON r.site_key = s.key AND r.number = ? WHERE s.key = ?",
        [number, site_key],
    ).fetchone()
    if row is None:
        return None, None
    return json.loads(row[0])["origins"], (row[1], row[2]) if row[1] is not None else None

"""Compiling a site's registry into revision content, diffing two revisions, and the re-consent rule."""

from __future__ import annotations

import hashlib
import json

SITE_PUBLIC_FIELDS = (
    "key",
    "name",
    "origins",
    "languages",
    "default_language",
    "consent_max_age_days",
    "cookie_domain",
    "google_consent_mode",
    "honor_gpc",
    "reload_on_withdrawal",
    "notice",
    "appearance",
    "regimes",
)
# What a site without `appearance` looks like (the registry's defaults).
DEFAULT_APPEARANCE = {"layout": "bar", "position": "bottom", "colors": {}}
VENDOR_PUBLIC_FIELDS = (
    "key",
    "name",
    "recipient",
    "country",
    "privacy_policy_url",
    "opt_out_url",
    "hosts",
    "cookies",
    "data_sent",
    "purpose",
)
# A change to any of these tells the visitor something new about where their data goes.
VENDOR_CONSENT_FIELDS = ("recipient", "data_sent", "purpose")


def _only(texts, languages):
    if texts is None:
        return None
    return {lang: texts[lang] for lang in languages if lang in texts}


def compile_site(site: dict, organization: dict | None, vendors: dict[str, dict]) -> dict:
    """The self-contained content of a revision: everything the widget and disclosure show."""
    langs = site["languages"]
    org = organization or {}
    categories = []
    for category in site["categories"]:
        categories.append(
            {
                "key": category["key"],
                "required": category["required"],
                "name": _only(category["name"], langs),
                "description": _only(category["description"], langs),
                "google_consent_types": category["google_consent_types"],
                "gpc_refuses": category["gpc_refuses"],
                "vendors": [
                    a["vendor"] for a in site["vendors"] if a["category"] == category["key"]
                ],
            }
        )
    out_vendors = []
    for category in categories:
        for key in category["vendors"]:
            vendor = vendors[key]
            entry = {field: vendor.get(field) for field in VENDOR_PUBLIC_FIELDS}
            entry["data_sent"] = _only(vendor["data_sent"], langs)
            entry["purpose"] = _only(vendor["purpose"], langs)
            entry["category"] = category["key"]
            out_vendors.append(entry)
    site_part = {field: site.get(field) for field in SITE_PUBLIC_FIELDS}
    site_part["name"] = _only(site["name"], langs)
    site_part["notice"] = _only(site.get("notice"), langs)
    if site_part["appearance"] is None:
        # Left out rather than null, so that revisions published before the field existed
        # compare equal to a republish of the same registry.
        del site_part["appearance"]
    if site_part["regimes"] is None:
        # Likewise: a site without regimes publishes the content it published before them.
        del site_part["regimes"]
    return {
        "site": site_part,
        "organization": {
            "name": _only(org.get("name") or {}, langs),
            "privacy_policy_url": org.get("privacy_policy_url"),
        },
        "categories": categories,
        "vendors": out_vendors,
    }


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _with_values(change: dict, old: dict, new: dict, values: bool) -> dict:
    if values:
        change["old"] = {f: old.get(f) for f in change["fields"]}
        change["new"] = {f: new.get(f) for f in change["fields"]}
    return change


def diff(before: dict | None, after: dict, values: bool = False) -> list[dict]:
    """What changed from one revision's content to the next, as a list of change records.

    With `values`, each `*_changed` record also holds `old` and `new`: the changed fields'
    values before and after (what the admin UI shows). Without it the records are what a
    revision stores and the admin API returns.
    """
    if before is None:
        return [{"change": "first_revision"}]
    changes = []
    old_cats = {c["key"]: c for c in before["categories"]}
    new_cats = {c["key"]: c for c in after["categories"]}
    for key, cat in new_cats.items():
        if key not in old_cats:
            changes.append(
                {"change": "category_added", "category": key, "required": cat["required"]}
            )
            continue
        fields = [
            f
            for f in ("required", "name", "description", "google_consent_types", "gpc_refuses")
            if old_cats[key][f] != cat[f]
        ]
        if fields:
            record = {
                "change": "category_changed",
                "category": key,
                "fields": fields,
                "required": cat["required"],
                "was_required": old_cats[key]["required"],
            }
            changes.append(_with_values(record, old_cats[key], cat, values))
    for key in old_cats:
        if key not in new_cats:
            changes.append({"change": "category_removed", "category": key})
    old_vendors = {v["key"]: v for v in before["vendors"]}
    new_vendors = {v["key"]: v for v in after["vendors"]}
    for key, vendor in new_vendors.items():
        old = old_vendors.get(key)
        if old is None:
            changes.append(
                {
                    "change": "vendor_added",
                    "vendor": key,
                    "name": vendor["name"],
                    "category": vendor["category"],
                }
            )
            continue
        if old["category"] != vendor["category"]:
            changes.append(
                {
                    "change": "vendor_moved",
                    "vendor": key,
                    "name": vendor["name"],
                    "from": old["category"],
                    "to": vendor["category"],
                }
            )
        fields = [f for f in VENDOR_PUBLIC_FIELDS if old.get(f) != vendor.get(f)]
        if fields:
            record = {
                "change": "vendor_changed",
                "vendor": key,
                "name": vendor["name"],
                "fields": fields,
            }
            changes.append(_with_values(record, old, vendor, values))
    for key, vendor in old_vendors.items():
        if key not in new_vendors:
            changes.append(
                {
                    "change": "vendor_removed",
                    "vendor": key,
                    "name": vendor["name"],
                    "category": vendor["category"],
                }
            )
    site_fields = [f for f in SITE_PUBLIC_FIELDS if before["site"].get(f) != after["site"].get(f)]
    if before["organization"] != after["organization"]:
        site_fields.append("organization")
    if site_fields:
        old_site = {**before["site"], "organization": before["organization"]}
        new_site = {**after["site"], "organization": after["organization"]}
        record = {"change": "site_changed", "fields": site_fields}
        changes.append(_with_values(record, old_site, new_site, values))
    return changes


def needs_decision(changes: list[dict]) -> bool:
    """Whether visitors must decide again: something they were not asked about before.

    A vendor or a non-required category added, a vendor moved to another category, a vendor's
    recipient, data sent or purpose changed, or a required category made optional. Text-only
    edits and removals do not: what was refused stays refused, and less is sent than before.
    """
    for change in changes:
        kind = change["change"]
        if kind in ("first_revision", "vendor_added", "vendor_moved"):
            return True
        if kind == "category_added" and not change["required"]:
            return True
        if kind == "category_changed" and change["was_required"] and not change["required"]:
            return True
        if kind == "vendor_changed" and set(change["fields"]) & set(VENDOR_CONSENT_FIELDS):
            return True
    return False


def public_vendors(content: dict) -> list[dict]:
    """The vendors of a revision as visitors see them, in category order.

    The widget configuration and the disclosure both list exactly this, so that the banner and
    the disclosure page can never disagree.
    """
    return [dict(vendor) for vendor in content["vendors"]]


def public_config(revision: dict) -> dict:
    """The published configuration of a revision: what the widget and custom UIs read."""
    content = revision["content"]
    return {
        "site": content["site"]["key"],
        "revision": revision["number"],
        "consent_revision": revision["consent_revision"],
        "published_at": revision["published_at"],
        **{k: v for k, v in content["site"].items() if k not in ("key", "origins")},
        "appearance": content["site"].get("appearance") or {**DEFAULT_APPEARANCE, "colors": {}},
        "organization": content["organization"],
        "categories": content["categories"],
        "vendors": public_vendors(content),
    }

"""The disclosure of a revision (what is sent to whom and why), and its changes in words, as pure functions."""

from __future__ import annotations

from ..i18n import TEXTS, t, text_in
from ..revisions import public_vendors


def disclosure(revision: dict, history: list[dict]) -> dict:
    """The disclosure of one revision, as the JSON API returns it and the page shows it.

    Its vendors are `public_vendors(content)`, the very list the widget configuration of the
    same revision carries: the banner and the disclosure cannot disagree.
    """
    content = revision["content"]
    site = content["site"]
    return {
        "site": {
            "key": site["key"],
            "name": site["name"],
            "languages": site["languages"],
            "default_language": site["default_language"],
        },
        "revision": revision["number"],
        "published_at": revision["published_at"],
        "latest_revision": max((item["number"] for item in history), default=revision["number"]),
        "organization": content["organization"],
        "categories": [
            {key: category[key] for key in ("key", "required", "name", "description", "vendors")}
            for category in content["categories"]
        ],
        "vendors": public_vendors(content),
        "history": [
            {
                "revision": item["number"],
                "published_at": item["published_at"],
                "changes": item["changes"],
            }
            for item in history
        ],
    }


def grouped(doc: dict) -> list[tuple[dict, list[dict]]]:
    """The disclosure's vendors grouped by category, in category order."""
    by_category: dict[str, list[dict]] = {}
    for vendor in doc["vendors"]:
        by_category.setdefault(vendor["category"], []).append(vendor)
    return [(category, by_category.get(category["key"], [])) for category in doc["categories"]]


def _fields(lang: str, fields: list[str]) -> str:
    names = [TEXTS[lang].get(f"f_{field}", field) for field in fields]
    return t(lang, "list_sep").join(names)


def change_lines(changes: list[dict], lang: str, category_names: dict[str, dict]) -> list[str]:
    """Each change record of a revision as one readable line, e.g. "added: X (advertising)"."""

    def cat(key):
        return text_in(category_names.get(key), lang) or key

    lines = []
    for change in changes:
        kind = change["change"]
        if kind == "first_revision":
            lines.append(t(lang, "ch_first_revision"))
        elif kind in ("vendor_added", "vendor_removed"):
            lines.append(
                t(lang, f"ch_{kind}", name=change["name"], category=cat(change["category"]))
            )
        elif kind == "vendor_moved":
            lines.append(
                t(
                    lang,
                    "ch_vendor_moved",
                    name=change["name"],
                    from_=cat(change["from"]),
                    to=cat(change["to"]),
                )
            )
        elif kind == "vendor_changed":
            lines.append(
                t(
                    lang,
                    "ch_vendor_changed",
                    name=change["name"],
                    fields=_fields(lang, change["fields"]),
                )
            )
        elif kind in ("category_added", "category_removed"):
            lines.append(t(lang, f"ch_{kind}", category=cat(change["category"])))
        elif kind == "category_changed":
            lines.append(
                t(
                    lang,
                    "ch_category_changed",
                    category=cat(change["category"]),
                    fields=_fields(lang, change["fields"]),
                )
            )
        elif kind == "site_changed":
            lines.append(t(lang, "ch_site_changed", fields=_fields(lang, change["fields"])))
        else:  # a kind added to diff() later still shows, if plainly
            lines.append(kind)
    return lines

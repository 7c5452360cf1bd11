"""Old and new values shown readably: the publish and rollback diffs and the audit log's entries.

Values become rows of plain strings (texts per language, lists as added and removed items,
booleans as yes/no); the templates escape them.
"""

from __future__ import annotations

import json

from server import revisions as compiler
from server.registry import LANGUAGES as TEXT_LANGUAGES

from .i18n import gettext as _

# Fields of the registry in the order its forms show them; any other field comes after, by name.
FIELD_ORDER = (
    "key",
    "email",
    "name",
    "title",
    "role",
    "active",
    "required",
    "description",
    "recipient",
    "country",
    "privacy_policy_url",
    "opt_out_url",
    "hosts",
    "cookies",
    "data_sent",
    "purpose",
    "category",
    "vendor",
    "origins",
    "languages",
    "default_language",
    "consent_max_age_days",
    "cookie_domain",
    "google_consent_mode",
    "honor_gpc",
    "reload_on_withdrawal",
    "notice",
    "google_consent_types",
    "gpc_refuses",
    "organization",
)


_RANK = {name: i for i, name in enumerate(FIELD_ORDER)}


def ordered(fields) -> list[str]:
    """Field names in a stable order, whatever order a stored document had them in."""
    return sorted(fields, key=lambda f: (_RANK.get(f, len(_RANK)), str(f)))


def _is_texts(value) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(k in TEXT_LANGUAGES for k in value)
        and all(v is None or isinstance(v, str) for v in value.values())
    )


def _text(value, limit=None) -> str | None:
    """One value as a short readable string; None when there is none (the template says so)."""
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str):
        text = value
    elif isinstance(value, dict) and set(value) == {"name", "duration_days"}:  # a cookie
        days = value["duration_days"]
        text = (
            _("{name} (1 day)", name=value["name"])
            if days == 1
            else _("{name} ({n} days)", name=value["name"], n=days)
        )
    elif isinstance(value, dict) and "name" in value:
        rest = [f"{k}: {_text(value[k])}" for k in ordered(value) if k != "name"]
        name = _text(value["name"]) or ""
        text = f"{name} ({', '.join(rest)})" if rest else name
    elif isinstance(value, list):
        text = ", ".join(_text(item) or "–" for item in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    if limit and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def rows(field: str, old, new, limit=None) -> list[dict]:
    """How `field` went from `old` to `new`, as display rows.

    Each row has `field`, `lang` (a language code for one language of a text, else None) and
    `kind`: "value" (`old` → `new`, either None when there was or is no value), "list"
    (`added` and `removed` items) or "order" (the same items in another order, `old` → `new`).
    """
    if old == new:
        return []
    if (_is_texts(old) or _is_texts(new)) and all(
        _is_texts(v) or v in (None, {}) for v in (old, new)
    ):
        old, new = old or {}, new or {}
        langs = [lang for lang in TEXT_LANGUAGES if lang in old or lang in new]
        langs += sorted(lang for lang in set(old) | set(new) if lang not in langs)
        return [
            _value(field, _text(old.get(lang), limit), _text(new.get(lang), limit), lang)
            for lang in langs
            if old.get(lang) != new.get(lang)
        ]
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in ordered(set(old) | set(new)):
            out += rows(f"{field}.{key}", old.get(key), new.get(key), limit)
        return out
    if isinstance(old, list) and isinstance(new, list):
        added = [_text(item, limit) or "–" for item in new if item not in old]
        removed = [_text(item, limit) or "–" for item in old if item not in new]
        if not added and not removed:
            return [dict(_value(field, _text(old, limit), _text(new, limit)), kind="order")]
        return [{"field": field, "lang": None, "kind": "list", "added": added, "removed": removed}]
    return [_value(field, _text(old, limit), _text(new, limit))]


def _value(field, old, new, lang=None) -> dict:
    return {"field": field, "lang": lang, "kind": "value", "old": old, "new": new}


def differences(before, after, limit=None) -> list[dict]:
    """The rows of the fields that differ between two stored documents, in a stable order."""
    if isinstance(before, list) and isinstance(after, list):
        return rows(_("order"), before, after, limit)
    if not isinstance(before, dict) and not isinstance(after, dict):
        return []
    before, after = before or {}, after or {}
    out = []
    for field in ordered(set(before) | set(after)):
        out += rows(field, before.get(field), after.get(field), limit)
    return out


def detailed_changes(before_content: dict | None, after_content: dict) -> list[dict]:
    """The diff of two revisions' contents, each changed record with its `rows` of values."""
    changes = compiler.diff(before_content, after_content, values=True)
    for change in changes:
        change["rows"] = [
            row
            for field in change.get("fields", [])
            for row in rows(field, change["old"][field], change["new"][field])
        ]
    return changes

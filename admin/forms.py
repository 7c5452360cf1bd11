"""Turning submitted forms into registry values, and registry problems back into field errors."""

from __future__ import annotations

import re

from .i18n import gettext as _

LANGS = ("ja", "en")
INDEXED = re.compile(r"^([a-z_]+)\[(\d+)\](?:\.(.+))?$")


def text(form, name):
    value = form.get(name, "").strip()
    return value or None


def texts(form, name, optional=False):
    out = {lang: form.get(f"{name}.{lang}", "").strip() for lang in LANGS}
    out = {lang: value for lang, value in out.items() if value}
    return None if optional and not out else out


def lines(form, name):
    return [line.strip() for line in form.get(name, "").splitlines() if line.strip()]


def number(form, name):
    value = form.get(name, "").strip()
    if value == "":
        return None
    # A non-number is passed on as it is, so that the validator names the problem.
    return int(value) if re.fullmatch(r"-?\d{1,9}", value) else value


def flag(form, name):
    return form.get(name) == "1"


def cookies(form, name="cookies"):
    out = []
    for line in lines(form, name):
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if not parts:  # a line of separators only
            continue
        days = parts[1] if len(parts) > 1 else None
        # ASCII digits only ("²".isdigit() is true); anything else goes to the validator as typed.
        out.append(
            {
                "name": parts[0],
                "duration_days": int(days) if days and re.fullmatch(r"[0-9]{1,6}", days) else days,
            }
        )
    return out


def regimes(form, default_name="regimes.default", regions_name="regimes.regions"):
    """A site's regimes from a default select and `KEY: regime` lines; None when both are empty
    (no regional rules). A line is passed on as typed, so that the validator names a problem."""
    default = text(form, default_name)
    rules = {}
    for line in lines(form, regions_name):
        match = re.fullmatch(r"(\S+?)\s*(?:[:=]\s*|\s+)(.*)", line)
        key, regime = (match[1], match[2].strip()) if match else (line, "")
        rules[key] = regime
    if default is None and not rules:
        return None
    return {"default": default, "regions": rules} if default else {"regions": rules}


def regimes_values(values: dict, regimes_value) -> None:
    regimes_value = regimes_value or {}
    values["regimes.default"] = regimes_value.get("default") or ""
    values["regimes.regions"] = "\n".join(
        f"{key}: {regime}" for key, regime in (regimes_value.get("regions") or {}).items()
    )


def flatten_texts(values: dict, name: str, texts_value):
    for lang, value in (texts_value or {}).items():
        values[f"{name}.{lang}"] = value


def field_errors(problems: list[str], prefix: str, fields: set[str], line_fields=()):
    """Split registry problems ('path: message') into {field: [messages]} and the rest.

    `prefix` is the path of the edited object ("vendors[3]"); problems under it go next to
    their field, those in list fields ("hosts[1]") say which line; everything else is general.
    """
    by_field, general = {}, []
    for problem in problems:
        path, _sep, message = problem.partition(": ")
        rel = path[len(prefix) + 1 :] if prefix and path.startswith(prefix + ".") else None
        if rel is not None and rel in fields:
            by_field.setdefault(rel, []).append(_(message) if message else message)
            continue
        match = INDEXED.match(rel or "")
        if match and match.group(1) in line_fields:
            name, index, rest = match.groups()
            note = _("line {n}", n=int(index) + 1) + (f", {rest}" if rest else "")
            by_field.setdefault(name, []).append(f"{note}: {_(message)}")
            continue
        owner = next((f for f in fields if rel and rel.startswith(f + ".")), None)
        if rel is not None and owner is not None:  # inside a field's value: "regimes.regions.UK"
            by_field.setdefault(owner, []).append(f"{rel[len(owner) + 1 :]}: {_(message)}")
            continue
        if rel is not None and rel.split(".")[0] in fields:
            by_field.setdefault(rel.split(".")[0], []).append(f"{rel}: {_(message)}")
            continue
        general.append(f"{path}: {_(message)}")
    return by_field, general

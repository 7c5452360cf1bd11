"""The disclosure of a revision (what is sent to whom and why), and its changes in words, as pure functions."""

from __future__ import annotations

import gettext
from functools import cache

import pycountry

from .. import regions
from ..i18n import LANGUAGES, TEXTS, t, text_in
from ..revisions import public_vendors

# Regimes in which optional transmissions happen until the visitor refuses: the disclosure then
# says how to refuse, for each vendor (Telecommunications Business Act art. 27-12 asks a notice
# to say how the opt-out is made).
REFUSABLE = frozenset({"opt_out", "notice"})
GROUP_NAMES = {
    "EU": {
        "ja": "EU（欧州連合の27か国）",
        "en": "EU (the 27 member states of the European Union)",
    },
    "EEA": {
        "ja": "EEA（欧州経済領域：EUとアイスランド、リヒテンシュタイン、ノルウェー）",
        "en": "EEA (the European Economic Area: the EU, Iceland, Liechtenstein and Norway)",
    },
}


@cache
def _translation(domain: str, lang: str) -> gettext.NullTranslations:
    """pycountry's own translations of the ISO 3166 names (iso-codes' catalogues)."""
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang], fallback=True)


def _country_name(code: str, lang: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    return name if lang == "en" else _translation("iso3166-1", lang).gettext(name)


def region_name(key: str, lang: str) -> str:
    """A region key of the registry for people: `JP` "Japan"/"日本", `US-CA` "California,
    United States"/"カリフォルニア（米国）", `EU` and `EEA` with what they cover."""
    if key in GROUP_NAMES:
        return GROUP_NAMES[key][lang]
    if "-" not in key:
        return _country_name(key, lang)
    subdivision = pycountry.subdivisions.get(code=key)
    if subdivision is None:
        return key
    country = _country_name(key[:2], lang)
    if lang == "en":
        return f"{subdivision.name}, {country}"
    return f"{_translation('iso3166-2', lang).gettext(subdivision.name)}（{country}）"


def _specificity(key: str) -> tuple[int, str]:
    """Most specific first, as the rules are applied: subdivision, country, EU, EEA."""
    if key in regions.GROUPS:
        return 2 + list(regions.GROUPS).index(key), key
    return (0 if "-" in key else 1), key


def regional_rules(site: dict) -> dict:
    """Which regime applies where: the default and each region key, most specific first, each
    named in every language of the privacy center. A site without `regimes`: opt-in, no
    regions."""
    regimes = site.get("regimes") or {}
    rules = regimes.get("regions") or {}
    return {
        "default": regimes.get("default") or regions.DEFAULT_REGIME,
        "regions": [
            {
                "region": key,
                "name": {lang: region_name(key, lang) for lang in LANGUAGES},
                "regime": rules[key],
            }
            for key in sorted(rules, key=_specificity)
        ],
    }


def regimes_in_use(rules: dict) -> set[str]:
    return {rules["default"], *(item["regime"] for item in rules["regions"])}


def opt_out_routes(content: dict, vendors: list[dict], rules: dict) -> dict | None:
    """How a visitor stops each vendor's transmissions, where a regime lets them happen until
    refused (None where every regime asks consent first): the widget's switch (in the site's
    Cookie settings, for a vendor of an optional category) and the vendor's own opt-out."""
    if not regimes_in_use(rules) & REFUSABLE:
        return None
    required = {c["key"] for c in content["categories"] if c["required"]}
    honours_gpc = bool(content["site"].get("honor_gpc"))
    return {
        "regimes": sorted(regimes_in_use(rules) & REFUSABLE),
        # The categories that a browser's Global Privacy Control signal refuses by itself.
        "gpc_refuses": [
            c["key"]
            for c in content["categories"]
            if honours_gpc and c.get("gpc_refuses") and not c["required"]
        ],
        "vendors": [
            {
                "vendor": vendor["key"],
                "category": vendor["category"],
                "switch": vendor["category"] not in required,
                "opt_out_url": vendor.get("opt_out_url"),
            }
            for vendor in vendors
        ],
    }


def consent_model(rules: dict) -> str:
    """How the page words consent: `opt_in` (every regime asks first, as before regimes),
    `refusable` (none does), or `mixed`."""
    used = regimes_in_use(rules)
    if not used & REFUSABLE:
        return "opt_in"
    return "mixed" if regions.DEFAULT_REGIME in used else "refusable"


def disclosure(revision: dict, history: list[dict]) -> dict:
    """The disclosure of one revision, as the JSON API returns it and the page shows it.

    Its vendors are `public_vendors(content)`, the very list the widget configuration of the
    same revision carries: the banner and the disclosure cannot disagree.
    """
    content = revision["content"]
    site = content["site"]
    vendors = public_vendors(content)
    rules = regional_rules(site)
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
        "vendors": vendors,
        "regimes": rules,
        "opt_out": opt_out_routes(content, vendors, rules),
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

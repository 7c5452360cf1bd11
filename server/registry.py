"""Validation and normalisation of registry documents (the registry file's shape), as pure functions."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from . import regions

VENDOR_KEY = re.compile(r"^[a-z0-9-]{2,64}\Z")
SITE_KEY = re.compile(r"^[a-z0-9-]{2,40}\Z")
CATEGORY_KEY = re.compile(r"^[a-z0-9_-]{2,40}\Z")
LANGUAGES = ("ja", "en")
CONSENT_TYPES = (
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)
# Consent Mode v2 types a category maps to when it does not list its own (contract: The widget).
DEFAULT_CONSENT_TYPES = {
    "analytics": ["analytics_storage"],
    "advertising": ["ad_storage", "ad_user_data", "ad_personalization"],
    "functional": ["functionality_storage", "personalization_storage"],
}
HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\Z")
COOKIE_NAME = re.compile(r"^[A-Za-z0-9_.\-*]{1,128}\Z")
MAX_TEXT = 4000
# How long a site's consent log is kept (`privacy-center purge`). Art. 7(1) GDPR: the controller
# must be able to show a consent was given for as long as it relies on it and then answer a
# claim about it, so the record must outlive the consent (at most 395 days) by the time a
# complaint or claim can take: three years in all. Never shorter than the site's consent lifetime.
DEFAULT_RETENTION_DAYS = 1095
MAX_RETENTION_DAYS = 3650


class RegistryError(ValueError):
    """Every problem found in a registry document, each as 'path: message'."""

    def __init__(self, problems: list[str], prefix: str = ""):
        self.problems = problems
        # The path of the object an edit was about ("vendors[2]"), so that callers can report
        # problems by field name; empty for whole files.
        self.prefix = prefix
        super().__init__("; ".join(problems))


class _Checker:
    def __init__(self):
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mapping(self, value, path, required=True):
        if value is None:
            if required:
                self.fail(path, "missing")
            return None
        if not isinstance(value, dict):
            self.fail(path, "must be a mapping")
            return None
        return value

    def listing(self, value, path, required=True):
        if value is None:
            if required:
                self.fail(path, "missing")
            return []
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return []
        return value

    def string(self, value, path, required=True, pattern=None, max_len=MAX_TEXT):
        if value is None or value == "":
            if required:
                self.fail(path, "missing")
            return None
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return None
        value = value.strip()
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, which JSON and YAML let through
            self.fail(path, "contains characters that are not valid text")
            return None
        if len(value) > max_len:
            self.fail(path, f"longer than {max_len} characters")
            return None
        if pattern is not None and not pattern.match(value):
            # Patterns end in \Z (no trailing newline slips through); people read it as $.
            self.fail(path, f"must match {pattern.pattern.replace(chr(92) + 'Z', '$')}")
            return None
        return value

    def url(self, value, path, required=True):
        value = self.string(value, path, required, max_len=2048)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that cannot be
        except ValueError:
            self.fail(path, "must be an http(s) URL")
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(path, "must be an http(s) URL")
            return None
        return value

    def origin(self, value, path):
        value = self.string(value, path, max_len=300)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            port, parts = None, None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("",)
            or parts.query
            or parts.fragment
            or parts.username
            or parts.password
        ):
            self.fail(path, "must be an origin: scheme://host[:port], nothing after it")
            return None
        try:
            # Browsers send internationalised domains as punycode (xn--…) in Origin.
            host = parts.hostname.encode("idna").decode("ascii").lower()
        except UnicodeError:
            self.fail(path, "must be an origin: the host name is not valid")
            return None
        origin = f"{parts.scheme}://{f'[{host}]' if ':' in host else host}"
        default_port = 443 if parts.scheme == "https" else 80
        if port is not None and port != default_port:
            origin += f":{port}"
        return origin

    def boolean(self, value, path, default):
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(path, "must be true or false")
            return default
        return value

    def integer(self, value, path, default, low, high):
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be a whole number")
            return default
        if not low <= value <= high:
            self.fail(path, f"must be between {low} and {high}")
            return default
        return value

    def texts(self, value, path, languages, required=True):
        """A text given per language: every language in `languages` must be present."""
        if value is None:
            if required:
                self.fail(path, "missing")
            return None
        if isinstance(value, str):
            self.fail(path, "must be given per language, e.g. {ja: ..., en: ...}")
            return None
        value = self.mapping(value, path)
        if value is None:
            return None
        out = {}
        for lang, text in value.items():
            if lang not in LANGUAGES:
                self.fail(f"{path}.{lang}", f"unknown language (one of {', '.join(LANGUAGES)})")
                continue
            text = self.string(text, f"{path}.{lang}", required=False)
            if text is not None:
                out[lang] = text
        for lang in languages:
            if lang not in out and (value.get(lang) in (None, "")):
                self.fail(f"{path}.{lang}", "missing")
        return {lang: out[lang] for lang in LANGUAGES if lang in out}

    def unknown_keys(self, value: dict, allowed: set, path: str):
        for key in value:
            if key not in allowed:
                self.fail(f"{path}.{key}", "unknown field")


ORG_FIELDS = {"name", "privacy_policy_url", "sections"}
VENDOR_FIELDS = {
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
}
SITE_FIELDS = {
    "key",
    "name",
    "origins",
    "languages",
    "default_language",
    "consent_max_age_days",
    "retention_days",
    "cookie_domain",
    "google_consent_mode",
    "honor_gpc",
    "notice",
    "reload_on_withdrawal",
    "appearance",
    "regimes",
    "categories",
    "vendors",
}
CATEGORY_FIELDS = {"key", "required", "name", "description", "google_consent_types", "gpc_refuses"}


# The first layer's look (docs/registry.md): each layout with the positions it can take, the
# first one its default.
LAYOUTS = {"bar": ("bottom", "top"), "box": ("bottom-right", "bottom-left")}
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}\Z")
# Colours a site may set; both widget backgrounds stay white, so every other text keeps its
# contrast. `accent` colours buttons, links and switches; `accent_text` the text on accent.
COLOR_FIELDS = ("accent", "accent_text")
MIN_CONTRAST = 4.5  # WCAG 2.1 AA for normal text


def _luminance(color: str) -> float:
    digits = color[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = []
    for i in (0, 2, 4):
        c = int(digits[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two #rgb / #rrggbb colours, from 1 to 21."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _appearance(c: _Checker, value, path):
    """The optional `appearance` of a site: None when absent (the widget's defaults)."""
    value = c.mapping(value, path, required=False)
    if value is None:
        return None
    c.unknown_keys(value, {"layout", "position", "colors"}, path)
    layout = value.get("layout") or "bar"
    if not isinstance(layout, str) or layout not in LAYOUTS:
        c.fail(f"{path}.layout", "must be bar or box")
        layout = "bar"
    positions = LAYOUTS[layout]
    position = value.get("position") or positions[0]
    if position not in positions:
        c.fail(
            f"{path}.position",
            "must be bottom or top for layout bar"
            if layout == "bar"
            else "must be bottom-right or bottom-left for layout box",
        )
    colors_in = c.mapping(value.get("colors"), f"{path}.colors", required=False) or {}
    c.unknown_keys(colors_in, set(COLOR_FIELDS), f"{path}.colors")
    colors = {}
    for name in COLOR_FIELDS:
        if colors_in.get(name) is None:
            continue
        color = colors_in[name]
        if not isinstance(color, str) or not COLOR.match(color.strip()):
            # Only hex colours: nothing typed here can end a CSS declaration in the widget.
            c.fail(f"{path}.colors.{name}", "must be a colour written #rgb or #rrggbb")
            continue
        colors[name] = color.strip().lower()
    accent = colors.get("accent", "#0b4fb0")
    if "accent" in colors and contrast(accent, "#ffffff") < MIN_CONTRAST:
        c.fail(
            f"{path}.colors.accent",
            "is too light for text on white (links, the Customize button): "
            "needs a contrast of 4.5:1 (WCAG AA)",
        )
    if contrast(colors.get("accent_text", "#ffffff"), accent) < MIN_CONTRAST and (
        "accent" in colors or "accent_text" in colors
    ):
        c.fail(
            f"{path}.colors.accent_text",
            "has too little contrast with the accent colour: needs 4.5:1 (WCAG AA)",
        )
    return {"layout": layout, "position": position, "colors": colors}


def _regimes(c: _Checker, value, path):
    """The optional `regimes` of a site: None when absent (opt_in everywhere, as before)."""
    value = c.mapping(value, path, required=False)
    if value is None:
        return None
    c.unknown_keys(value, {"default", "regions"}, path)
    choices = f"must be one of {', '.join(regions.REGIMES)}"
    default = value.get("default")
    if default is None:
        default = regions.DEFAULT_REGIME
    elif default not in regions.REGIMES:
        c.fail(f"{path}.default", choices)
    rules = c.mapping(value.get("regions"), f"{path}.regions", required=False) or {}
    out: dict[str, str] = {}
    for raw, regime in rules.items():
        key = raw.strip().upper() if isinstance(raw, str) else raw
        kpath = f"{path}.regions.{raw}"
        problem = regions.key_problem(key)
        if raw is False:  # YAML 1.1 reads an unquoted NO (Norway) as false
            problem = 'Norway must be quoted in YAML ("NO"): unquoted, NO reads as false'
        if problem is not None:
            c.fail(kpath, problem)
        elif key in out:
            c.fail(kpath, f"region {key} listed twice")
        elif not isinstance(regime, str) or regime not in regions.REGIMES:
            c.fail(kpath, choices)
        else:
            out[key] = regime
    return {"default": default, "regions": dict(sorted(out.items()))}


def _languages_needing(doc_sites) -> dict[str, list[str]]:
    """For each vendor key, the languages of the sites that use it (its texts must cover them)."""
    need: dict[str, set] = {}
    for site in doc_sites if isinstance(doc_sites, list) else []:
        if not isinstance(site, dict):
            continue
        langs = site.get("languages") if isinstance(site.get("languages"), list) else []
        assignments = site.get("vendors")
        # Not a list: reported by _site ("must be a list"), not a crash here.
        for assignment in assignments if isinstance(assignments, list) else []:
            if isinstance(assignment, dict) and isinstance(assignment.get("vendor"), str):
                need.setdefault(assignment["vendor"], set()).update(
                    lang for lang in langs if lang in LANGUAGES
                )
    return {key: [lang for lang in LANGUAGES if lang in langs] for key, langs in need.items()}


def _organization(c: _Checker, org, languages):
    org = c.mapping(org, "organization")
    if org is None:
        return None
    c.unknown_keys(org, ORG_FIELDS, "organization")
    out = {
        "name": c.texts(org.get("name"), "organization.name", languages),
        "privacy_policy_url": c.url(
            org.get("privacy_policy_url"), "organization.privacy_policy_url", required=False
        ),
    }
    sections = []
    for i, section in enumerate(c.listing(org.get("sections"), "organization.sections", False)):
        path = f"organization.sections[{i}]"
        section = c.mapping(section, path)
        if section is None:
            continue
        c.unknown_keys(section, {"key", "title", "body"}, path)
        sections.append(
            {
                "key": c.string(section.get("key"), f"{path}.key", pattern=CATEGORY_KEY),
                "title": c.texts(section.get("title"), f"{path}.title", languages),
                "body": c.texts(section.get("body"), f"{path}.body", languages),
            }
        )
    out["sections"] = sections
    return out


def _vendor(c: _Checker, vendor, path, languages):
    vendor = c.mapping(vendor, path)
    if vendor is None:
        return None
    c.unknown_keys(vendor, VENDOR_FIELDS, path)
    hosts = []
    for j, host in enumerate(c.listing(vendor.get("hosts"), f"{path}.hosts", False)):
        host = c.string(host, f"{path}.hosts[{j}]", pattern=HOST, max_len=253)
        if host is not None:
            hosts.append(host)
    cookies = []
    for j, cookie in enumerate(c.listing(vendor.get("cookies"), f"{path}.cookies", False)):
        cpath = f"{path}.cookies[{j}]"
        cookie = c.mapping(cookie, cpath)
        if cookie is None:
            continue
        c.unknown_keys(cookie, {"name", "duration_days"}, cpath)
        cookies.append(
            {
                "name": c.string(cookie.get("name"), f"{cpath}.name", pattern=COOKIE_NAME),
                "duration_days": c.integer(
                    cookie.get("duration_days"), f"{cpath}.duration_days", 0, 0, 3650
                ),
            }
        )
    country = c.string(
        vendor.get("country"), f"{path}.country", required=False, pattern=re.compile(r"^[A-Z]{2}\Z")
    )
    return {
        "key": c.string(vendor.get("key"), f"{path}.key", pattern=VENDOR_KEY),
        "name": c.string(vendor.get("name"), f"{path}.name", max_len=200),
        "recipient": c.string(vendor.get("recipient"), f"{path}.recipient", max_len=200),
        "country": country,
        "privacy_policy_url": c.url(vendor.get("privacy_policy_url"), f"{path}.privacy_policy_url"),
        "opt_out_url": c.url(vendor.get("opt_out_url"), f"{path}.opt_out_url", required=False),
        "hosts": hosts,
        "cookies": cookies,
        "data_sent": c.texts(vendor.get("data_sent"), f"{path}.data_sent", languages),
        "purpose": c.texts(vendor.get("purpose"), f"{path}.purpose", languages),
    }


def _category(c: _Checker, category, path, languages):
    category = c.mapping(category, path)
    if category is None:
        return None
    c.unknown_keys(category, CATEGORY_FIELDS, path)
    key = c.string(category.get("key"), f"{path}.key", pattern=CATEGORY_KEY)
    required = c.boolean(category.get("required"), f"{path}.required", False)
    types = category.get("google_consent_types")
    if types is None:
        types = DEFAULT_CONSENT_TYPES.get(key or "", [])
    else:
        types = c.listing(types, f"{path}.google_consent_types")
        for j, name in enumerate(types):
            if name not in CONSENT_TYPES:
                c.fail(
                    f"{path}.google_consent_types[{j}]",
                    f"unknown consent type (one of {', '.join(CONSENT_TYPES)})",
                )
    gpc = c.boolean(category.get("gpc_refuses"), f"{path}.gpc_refuses", key == "advertising")
    if required and gpc:
        c.fail(f"{path}.gpc_refuses", "a required category cannot be refused by GPC")
    return {
        "key": key,
        "required": required,
        "name": c.texts(category.get("name"), f"{path}.name", languages),
        "description": c.texts(category.get("description"), f"{path}.description", languages),
        "google_consent_types": list(types),
        "gpc_refuses": gpc,
    }


def _retention(c: _Checker, value, path: str, site: dict) -> int:
    """Days the consent log is kept: never less than the consent lifetime (Art. 7(1) proof)."""
    lifetime = site["consent_max_age_days"]
    days = c.integer(value, f"{path}.retention_days", None, 1, MAX_RETENTION_DAYS)
    if days is None:
        return DEFAULT_RETENTION_DAYS
    if days < lifetime:
        c.fail(
            f"{path}.retention_days",
            "must be at least the consent lifetime: a consent still in force must stay provable",
        )
    return days


def _site(c: _Checker, site, path, vendor_keys):
    site = c.mapping(site, path)
    if site is None:
        return None
    c.unknown_keys(site, SITE_FIELDS, path)
    languages = []
    for j, lang in enumerate(c.listing(site.get("languages"), f"{path}.languages")):
        if lang not in LANGUAGES:
            c.fail(f"{path}.languages[{j}]", f"unknown language (one of {', '.join(LANGUAGES)})")
        elif lang in languages:
            c.fail(f"{path}.languages[{j}]", "listed twice")
        else:
            languages.append(lang)
    if not languages and isinstance(site.get("languages"), list):
        c.fail(f"{path}.languages", "must list at least one language")
    default = site.get("default_language")
    if default is None and languages:
        default = languages[0]
    elif default not in languages:
        c.fail(f"{path}.default_language", "must be one of the site's languages")
    origins = []
    for j, origin in enumerate(c.listing(site.get("origins"), f"{path}.origins")):
        origin = c.origin(origin, f"{path}.origins[{j}]")
        if origin is not None and origin in origins:
            c.fail(f"{path}.origins[{j}]", "listed twice")
        elif origin is not None:
            origins.append(origin)
    cookie_domain = c.string(
        site.get("cookie_domain"),
        f"{path}.cookie_domain",
        required=False,
        pattern=re.compile(r"^\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?\Z"),
        max_len=253,
    )
    out = {
        "key": c.string(site.get("key"), f"{path}.key", pattern=SITE_KEY),
        "name": c.texts(site.get("name"), f"{path}.name", languages),
        "origins": origins,
        "languages": languages,
        "default_language": default,
        "consent_max_age_days": c.integer(
            site.get("consent_max_age_days"), f"{path}.consent_max_age_days", 180, 1, 395
        ),
        "retention_days": None,  # below, once the consent lifetime is known
        "cookie_domain": cookie_domain,
        "google_consent_mode": c.boolean(
            site.get("google_consent_mode"), f"{path}.google_consent_mode", False
        ),
        "honor_gpc": c.boolean(site.get("honor_gpc"), f"{path}.honor_gpc", True),
        "reload_on_withdrawal": c.boolean(
            site.get("reload_on_withdrawal"), f"{path}.reload_on_withdrawal", False
        ),
        "notice": c.texts(site.get("notice"), f"{path}.notice", languages, required=False),
        "appearance": _appearance(c, site.get("appearance"), f"{path}.appearance"),
    }
    out["retention_days"] = _retention(c, site.get("retention_days"), path, out)
    regimes = _regimes(c, site.get("regimes"), f"{path}.regimes")
    if regimes is not None:
        # Only when given: a site without regimes keeps the very document it had before.
        out["regimes"] = regimes
    categories, seen = [], set()
    for j, category in enumerate(c.listing(site.get("categories"), f"{path}.categories")):
        category = _category(c, category, f"{path}.categories[{j}]", languages)
        if category is None:
            continue
        if category["key"] in seen:
            c.fail(f"{path}.categories[{j}].key", f"category '{category['key']}' listed twice")
        seen.add(category["key"])
        categories.append(category)
    if isinstance(site.get("categories"), list) and not categories:
        c.fail(f"{path}.categories", "must list at least one category")
    assignments, assigned = [], set()
    for j, assignment in enumerate(c.listing(site.get("vendors"), f"{path}.vendors", False)):
        apath = f"{path}.vendors[{j}]"
        assignment = c.mapping(assignment, apath)
        if assignment is None:
            continue
        c.unknown_keys(assignment, {"vendor", "category"}, apath)
        vendor = c.string(assignment.get("vendor"), f"{apath}.vendor", pattern=VENDOR_KEY)
        category = c.string(assignment.get("category"), f"{apath}.category")
        if vendor is not None and vendor not in vendor_keys:
            c.fail(f"{apath}.vendor", f"no vendor '{vendor}' in the catalog")
        if vendor in assigned:
            c.fail(f"{apath}.vendor", f"vendor '{vendor}' is assigned twice to this site")
        if category is not None and category not in seen:
            c.fail(f"{apath}.category", f"no category '{category}' in this site")
        assigned.add(vendor)
        assignments.append({"vendor": vendor, "category": category})
    out["categories"] = categories
    out["vendors"] = assignments
    return out


def normalize(doc, known_vendor_keys=frozenset(), known_vendor_languages=None) -> dict:
    """Validate a registry document and return it normalised (defaults filled, origins canonical).

    `known_vendor_keys` are catalog vendors that exist outside this document (apply does not
    remove what a file leaves out). Raises RegistryError listing every problem with its path.
    """
    c = _Checker()
    doc = c.mapping(doc, "(file)")
    if doc is None:
        raise RegistryError(c.problems)
    c.unknown_keys(doc, {"organization", "vendors", "sites"}, "(file)")
    sites_in = doc.get("sites")
    all_site_langs = sorted(
        {
            lang
            for s in (sites_in if isinstance(sites_in, list) else [])
            if isinstance(s, dict) and isinstance(s.get("languages"), list)
            for lang in s["languages"]
            if lang in LANGUAGES
        },
        key=LANGUAGES.index,
    )
    out: dict = {}
    if "organization" in doc:
        out["organization"] = _organization(c, doc.get("organization"), all_site_langs or ["ja"])
    need = _languages_needing(sites_in)
    for key, langs in (known_vendor_languages or {}).items():
        need.setdefault(key, [])
        need[key] = [lang for lang in LANGUAGES if lang in set(need[key]) | set(langs)]
    vendors, vendor_keys = [], set(known_vendor_keys)
    file_vendor_keys = set()
    for i, vendor in enumerate(c.listing(doc.get("vendors"), "vendors", False)):
        key = vendor.get("key") if isinstance(vendor, dict) else None
        vendor = _vendor(
            c, vendor, f"vendors[{i}]", need.get(key, []) if isinstance(key, str) else []
        )
        if vendor is None:
            continue
        if vendor["key"] in file_vendor_keys:
            c.fail(f"vendors[{i}].key", f"vendor '{vendor['key']}' listed twice")
        file_vendor_keys.add(vendor["key"])
        vendor_keys.add(vendor["key"])
        vendors.append(vendor)
    out["vendors"] = vendors
    sites, site_keys = [], set()
    for i, site in enumerate(c.listing(sites_in, "sites", False)):
        site = _site(c, site, f"sites[{i}]", vendor_keys)
        if site is None:
            continue
        if site["key"] in site_keys:
            c.fail(f"sites[{i}].key", f"site '{site['key']}' listed twice")
        site_keys.add(site["key"])
        sites.append(site)
    out["sites"] = sites
    if c.problems:
        raise RegistryError(c.problems)
    return out

"""What a scan found: pure functions from recorded observations and a revision to findings.

Nothing here touches a browser or the database, so every rule is tested with plain values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .. import regions

Json = dict[str, Any]

PASSES = ("no_decision", "reject_all", "accept_all")
KINDS = ("undisclosed_host", "before_decision", "after_refusal", "undisclosed_cookie", "not_seen")
LEAKS = frozenset({"before_decision", "after_refusal", "undisclosed_host"})
# `not_seen` only says that a disclosure may be stale: it never fails a build.
INFORMATIONAL = frozenset({"not_seen"})
FAIL_ON = ("leaks", "any", "none")
# The widget's own first-party cookie: declared by the privacy center itself.
OWN_COOKIES = ("pc_consent",)
# Regimes in which tags may run before a decision (docs/regions.md).
NO_PRIOR_CONSENT_REGIMES = frozenset({"opt_out", "notice"})
# The widget's path on the privacy center's server: its origin is the server's.
WIDGET_PATH = re.compile(r"^/w/[a-z0-9-]{2,40}\.js$")


class OutsideSite(ValueError):
    """A URL that is not on one of the site's origins: the scanner is no general crawler."""


def origin_of(url: str) -> str | None:
    """scheme://host[:port] as the registry writes origins (default ports left out)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port and port != default else "")


def host_of(url: str) -> str | None:
    """The lower-case host of a URL, without its port."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def check_urls(urls: Iterable[str], origins: Sequence[str]) -> list[str]:
    """The URLs to start from, each on one of the site's origins; OutsideSite names the first
    that is not. Without URLs: the root page of each origin."""
    allowed = {origin_of(o) for o in origins}
    out = []
    for url in urls:
        origin = origin_of(url)
        if origin is None:
            raise OutsideSite(f"'{url}' is not an http or https URL")
        if origin not in allowed:
            raise OutsideSite(
                f"'{url}' is not on one of the site's origins ({', '.join(origins) or 'none'})"
            )
        out.append(url.strip())
    return out or [f"{origin}/" for origin in origins]


def host_matches(host: str, pattern: str) -> bool:
    """A vendor's `hosts` entry: the exact host, or `*.domain` for any subdomain of the domain
    at any depth (not the bare domain, which a vendor lists on its own), as the catalog reads
    it."""
    host, pattern = host.lower(), pattern.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def cookie_matches(name: str, pattern: str) -> bool:
    """A declared cookie name; one ending in `*` covers every name that starts the same."""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def vendor_for_host(host: str, vendors: Sequence[Json]) -> Json | None:
    for vendor in vendors:
        if any(host_matches(host, pattern) for pattern in vendor.get("hosts") or ()):
            return vendor
    return None


def vendor_for_cookie(name: str, vendors: Sequence[Json]) -> Json | None:
    for vendor in vendors:
        if any(cookie_matches(name, c["name"]) for c in vendor.get("cookies") or ()):
            return vendor
    return None


def server_hosts(request_urls: Iterable[str]) -> set[str]:
    """The privacy center's own hosts: those the widget script was loaded from."""
    hosts = set()
    for url in request_urls:
        try:
            path = urlsplit(url).path
        except ValueError:
            continue
        host = host_of(url)
        if host and WIDGET_PATH.match(path):
            hosts.add(host)
    return hosts


def prior_consent_required(regime: str | None) -> bool:
    """Whether tags must wait for a decision: in opt_in (and without regimes), yes; opt_out
    and notice let optional tags run until the visitor refuses."""
    return regime not in NO_PRIOR_CONSENT_REGIMES


def scan_region(value: str) -> str:
    """A `--region` as the server would read it from its headers: `JP` or `US-CA`.

    ValueError, readable, for anything else: a group (EU) is no visitor's region, and a code
    outside ISO 3166 would read as no region at all (the default regime), which the caller
    would not have meant.
    """
    code = value.strip().upper()
    if code in regions.GROUPS:
        members = sorted(regions.GROUPS[code])
        raise ValueError(
            f"{code} is a group, not a visitor's region: name one of its countries ({members[0]}, "
            f"{members[1]}, …)"
        )
    problem = regions.key_problem(code)
    if problem:
        raise ValueError(f"{value.strip()!r} {problem}")
    return code


def region_headers(region: str, names: tuple[str | None, str | None]) -> dict[str, str]:
    """The request headers a CDN would set for a visitor from `region`, under the deployment's
    header names (country, subdivision); ValueError, readable, when they cannot carry it."""
    country_header, subdivision_header = names
    if not country_header:
        raise ValueError(
            f"the region {region} needs {regions.REGION_HEADER_ENV}: the name of the header the "
            "deployment reads the visitor's country from (e.g. CF-IPCountry)"
        )
    headers = {country_header: region[:2]}
    if "-" in region:
        if not subdivision_header:
            raise ValueError(
                f"the region {region} is a subdivision and needs "
                f"{regions.SUBDIVISION_HEADER_ENV} (e.g. CF-Region-Code)"
            )
        # As Cloudflare and CloudFront send it: the subdivision's own part (CA for US-CA).
        headers[subdivision_header] = region[3:]
    return headers


def scan_regime(content: Json, region: str | None) -> str:
    """The regime the published revision applies to a visitor from `region` (None: unknown)."""
    return regions.regime_for((content.get("site") or {}).get("regimes"), region)


def findings(
    content: Json,
    observations: Sequence[Json],
    *,
    regime: str | None = None,
    catalog: Callable[[str], Mapping[str, Any] | None] | None = None,
) -> list[Json]:
    """Every finding of a scan.

    `content` is the published revision's content; `observations` one per page and pass:
    {"page", "pass", "hosts": {host: example_url}, "cookies": [{"name", "domain", ...}],
    "server_hosts": [...]}. Cookies are the ones set in that pass (after its click, for the
    decision passes). `catalog(host)` names the catalog vendor behind an undisclosed host.
    """
    vendors = list(content.get("vendors") or [])
    required = {c["key"] for c in content.get("categories") or [] if c.get("required")}
    first_party = {host_of(o) for o in (content.get("site") or {}).get("origins") or []}
    # The site's own declared cookies (a later registry field) and the widget's.
    site_cookies = [c["name"] for c in (content.get("site") or {}).get("cookies") or []]
    site_cookies += OWN_COOKIES
    # The regime the caller names (the scanned region's), else the site's default one.
    guarded = prior_consent_required(regime or scan_regime(content, None))

    out: list[Json] = []
    seen: set[tuple[Any, ...]] = set()
    contacted: set[str] = set()

    def add(key: tuple[Any, ...], finding: Json) -> None:
        if key not in seen:
            seen.add(key)
            out.append(finding)

    def leak(vendor: Json, page: str, pass_: str, what: Json) -> None:
        if vendor.get("category") in required:
            return
        if pass_ == "no_decision" and guarded:
            kind = "before_decision"
        elif pass_ == "reject_all":
            kind = "after_refusal"
        else:
            return
        subject = what.get("host") or what.get("cookie")
        add(
            (kind, page, pass_, subject),
            {
                "kind": kind,
                "page": page,
                "pass": pass_,
                **what,
                "vendor": vendor["key"],
                "category": vendor.get("category"),
            },
        )

    for obs in observations:
        page, pass_ = obs["page"], obs["pass"]
        own = first_party | set(obs.get("server_hosts") or ())
        for host in sorted(obs.get("hosts") or {}):
            if host in own:
                continue
            vendor = vendor_for_host(host, vendors)
            if vendor is None:
                finding: Json = {"kind": "undisclosed_host", "page": page, "pass": pass_}
                finding["host"] = host
                known = catalog(host) if catalog else None
                if known:
                    finding["catalog_vendor"] = {"key": known["key"], "name": known["name"]}
                add(("undisclosed_host", host), finding)
                continue
            contacted.add(vendor["key"])
            leak(vendor, page, pass_, {"host": host})
        for cookie in obs.get("cookies") or ():
            name = cookie["name"]
            vendor = vendor_for_cookie(name, vendors)
            if vendor is None:
                if not any(cookie_matches(name, pattern) for pattern in site_cookies):
                    add(
                        ("undisclosed_cookie", name),
                        {
                            "kind": "undisclosed_cookie",
                            "page": page,
                            "pass": pass_,
                            "cookie": name,
                            "domain": cookie.get("domain"),
                        },
                    )
                continue
            contacted.add(vendor["key"])
            leak(vendor, page, pass_, {"cookie": name})

    for vendor in vendors:
        # Only a vendor whose hosts or cookies are declared can be told apart on the wire.
        if vendor["key"] in contacted or not (vendor.get("hosts") or vendor.get("cookies")):
            continue
        out.append(
            {
                "kind": "not_seen",
                "page": None,
                "pass": "accept_all",
                "vendor": vendor["key"],
                "category": vendor.get("category"),
            }
        )
    order = {kind: i for i, kind in enumerate(KINDS)}
    out.sort(key=lambda f: order[f["kind"]])
    return out


def failing(found: Iterable[Json], fail_on: str) -> list[Json]:
    """The findings at or above `fail_on`: leaks (the default), any (all but informational),
    or none."""
    if fail_on == "none":
        return []
    if fail_on == "any":
        return [f for f in found if f["kind"] not in INFORMATIONAL]
    if fail_on == "leaks":
        return [f for f in found if f["kind"] in LEAKS]
    raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")


def exit_status(found: Iterable[Json], fail_on: str) -> int:
    return 1 if failing(found, fail_on) else 0


def count_by_kind(found: Iterable[Json]) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for finding in found:
        counts[finding["kind"]] += 1
    return counts


def same_origin_links(page_url: str, hrefs: Iterable[str]) -> list[str]:
    """Links to follow from a page: same origin, http(s), no fragment, no obvious files."""
    origin = origin_of(page_url)
    out: list[str] = []
    for href in hrefs:
        url = href.split("#", 1)[0]
        if not url or origin_of(url) != origin:
            continue
        path = urlsplit(url).path.lower()
        if re.search(r"\.(pdf|zip|gz|png|jpe?g|gif|svg|webp|mp4|mp3|xml|json|csv|txt)$", path):
            continue
        if url not in out:
            out.append(url)
    return out
